"""The canvas view: zoom, rubber-band selection, Delete to unmap, drops onto field items."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import (
    QKeyEvent,
    QKeySequence,
    QPainter,
    QResizeEvent,
    QShowEvent,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import QGraphicsView, QWidget

from app.canvas import keyboard
from app.canvas.linkitem import LinkItem
from app.canvas.scene import MappingScene

_MOVES = (
    Qt.Key.Key_Tab, Qt.Key.Key_Backtab, Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_Left,
    Qt.Key.Key_Right,
)  # fmt: skip


class MappingView(QGraphicsView):
    def __init__(self, scene: MappingScene, parent: QWidget | None = None) -> None:
        super().__init__(scene, parent)
        self._scene = scene  # keep the Python wrapper (and its dictionaries) alive
        if scene.parent() is None:
            scene.setParent(self)
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)  # the rubber-band gesture
        self.setAcceptDrops(True)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setAccessibleName("mapping canvas")
        self.setAccessibleDescription(
            "Tab and the arrow keys move between fields and links; Enter edits the transforms, "
            "Delete unmaps, Ctrl+M maps the selected source to the selected target"
        )
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setToolTip("")
        self._zoom = 1.0
        self._user_zoom = False
        scene.sceneRectChanged.connect(lambda _rect: self.fit_width())
        scene.flowShown.connect(self.scroll_to_top)
        # A long column makes its rows' items as they come into view.
        self.verticalScrollBar().valueChanged.connect(lambda _value: self.materialize())

    def materialize(self) -> None:
        """Have the scene make the items of the rows in view."""
        self._scene.materialize(self.mapToScene(self.viewport().rect()).boundingRect())

    def mapping_scene(self) -> MappingScene:
        return self._scene

    def scroll_to_top(self) -> None:
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().minimum())
        self.verticalScrollBar().setValue(self.verticalScrollBar().minimum())

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.fit_width()
        self.scroll_to_top()
        self.materialize()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.fit_width()
        self.materialize()

    def fit_width(self) -> None:
        """Shrink (never enlarge) so both columns fit the width, unless the user zoomed."""
        if self._user_zoom:
            return
        width = self.sceneRect().width()
        available = self.viewport().width() - 4
        scale = 1.0 if width <= 0 else min(1.0, max(0.55, available / width))
        self.setTransform(QTransform.fromScale(scale, scale))
        self._zoom = scale

    @staticmethod
    def _is_map_key(event: QKeyEvent) -> bool:
        return event.key() == Qt.Key.Key_M and bool(
            event.modifiers() & Qt.KeyboardModifier.ControlModifier
        )

    def focusNextPrevChild(self, next: bool) -> bool:  # noqa: A002 - Qt's name
        """Tab stays on the canvas while it has fields: it moves between them (keyPressEvent)."""
        if keyboard.focus_order(self.mapping_scene()):
            return False
        return super().focusNextPrevChild(next)

    def event(self, event: QEvent) -> bool:
        # With a source and a target item selected here, Ctrl+M maps the canvas selection;
        # otherwise the window's Map action (the schema trees' selection) keeps the key.
        if event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent):
            scene = self.mapping_scene()
            if (
                self._is_map_key(event)
                and scene.selected_sources()
                and scene.selected_target() is not None
            ):
                event.accept()
                return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        scene = self.mapping_scene()
        if event.key() in _MOVES and not event.modifiers() & ~(
            Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.KeypadModifier
        ):
            backwards = event.key() == Qt.Key.Key_Backtab or (
                event.key() == Qt.Key.Key_Tab
                and bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            )
            found = keyboard.move(scene, event.key(), backwards)
            if found is not None:
                keyboard.focus(scene, found)
            event.accept()
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            here = keyboard.current(scene)
            target = here.target if isinstance(here, LinkItem) else (
                here.path if here is not None and here.side == "target" else None
            )
            if target is not None:
                scene.edit_requested(target)
                event.accept()
                return
        if self._is_map_key(event):
            self.mapping_scene().map_selected()
            event.accept()
            return
        is_delete = event.matches(QKeySequence.StandardKey.Delete) or (
            event.key() == Qt.Key.Key_Backspace
        )
        if is_delete and self.mapping_scene().delete_selected():
            event.accept()
            return
        super().keyPressEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom_by(1.15 if event.angleDelta().y() > 0 else 1 / 1.15)
            event.accept()
            return
        super().wheelEvent(event)

    def zoom_by(self, factor: float) -> None:
        self._user_zoom = True
        new = min(3.0, max(0.3, self._zoom * factor))
        self.scale(new / self._zoom, new / self._zoom)
        self._zoom = new
        self.materialize()  # zoomed out, more rows are in view

    def reset_zoom(self) -> None:
        self._user_zoom = False
        self.fit_width()
