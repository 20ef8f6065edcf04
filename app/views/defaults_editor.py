"""The flow's defaults: constant values written to target fields nothing else fills.

The engine writes a default when the field mapping (if any) left the field empty, so a
default is also how a required field gets a value (``Case.Status = New``). The value
editor fits the field (its picklist values, true/false, a number) and the value is checked
with the engine's own validator before the edit, which is one undo command
(:meth:`StudioDocument.set_defaults`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.document.document import StudioDocument
from app.views.condition_editor import ValueEditor, shown
from app.views.lookup_editor import ERROR_STYLE, HINT_STYLE, FieldPicker
from mappings.document.model import Flow
from mappings.engine.validate import build_validator
from mappings.errors import EditError, MappingError
from mappings.schema.model import FieldKind, FieldSchema, ObjectSchema


def is_default_target(fs: FieldSchema) -> bool:
    """A field a constant can be written to: writable, a single value."""
    if not (fs.createable or fs.updateable) or fs.calculated:
        return False
    return fs.kind not in (FieldKind.OBJECT, FieldKind.LIST) and "[]" not in fs.path


def check_default(
    flow: Flow, schema: ObjectSchema | None, target: str, value: Any
) -> None:
    """Refuse a default the engine would reject, naming the problem."""
    target = target.strip()
    if not target:
        raise EditError("choose the target field the default is written to")
    if value is None or value == "":
        raise EditError(f"a default for {target} needs a value (remove the default instead)")
    if any(lk.target == target for lk in flow.lookups):
        raise EditError(f"{target} is filled by a lookup; a constant would hide its result")
    if schema is None:
        return
    fs = schema.find(target)
    if fs is None:
        raise EditError(f"{flow.target} has no field {target!r}")
    if fs.free_keys and fs.path != target:
        fs = FieldSchema(target, FieldKind.STRING, length=500)  # metadata.<key> is text
    if not is_default_target(fs):
        raise EditError(f"{flow.target.object}.{fs.path} cannot be written, so it has no default")
    check = build_validator(fs)
    problem = check(value) if check is not None else None
    if problem is not None:
        raise EditError(f"default for {target}: {problem.message}")


class DefaultsEditor(QWidget):
    """A target field -> constant value table and a form to set or remove one."""

    COLUMNS = ("Target field", "Value", "Also mapped")

    def __init__(self, document: StudioDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.hint = QLabel(self)
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet(HINT_STYLE)
        self.table = QTableWidget(0, len(self.COLUMNS), self)
        self.table.setAccessibleName("defaults")
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)

        self.field_picker = FieldPicker(self, "search a target field…")
        self.field_picker.setAccessibleName("default target field")
        self.value_editor = ValueEditor(self)
        form = QFormLayout()
        form.addRow("Target field", self.field_picker)
        form.addRow("Value", self.value_editor)
        self.set_button = QPushButton("Set default", self)
        self.remove_button = QPushButton("Remove", self)
        buttons = QHBoxLayout()
        buttons.addWidget(self.set_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        self.error = QLabel(self)
        self.error.setWordWrap(True)
        self.error.setStyleSheet(ERROR_STYLE)
        right = QVBoxLayout()
        right.addLayout(form)
        right.addLayout(buttons)
        right.addWidget(self.error)
        right.addStretch(1)
        body = QHBoxLayout()
        body.addWidget(self.table, 3)
        body.addLayout(right, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(self.hint)
        layout.addLayout(body, 1)

        self.field_picker.pathChanged.connect(lambda _p: self._shape_value())
        self.table.itemSelectionChanged.connect(self._load_selected)
        self.set_button.clicked.connect(self._set_from_form)
        self.remove_button.clicked.connect(self._remove_selected)
        document.mappingsChanged.connect(self._on_mappings_changed)
        document.currentFlowChanged.connect(lambda _name: self.refresh())
        document.documentReplaced.connect(self.refresh)
        document.catalogsChanged.connect(self.refresh)
        self._shown_flow: str | None = None
        self._shaped: FieldSchema | None | bool = False
        self.refresh()

    # ------------------------------------------------------------------ reading

    def flow(self) -> Flow | None:
        return self.document.find_flow(self.document.current_flow)

    def defaults(self) -> dict[str, Any]:
        flow = self.flow()
        return dict(flow.defaults) if flow is not None else {}

    def selected_row(self) -> int:
        rows = {index.row() for index in self.table.selectionModel().selectedRows()}
        return min(rows) if rows else -1

    def select_field(self, target: str) -> bool:
        for row, name in enumerate(self.defaults()):
            if name == target:
                self.table.selectRow(row)
                return True
        return False

    # ------------------------------------------------------------------ edits

    def set_default(self, target: str, value: Any) -> bool:
        """Add or change the default of ``target`` (a changed one keeps its place)."""
        target = target.strip()
        return self._commit(lambda d: {**d, target: value}, target, value)

    def remove_default(self, target: str) -> bool:
        if target not in self.defaults():
            return self._refuse(f"{target or 'that field'} has no default")
        return self._commit(lambda d: {k: v for k, v in d.items() if k != target}, None, None)

    def _commit(
        self, change: Callable[[dict[str, Any]], dict[str, Any]], target: str | None, value: Any
    ) -> bool:
        flow = self.flow()
        if flow is None:
            return self._refuse("pick a flow first")
        try:
            if target is not None:
                check_default(flow, self.document.target_schema(flow.name), target, value)
            self.document.set_defaults(flow.name, change(dict(flow.defaults)))
        except MappingError as exc:
            return self._refuse(str(exc))
        self.error.setText("")
        if target is not None:
            self.select_field(target)
        return True

    def _refuse(self, reason: str) -> bool:
        self.error.setText(reason)
        self.document.editRefused.emit(reason)
        return False

    def _set_from_form(self) -> bool:
        try:
            value = self.value_editor.value()
        except EditError as exc:
            return self._refuse(str(exc))
        return self.set_default(self.field_picker.path(), value)

    def _remove_selected(self) -> bool:
        row = self.selected_row()
        names = list(self.defaults())
        if not 0 <= row < len(names):
            return self._refuse("select the default to remove first")
        return self.remove_default(names[row])

    # ------------------------------------------------------------------ following the document

    def _shape_value(self) -> None:
        fs = self.field_picker.field()
        if fs is not None and fs.free_keys and fs.path != self.field_picker.path():
            fs = None
        if fs != self._shaped:
            self._shaped = fs
            self.value_editor.configure(fs)

    def _on_mappings_changed(self, flow: str) -> None:
        if flow == self.document.current_flow:
            self.refresh()

    def refresh(self) -> None:
        flow = self.flow()
        name = flow.name if flow is not None else None
        switched = name != self._shown_flow
        self._shown_flow = name
        row = -1 if switched else self.selected_row()
        self._fill_table(flow)
        if switched:
            target = self.document.target_schema(flow.name) if flow is not None else None
            self.field_picker.set_schema(target, is_default_target)
            self.field_picker.set_path("")
            self.error.setText("")
        for w in (self.field_picker, self.value_editor, self.set_button):
            w.setEnabled(flow is not None)
        if flow is None:
            self.hint.setText("Pick or create a flow to edit its defaults.")
        else:
            self.hint.setText(
                f"A default is written to a {flow.target.object} field when nothing else "
                "filled it: a constant for every record, or the fallback of a mapping."
            )
        if 0 <= row < self.table.rowCount():
            self.table.selectRow(row)
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.remove_button.setEnabled(self.selected_row() >= 0)

    def _fill_table(self, flow: Flow | None) -> None:
        self.table.blockSignals(True)
        self.table.setRowCount(0)
        if flow is None:
            self.table.blockSignals(False)
            self._update_buttons()
            return
        for target, value in flow.defaults.items():
            row = self.table.rowCount()
            self.table.insertRow(row)
            mapped = flow.mapping_for(target) is not None
            cells = (target, shown(value), "yes (fallback)" if mapped else "")
            for col, text in enumerate(cells):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self.table.blockSignals(False)
        self._update_buttons()

    def _load_selected(self) -> None:
        self._update_buttons()
        row = self.selected_row()
        items = list(self.defaults().items())
        if 0 <= row < len(items):
            target, value = items[row]
            self.field_picker.set_path(target)
            self._shape_value()
            self.value_editor.set_value(value)
