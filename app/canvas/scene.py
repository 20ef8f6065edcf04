"""The mapping scene: it follows the document and keeps item <-> object dictionaries.

The left column holds the source fields the current flow reads (or every source field with
``show_all_sources``), the right column every writable target field, mapped ones first in
the flow's order so links run mostly straight. The scene never edits the model itself:
drops and deletions go through the gesture objects of ``app.document.interactions``, and
the scene redraws when the document says something changed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from PySide6.QtCore import QObject, QPoint, QPointF, QRectF, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QGraphicsScene, QGraphicsSimpleTextItem, QInputDialog

from app import theme
from app.canvas.buttonitem import ButtonItem
from app.canvas.collectionitem import COLLECTION_HEIGHT, ArrayItem, RelationshipItem
from app.canvas.fielditem import ITEM_HEIGHT, ITEM_WIDTH, FieldItem
from app.canvas.linkitem import LinkItem
from app.document.child_flow import (
    ChildFlowView,
    array_fields,
    child_titles,
    element_words,
    relationship_title,
)
from app.document.document import StudioDocument
from app.document.interactions import (
    DeleteMappingsInteraction,
    DropArrayInteraction,
    DropFieldInteraction,
    KeyboardMapInteraction,
)
from app.models.transform_models import describe_step
from mappings.document.model import Flow
from mappings.errors import EditError
from mappings.schema.model import ChildRelationship, FieldKind, FieldSchema, ObjectSchema, System

ROW = ITEM_HEIGHT + 8
COLUMN_GAP = 200.0
TOP = 44.0
EXPRESSION_SOURCE = ""  # the source item of mappings with no source path (whole record)
# Stripe metadata keys: up to 40 characters, no square brackets; a dot would read as nesting.
FREE_KEY = re.compile(r"[^\[\].\s][^\[\].]{0,39}")


# A column longer than this makes the items of its other rows when they come into view.
EAGER_ROWS = 300


@dataclass(slots=True)
class _ColumnLayout:
    """Where a column's rows go: its paths in order, from ``top``, for ``flow``."""

    side: str
    paths: list[str]
    obj: ObjectSchema | None
    flow: Flow
    top: float
    row_of: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.row_of = {path: row for row, path in enumerate(self.paths)}


class _Column(dict):  # type: ignore[type-arg]
    """A column's items by path. Asking for a row's item that was not made yet (a long
    column makes only what is shown) makes it; ``in`` and iteration see made items only."""

    def __init__(self, scene: MappingScene, side: str) -> None:
        super().__init__()
        self._scene, self._side = scene, side

    def __missing__(self, path: str) -> FieldItem:
        item = self._scene.item_for(self._side, path)
        if item is None:
            raise KeyError(path)
        return item

    def get(self, path: str, default: FieldItem | None = None) -> FieldItem | None:  # type: ignore[override]
        found = self._scene.item_for(self._side, path)
        return found if found is not None else default


def free_key_field(obj: ObjectSchema | None, path: str) -> FieldSchema | None:
    """The schema of ``path``; a key of a free-keys map (``metadata.order_id``) is text."""
    found = obj.find(path) if obj is not None and path else None
    if found is not None and found.free_keys and found.path != path:
        return FieldSchema(
            path,
            FieldKind.STRING,
            label=path.rsplit(".", 1)[-1],
            description=f"A key of {found.path}: Stripe keeps it as text (up to 500 characters).",
            length=500,
        )
    return found


def _writable(fs: FieldSchema) -> bool:
    """A field a flow can write: not read-only, not a container, not an item of a list
    (Stripe's response-only lists such as ``sources.data[]`` would bury the real targets)."""
    if not (fs.createable or fs.updateable) or fs.calculated:
        return False
    if fs.kind in (FieldKind.OBJECT, FieldKind.LIST) or "[]" in fs.path:
        return False
    return fs.path not in ("id", "object") and fs.path.count(".") <= 2


