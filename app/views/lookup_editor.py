"""The flow's lookups: a Salesforce reference field filled by matching an external id.

A lookup reads ``Payment__c.Account__c`` from ``Account.StripeCustomerID__c = charge.customer``.
The form only offers what can work: the target object's writable reference fields, the
objects that field points to, that object's external-id / idLookup fields, and a source
field picker with search. :func:`check_lookup` refuses any other combination with a
message naming the problem, before anything changes; every accepted change is one undo
command (:meth:`StudioDocument.set_lookups`).

:class:`FieldPicker` lives here and is shared with the condition and defaults editors.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QStringListModel, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QCompleter,
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
from app.models.schema_model import field_tooltip
from mappings.document.model import Flow, Lookup
from mappings.errors import EditError, MappingError
from mappings.schema.model import FieldKind, FieldSchema, ObjectSchema, System

ERROR_STYLE = "color: #b91c1c"
HINT_STYLE = "color: #475569"
EVENT_PREFIX = "$event"


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
        self._paths = QStringListModel(self)
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
        paths = [fs.path for fs in fields]
        self.blockSignals(True)
        self.clear()
        self.addItems(paths)
        for row, fs in enumerate(fields):
            self.setItemData(row, field_tooltip(fs), Qt.ItemDataRole.ToolTipRole)
        self._paths.setStringList(paths)
        self.setEditText(text)
        self.blockSignals(False)

    def path(self) -> str:
        return self.currentText().strip()

    def set_path(self, path: str) -> None:
        index = self.findText(path)
        if index >= 0:
            self.setCurrentIndex(index)
        self.setEditText(path)

    def field(self) -> FieldSchema | None:
        path = self.path()
        return self.schema.find(path) if self.schema is not None and path else None


def is_reference_target(fs: FieldSchema) -> bool:
    """A reference field a flow can write (``Account__c``, ``AccountId``, ``OwnerId``)."""
    return (
        fs.kind is FieldKind.REFERENCE
        and bool(fs.reference_to)
        and (fs.createable or fs.updateable)
        and not fs.calculated
    )


def is_match_field(fs: FieldSchema) -> bool:
    """A field Salesforce can find one record by: an external id or an idLookup field."""
    return fs.external_id or fs.id_lookup


def check_lookup(document: StudioDocument, flow: Flow, lookup: Lookup) -> None:
    """Refuse a lookup that cannot work, naming the problem; checks against the catalogs."""
    if flow.target.system is not System.SALESFORCE:
        raise EditError(
            f"flow {flow.name!r} writes to {flow.target}: lookups resolve Salesforce "
            "reference Ids, so only flows into Salesforce have them"
        )
    for attr, what in (
        ("target", "a target reference field"),
        ("object", "a lookup object"),
        ("match_field", "a match field"),
        ("source", "a source field"),
    ):
        if not str(getattr(lookup, attr) or "").strip():
            raise EditError(f"choose {what} for the lookup")
    target_obj = document.target_schema(flow.name)
    if target_obj is not None:
        fs = target_obj.find(lookup.target)
        if fs is None:
            raise EditError(f"{flow.target} has no field {lookup.target!r}")
        if not is_reference_target(fs):
            raise EditError(
                f"{flow.target.object}.{fs.path} is {fs.kind.value}"
                f"{'' if fs.createable or fs.updateable else ', read-only'}: "
                "a lookup fills a writable reference field"
            )
        if lookup.object.lower() not in {o.lower() for o in fs.reference_to}:
            raise EditError(
                f"{flow.target.object}.{fs.path} points to {', '.join(fs.reference_to)}, "
                f"not {lookup.object}"
            )
    catalog = document.catalogs.get(System.SALESFORCE)
    lookup_obj = catalog.get(lookup.object) if catalog is not None else None
    if lookup_obj is None:
        raise EditError(
            f"{lookup.object} is not in the Salesforce catalog, so its match field cannot be "
            "checked; refresh the org's schema"
        )
    match = lookup_obj.find(lookup.match_field)
    if match is None:
        raise EditError(f"{lookup.object} has no field {lookup.match_field!r}")
    if not is_match_field(match):
        keys = ", ".join(f.path for f in lookup_obj if is_match_field(f)) or "none"
        raise EditError(
            f"{lookup.object}.{match.path} is not an external id or idLookup field, so it "
            f"cannot find one record (usable: {keys})"
        )
    source_obj = document.source_schema(flow.name)
    if (
        source_obj is not None
        and not lookup.source.startswith(EVENT_PREFIX)
        and source_obj.find(lookup.source) is None
    ):
        raise EditError(f"{flow.source} has no field {lookup.source!r}")


class LookupEditor(QWidget):
    """A table of the current flow's lookups and a form to add, change or remove one."""

    COLUMNS = ("Target field", "Lookup object", "Match field", "Source field", "Required")

    def __init__(self, document: StudioDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.hint = QLabel(self)
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet(HINT_STYLE)
        self.table = QTableWidget(0, len(self.COLUMNS), self)
        self.table.setAccessibleName("lookups")
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.ResizeToContents)

        self.target_combo = QComboBox(self)
        self.target_combo.setAccessibleName("target reference field")
        self.object_combo = QComboBox(self)
        self.object_combo.setAccessibleName("lookup object")
        self.match_combo = QComboBox(self)
        self.match_combo.setAccessibleName("match field")
        self.source_picker = FieldPicker(self, "search a source field…")
        self.source_picker.setAccessibleName("source field")
        self.required_box = QCheckBox("Fail the record when nothing matches", self)
        self.required_box.setChecked(True)
        form = QFormLayout()
        form.addRow("Target field", self.target_combo)
        form.addRow("Lookup object", self.object_combo)
        form.addRow("Match field", self.match_combo)
        form.addRow("Source field", self.source_picker)
        form.addRow("Required", self.required_box)

        self.add_button = QPushButton("Add lookup", self)
        self.apply_button = QPushButton("Apply to selected", self)
        self.remove_button = QPushButton("Remove", self)
        buttons = QHBoxLayout()
        for button in (self.add_button, self.apply_button, self.remove_button):
            buttons.addWidget(button)
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

        self.target_combo.currentIndexChanged.connect(lambda _i: self._fill_objects())
        self.object_combo.currentIndexChanged.connect(lambda _i: self._fill_match_fields())
        self.table.itemSelectionChanged.connect(self._load_selected)
        self.add_button.clicked.connect(lambda: self.add_lookup(self.draft()))
        self.apply_button.clicked.connect(
            lambda: self.replace_lookup(self.selected_row(), self.draft())
        )
        self.remove_button.clicked.connect(lambda: self.remove_lookup(self.selected_row()))
        document.mappingsChanged.connect(self._on_mappings_changed)
        document.currentFlowChanged.connect(lambda _name: self.refresh())
        document.documentReplaced.connect(self.refresh)
        document.catalogsChanged.connect(self.refresh)
        self._shown_flow: str | None = None
        self.refresh()

    # ------------------------------------------------------------------ reading

    def flow(self) -> Flow | None:
        return self.document.find_flow(self.document.current_flow)

    def lookups(self) -> list[Lookup]:
        flow = self.flow()
        return list(flow.lookups) if flow is not None else []

    def selected_row(self) -> int:
        rows = {index.row() for index in self.table.selectionModel().selectedRows()}
        return min(rows) if rows else -1

    def select_target(self, target: str) -> bool:
        """Select the lookup that writes ``target``; returns whether there is one."""
        for row, lk in enumerate(self.lookups()):
            if lk.target == target:
                self.table.selectRow(row)
                return True
        return False

    def draft(self) -> Lookup:
        """The lookup the form describes."""
        return Lookup(
            target=str(self.target_combo.currentData() or ""),
            object=str(self.object_combo.currentData() or ""),
            match_field=str(self.match_combo.currentData() or ""),
            source=self.source_picker.path(),
            required=self.required_box.isChecked(),
        )

    def set_draft(self, lookup: Lookup) -> None:
        """Fill the form from ``lookup`` (choices it names that the catalog lacks are added,
        so a stale lookup is shown as it is and refused only when it is applied)."""
        self._choose(self.target_combo, lookup.target)
        self._choose(self.object_combo, lookup.object)
        self._choose(self.match_combo, lookup.match_field)
        self.source_picker.set_path(lookup.source)
        self.required_box.setChecked(lookup.required)

    @staticmethod
    def _choose(combo: QComboBox, value: str) -> None:
        index = combo.findData(value)
        if index < 0 and value:
            combo.addItem(f"{value} (not in the catalog)", value)
            index = combo.count() - 1
        combo.setCurrentIndex(index)

    # ------------------------------------------------------------------ edits

    def add_lookup(self, lookup: Lookup) -> bool:
        return self._commit(lambda items: [*items, lookup], lookup)

    def replace_lookup(self, row: int, lookup: Lookup) -> bool:
        if not 0 <= row < len(self.lookups()):
            return self._refuse("select the lookup to change first")
        return self._commit(lambda items: items[:row] + [lookup] + items[row + 1 :], lookup)

    def remove_lookup(self, row: int) -> bool:
        if not 0 <= row < len(self.lookups()):
            return self._refuse("select the lookup to remove first")
        return self._commit(lambda items: items[:row] + items[row + 1 :], None)

    def _commit(
        self, change: Callable[[list[Lookup]], list[Lookup]], checked: Lookup | None
    ) -> bool:
        flow = self.flow()
        if flow is None:
            return self._refuse("pick a flow first")
        try:
            if checked is not None:
                check_lookup(self.document, flow, checked)
            new = change(list(flow.lookups))
            self.document.set_lookups(flow.name, new)
        except MappingError as exc:
            return self._refuse(str(exc))
        self.error.setText("")
        if checked is not None:
            self.select_target(checked.target)
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
            self._fill_form_choices(flow)
            self.error.setText("")
        usable = flow is not None and flow.target.system is System.SALESFORCE
        for w in (self.target_combo, self.object_combo, self.match_combo, self.source_picker,
                  self.required_box, self.add_button):
            w.setEnabled(usable)
        self._update_buttons()
        if flow is None:
            self.hint.setText("Pick or create a flow to edit its lookups.")
        elif not usable:
            self.hint.setText(
                f"Lookups resolve Salesforce reference Ids; flow {flow.name!r} writes to "
                f"{flow.target}, so it has none."
            )
        else:
            self.hint.setText(
                f"A lookup fills a reference field of {flow.target.object} with the Id of the "
                "record whose match field equals a source value (Salesforce resolves it by "
                "external id on upsert)."
            )
        if 0 <= row < self.table.rowCount():
            self.table.selectRow(row)

    def _update_buttons(self) -> None:
        selected = self.selected_row() >= 0
        usable = self.add_button.isEnabled()
        self.apply_button.setEnabled(usable and selected)
        self.remove_button.setEnabled(selected)

    def _fill_table(self, flow: Flow | None) -> None:
        self.table.blockSignals(True)
        self.table.setRowCount(0)
        target = flow.target.object if flow is not None else ""
        for lk in flow.lookups if flow is not None else []:
            row = self.table.rowCount()
            self.table.insertRow(row)
            cells = (lk.target, lk.object, lk.match_field, lk.source)
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(f"{target}.{lk.target} ← Id of the {lk.object} "
                                f"whose {lk.match_field} = {lk.source}")
                self.table.setItem(row, col, item)
            required = QTableWidgetItem("yes" if lk.required else "no")
            required.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            self.table.setItem(row, 4, required)
        self.table.blockSignals(False)
        self._update_buttons()

    def _fill_form_choices(self, flow: Flow | None) -> None:
        self.target_combo.blockSignals(True)
        self.target_combo.clear()
        target_obj = self.document.target_schema(flow.name) if flow is not None else None
        if target_obj is not None:
            for fs in target_obj:
                if is_reference_target(fs):
                    self.target_combo.addItem(f"{fs.path} → {', '.join(fs.reference_to)}", fs.path)
                    self.target_combo.setItemData(
                        self.target_combo.count() - 1, field_tooltip(fs),
                        Qt.ItemDataRole.ToolTipRole,
                    )
        self.target_combo.blockSignals(False)
        source_obj = self.document.source_schema(flow.name) if flow is not None else None
        self.source_picker.set_schema(
            source_obj, lambda fs: fs.kind not in (FieldKind.OBJECT, FieldKind.LIST)
        )
        self.source_picker.set_path("")
        self._fill_objects()

    def _target_field(self) -> FieldSchema | None:
        flow = self.flow()
        obj = self.document.target_schema(flow.name) if flow is not None else None
        path = self.target_combo.currentData()
        return obj.find(path) if obj is not None and path else None

    def _fill_objects(self) -> None:
        fs = self._target_field()
        catalog = self.document.catalogs.get(System.SALESFORCE)
        self.object_combo.blockSignals(True)
        self.object_combo.clear()
        for name in fs.reference_to if fs is not None else ():
            known = catalog is not None and catalog.get(name) is not None
            self.object_combo.addItem(name if known else f"{name} (not in the catalog)", name)
        self.object_combo.blockSignals(False)
        self._fill_match_fields()

    def _fill_match_fields(self) -> None:
        catalog = self.document.catalogs.get(System.SALESFORCE)
        name = self.object_combo.currentData()
        obj = catalog.get(name) if catalog is not None and name else None
        self.match_combo.clear()
        # External ids first: they are what an integration matches on.
        fields = sorted(
            (fs for fs in obj if is_match_field(fs)) if obj is not None else (),
            key=lambda fs: (not fs.external_id, fs.path),
        )
        for fs in fields:
            kind = "external id" if fs.external_id else "idLookup"
            self.match_combo.addItem(f"{fs.path} ({kind})", fs.path)
            self.match_combo.setItemData(
                self.match_combo.count() - 1, field_tooltip(fs), Qt.ItemDataRole.ToolTipRole
            )

    def _load_selected(self) -> None:
        self._update_buttons()
        row = self.selected_row()
        lookups = self.lookups()
        if 0 <= row < len(lookups):
            self.set_draft(lookups[row])
