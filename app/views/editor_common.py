"""What the flow's lookup, condition and defaults editors share.

The three editors look and behave alike on purpose: a hint, a read-only table of the current
flow's items on the left, a form with its buttons and the last refusal on the right. They
follow the document the same way (a flow switch resets the form, an edit elsewhere refreshes
the table and keeps the selection) and refuse an edit the same way (the reason is shown and
announced with ``editRefused``). :class:`FlowItemsEditor` holds that once; each editor keeps
what is its own: the form, the checks and the table's cells.

:class:`FieldPicker` is the searchable field combo all three forms use, and
:func:`split_sample` the (record, event) of a sample that the condition editor and the
transform panel evaluate against.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QCompleter,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLayout,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app import theme
from app.document.document import StudioDocument
from app.models.schema_model import field_tooltip
from mappings.document.model import Flow
from mappings.errors import MappingError
from mappings.schema.model import FieldKind, FieldSchema, ObjectSchema
from mappings.schema.stripe_events import split_event

EVENT_PREFIX = "$event"


def split_sample(sample: Any) -> tuple[dict, dict | None]:
    """(record, event) of a sample, by the one unwrapping rule (``split_event``): a Stripe
    event's ``data.object`` is the record and the event its envelope; no sample is ``{}``."""
    record, envelope = split_event(sample)
    return (record if isinstance(record, dict) else {}), (
        envelope if isinstance(envelope, dict) else None
    )


def is_scalar_field(fs: FieldSchema) -> bool:
    """A field holding one value (not an object or a list): what a source picker offers."""
    return fs.kind not in (FieldKind.OBJECT, FieldKind.LIST)


