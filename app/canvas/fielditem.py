"""A field on the canvas: a labelled box with a kind badge and an anchor for links.

Source items sit in the left column with their anchor on the right edge; target items sit
in the right column with their anchor on the left edge and accept dropped source fields.
Links read the anchors; an item tells its links when it moves (:meth:`FieldItem.move_to`)
so they follow.
"""

from __future__ import annotations

from typing import Protocol

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QDrag, QFont, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import (
    QApplication,
    QGraphicsItem,
    QGraphicsObject,
    QGraphicsSceneDragDropEvent,
    QGraphicsSceneMouseEvent,
    QStyleOptionGraphicsItem,
    QWidget,
)

from app.canvas.hover import HoverHighlight
from app.models.naming import field_title
from app.models.schema_model import decode_fields, encode_fields, field_tooltip, kind_badge
from app.theme import qcolor
from mappings.schema.model import FieldKind, FieldSchema


class AnchorFollower(Protocol):
    """What a field item asks of the links attached to it (a LinkItem; this module does not
    import linkitem, which imports it)."""

    def adjust(self) -> None: ...


ITEM_WIDTH = 270.0
ITEM_HEIGHT = 30.0

# One setFlags with flags made once (a big object builds ten thousand items, issue 12).
# Focusable: keyboard Tab and arrows.
_FLAGS = (
    QGraphicsItem.GraphicsItemFlag.ItemIsSelectable | QGraphicsItem.GraphicsItemFlag.ItemIsFocusable
)

# Colours come from the current theme at paint time (``app.theme.Colours``' canvas roles),
# so a theme switch only needs a repaint.


