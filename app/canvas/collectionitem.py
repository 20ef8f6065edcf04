"""Canvas nodes for child collections: a Stripe list and a Salesforce child relationship.

An :class:`ArrayItem` sits in the source column (``Lines`` — list of Invoice line items) and
drags like a field; a :class:`RelationshipItem` sits in the target column (``Order Products``
— OrderItems) and takes a dropped list, which makes a child collection. Both are field
items with a "[ ]" badge and a second line saying what they hold, so the links, hover,
selection and keyboard of field items apply to them unchanged.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import (
    QGraphicsSceneDragDropEvent,
    QGraphicsSceneMouseEvent,
    QStyleOptionGraphicsItem,
    QWidget,
)

from app.canvas.fielditem import ITEM_HEIGHT, ITEM_WIDTH, FieldItem
from app.models.schema_model import decode_fields
from app.theme import qcolor
from mappings.schema.model import ChildRelationship

COLLECTION_HEIGHT = ITEM_HEIGHT + 14  # two lines: the name and what it holds
ARRAY_BADGE = "[ ]"


class CollectionItem(FieldItem):
    """A field item drawn as a collection: "[ ]" badge, a title and a line of detail."""

    def __init__(
        self, side: str, path: str, title: str, detail: str, *, system: str, object_name: str
    ) -> None:
        super().__init__(side, path, None, label=title, system=system, object_name=object_name)
        self.title, self.detail = title, detail
        self.accessible_name = f"{title}, {detail}"

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, ITEM_WIDTH, COLLECTION_HEIGHT)

    def anchor(self) -> QPointF:
        x = ITEM_WIDTH if self.side == "source" else 0.0
        return self.mapToScene(QPointF(x, COLLECTION_HEIGHT / 2))

    def default_tooltip(self) -> str:
        return f"{self.title} — {self.detail}"

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionGraphicsItem,
        widget: QWidget | None = None,
    ) -> None:
        rect = self.paint_frame(painter)
        # A double outline tells a collection from a field at a glance.
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(rect.adjusted(3, 3, -3, -3), 4, 4)

        badge = QRectF(8, (COLLECTION_HEIGHT - 18) / 2, 30, 18)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor("#6a3fb5"))
        painter.drawRoundedRect(badge, 4, 4)
        small = QFont(painter.font())
        small.setBold(True)
        small.setPixelSize(11)
        painter.setFont(small)
        painter.setPen(QColor("white"))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, ARRAY_BADGE)

        width = int(ITEM_WIDTH - 56)
        font = QFont(painter.font())
        font.setPixelSize(13)
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(qcolor("field_text"))
        title = QFontMetrics(font).elidedText(self.title, Qt.TextElideMode.ElideRight, width)
        painter.drawText(QRectF(46, 5, width, 18), Qt.AlignmentFlag.AlignVCenter, title)
        detail_font = QFont(font)
        detail_font.setBold(False)
        detail_font.setPixelSize(11)
        painter.setFont(detail_font)
        painter.setPen(qcolor("muted"))
        detail = QFontMetrics(detail_font).elidedText(
            self.detail, Qt.TextElideMode.ElideRight, width
        )
        painter.drawText(QRectF(46, 22, width, 16), Qt.AlignmentFlag.AlignVCenter, detail)


class ArrayItem(CollectionItem):
    """A Stripe list of the source object (``lines``): drag it onto a child relationship."""


class RelationshipItem(CollectionItem):
    """A child relationship of the target object (``OrderItems``): drop a list on it to map
    the list's elements to child records; double-click (or Enter) opens a mapped one."""

    def __init__(
        self,
        relationship: ChildRelationship,
        title: str,
        detail: str,
        *,
        system: str,
        object_name: str,
    ) -> None:
        super().__init__(
            "target", relationship.name, title, detail, system=system, object_name=object_name
        )
        self.relationship = relationship

    def _refusal(self, event: QGraphicsSceneDragDropEvent) -> str | None:
        interaction = getattr(self.scene(), "array_interaction", None)
        if interaction is None:
            return "no document"
        return interaction.refusal(decode_fields(event.mimeData()), self.relationship)

    def dragEnterEvent(self, event: QGraphicsSceneDragDropEvent) -> None:
        reason = self._refusal(event)
        self._drop_state = reason is None
        self.setToolTip(reason or f"Drop to make {self.title} from each element of the list")
        event.setAccepted(reason is None)
        self.update()

    def dropEvent(self, event: QGraphicsSceneDragDropEvent) -> None:
        self.dragLeaveEvent(event)
        ok = self.scene().drop_array(  # type: ignore[attr-defined]
            decode_fields(event.mimeData()), self.relationship
        )
        event.setAccepted(bool(ok))

    def mouseDoubleClickEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        self.scene().open_child(self.path)  # type: ignore[attr-defined]
        event.accept()