class FieldListModel(QAbstractListModel):
    """Field paths for a combo and its completer; a field's tooltip is written when a view
    asks for it (issue 12: formatting 10,000 tooltips up front cost 0.67 s)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.fields: list[FieldSchema] = []
        self._rows: dict[str, int] = {}

    def set_fields(self, fields: list[FieldSchema]) -> None:
        self.beginResetModel()
        self.fields = fields
        self._rows = {fs.path: row for row, fs in enumerate(fields)}
        self.endResetModel()

    def row_of(self, path: str) -> int:
        """The row of ``path``, -1 if absent (a dict: QComboBox.findText would ask data()
        of every row through Python)."""
        return self._rows.get(path, -1)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt override
        return 0 if parent.isValid() else len(self.fields)

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:  # Qt override
        if not index.isValid() or not 0 <= index.row() < len(self.fields):
            return None
        fs = self.fields[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return fs.path
        if role == Qt.ItemDataRole.ToolTipRole:
            return field_tooltip(fs)
        return None


class FieldPicker(QComboBox):
    """An editable combo over an object's field paths; typing searches anywhere in a path."""

    pathChanged = Signal(str)

    def __init__(self, parent: QWidget | None = None, placeholder: str = "search a field…") -> None:
        super().__init__(parent)
        self.setEditable(True)
        self.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.setMaxVisibleItems(16)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(24)
        line = self.lineEdit()
        assert line is not None  # an editable combo has one
        line.setPlaceholderText(placeholder)
        line.setClearButtonEnabled(True)
        self._paths = FieldListModel(self)
        self.setModel(self._paths)
        completer = QCompleter(self._paths, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.setCompleter(completer)
        self.schema: ObjectSchema | None = None
        self.currentTextChanged.connect(self.pathChanged)

    def set_schema(
        self,
        schema: ObjectSchema | None,
        keep: Callable[[FieldSchema], bool] | None = None,
    ) -> None:
        """Offer ``schema``'s fields (those ``keep`` accepts), keeping the typed path."""
        text = self.path()
        self.schema = schema
        fields = [fs for fs in schema if keep is None or keep(fs)] if schema is not None else []
        self.blockSignals(True)
        self._paths.set_fields(fields)
        self.setEditText(text)
        self.blockSignals(False)

    def path(self) -> str:
        return self.currentText().strip()

    def set_path(self, path: str) -> None:
        index = self._paths.row_of(path)
        if index >= 0:
            self.setCurrentIndex(index)
        self.setEditText(path)

    def field(self) -> FieldSchema | None:
        path = self.path()
        return self.schema.find(path) if self.schema is not None and path else None

    def typed_field(self) -> FieldSchema | None:
        """The picked field, or None when the path is a free key below it (``metadata.<key>``
        takes any value, so no editor or check of the parent's kind applies)."""
        fs = self.field()
        if fs is not None and fs.free_keys and fs.path != self.path():
            return None
        return fs


class FlowItemsEditor(QWidget):
    """The frame of an editor of one list in the current flow (lookups, conditions, defaults).

    A subclass builds its form, then calls :meth:`_add_buttons`, :meth:`_arrange` and, last,
    :meth:`_follow_document`.
    It provides :meth:`items` (the flow's items, in table order), :meth:`_fill_rows`,
    :meth:`_load_item` (selecting a row loads it in the form), :meth:`_hint_text` and
    :meth:`_form_widgets`; it may override :meth:`_usable` and :meth:`_flow_switched`.
    """

    COLUMNS: tuple[str, ...] = ()
    add_button: QPushButton
    apply_button: QPushButton | None
    remove_button: QPushButton
    #: How the table is called for assistive technology and tests.
    ACCESSIBLE_NAME = ""
    #: Columns sized to their contents; the others share the rest of the width.
    FIT_COLUMNS: tuple[int, ...] = ()

    def __init__(self, document: StudioDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.hint = QLabel(self)
        self.hint.setWordWrap(True)
        theme.set_text_role(self.hint, "muted")
        self.table = QTableWidget(0, len(self.COLUMNS), self)
        self.table.setAccessibleName(self.ACCESSIBLE_NAME)
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        for column in self.FIT_COLUMNS:
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.error = QLabel(self)
        self.error.setWordWrap(True)
        theme.set_text_role(self.error, "error")
        self._shown_flow: str | None = None

    # ------------------------------------------------------------------ building

    def _add_buttons(
        self,
        add_label: str,
        on_add: Callable[[], object],
        on_remove: Callable[[], object],
        on_apply: Callable[[], object] | None = None,
    ) -> None:
        """The button that adds (or sets) an item, "Apply to selected" when there is
        ``on_apply``, and "Remove"; made after the form so that Tab moves from it to them."""
        self.add_button = QPushButton(add_label, self)
        self.add_button.clicked.connect(on_add)
        self.apply_button = None
        if on_apply is not None:
            self.apply_button = QPushButton("Apply to selected", self)
            self.apply_button.clicked.connect(on_apply)
        self.remove_button = QPushButton("Remove", self)
        self.remove_button.clicked.connect(on_remove)

    def _arrange(self, *form_parts: QLayout | QWidget) -> None:
        """Lay out the hint over the table (left) and the form parts, the buttons and the
        refusal (right)."""
        buttons = QHBoxLayout()
        for button in (self.add_button, self.apply_button, self.remove_button):
            if button is not None:
                buttons.addWidget(button)
        buttons.addStretch(1)
        right = QVBoxLayout()
        for part in form_parts:
            if isinstance(part, QLayout):
                right.addLayout(part)
            else:
                right.addWidget(part)
        right.addLayout(buttons)
        right.addWidget(self.error)
        right.addStretch(1)
        body = QHBoxLayout()
        body.addWidget(self.table, 3)
        body.addLayout(right, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(self.hint)
        layout.addLayout(body, 1)

    def _follow_document(self) -> None:
        """Start following the document (and the table's selection); shows the current flow."""
        self.table.itemSelectionChanged.connect(self._load_selected)
        self.document.mappingsChanged.connect(self._on_mappings_changed)
        self.document.currentFlowChanged.connect(lambda _name: self.refresh())
        self.document.documentReplaced.connect(self.refresh)
        self.document.catalogsChanged.connect(self.refresh)
        self.refresh()

    # ------------------------------------------------------------------ what a subclass says

    def items(self) -> list[Any]:
        """The current flow's items, one a table row."""
        raise NotImplementedError

    def _fill_rows(self, flow: Flow) -> None:
        """Append the rows of ``flow``'s items (signals are blocked meanwhile)."""
        raise NotImplementedError

    def _load_item(self, item: Any) -> None:
        """Show the selected item in the form."""
        raise NotImplementedError

    def _hint_text(self, flow: Flow | None) -> str:
        raise NotImplementedError

    def _form_widgets(self) -> Sequence[QWidget]:
        """What is enabled only while the flow can have items."""
        raise NotImplementedError

    def _usable(self, flow: Flow | None) -> bool:
        return flow is not None

    def _flow_switched(self, flow: Flow | None) -> None:
        """Another flow is shown: reset the form's choices to it."""

    # ------------------------------------------------------------------ reading

    def flow(self) -> Flow | None:
        return self.document.find_flow(self.document.current_flow)

    def selected_row(self) -> int:
        rows = {index.row() for index in self.table.selectionModel().selectedRows()}
        return min(rows) if rows else -1

    def _has_row(self, row: int) -> bool:
        return 0 <= row < len(self.items())

    # ------------------------------------------------------------------ edits

    def _apply(self, edit: Callable[[Flow], None]) -> bool:
        """Run ``edit`` on the current flow; its MappingError is refused, naming the problem."""
        flow = self.flow()
        if flow is None:
            return self._refuse("pick a flow first")
        try:
            edit(flow)
        except MappingError as exc:
            return self._refuse(str(exc))
        self.error.setText("")
        return True

    def _refuse(self, reason: str) -> bool:
        self.error.setText(reason)
        self.document.editRefused.emit(reason)
        return False

    # ------------------------------------------------------------------ following the document

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
            self._flow_switched(flow)
            self.error.setText("")
        usable = self._usable(flow)
        for widget in self._form_widgets():
            widget.setEnabled(usable)
        self.hint.setText(self._hint_text(flow))
        if 0 <= row < self.table.rowCount():
            self.table.selectRow(row)
        self._update_buttons()

    def _update_buttons(self) -> None:
        selected = self.selected_row() >= 0
        if self.apply_button is not None:
            self.apply_button.setEnabled(selected and self.add_button.isEnabled())
        self.remove_button.setEnabled(selected)

    def _fill_table(self, flow: Flow | None) -> None:
        self.table.blockSignals(True)
        self.table.setRowCount(0)
        self.table.clearSpans()
        if flow is not None:
            self._fill_rows(flow)
        self.table.blockSignals(False)
        self._update_buttons()

    def _append_row(self, cells: Sequence[str], tooltip: str | bool = False) -> int:
        """A new last row of ``cells``; ``tooltip`` True shows each cell's text as its tooltip
        (long values are cut by the column), a string is the whole row's tooltip."""
        row = self.table.rowCount()
        self.table.insertRow(row)
        for col, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if tooltip is not False:
                item.setToolTip(text if tooltip is True else str(tooltip))
            self.table.setItem(row, col, item)
        return row

    def _load_selected(self) -> None:
        self._update_buttons()
        row = self.selected_row()
        items = self.items()
        if 0 <= row < len(items):
            self._load_item(items[row])
