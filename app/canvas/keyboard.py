"""Moving around the canvas with the keyboard: the focus order and the arrow keys.

Tab and Shift+Tab walk every field and link (sources top to bottom, then targets, then the
links in target order); Up and Down move within a column; Left and Right cross to the other
column, to a field linked to the current one when there is one. The item reached takes the
focus and the selection of its column, while a field selected in the other column stays
selected, so "pick a source, Right, pick a target, Ctrl+M" maps without a mouse.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGraphicsItem

from app.canvas.fielditem import FieldItem
from app.canvas.linkitem import LinkItem
from app.canvas.scene import MappingScene

CanvasItem = FieldItem | LinkItem


def _column(items: dict[str, FieldItem]) -> list[FieldItem]:
    """A column's items top to bottom (the dictionary keeps the order they were made in)."""
    return sorted(items.values(), key=lambda item: item.y())


def focus_order(scene: MappingScene) -> list[CanvasItem]:
    links: list[LinkItem] = [*scene.links.values(), *scene.lookup_links.values()]
    links.sort(key=lambda link: link.target_item.y())
    return [*_column(scene.source_items), *_column(scene.target_items), *links]


def current(scene: MappingScene) -> CanvasItem | None:
    item = scene.focusItem()
    return item if isinstance(item, FieldItem | LinkItem) else None


def move(scene: MappingScene, key: int, backwards: bool = False) -> CanvasItem | None:
    """The item a key moves to from the current one (None: the key does not move)."""
    here = current(scene)
    order = focus_order(scene)
    if not order:
        return None
    if key in (Qt.Key.Key_Tab, Qt.Key.Key_Backtab):
        if here is None or here not in order:
            return order[-1 if backwards else 0]
        return order[(order.index(here) + (-1 if backwards else 1)) % len(order)]
    if here is None:
        return order[0] if key in (Qt.Key.Key_Down, Qt.Key.Key_Right) else None
    if isinstance(here, LinkItem):
        if key == Qt.Key.Key_Left:
            return here.source_item
        if key == Qt.Key.Key_Right:
            return here.target_item
        here = here.target_item
    column = _column(scene.source_items if here.side == "source" else scene.target_items)
    row = column.index(here) if here in column else 0
    if key in (Qt.Key.Key_Up, Qt.Key.Key_Down):
        # The scene knows every row, made or not yet (a long column makes rows in view).
        step = -1 if key == Qt.Key.Key_Up else 1
        return scene.neighbour(here, step) or here
    if key in (Qt.Key.Key_Left, Qt.Key.Key_Right):
        wanted = "source" if key == Qt.Key.Key_Left else "target"
        if here.side == wanted:
            return None
        linked = [
            link.source_item if wanted == "source" else link.target_item
            for link in here.links
            if isinstance(link, LinkItem)
        ]
        if linked:
            return linked[0]
        other = _column(scene.source_items if wanted == "source" else scene.target_items)
        return other[min(row, len(other) - 1)] if other else None
    return None


def focus(scene: MappingScene, item: CanvasItem) -> None:
    """Give ``item`` the focus and the selection of its column (the other column's field
    selection stays, for Ctrl+M)."""
    keep: list[QGraphicsItem] = []
    if isinstance(item, FieldItem):
        keep = [
            other
            for other in scene.selectedItems()
            if isinstance(other, FieldItem) and other.side != item.side
        ]
    scene.clearSelection()
    for other in keep:
        other.setSelected(True)
    item.setSelected(True)
    scene.setFocusItem(item, Qt.FocusReason.TabFocusReason)
    for view in scene.views():
        view.ensureVisible(item, 40, 40)
