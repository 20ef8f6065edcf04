"""A small clickable pill on the canvas (``+ metadata key``): it calls back, edits nothing."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QFont, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import (
    QGraphicsObject,
    QGraphicsSceneHoverEvent,
    QGraphicsSceneMouseEvent,
    QStyleOptionGraphicsItem,
    QWidget,
)

from app.theme import qcolor

HEIGHT = 22.0


def _font() -> QFont:
    font = QFont()
    font.setPixelSize(12)
    font.setBold(True)
    return font


class ButtonItem(QGraphicsObject):
    def __init__(self, text: str, on_click: Callable[[], object], tooltip: str = "") -> None:
        super().__init__()
        self.text = text
        self.on_click = on_click
        self._width = QFontMetrics(_font()).horizontalAdvance(text) + 20.0
        self._hover = False
        self.setAcceptHoverEvents(True)
        self.setAcceptedMouseButtons(Qt.MouseButton.LeftButton)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip(tooltip)

    @property
    def width(self) -> float:
        return self._width

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, self._width, HEIGHT)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = self.boundingRect().adjusted(0.5, 0.5, -0.5, -0.5)
        accent = qcolor("canvas_accent")
        painter.setPen(QPen(accent, 1))
        painter.setBrush(QBrush(qcolor("pill_hover" if self._hover else "pill_fill")))
        painter.drawRoundedRect(rect, HEIGHT / 2, HEIGHT / 2)
        painter.setFont(_font())
        painter.setPen(accent)
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, self.text)

    def hoverEnterEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        self._hover = True
        self.update()

    def hoverLeaveEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        self._hover = False
        self.update()

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        event.accept()  # take the press so the release comes here, not to a rubber band

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self.boundingRect().contains(event.pos()):
            self.on_click()
        event.accept()