class FieldItem(HoverHighlight, QGraphicsObject):
    """One field of the source or target object (``side`` is "source" or "target")."""

    def __init__(
        self,
        side: str,
        path: str,
        field: FieldSchema | None,
        *,
        label: str | None = None,
        system: str = "",
        object_name: str = "",
    ) -> None:
        super().__init__()
        self.side = side
        self.path = path
        self.field = field
        self.label = label or path
        self.system = system
        self.object_name = object_name
        self.links: list[AnchorFollower] = []
        self.mapped = False
        self.note = ""  # right-aligned hint: "= Stripe" for a default, "ƒ" for an expression
        self._drop_state: bool | None = None  # True ok, False refused, None not hovering
        self.setFlags(_FLAGS)
        self.setAcceptHoverEvents(True)
        self.setAcceptDrops(side == "target")
        # The tooltip is written on the first hover (issue 12): a 10,000-field object would
        # format 10,000 of them that nobody reads.
        self._tooltip_set = False
        if side == "source":  # a target keeps the view's arrow: no cursor of its own to set
            self.setCursor(Qt.CursorShape.OpenHandCursor)

    # -- geometry

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, ITEM_WIDTH, ITEM_HEIGHT)

    def anchor(self) -> QPointF:
        """Where links attach, in scene coordinates."""
        x = ITEM_WIDTH if self.side == "source" else 0.0
        return self.mapToScene(QPointF(x, ITEM_HEIGHT / 2))

    def move_to(self, pos: QPointF) -> None:
        """Move the item and its links with it. Items move only here (they are not
        draggable), so no itemChange override runs for every change of every item: with ten
        thousand items its Python calls cost seconds (issue 12)."""
        if self.pos() != pos:
            self.setPos(pos)
            for link in self.links:
                link.adjust()

    def set_mapped(self, mapped: bool) -> None:
        if mapped != self.mapped:
            self.mapped = mapped
            self.update()

    def set_note(self, note: str) -> None:
        if note != self.note:
            self.note = note
            self.update()

    def hoverEnterEvent(self, event: object) -> None:  # Qt override
        if not self._tooltip_set:
            self._tooltip_set = True
            self.setToolTip(self.default_tooltip())
        super().hoverEnterEvent(event)

    def default_tooltip(self) -> str:
        return field_tooltip(self.field) if self.field is not None else self.label

    # -- painting

    def paint_frame(self, painter: QPainter) -> QRectF:
        """The box: filled as mapped, droppable or not, outlined when selected or hovered;
        returns its rectangle."""
        rect = self.boundingRect().adjusted(0.5, 0.5, -0.5, -0.5)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        fill = qcolor("field_mapped" if self.mapped else "field_fill")
        if self._drop_state is not None:
            fill = qcolor("drop_ok" if self._drop_state else "drop_bad")
        selected = self.isSelected()
        outline = "canvas_accent" if selected or self._hover else "field_border"
        painter.setPen(QPen(qcolor(outline), 2 if selected else 1))
        painter.setBrush(QBrush(fill))
        painter.drawRoundedRect(rect, 6, 6)
        return rect

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionGraphicsItem,
        widget: QWidget | None = None,
    ) -> None:
        self.paint_frame(painter)
        kind = self.field.kind if self.field is not None else FieldKind.ANY
        glyph, colour = kind_badge(kind)
        badge = QRectF(6, 6, 26, ITEM_HEIGHT - 12)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(colour))
        painter.drawRoundedRect(badge, 4, 4)
        small = QFont(painter.font())
        small.setBold(True)
        small.setPixelSize(11)
        painter.setFont(small)
        painter.setPen(QColor("white"))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, glyph)

        font = QFont(painter.font())
        font.setPixelSize(13)
        font.setBold(self.mapped)
        painter.setFont(font)
        metrics = QFontMetrics(font)
        note_width = 0.0
        if self.note:
            note_font = QFont(font)
            note_font.setBold(False)
            note_font.setPixelSize(11)
            note_metrics = QFontMetrics(note_font)
            note = note_metrics.elidedText(self.note, Qt.TextElideMode.ElideRight, 110)
            note_width = note_metrics.horizontalAdvance(note) + 10
            painter.setFont(note_font)
            painter.setPen(qcolor("muted"))
            painter.drawText(
                QRectF(ITEM_WIDTH - note_width - 8, 0, note_width, ITEM_HEIGHT),
                Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                note,
            )
            painter.setFont(font)
        text_rect = QRectF(40, 0, ITEM_WIDTH - 48 - note_width, ITEM_HEIGHT)
        # The Salesforce label first (issue 13): the API name with View ▸ Show API names.
        shown = field_title(self.field, self.path) if self.path and self.field else self.label
        label = shown + (" *" if self.field is not None and self.field.required else "")
        elided = metrics.elidedText(label, Qt.TextElideMode.ElideMiddle, int(text_rect.width()))
        painter.setPen(qcolor("field_text" if self.field is not None or self.path else "muted"))
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, elided)

    # -- drag a new link from a source item (the same payload as the schema tree's)

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self.side != "source" or not self.path or not self.system:
            super().mouseMoveEvent(event)
            return
        moved = event.screenPos() - event.buttonDownScreenPos(Qt.MouseButton.LeftButton)
        if moved.manhattanLength() < QApplication.startDragDistance():
            return
        drag = QDrag(event.widget())
        drag.setMimeData(encode_fields(self.system, self.object_name, [self.path]))
        drag.exec(Qt.DropAction.LinkAction | Qt.DropAction.CopyAction)

    # -- drops on a target item

    def _refusal(self, event: QGraphicsSceneDragDropEvent) -> str | None:
        scene = self.scene()
        interaction = getattr(scene, "drop_interaction", None)
        if interaction is None:
            return "no document"
        return interaction.refusal(decode_fields(event.mimeData()), self.path)

    def dragEnterEvent(self, event: QGraphicsSceneDragDropEvent) -> None:
        reason = self._refusal(event)
        self._drop_state = reason is None
        self.setToolTip(reason or f"Drop to map onto {self.path}")
        event.setAccepted(reason is None)
        self.update()

    def dragLeaveEvent(self, event: QGraphicsSceneDragDropEvent) -> None:
        self._drop_state = None
        self.setToolTip(self.default_tooltip())
        self.update()

    def dropEvent(self, event: QGraphicsSceneDragDropEvent) -> None:
        self.dragLeaveEvent(event)
        scene = self.scene()
        ok = scene.drop_field(  # type: ignore[attr-defined]
            decode_fields(event.mimeData()), self.path, event.screenPos()
        )
        event.setAccepted(bool(ok))
