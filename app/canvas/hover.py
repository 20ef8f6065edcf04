"""Hover highlighting shared by the canvas items: remember the hover, repaint on change."""

from __future__ import annotations


class HoverHighlight:
    """Mixin for a QGraphicsItem (listed before it) whose ``paint`` reads ``_hover``."""

    _hover = False

    def hoverEnterEvent(self, event: object) -> None:  # Qt override
        self._hover = True
        self.update()  # type: ignore[attr-defined]

    def hoverLeaveEvent(self, event: object) -> None:  # Qt override
        self._hover = False
        self.update()  # type: ignore[attr-defined]
