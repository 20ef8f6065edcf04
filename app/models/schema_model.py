"""Item models over an object's schema: a field tree with icons, tooltips, markers and drag.

Stripe fields are dot paths (``billing_details.address.city``, ``lines.data[].amount``), so
they nest by path; Salesforce fields are flat. The tree is lazy: top-level rows reach the
views in batches and nested rows are made on first read, so a 10,000-field object opens
about as fast as a 100-field one; the filter proxy searches the whole tree (the panel
fetches it all first).

Drag and drop carries ``application/x-fieldbridge-field``: JSON
``{"system", "object", "path", "paths"}``. A model built with a ``drop_handler`` accepts
such a drop on one of its fields and hands it (payload, target path) to the handler; the
studio passes a handler that issues the map command.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QMimeData,
    QModelIndex,
    QObject,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPixmap

from app.document.child_flow import element_words, is_list_object
from app.models.naming import field_naming, field_title
from app.models.qtmodel import ROOT, Index, column_header
from app.theme import qcolor
from mappings.schema.model import FieldKind, FieldSchema, ObjectSchema

FIELD_MIME = "application/x-fieldbridge-field"

FieldPathRole = Qt.ItemDataRole.UserRole + 1
FieldSchemaRole = Qt.ItemDataRole.UserRole + 2
SearchRole = Qt.ItemDataRole.UserRole + 3
MappedRole = Qt.ItemDataRole.UserRole + 4

DropHandler = Callable[[dict[str, Any], str], bool]

_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_DECORATION = int(Qt.ItemDataRole.DecorationRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_FONT = int(Qt.ItemDataRole.FontRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_ANSWERED_ROLES = frozenset(
    {_DISPLAY, _DECORATION, _TOOLTIP, _FONT, _FOREGROUND}
    | {int(r) for r in (FieldPathRole, FieldSchemaRole, SearchRole, MappedRole)}
)
# Item flags made once: views ask flags() for every row they lay out (about 1,400 calls per
# open of a big object) and each ``|`` of two enum members is a Python call (issue 12).
_GROUP_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
_FIELD_FLAGS = _GROUP_FLAGS | Qt.ItemFlag.ItemIsDragEnabled
_DROP_FIELD_FLAGS = _FIELD_FLAGS | Qt.ItemFlag.ItemIsDropEnabled


# --------------------------------------------------------------------------- payloads


def field_payload(system: str, obj: str, paths: list[str]) -> dict[str, Any]:
    return {"system": system, "object": obj, "path": paths[0], "paths": list(paths)}


def encode_fields(system: str, obj: str, paths: list[str]) -> QMimeData:
    mime = QMimeData()
    mime.setData(FIELD_MIME, json.dumps(field_payload(system, obj, paths)).encode())
    mime.setText(", ".join(paths))
    return mime


def decode_fields(mime: QMimeData | None) -> dict[str, Any] | None:
    """The field payload of a drop, or None when it is not ours or is malformed."""
    if mime is None or not mime.hasFormat(FIELD_MIME):
        return None
    try:
        data = json.loads(bytes(mime.data(FIELD_MIME).data()).decode())
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or not all(
        isinstance(data.get(k), str) for k in ("system", "object", "path")
    ):
        return None
    paths = data.get("paths")
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths) or not paths:
        data["paths"] = [data["path"]]
    return data


# --------------------------------------------------------------------------- icons

_KIND_BADGES: dict[str, tuple[str, str]] = {
    # kind group -> (letter, colour)
    "text": ("T", "#3b82f6"),
    "number": ("#", "#10b981"),
    "money": ("$", "#059669"),
    "bool": ("✓", "#8b5cf6"),
    "time": ("◷", "#f59e0b"),
    "id": ("ID", "#64748b"),
    "ref": ("→", "#0ea5e9"),
    "pick": ("≡", "#ec4899"),
    "struct": ("{}", "#94a3b8"),
    "list": ("[]", "#94a3b8"),
    "any": ("?", "#a1a1aa"),
}

_KIND_GROUP: dict[FieldKind, str] = {
    FieldKind.STRING: "text",
    FieldKind.TEXT: "text",
    FieldKind.EMAIL: "text",
    FieldKind.PHONE: "text",
    FieldKind.URL: "text",
    FieldKind.ID: "id",
    FieldKind.REFERENCE: "ref",
    FieldKind.BOOLEAN: "bool",
    FieldKind.INTEGER: "number",
    FieldKind.NUMBER: "number",
    FieldKind.PERCENT: "number",
    FieldKind.CURRENCY: "money",
    FieldKind.TIMESTAMP: "time",
    FieldKind.DATE: "time",
    FieldKind.DATETIME: "time",
    FieldKind.TIME: "time",
    FieldKind.PICKLIST: "pick",
    FieldKind.MULTIPICKLIST: "pick",
    FieldKind.OBJECT: "struct",
    FieldKind.MAP: "struct",
    FieldKind.LIST: "list",
    FieldKind.ANY: "any",
}


def kind_badge(kind: FieldKind) -> tuple[str, str]:
    """(glyph, colour) that stands for a field kind, shared by the trees and the canvas."""
    return _KIND_BADGES[_KIND_GROUP.get(kind, "any")]


@lru_cache(maxsize=64)
def kind_icon(kind: FieldKind) -> QIcon:
    """A small coloured badge per kind, drawn once (no image files needed)."""
    letter, colour = kind_badge(kind)
    size = 32
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(colour))
    painter.drawRoundedRect(2, 2, size - 4, size - 4, 7, 7)
    painter.setPen(QColor("white"))
    font = QFont()
    font.setBold(True)
    font.setPixelSize(15 if len(letter) > 1 else 19)
    painter.setFont(font)
    painter.drawText(pixmap.rect(), Qt.AlignmentFlag.AlignCenter, letter)
    painter.end()
    return QIcon(pixmap)


@lru_cache(maxsize=1)
def _bold_font() -> QFont:
    font = QFont()
    font.setBold(True)
    return font


def field_tooltip(fs: FieldSchema) -> str:
    """What a user needs to know about a field before mapping it."""
    lines = [f"<b>{fs.path}</b> — {fs.label or fs.name}"]
    native = f" ({fs.native_type})" if fs.native_type and fs.native_type != fs.kind.value else ""
    lines.append(f"Type: {fs.kind.value}{native}")
    if fs.length:
        lines.append(f"Max length: {fs.length}")
    flags = markers(fs)
    if flags:
        lines.append("; ".join(flags))
    if fs.description:
        lines.append(fs.description.replace("\n", "<br>"))
    if fs.enum_values:
        shown = ", ".join(fs.enum_values[:20])
        more = f" … (+{len(fs.enum_values) - 20})" if len(fs.enum_values) > 20 else ""
        lines.append(f"Values: {shown}{more}")
    return "<br>".join(lines)


def markers(fs: FieldSchema) -> list[str]:
    out = []
    if fs.required:
        out.append("required")
    if fs.external_id:
        out.append("external id")
    if fs.kind in (FieldKind.PICKLIST, FieldKind.MULTIPICKLIST) or fs.enum_values:
        out.append("restricted picklist" if fs.restricted else "picklist")
    if fs.reference_to:
        out.append("→ " + ", ".join(fs.reference_to))
    if fs.calculated or not fs.createable:
        out.append("read-only")
    return out


def type_text(fs: FieldSchema) -> str:
    """The Type column: short enough to fit beside the name (the tooltip has every marker).

    ``→ Account`` for a reference, the kind otherwise, and "external id" where it matters
    for matching; "required" is the name's star and read-only fields are greyed.
    """
    if is_list_object(fs):
        return element_words(fs)  # "list of Invoice line items": a child collection's source
    if fs.reference_to:
        shown = ", ".join(fs.reference_to[:2]) + (" …" if len(fs.reference_to) > 2 else "")
        parts = [f"→ {shown}"]
    else:
        parts = [fs.kind.value]
    if fs.external_id:
        parts.append("external id")
    return " · ".join(parts)


# --------------------------------------------------------------------------- tree


class _Node:
    """One row of the tree. Its children are made when first read, one by one, from the
    object's dot paths, so opening a 10,000-field object does not build 10,000 nodes."""

    __slots__ = ("name", "path", "parent", "field", "row", "_shape", "_kids")

    def __init__(
        self,
        name: str,
        path: str,
        parent: _Node | None,
        field: FieldSchema | None = None,
        row: int = 0,
        shape: _Shape | None = None,
    ) -> None:
        self.name = name
        self.path = path
        self.parent = parent
        self.field = field
        self.row = row
        self._shape = shape
        self._kids: list[_Node | None] | None = None

    def _child_paths(self) -> list[str]:
        shape = self._shape
        return shape.child_paths.get(self.path, []) if shape is not None else []

    def child_count(self) -> int:
        return len(self._child_paths())

    def child(self, row: int) -> _Node:
        kids = self._kids
        if kids is None:
            kids = self._kids = [None] * self.child_count()
        kid = kids[row]
        if kid is None:
            path = self._child_paths()[row]
            shape = self._shape
            field = shape.fields.get(path) if shape is not None else None
            kid = kids[row] = _Node(path.rpartition(".")[2], path, self, field, row, shape)
        return kid

    @property
    def children(self) -> list[_Node]:
        """Every child, made now if need be."""
        return [self.child(row) for row in range(self.child_count())]


