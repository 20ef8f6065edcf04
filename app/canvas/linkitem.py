"""A link between a source field and a target field: a curve that follows both anchors.

The curve ends in a short straight run into the target's anchor, and a link's badge ("ƒ2",
"lookup") sits on that run: on its own target's row, which no other link's badge shares (a
target has one mapping or one lookup), so badges never land on another link or collide.
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QBrush, QFont, QPainter, QPainterPath, QPainterPathStroker, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem, QStyleOptionGraphicsItem, QWidget

from app.canvas.fielditem import FieldItem
from app.canvas.hover import HoverHighlight
from app.theme import qcolor

# The straight run before the target's anchor, and where on it a badge is centred.
STUB = 64.0
BADGE_CENTRE = 34.0
FLASH_MS = 1400


class LinkItem(HoverHighlight, QGraphicsPathItem):
    """``kind`` is "mapping" (a field mapping) or "lookup" (a lookup resolving an Id)."""

    def __init__(
        self,
        source: FieldItem,
        target: FieldItem,
        *,
        kind: str = "mapping",
        steps: int = 0,
        tooltip: str = "",
        badge: bool = True,
    ) -> None:
        super().__init__()
        self.source_item = source
        self.target_item = target
        self.kind = kind
        self.steps = steps
        self.badge = badge  # a multi-source mapping shows its "ƒ" once, on the first link
        self.setZValue(-1)  # under the field boxes
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, True)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsFocusable, True)  # Tab reaches links
        self.setAcceptHoverEvents(True)
        self.setToolTip(tooltip)
        self.flashing = False
        source.links.append(self)
        target.links.append(self)
        self.adjust()

    @property
    def target(self) -> str:
        return self.target_item.path

    @property
    def source(self) -> str:
        return self.source_item.path

    def detach(self) -> None:
        for item in (self.source_item, self.target_item):
            if self in item.links:
                item.links.remove(self)

    def set_steps(self, steps: int, tooltip: str) -> None:
        self.steps = steps
        self.setToolTip(tooltip)
        self.update()

    def flash(self) -> None:
        """Draw attention to a new link for a moment."""
        self.flashing = True
        self.update()
        QTimer.singleShot(FLASH_MS, self._end_flash)

    def _end_flash(self) -> None:
        # The timer is not tied to the item (not a QObject): the link may be gone by now.
        if not shiboken6.isValid(self):
            return
        self.flashing = False
        self.update()

    def badge_rect(self) -> QRectF | None:
        """Where the badge is painted (scene coordinates), None for a link without one."""
        if not ((self.steps and self.badge) or self.kind == "lookup"):
            return None
        end = self.target_item.anchor()
        half = 24 if self.kind == "lookup" else 13
        return QRectF(end.x() - BADGE_CENTRE - half, end.y() - 9, 2 * half, 18)

    def adjust(self) -> None:
        """Recompute the curve from the two anchors (called when either item moves)."""
        start, end = self.source_item.anchor(), self.target_item.anchor()
        bend = QPointF(end.x() - STUB, end.y())
        dx = max(30.0, (bend.x() - start.x()) / 2)
        path = QPainterPath(start)
        path.cubicTo(QPointF(start.x() + dx, start.y()), QPointF(bend.x() - dx, end.y()), bend)
        path.lineTo(end)
        self.prepareGeometryChange()
        self.setPath(path)

    def shape(self) -> QPainterPath:
        stroker = QPainterPathStroker()
        stroker.setWidth(10)  # easy to click
        return stroker.createStroke(self.path())

    def boundingRect(self) -> QRectF:
        return super().boundingRect().adjusted(-12, -12, 12, 12)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        role = "lookup" if self.kind == "lookup" else (
            "link_transformed" if self.steps else "link")
        colour, width = qcolor(role), 2.0
        if self.isSelected() or self._hover or self.flashing:
            colour, width = qcolor("canvas_accent"), 4.0 if self.flashing else 3.0
        pen = QPen(colour, width)
        if self.kind == "lookup":
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self.path())
        end = self.target_item.anchor()
        painter.setBrush(QBrush(colour))
        painter.drawEllipse(end, 3.5, 3.5)
        badge = self.badge_rect()
        if badge is not None:
            text = "lookup" if self.kind == "lookup" else f"ƒ{self.steps if self.steps > 1 else ''}"
            painter.setPen(QPen(colour, 1))
            painter.setBrush(QBrush(qcolor("pill_fill")))
            painter.drawRoundedRect(badge, 9, 9)
            font = QFont(painter.font())
            font.setPixelSize(11)
            font.setBold(True)
            painter.setFont(font)
            painter.setPen(colour)
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)