class MappingScene(QGraphicsScene):
    mappingSelected = Signal(str)  # the target field of the selected mapping, "" for none
    flowShown = Signal()  # another flow was laid out: views scroll back to the top
    editRequested = Signal(str)  # Enter on a target or link: edit that mapping's transforms

    def __init__(self, document: StudioDocument, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.drop_interaction = DropFieldInteraction(document)
        self.delete_interaction = DeleteMappingsInteraction(document)
        self.array_interaction = DropArrayInteraction(document)
        self.keyboard_interaction = KeyboardMapInteraction(
            document, self.selected_sources, self.selected_target
        )
        # Free keys (metadata.<key>) the user added to the target column: view state, not
        # the model; a mapping onto one puts it in the flow, undoing that keeps it shown.
        self.extra_targets: list[str] = []
        self.ask_key: Callable[[str], str | None] = self._ask_key_dialog
        self.key_buttons: dict[str, ButtonItem] = {}
        self.show_all_sources = False
        # By path; an item of a long column's row not shown yet is made when asked for.
        self.source_items: dict[str, FieldItem] = _Column(self, "source")
        self.target_items: dict[str, FieldItem] = _Column(self, "target")
        self._layouts: dict[str, _ColumnLayout] = {}
        self.links: dict[tuple[str, str], LinkItem] = {}  # (target, source) -> link
        self.lookup_links: dict[str, LinkItem] = {}  # target -> link
        # Child collections (issue 14): the source's lists, the target's child
        # relationships, and a link for each list mapped to a relationship.
        self.array_items: dict[str, ArrayItem] = {}  # list path (lines) -> item
        self.relationship_items: dict[str, RelationshipItem] = {}  # OrderItems -> item
        self.child_links: dict[str, LinkItem] = {}  # relationship -> link
        self._headers: list[QGraphicsSimpleTextItem | ButtonItem] = []
        self._flow_name: str | None = None
        self._fields_top = TOP  # where the field rows start, below the collection nodes
        self._selected = ""
        self.setBackgroundBrush(theme.qcolor("canvas"))
        theme.notifier.changed.connect(self._on_theme_changed)
        document.currentFlowChanged.connect(self._on_current_flow_changed)
        document.flowsChanged.connect(self._rebuild)
        # documentReplaced is always followed by flowsChanged: one rebuild is enough.
        document.catalogsChanged.connect(self._rebuild)
        document.mappingsChanged.connect(self._on_mappings_changed)
        self.selectionChanged.connect(self._on_selection_changed)
        self._rebuild()

    # ------------------------------------------------------------------ public

    @property
    def flow(self) -> Flow | None:
        return self.document.find_flow(self.document.current_flow)

    def set_show_all_sources(self, show: bool) -> None:
        self.show_all_sources = show
        self._rebuild()

    def drop_field(self, payload: dict | None, target: str, where: QPoint | None = None) -> bool:
        """A drop onto a target item; ``where`` (screen) is where questions pop up."""
        return self.drop_interaction.drop(payload, target, where)

    def drop_array(self, payload: dict | None, relationship: ChildRelationship) -> bool:
        """A list dropped on a child relationship: make the child collection and open it."""
        return self.array_interaction.drop(payload, relationship)

    def open_child(self, relationship: str) -> bool:
        """Open a mapped child relationship's mapping; False (and said why) when unmapped."""
        flow = self.flow
        if flow is None or isinstance(flow, ChildFlowView):
            return False
        if flow.child(relationship) is None:
            self.document.editRefused.emit(
                f"nothing is mapped to {relationship} yet: drag a list of "
                f"{flow.source.object} onto it"
            )
            return False
        self.document.open_child(flow.name, relationship)
        return True

    def selected_sources(self) -> list[str]:
        """Paths of the selected source items, in column order (the keyboard path)."""
        chosen = {
            item.path
            for item in self.selectedItems()
            if isinstance(item, FieldItem)
            and item.side == "source"
            and item.path
            and self.source_items.get(item.path) is item
        }
        return sorted(chosen, key=self._row_key("source"))

    def selected_target(self) -> str | None:
        """The one selected target item's path (None unless exactly one is selected)."""
        chosen = [
            item.path
            for item in self.selectedItems()
            if isinstance(item, FieldItem) and item.side == "target"
        ]
        return chosen[0] if len(chosen) == 1 else None

    def map_selected(self) -> bool:
        """The keyboard path on the canvas: selected source item(s) -> selected target item."""
        return self.keyboard_interaction.map()

    def free_key_owners(self) -> list[str]:
        """Target maps with free keys (``metadata``) of a Stripe target, for new keys."""
        flow = self.flow
        if flow is None or flow.target.system is not System.STRIPE:
            return []
        obj = self.document.target_schema(flow.name)
        if obj is None:
            return []
        # Only metadata: other free-key maps of Stripe objects are balances it computes.
        return [
            fs.path
            for fs in obj
            if fs.free_keys
            and fs.name == "metadata"
            and "[]" not in fs.path
            and (fs.createable or fs.updateable)
        ]

    def add_free_key_target(self, key: str, owner: str = "metadata") -> str:
        """Show ``owner.key`` (e.g. ``metadata.order_id``) as a target field to map onto;
        raises EditError naming the problem. Returns the new target path (selected)."""
        flow = self.flow
        if flow is None:
            raise EditError("pick a flow first")
        if owner not in self.free_key_owners():
            raise EditError(
                f"{flow.target} has no {owner!r} map with free keys: new keys are for Stripe "
                "metadata"
            )
        key = key.strip()
        if not FREE_KEY.fullmatch(key):
            raise EditError(
                f"{key!r} is not a usable {owner} key: give 1 to 40 characters without "
                "dots or square brackets"
            )
        path = f"{owner}.{key}"
        if path not in self.target_items and path not in self.extra_targets:
            self.extra_targets.append(path)
            self._rebuild()
        self.clearSelection()
        item = self.target_items.get(path)
        if item is not None:
            item.setSelected(True)
            for view in self.views():
                view.ensureVisible(QRectF(0, item.y(), 1, ITEM_HEIGHT), 0, 40)
        return path

    def request_free_key(self, owner: str = "metadata") -> str | None:
        """Ask the user for a key (``ask_key``) and add it; a refusal is reported."""
        key = self.ask_key(owner)
        if key is None:
            return None
        try:
            return self.add_free_key_target(key, owner)
        except EditError as exc:
            self.document.editRefused.emit(str(exc))
            return None

    def _ask_key_dialog(self, owner: str) -> str | None:
        views = self.views()
        key, ok = QInputDialog.getText(
            views[0] if views else None,
            f"New {owner} key",
            f"Name of the {owner} key to write (up to 40 characters, e.g. order_id):",
        )
        return key if ok else None

    def selected_targets(self) -> list[str]:
        """Target fields of the selected links and target items, in column order."""
        chosen: set[str] = set()
        for item in self.selectedItems():
            if isinstance(item, LinkItem):
                chosen.add(item.target)
            elif isinstance(item, FieldItem) and item.side == "target":
                chosen.add(item.path)
        return sorted(chosen, key=self._row_key("target"))

    def _row_key(self, side: str) -> Callable[[str], int]:
        """Sorts paths in their column's order (unknown ones last)."""
        layout = self._layouts.get(side)
        rows = layout.row_of if layout is not None else {}
        return lambda path: rows.get(path, len(rows))

    def select_mapping(self, target: str) -> None:
        """Select the links of one mapping (and its target field)."""
        self.blockSignals(True)
        self.clearSelection()
        self.blockSignals(False)
        item = self.target_items.get(target)
        for (t, _), link in self.links.items():
            if t == target:
                link.setSelected(True)
        if target in self.lookup_links:
            self.lookup_links[target].setSelected(True)
        if item is not None:
            item.setSelected(True)
            for view in self.views():
                # Scroll vertically only: the source column must stay in sight.
                view.ensureVisible(QRectF(0, item.y(), 1, ITEM_HEIGHT), 0, 40)

    def edit_requested(self, target: str) -> None:
        """Enter on a target field or a link: select its mapping and ask to edit it (on a
        child relationship: open its mapping)."""
        if target in self.relationship_items:
            self.open_child(target)
            return
        if self.flow is not None and self.flow.mapping_for(target) is not None:
            self.select_mapping(target)
            self._on_selection_changed()
        self.editRequested.emit(target)

    def delete_selected(self) -> int:
        """Unmap the selected mappings (one undo step); returns how many were removed."""
        flow = self.flow
        if flow is None:
            return 0
        children = [
            item.target
            for item in self.selectedItems()
            if isinstance(item, LinkItem) and item.kind == "child"
        ]
        for relationship in children:
            try:
                self.document.remove_child_collection(flow.name, relationship)
            except EditError as exc:
                self.document.editRefused.emit(str(exc))
        if children:
            return len(children)
        targets = [t for t in self.selected_targets() if flow.mapping_for(t) is not None]
        lookups = [t for t in self.selected_targets() if t in self.lookup_links]
        removed = self.delete_interaction.delete(targets)
        if lookups:
            kept = [lk for lk in flow.lookups if lk.target not in lookups]
            self.document.set_lookups(flow.name, kept)
            removed += len(lookups)
        return removed

    # ------------------------------------------------------------------ following the document

    def _on_current_flow_changed(self, name: str) -> None:
        # Opening a workspace sends flowsChanged first, whose rebuild already shows the new
        # current flow: a second one reconciled every item again (0.006 s for a 1,000-field
        # object, 0.014 s for 10,000; issue 12). Every other change of the current flow
        # changes its name.
        if (name or None) != self._flow_name:
            self._rebuild()

    def _on_mappings_changed(self, flow_name: str) -> None:
        if flow_name == self.document.current_flow:
            self._rebuild()

    def _rebuild(self, *_: object) -> None:
        """Reconcile the items with the current flow (items are reused by path, so a
        selection survives an edit that leaves it in place)."""
        flow = self.flow
        name = flow.name if flow is not None else None
        switched = name != self._flow_name
        if switched:
            self._clear()
            self._flow_name = name
            self.extra_targets = []
        if flow is None:
            self._set_headers("No flow", "Create a flow to start mapping", None)
            self.setSceneRect(self.itemsBoundingRect())
            return
        source_obj = self.document.source_schema(flow.name)
        target_obj = self.document.target_schema(flow.name)
        targets = self._target_order(flow, target_obj)
        sources = self._source_order(flow, source_obj, targets)
        top = TOP + self._sync_collections(flow, source_obj, target_obj)
        self._fields_top = top
        self._sync_column(self.source_items, "source", sources, source_obj, flow, top)
        self._sync_column(self.target_items, "target", targets, target_obj, flow, top)
        new_links = self._sync_links(flow)
        self._set_headers(*self._header_texts(flow), flow)
        self.setSceneRect(self._content_rect(top, max(len(sources), len(targets))))
        self._materialize_views()
        self._on_selection_changed()
        if switched:
            self.flowShown.emit()
        elif new_links:
            self.show_new_link(new_links[0])

    def _content_rect(self, top: float, rows: int) -> QRectF:
        """The two columns and the headers, with a margin. Computed, not
        itemsBoundingRect(): that walks every item (ten thousand on a big object)."""
        rect = QRectF(0, 0, 2 * ITEM_WIDTH + COLUMN_GAP, top + rows * ROW)
        for item in self._headers:
            rect = rect.united(item.sceneBoundingRect())
        collections: list[FieldItem] = [*self.array_items.values(),
                                         *self.relationship_items.values()]
        for node in collections:
            rect = rect.united(node.sceneBoundingRect())
        return rect.adjusted(-24, -16, 24, 24)

    def show_new_link(self, link: LinkItem) -> None:
        """Scroll a link that was just made into view (vertically: the source column stays)
        and flash it, so the user sees where it went."""
        item = link.target_item
        top = min(item.y(), link.source_item.y())
        bottom = max(item.y(), link.source_item.y()) + ITEM_HEIGHT
        for view in self.views():
            view.ensureVisible(QRectF(0, item.y(), 1, ITEM_HEIGHT), 0, 40)
            if bottom - top < view.viewport().height():
                view.ensureVisible(QRectF(0, top, 1, bottom - top), 0, 20)
        link.flash()

    def _header_texts(self, flow: Flow) -> tuple[str, str]:
        if isinstance(flow, ChildFlowView):
            source, array, target, child = child_titles(
                flow,
                self.document.source_schema(flow.parent.name),
                self.document.target_schema(flow.parent.name),
                self.document.target_schema(flow.name),
            )
            return (
                f"{flow.source.system.value.title()} · {source} ▸ {array}",
                f"{flow.target.system.value.title()} · {target} ▸ {child}",
            )
        return (
            f"{flow.source.system.value.title()} · {flow.source.object}",
            f"{flow.target.system.value.title()} · {flow.target.object}",
        )

    def _sync_collections(
        self, flow: Flow, source_obj: ObjectSchema | None, target_obj: ObjectSchema | None
    ) -> float:
        """Lay out the list and child-relationship nodes above the fields (a flow has a
        handful); returns the height they take. A child mapping shows none."""
        for link in list(self.child_links.values()):
            self._remove_link(link)
        for item in [*self.array_items.values(), *self.relationship_items.values()]:
            self.removeItem(item)
        self.array_items.clear()
        self.relationship_items.clear()
        if isinstance(flow, ChildFlowView):
            return 0.0
        arrays = array_fields(source_obj)
        catalog = self.document.catalogs.get(flow.target.system)
        relationships = [
            r
            for r in (target_obj.child_relationships if target_obj is not None else ())
            # A child of the object's own type (Order.OriginalOrderId) is no line list.
            if catalog is not None and catalog.get(r.child) is not None
            and r.child != flow.target.object
        ]
        mapped = {c.relationship: c for c in flow.children}
        for row, fs in enumerate(arrays):
            item = ArrayItem(
                "source", fs.path, fs.label or fs.path, element_words(fs),
                system=flow.source.system.value, object_name=flow.source.object,
            )
            item.set_mapped(any(c.source.startswith(f"{fs.path}.") for c in flow.children))
            item.setPos(QPointF(0.0, TOP + row * (COLLECTION_HEIGHT + 8)))
            self.addItem(item)
            self.array_items[fs.path] = item
        for row, rel in enumerate(relationships):
            child = mapped.get(rel.name)
            title = relationship_title(catalog.get(rel.child) if catalog else None, rel.name)
            detail = f"{rel.name} · " + (
                f"{len(child.fields) + len(child.lookups)} fields · double-click"
                if child is not None
                else f"drop a list: one {rel.child} each"
            )
            item = RelationshipItem(
                rel, title, detail, system=flow.target.system.value, object_name=rel.child
            )
            item.set_mapped(child is not None)
            item.setPos(QPointF(ITEM_WIDTH + COLUMN_GAP, TOP + row * (COLLECTION_HEIGHT + 8)))
            self.addItem(item)
            self.relationship_items[rel.name] = item
        for rel_name, child in mapped.items():
            source = self.array_items.get(child.source.removesuffix(".data"))
            target = self.relationship_items.get(rel_name)
            if source is None or target is None:
                continue
            link = LinkItem(
                source, target, kind="child",
                tooltip=f"{child.source}[] → {rel_name}: one {child.target} per element "
                "(double-click the relationship to open)",
            )
            self.child_links[rel_name] = link
            self.addItem(link)
        rows = max(len(arrays), len(relationships))
        return rows * (COLLECTION_HEIGHT + 8) + (12 if rows else 0)

    def _clear(self) -> None:
        self.blockSignals(True)
        self.clear()
        self.blockSignals(False)
        self.source_items.clear()
        self.target_items.clear()
        self._layouts.clear()
        self.links.clear()
        self.lookup_links.clear()
        self.array_items.clear()
        self.relationship_items.clear()
        self.child_links.clear()
        self._headers = []
        self.key_buttons = {}

    def _target_order(self, flow: Flow, obj: ObjectSchema | None) -> list[str]:
        # A dict keeps the order and answers "already there?" at once (a list made this
        # quadratic: 10,000 fields took seconds, issue 12).
        order = dict.fromkeys(flow.target_fields())
        order.update(dict.fromkeys(self.extra_targets))
        if obj is not None:
            order.update(dict.fromkeys(fs.path for fs in obj if _writable(fs)))
        return list(order)

    def _source_order(
        self, flow: Flow, obj: ObjectSchema | None, targets: list[str]
    ) -> list[str]:
        used: dict[str, None] = {}
        by_target = {m.target: m for m in flow.fields}
        lookups = {lk.target: lk for lk in flow.lookups}
        for target in targets:
            mapping = by_target.get(target)
            if mapping is not None:
                for path in mapping.sources or [EXPRESSION_SOURCE]:
                    used.setdefault(path, None)
            elif target in lookups:
                used.setdefault(lookups[target].source, None)
        if self.show_all_sources and obj is not None:
            for fs in obj:
                if fs.kind not in (FieldKind.OBJECT,) and fs.path not in used:
                    used[fs.path] = None
        return list(used)

    def _sync_column(
        self,
        items: dict[str, FieldItem],
        side: str,
        paths: list[str],
        obj: ObjectSchema | None,
        flow: Flow,
        top: float = TOP,
    ) -> None:
        """Reconcile a column with ``paths``. A long column (more than EAGER_ROWS) makes
        the items of its first rows now (mapped fields come first) and those of the other
        rows when they come into view or are asked for (issue 12: ten thousand items took
        seconds to build)."""
        layout = _ColumnLayout(side, paths, obj, flow, top)
        self._layouts[side] = layout
        for path in [p for p in dict.keys(items) if p not in layout.row_of]:
            gone = dict.pop(items, path)
            for link in list(gone.links):
                if isinstance(link, LinkItem):
                    self._remove_link(link)
            self.removeItem(gone)
        mapped_targets = set(flow.target_fields()) if side == "target" else set()
        for path, item in list(dict.items(items)):
            self._place(item, layout, layout.row_of[path], mapped_targets)
        for row in range(min(len(paths), EAGER_ROWS)):
            if not dict.__contains__(items, paths[row]):
                self._make(layout, row, mapped_targets)

    def _make(
        self, layout: _ColumnLayout, row: int, mapped_targets: set[str] | None = None
    ) -> FieldItem:
        """The item of one row of a column, made now."""
        flow, side, path = layout.flow, layout.side, layout.paths[row]
        ref = flow.source if side == "source" else flow.target
        item = FieldItem(
            side,
            path,
            free_key_field(layout.obj, path),
            label=path if path else "ƒ whole record (expression)",
            system=ref.system.value,
            object_name=ref.object,
        )
        items = self.source_items if side == "source" else self.target_items
        dict.__setitem__(items, path, item)
        self.addItem(item)
        if mapped_targets is None:
            mapped_targets = set(flow.target_fields()) if side == "target" else set()
        self._place(item, layout, row, mapped_targets)
        return item

    def _place(
        self, item: FieldItem, layout: _ColumnLayout, row: int, mapped_targets: set[str]
    ) -> None:
        x = 0.0 if layout.side == "source" else ITEM_WIDTH + COLUMN_GAP
        item.move_to(QPointF(x, layout.top + row * ROW))
        if layout.side != "target":
            item.set_mapped(True)
            return
        flow, path = layout.flow, item.path
        item.set_mapped(path in mapped_targets)
        default = flow.defaults.get(path)
        note = f"= {default}" if path in flow.defaults and default is not None else ""
        if isinstance(flow, ChildFlowView) and path == flow.child.parent_field:
            note = f"= the {flow.parent.target.object}"  # set by the writer
        item.set_note(note)

    def item_for(self, side: str, path: str) -> FieldItem | None:
        """The item of ``path`` in a column, made now if its row was not shown yet."""
        items = self.source_items if side == "source" else self.target_items
        found = dict.get(items, path)
        if found is not None:
            return found
        layout = self._layouts.get(side)
        if layout is None or path not in layout.row_of:
            return None
        return self._make(layout, layout.row_of[path])

    def neighbour(self, item: FieldItem, step: int) -> FieldItem | None:
        """The item ``step`` rows below (above, when negative) ``item`` in its column."""
        layout = self._layouts.get(item.side)
        if layout is None or item.path not in layout.row_of:
            return None
        row = layout.row_of[item.path] + step
        if not 0 <= row < len(layout.paths):
            return None
        return self.item_for(item.side, layout.paths[row])

    def materialize(self, rect: QRectF) -> None:
        """Make the items of the rows ``rect`` (scene coordinates) shows."""
        for layout in self._layouts.values():
            first = max(0, int((rect.top() - layout.top) // ROW) - 2)
            last = min(len(layout.paths) - 1, int((rect.bottom() - layout.top) // ROW) + 2)
            items = self.source_items if layout.side == "source" else self.target_items
            for row in range(first, last + 1):
                if not dict.__contains__(items, layout.paths[row]):
                    self._make(layout, row)

    def _materialize_views(self) -> None:
        for view in self.views():
            self.materialize(view.mapToScene(view.viewport().rect()).boundingRect())

    def _remove_link(self, link: LinkItem) -> None:
        link.detach()
        for store in (self.links, self.lookup_links, self.child_links):
            for key in [k for k, v in store.items() if v is link]:
                del store[key]  # type: ignore[arg-type]
        if link.scene() is self:
            self.removeItem(link)

    def _sync_links(self, flow: Flow) -> list[LinkItem]:
        """Reconcile the links with the flow; returns the links made now."""
        made: list[LinkItem] = []
        wanted: dict[tuple[str, str], tuple[int, str, bool]] = {}
        source_schema = self.document.source_schema(flow.name)
        for m in flow.fields:
            chain = " → ".join(describe_step(s, source_schema) for s in m.transforms)
            for i, path in enumerate(m.sources or [EXPRESSION_SOURCE]):
                shown = ", ".join(m.sources) or "(expression)"
                tip = f"{shown} → {m.target}" + (f"\nvia {chain}" if chain else "")
                # One badge per mapping: the first source's link carries it.
                wanted[(m.target, path)] = (len(m.transforms), tip, i == 0)
        for key in [k for k in self.links if k not in wanted]:
            self._remove_link(self.links[key])
        for key, (steps, tip, badge) in wanted.items():
            link = self.links.get(key)
            if link is None:
                source, target = self.source_items.get(key[1]), self.target_items.get(key[0])
                if source is None or target is None:
                    continue
                link = LinkItem(source, target, steps=steps, tooltip=tip, badge=badge)
                self.links[key] = link
                self.addItem(link)
                made.append(link)
            else:
                link.set_steps(steps, tip)
                link.adjust()
        lookups = {lk.target: lk for lk in flow.lookups}
        for gone in [t for t, link in self.lookup_links.items()
                       if t not in lookups or link.source != lookups[t].source]:
            self._remove_link(self.lookup_links[gone])
        for path, lk in lookups.items():
            if path in self.lookup_links:
                self.lookup_links[path].adjust()
                continue
            source, item = self.source_items.get(lk.source), self.target_items.get(path)
            if source is None or item is None:
                continue
            tip = f"lookup: {lk.object}.{lk.match_field} = {lk.source} → {path}"
            link = LinkItem(source, item, kind="lookup", tooltip=tip)
            self.lookup_links[path] = link
            self.addItem(link)
            made.append(link)
        return made

    def _set_headers(self, left: str, right: str, flow: Flow | None) -> None:
        for item in self._headers:
            self.removeItem(item)
        self._headers = []
        font = QFont()
        font.setPixelSize(15)
        font.setBold(True)
        for text, x in ((left, 0.0), (right, ITEM_WIDTH + COLUMN_GAP)):
            header = QGraphicsSimpleTextItem(text)
            header.setFont(font)
            header.setBrush(theme.qcolor("field_text"))
            header.setPos(x, 8)
            self.addItem(header)
            self._headers.append(header)
        self.key_buttons = {}
        # The buttons follow the target header, so they never cover it.
        x = self._headers[1].pos().x() + self._headers[1].boundingRect().width() + 14
        for owner in self.free_key_owners():
            button = ButtonItem(
                f"+ {owner} key",
                partial(self.request_free_key, owner),
                f"Add a {owner} key of {flow.target.object if flow else ''} to map onto",
            )
            button.setPos(x, 6)
            x += button.width + 6
            self.addItem(button)
            self._headers.append(button)  # type: ignore[arg-type]
            self.key_buttons[owner] = button
        if flow is not None and not flow.fields and not flow.lookups:
            hint = QGraphicsSimpleTextItem(
                "Drag a field from the source tree onto a target field to map it"
            )
            hint.setBrush(theme.qcolor("muted"))
            hint.setData(0, "muted")
            hint.setPos(0, self._fields_top)
            self.addItem(hint)
            self._headers.append(hint)

    def _on_theme_changed(self, _name: str) -> None:
        """Items read the theme when they paint; the brushes set here need setting again."""
        self.setBackgroundBrush(theme.qcolor("canvas"))
        for item in self._headers:
            if isinstance(item, QGraphicsSimpleTextItem):
                item.setBrush(theme.qcolor(item.data(0) or "field_text"))
        self.update()

    # ------------------------------------------------------------------ selection

    def _on_selection_changed(self) -> None:
        flow = self.flow
        targets = self.selected_targets() if flow is not None else []
        chosen = next(
            (t for t in targets if flow is not None and flow.mapping_for(t) is not None),
            targets[0] if targets else "",
        )
        if chosen != self._selected:
            self._selected = chosen
            self.mappingSelected.emit(chosen)

    @property
    def selected_mapping(self) -> str:
        return self._selected
