"""Item models over an object's schema: a field tree with icons, tooltips, markers and drag.

Stripe fields are dot paths (``billing_details.address.city``, ``lines.data[].amount``), so
they nest by path; Salesforce fields are flat. Nodes are built when an object is set (a
1,000-field object takes a few milliseconds), and the filter proxy searches the whole tree.

Drag and drop carries ``application/x-fieldbridge-field``: JSON
``{"system", "object", "path", "paths"}``. A model built with a ``drop_handler`` accepts
such a drop on one of its fields and hands it (payload, target path) to the handler; the
studio passes a handler that issues the map command.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from dataclasses import field as dc_field
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
    if fs.reference_to:
        shown = ", ".join(fs.reference_to[:2]) + (" …" if len(fs.reference_to) > 2 else "")
        parts = [f"→ {shown}"]
    else:
        parts = [fs.kind.value]
    if fs.external_id:
        parts.append("external id")
    return " · ".join(parts)


# --------------------------------------------------------------------------- tree


@dataclass(eq=False)
class _Node:
    name: str
    path: str
    parent: _Node | None
    field: FieldSchema | None = None
    children: list[_Node] = dc_field(default_factory=list)
    row: int = 0


def _parent_path(path: str) -> str:
    parent = path.rpartition(".")[0]
    return parent[:-2] if parent.endswith("[]") else parent


def build_tree(fields: Iterable[FieldSchema]) -> _Node:
    """Nest fields by dot path; a missing parent becomes a plain grouping node."""
    root = _Node("", "", None)
    by_path: dict[str, _Node] = {"": root}

    def node_for(path: str) -> _Node:
        found = by_path.get(path)
        if found is None:
            parent = node_for(_parent_path(path))
            found = _Node(path.rpartition(".")[2], path, parent)
            found.row = len(parent.children)
            parent.children.append(found)
            by_path[path] = found
        return found

    for fs in fields:
        node = node_for(fs.path)
        node.field = fs
    return root


class SchemaTreeModel(QAbstractItemModel):
    """The fields of one object as a tree: column 0 the name, column 1 the type and markers."""

    COLUMNS = ("Field", "Type")

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
        self._mapped: frozenset[str] = frozenset()
        self.drop_handler = drop_handler
        field_naming().changed.connect(self._names_changed)
        if obj is not None:
            self.set_object(obj)

    def _names_changed(self, _show_api_names: bool) -> None:
        # Salesforce objects are flat: the top-level names are the ones that change.
        rows = len(self._root.children)
        if rows:
            self.dataChanged.emit(self.index(0, 0), self.index(rows - 1, 0))

    # -- content

    @property
    def object_schema(self) -> ObjectSchema | None:
        return self._object

    def set_object(self, obj: ObjectSchema | None) -> None:
        self.beginResetModel()
        self._object = obj
        self._root = build_tree(obj) if obj is not None else _Node("", "", None)
        self.endResetModel()

    def set_mapped(self, paths: Iterable[str]) -> None:
        """Mark the fields the current flow uses (shown bold with a link glyph)."""
        new = frozenset(paths)
        if new == self._mapped:
            return
        changed = new ^ self._mapped
        self._mapped = new
        for path in changed:
            index = self.index_of(path)
            if index.isValid():
                self.dataChanged.emit(index, index.siblingAtColumn(1))

    def index_of(self, path: str, column: int = 0) -> QModelIndex:
        """The index of a field path, or an invalid index."""
        node = self._root
        parts = self._path_chain(path)
        for part in parts:
            node = next((c for c in node.children if c.path == part), None)  # type: ignore[assignment]
            if node is None:
                return QModelIndex()
        return self.createIndex(node.row, column, node) if node is not self._root else QModelIndex()

    @staticmethod
    def _path_chain(path: str) -> list[str]:
        chain = []
        while path:
            chain.append(path)
            path = _parent_path(path)
        return chain[::-1]

    def node(self, index: Index) -> _Node:
        return index.internalPointer() if index.isValid() else self._root

    # -- QAbstractItemModel overrides

    def index(self, row: int, column: int, parent: Index = ROOT) -> QModelIndex:
        if not self.hasIndex(row, column, parent):
            return QModelIndex()
        return self.createIndex(row, column, self.node(parent).children[row])

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
        return len(self.node(parent).children)

    def columnCount(self, parent: Index = ROOT) -> int:
        return len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        return column_header(self.COLUMNS, section, orientation, role)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        node = self.node(index)
        fs = node.field
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                mark = " *" if fs is not None and fs.required else ""
                system = self._object.system if self._object is not None else None
                if fs is not None and "." not in node.path:
                    return field_title(fs, node.path, system=system) + mark
                return node.name + mark
            if fs is None:
                return ""
            return type_text(fs)
        if role == Qt.ItemDataRole.DecorationRole and col == 0:
            return kind_icon(fs.kind if fs is not None else FieldKind.OBJECT)
        if role == Qt.ItemDataRole.ToolTipRole:
            return field_tooltip(fs) if fs is not None else node.path
        if role == Qt.ItemDataRole.FontRole and node.path in self._mapped:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ForegroundRole and fs is not None and (
            col == 1 or fs.calculated or not fs.createable
        ):
            return qcolor("muted")  # the type, and read-only fields, step back (theme-aware)
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
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if self.node(index).field is not None:
            base |= Qt.ItemFlag.ItemIsDragEnabled
            if self.drop_handler is not None:
                base |= Qt.ItemFlag.ItemIsDropEnabled
        return base

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
        if row >= 0 and row < len(node.children):
            node = node.children[row]
        return node.path if node.field is not None else None


class SchemaFilterProxy(QSortFilterProxyModel):
    """Case-insensitive search over paths and labels that keeps the matches' ancestors."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setRecursiveFilteringEnabled(True)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setFilterRole(SearchRole)
        self.setFilterKeyColumn(0)
