"""The flow's lookups: a Salesforce reference field filled by matching an external id.

A lookup reads ``Payment__c.Account__c`` from ``Account.StripeCustomerID__c = charge.customer``.
The form only offers what can work: the target object's writable reference fields, the
objects that field points to, that object's external-id / idLookup fields, and a source
field picker with search. :func:`check_lookup` refuses any other combination with a
message naming the problem, before anything changes; every accepted change is one undo
command (:meth:`StudioDocument.set_lookups`).

The frame (table, buttons, following the document) is :class:`FlowItemsEditor`, shared
with the condition and defaults editors.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QLabel,
    QTableWidgetItem,
    QWidget,
)

from app.document.document import StudioDocument
from app.models.naming import title_in
from app.models.schema_model import field_tooltip
from app.views.editor_common import (
    EVENT_PREFIX,
    FieldPicker,
    FlowItemsEditor,
    is_scalar_field,
)
from mappings.document.model import Flow, Lookup
from mappings.errors import EditError, MappingError
from mappings.schema.model import FieldKind, FieldSchema, System
from mappings.transforms.expression import compile_evaluator


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
    needed = [("target", "a target reference field"), ("object", "a lookup object"),
              ("match_field", "a match field")]
    if lookup.reads_source:  # a constant or an expression reads no one source field
        needed.append(("source", "a source field"))
    for attr, what in needed:
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
    # A constant lookup is one query for the batch (the standard price book by IsStandard),
    # so any field the query can filter on will do.
    if not is_match_field(match) and not lookup.constant:
        keys = ", ".join(f.path for f in lookup_obj if is_match_field(f)) or "none"
        raise EditError(
            f"{lookup.object}.{match.path} is not an external id or idLookup field, so it "
            f"cannot find one record (usable: {keys})"
        )
    if lookup.expr is not None:
        try:
            compile_evaluator(lookup.expr)
        except MappingError as exc:
            raise EditError(f"the lookup's computed match value: {exc}") from None
    source_obj = document.source_schema(flow.name)
    if (
        source_obj is not None
        and lookup.reads_source
        and not lookup.source.startswith(EVENT_PREFIX)
        and source_obj.find(lookup.source) is None
    ):
        raise EditError(f"{flow.source} has no field {lookup.source!r}")


def _source_words(lk: Lookup) -> str:
    """What a lookup matches on, in words: a path, ``computed: <expr>`` or a constant."""
    if lk.expr is not None:
        return f"computed: {lk.expr}"
    if lk.constant:
        return f"{json.dumps(lk.value)} (constant)"
    return lk.source


class LookupEditor(FlowItemsEditor):
    """A table of the current flow's lookups and a form to add, change or remove one."""

    COLUMNS = ("Target field", "Lookup object", "Match field", "Source field", "Required")
    ACCESSIBLE_NAME = "lookups"
    FIT_COLUMNS = (4,)

    def __init__(self, document: StudioDocument, parent: QWidget | None = None) -> None:
        super().__init__(document, parent)
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
        # The constant or expression of the lookup loaded into the form (no widget edits
        # either): kept while the source field is left empty, so changing "required" does
        # not drop it.
        self._constant: Any = None
        self._expr: str | None = None
        # Says whether the form shows the selected lookup or a new one: a form filled with
        # an unrelated field looked like the lookup being edited (issue 13, scenario 10).
        self.form_title = QLabel(self)
        self.form_title.setObjectName("lookupFormTitle")
        self.form_title.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Target field", self.target_combo)
        form.addRow("Lookup object", self.object_combo)
        form.addRow("Match field", self.match_combo)
        form.addRow("Source field", self.source_picker)
        form.addRow("Required", self.required_box)
        self._add_buttons(
            "Add lookup",
            on_add=lambda: self.add_lookup(self.draft()),
            on_apply=lambda: self.replace_lookup(self.selected_row(), self.draft()),
            on_remove=lambda: self.remove_lookup(self.selected_row()),
        )
        self._arrange(self.form_title, form)

        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.target_combo.currentIndexChanged.connect(lambda _i: self._fill_objects())
        self.object_combo.currentIndexChanged.connect(lambda _i: self._fill_match_fields())
        self._follow_document()

    # ------------------------------------------------------------------ reading

    def items(self) -> list[Lookup]:
        return self.lookups()

    def lookups(self) -> list[Lookup]:
        flow = self.flow()
        return list(flow.lookups) if flow is not None else []

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
            source=(source := self.source_picker.path()),
            required=self.required_box.isChecked(),
            value=None if source else self._constant,
            expr=None if source else self._expr,
        )

    def set_draft(self, lookup: Lookup) -> None:
        """Fill the form from ``lookup`` (choices it names that the catalog lacks are added,
        so a stale lookup is shown as it is and refused only when it is applied)."""
        self._choose(self.target_combo, lookup.target)
        self._choose(self.object_combo, lookup.object)
        self._choose(self.match_combo, lookup.match_field)
        self.source_picker.set_path(lookup.source)
        self.required_box.setChecked(lookup.required)
        self._constant = lookup.value
        self._expr = lookup.expr

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
        if not self._has_row(row):
            return self._refuse("select the lookup to change first")
        return self._commit(lambda items: items[:row] + [lookup] + items[row + 1 :], lookup)

    def remove_lookup(self, row: int) -> bool:
        if not self._has_row(row):
            return self._refuse("select the lookup to remove first")
        return self._commit(lambda items: items[:row] + items[row + 1 :], None)

    def _commit(
        self, change: Callable[[list[Lookup]], list[Lookup]], checked: Lookup | None
    ) -> bool:
        def edit(flow: Flow) -> None:
            if checked is not None:
                check_lookup(self.document, flow, checked)
            self.document.set_lookups(flow.name, change(list(flow.lookups)))

        if not self._apply(edit):
            return False
        if checked is not None:
            self.select_target(checked.target)
        return True

    # ------------------------------------------------------------------ following the document

    def _usable(self, flow: Flow | None) -> bool:
        return flow is not None and flow.target.system is System.SALESFORCE

    def _form_widgets(self) -> Sequence[QWidget]:
        return (self.target_combo, self.object_combo, self.match_combo, self.source_picker,
                self.required_box, self.add_button)

    def _hint_text(self, flow: Flow | None) -> str:
        if flow is None:
            return "Pick or create a flow to edit its lookups."
        if not self._usable(flow):
            return (
                f"Lookups resolve Salesforce reference Ids; flow {flow.name!r} writes to "
                f"{flow.target}, so it has none."
            )
        return (
            f"A lookup fills a reference field of {flow.target.object} with the Id of the "
            "record whose match field equals a source value (Salesforce resolves it by "
            "external id on upsert)."
        )

    def _fill_rows(self, flow: Flow) -> None:
        target = flow.target.object
        for lk in flow.lookups:
            source = _source_words(lk)
            row = self._append_row(
                (lk.target, lk.object, lk.match_field, source),
                tooltip=f"{target}.{lk.target} ← Id of the {lk.object} "
                f"whose {lk.match_field} = {source}",
            )
            required = QTableWidgetItem("yes" if lk.required else "no")
            required.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            self.table.setItem(row, 4, required)

    def _flow_switched(self, flow: Flow | None) -> None:
        self._fill_form_choices(flow)
        self._selection_changed()

    def _selection_changed(self) -> None:
        flow = self.flow()
        row = self.selected_row()
        items = self.lookups()
        if flow is not None and 0 <= row < len(items):
            target = self.document.target_schema(flow.name)
            name = title_in(target, items[row].target, show_api_names=False)
            title = f"<b>Editing the lookup of {name}</b>"
            if not items[row].reads_source:
                # No widget edits a constant or an expression: say what it matches on, and
                # that picking a source field replaces it.
                title += (f"<br>matches on {html.escape(_source_words(items[row]))} "
                          "(kept unless you pick a source field)")
            self.form_title.setText(title)
            return
        self.form_title.setText("<b>New lookup</b>: choose the reference field to fill")
        if self.target_combo.count():
            self.target_combo.setCurrentIndex(0)  # "Choose…": nothing preselected
        self.source_picker.set_path("")
        self.required_box.setChecked(True)
        self._constant = self._expr = None  # a new lookup does not inherit the last one's

    def _fill_form_choices(self, flow: Flow | None) -> None:
        self.target_combo.blockSignals(True)
        self.target_combo.clear()
        target_obj = self.document.target_schema(flow.name) if flow is not None else None
        catalog = self.document.catalogs.get(System.SALESFORCE)
        self.target_combo.addItem("Choose a reference field…", "")
        if target_obj is not None:
            for fs in target_obj:
                # Only fields whose objects the catalog knows: without them no match field
                # can be offered ("OwnerId → Group, User (not in the catalog)").
                if is_reference_target(fs) and catalog is not None and any(
                    catalog.get(name) is not None for name in fs.reference_to
                ):
                    name = title_in(target_obj, fs.path, show_api_names=False)
                    api = f" ({fs.path})" if name != fs.path else ""
                    self.target_combo.addItem(
                        f"{name}{api} → {', '.join(fs.reference_to)}", fs.path
                    )
                    self.target_combo.setItemData(
                        self.target_combo.count() - 1, field_tooltip(fs),
                        Qt.ItemDataRole.ToolTipRole,
                    )
        self.target_combo.blockSignals(False)
        source_obj = self.document.source_schema(flow.name) if flow is not None else None
        self.source_picker.set_schema(source_obj, is_scalar_field)
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

    def _load_item(self, item: Lookup) -> None:
        self.set_draft(item)