class _Shape:
    """The nesting of an object's dot paths: each path's children in field order, and each
    path's row under its parent. One pass of string work; nodes come later, on demand."""

    __slots__ = ("fields", "child_paths", "rows")

    def __init__(self, fields: Iterable[FieldSchema]) -> None:
        self.fields: dict[str, FieldSchema] = {}
        self.child_paths: dict[str, list[str]] = {}
        self.rows: dict[str, int] = {"": 0}
        for fs in fields:
            self.fields[fs.path] = fs
            self._place(fs.path)

    def _place(self, path: str) -> None:
        # A missing parent becomes a plain grouping node, placed before its first child.
        if path in self.rows:
            return
        parent = _parent_path(path)
        if parent not in self.rows:
            self._place(parent)
        siblings = self.child_paths.setdefault(parent, [])
        self.rows[path] = len(siblings)
        siblings.append(path)


def _parent_path(path: str) -> str:
    parent = path.rpartition(".")[0]
    return parent[:-2] if parent.endswith("[]") else parent


def build_tree(fields: Iterable[FieldSchema]) -> _Node:
    """Nest fields by dot path; a missing parent becomes a plain grouping node. Children
    are made when first read."""
    return _Node("", "", None, shape=_Shape(fields))


class SchemaTreeModel(QAbstractItemModel):
    """The fields of one object as a tree: column 0 the name, column 1 the type and markers.

    Top-level rows are handed to views ``FETCH_BATCH`` at a time (``canFetchMore`` /
    ``fetchMore``, as Qt's SQL models do): a view sizes its columns to their contents, and
    with every row of a 1,000-field object loaded that sizing was most of the time taken to
    open one. Nested rows are made when their parent is first read. Anything that needs the
    whole tree (search) calls ``fetch_all`` first.
    """

    COLUMNS = ("Field", "Type")
    FETCH_BATCH = 64  # a tall panel shows about 40 rows

    def __init__(
        self,
        obj: ObjectSchema | None = None,
        parent: QObject | None = None,
        *,
        drop_handler: DropHandler | None = None,
    ) -> None:
        super().__init__(parent)
        self._object: ObjectSchema | None = None
        self._root = _Node("", "", None)
        self._loaded = 0  # top-level rows views have been told about
        self._mapped: frozenset[str] = frozenset()
        self.drop_handler = drop_handler
        field_naming().changed.connect(self._names_changed)
        if obj is not None:
            self.set_object(obj)

    def _names_changed(self, _show_api_names: bool) -> None:
        # Salesforce objects are flat: the top-level names are the ones that change.
        if self._loaded:
            self.dataChanged.emit(self.index(0, 0), self.index(self._loaded - 1, 0))

    # -- content

    @property
    def object_schema(self) -> ObjectSchema | None:
        return self._object

    def set_object(self, obj: ObjectSchema | None) -> None:
        self.beginResetModel()
        self._object = obj
        self._root = build_tree(obj) if obj is not None else _Node("", "", None)
        self._loaded = min(self.FETCH_BATCH, self._root.child_count())
        self.endResetModel()

    def fetch_all(self) -> None:
        """Hand every top-level row to the views (search and ``expandAll`` need them)."""
        self._fetch_to(self._root.child_count() - 1)

    def _fetch_to(self, row: int) -> None:
        last = min(row, self._root.child_count() - 1)
        if last < self._loaded:
            return
        self.beginInsertRows(QModelIndex(), self._loaded, last)
        self._loaded = last + 1
        self.endInsertRows()

    def set_mapped(self, paths: Iterable[str]) -> None:
        """Mark the fields the current flow uses (shown bold with a link glyph)."""
        new = frozenset(paths)
        if new == self._mapped:
            return
        changed = new ^ self._mapped
        self._mapped = new
        for path in changed:
            # Rows not handed to a view yet are read with the new marks when they are.
            index = self.index_of(path, fetch=False)
            if index.isValid():
                self.dataChanged.emit(index, index.siblingAtColumn(1))

    def index_of(self, path: str, column: int = 0, *, fetch: bool = True) -> QModelIndex:
        """The index of a field path, or an invalid index. With ``fetch`` the rows up to
        it are handed to the views first; without, a row not handed yet has no index."""
        shape = self._root._shape
        if shape is None or path not in shape.rows or not path:
            return QModelIndex()
        chain = self._path_chain(path)
        top = shape.rows[chain[0]]
        if top >= self._loaded:
            if not fetch:
                return QModelIndex()
            self._fetch_to(top)
        node = self._root
        for part in chain:
            node = node.child(shape.rows[part])
        return self.createIndex(node.row, column, node)

    @staticmethod
    def _path_chain(path: str) -> list[str]:
        chain = []
        while path:
            chain.append(path)
            path = _parent_path(path)
        return chain[::-1]

    def node(self, index: Index) -> _Node:
        return index.internalPointer() if index.isValid() else self._root

    def _row_count(self, node: _Node) -> int:
        return self._loaded if node is self._root else node.child_count()

    # -- QAbstractItemModel overrides

    def index(self, row: int, column: int, parent: Index = ROOT) -> QModelIndex:
        # Checked here rather than with hasIndex: views call this thousands of times.
        if row < 0 or column < 0 or column >= len(self.COLUMNS):
            return QModelIndex()
        if parent.isValid():
            if parent.column() != 0:
                return QModelIndex()
            node = parent.internalPointer()
        else:
            node = self._root
        if row >= self._row_count(node):
            return QModelIndex()
        return self.createIndex(row, column, node.child(row))

    def parent(self, index: Index = ROOT) -> QModelIndex:  # type: ignore[override]
        if not index.isValid():
            return QModelIndex()
        up = self.node(index).parent
        if up is None or up is self._root:
            return QModelIndex()
        return self.createIndex(up.row, 0, up)

    def rowCount(self, parent: Index = ROOT) -> int:
        if parent.isValid() and parent.column() != 0:
            return 0
        return self._row_count(self.node(parent))

    def hasChildren(self, parent: Index = ROOT) -> bool:
        # Without making the children (the view asks for every row it lays out).
        if parent.isValid() and parent.column() != 0:
            return False
        return self.node(parent).child_count() > 0

    def canFetchMore(self, parent: Index) -> bool:
        return not parent.isValid() and self._loaded < self._root.child_count()

    def fetchMore(self, parent: Index) -> None:
        if not parent.isValid():
            self._fetch_to(self._loaded + self.FETCH_BATCH - 1)

    def columnCount(self, parent: Index = ROOT) -> int:
        return len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        return column_header(self.COLUMNS, section, orientation, role)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        # Views ask for a dozen roles per cell while they size columns; the ones we do not
        # answer leave first, and roles are compared as plain ints (an enum attribute
        # lookup per comparison showed in the profile).
        if role not in _ANSWERED_ROLES or not index.isValid():
            return None
        node: _Node = index.internalPointer()
        fs = node.field
        col = index.column()
        if role == _DISPLAY:
            if col == 0:
                mark = " *" if fs is not None and fs.required else ""
                system = self._object.system if self._object is not None else None
                if fs is not None and "." not in node.path:
                    return field_title(fs, node.path, system=system) + mark
                return node.name + mark
            if fs is None:
                return ""
            return type_text(fs)
        if role == _DECORATION:
            if col != 0:
                return None
            if fs is None:
                return kind_icon(FieldKind.OBJECT)
            return kind_icon(FieldKind.LIST if is_list_object(fs) else fs.kind)
        if role == _TOOLTIP:
            return field_tooltip(fs) if fs is not None else node.path
        if role == _FONT:
            return _bold_font() if node.path in self._mapped else None
        if role == _FOREGROUND:
            if fs is not None and (col == 1 or fs.calculated or not fs.createable):
                return qcolor("muted")  # the type, and read-only fields, step back (theme-aware)
            return None
        if role == FieldPathRole:
            return node.path
        if role == FieldSchemaRole:
            return fs
        if role == SearchRole:
            label = fs.label if fs is not None else ""
            return f"{node.path} {label}"
        if role == MappedRole:
            return node.path in self._mapped
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        if index.internalPointer().field is None:
            return _GROUP_FLAGS
        return _FIELD_FLAGS if self.drop_handler is None else _DROP_FIELD_FLAGS

    def mimeTypes(self) -> list[str]:
        return [FIELD_MIME]

    def mimeData(self, indexes: Iterable[QModelIndex]) -> QMimeData:  # type: ignore[override]
        paths: list[str] = []
        for index in indexes:
            node = self.node(index)
            if node.field is not None and node.path not in paths:
                paths.append(node.path)
        obj = self._object
        if obj is None or not paths:
            return QMimeData()
        return encode_fields(obj.system.value, obj.name, paths)

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction | Qt.DropAction.LinkAction

    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction | Qt.DropAction.LinkAction

    def canDropMimeData(
        self, data: QMimeData, action: Qt.DropAction, row: int, column: int, parent: Index
    ) -> bool:
        if self.drop_handler is None or decode_fields(data) is None:
            return False
        return self._drop_target(row, parent) is not None

    def dropMimeData(
        self, data: QMimeData, action: Qt.DropAction, row: int, column: int, parent: Index
    ) -> bool:
        payload = decode_fields(data)
        target = self._drop_target(row, parent)
        if self.drop_handler is None or payload is None or target is None:
            return False
        return bool(self.drop_handler(payload, target))

    def _drop_target(self, row: int, parent: Index) -> str | None:
        # A drop "on" an item comes with row == -1 and the item as parent.
        node = self.node(parent)
        if 0 <= row < self._row_count(node):
            node = node.child(row)
        return node.path if node.field is not None else None


class SchemaFilterProxy(QSortFilterProxyModel):
    """Case-insensitive search over paths and labels that keeps the matches' ancestors."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setRecursiveFilteringEnabled(True)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setFilterRole(SearchRole)
        self.setFilterKeyColumn(0)
