"""A link between a source field and a target field: a curve that follows both anchors."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QFont, QPainter, QPainterPath, QPainterPathStroker, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem, QStyleOptionGraphicsItem, QWidget

from app.canvas.fielditem import FieldItem
from app.canvas.hover import HoverHighlight
from app.theme import qcolor


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
        self.setAcceptHoverEvents(True)
        self.setToolTip(tooltip)
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

    def adjust(self) -> None:
        """Recompute the curve from the two anchors (called when either item moves)."""
        start, end = self.source_item.anchor(), self.target_item.anchor()
        dx = max(40.0, (end.x() - start.x()) / 2)
        path = QPainterPath(start)
        path.cubicTo(QPointF(start.x() + dx, start.y()), QPointF(end.x() - dx, end.y()), end)
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
        if self.isSelected() or self._hover:
            colour, width = qcolor("canvas_accent"), 3.0
        pen = QPen(colour, width)
        if self.kind == "lookup":
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self.path())
        end = self.target_item.anchor()
        painter.setBrush(QBrush(colour))
        painter.drawEllipse(end, 3.5, 3.5)
        if (self.steps and self.badge) or self.kind == "lookup":
            mid = self.path().pointAtPercent(0.5)
            text = "lookup" if self.kind == "lookup" else f"ƒ{self.steps if self.steps > 1 else ''}"
            half = 24 if self.kind == "lookup" else 13
            badge = QRectF(mid.x() - half, mid.y() - 9, 2 * half, 18)
            painter.setPen(QPen(colour, 1))
            painter.setBrush(QBrush(qcolor("pill_fill")))
            painter.drawRoundedRect(badge, 9, 9)
            font = QFont(painter.font())
            font.setPixelSize(11)
            font.setBold(True)
            painter.setFont(font)
            painter.setPen(colour)
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)
