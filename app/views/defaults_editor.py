"""The flow's defaults: constant values written to target fields nothing else fills.

The engine writes a default when the field mapping (if any) left the field empty, so a
default is also how a required field gets a value (``Case.Status = New``). The value
editor fits the field (its picklist values, true/false, a number) and the value is checked
with the engine's own validator before the edit, which is one undo command
(:meth:`StudioDocument.set_defaults`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtWidgets import QFormLayout, QWidget

from app.document.document import StudioDocument
from app.views.condition_editor import ValueEditor, shown
from app.views.editor_common import FieldPicker, FlowItemsEditor
from mappings.document.model import Flow
from mappings.engine.validate import build_validator
from mappings.errors import EditError
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


class DefaultsEditor(FlowItemsEditor):
    """A target field -> constant value table and a form to set or remove one."""

    COLUMNS = ("Target field", "Value", "Also mapped")
    ACCESSIBLE_NAME = "defaults"
    FIT_COLUMNS = (2,)

    def __init__(self, document: StudioDocument, parent: QWidget | None = None) -> None:
        super().__init__(document, parent)
        self.field_picker = FieldPicker(self, "search a target field…")
        self.field_picker.setAccessibleName("default target field")
        self.value_editor = ValueEditor(self)
        form = QFormLayout()
        form.addRow("Target field", self.field_picker)
        form.addRow("Value", self.value_editor)
        self._add_buttons("Set default", on_add=self._set_from_form,
                          on_remove=self._remove_selected)
        self.set_button = self.add_button
        self._arrange(form)

        self.field_picker.pathChanged.connect(lambda _p: self._shape_value())
        self._shaped: FieldSchema | None | bool = False
        self._follow_document()

    # ------------------------------------------------------------------ reading

    def items(self) -> list[tuple[str, Any]]:
        return list(self.defaults().items())

    def defaults(self) -> dict[str, Any]:
        flow = self.flow()
        return dict(flow.defaults) if flow is not None else {}

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
        def edit(flow: Flow) -> None:
            if target is not None:
                check_default(flow, self.document.target_schema(flow.name), target, value)
            self.document.set_defaults(flow.name, change(dict(flow.defaults)))

        if not self._apply(edit):
            return False
        if target is not None:
            self.select_field(target)
        return True

    def _set_from_form(self) -> bool:
        try:
            value = self.value_editor.value()
        except EditError as exc:
            return self._refuse(str(exc))
        return self.set_default(self.field_picker.path(), value)

    def _remove_selected(self) -> bool:
        row = self.selected_row()
        if not self._has_row(row):
            return self._refuse("select the default to remove first")
        return self.remove_default(list(self.defaults())[row])

    # ------------------------------------------------------------------ following the document

    def _shape_value(self) -> None:
        fs = self.field_picker.typed_field()
        if fs != self._shaped:
            self._shaped = fs
            self.value_editor.configure(fs)

    def _form_widgets(self) -> Sequence[QWidget]:
        return (self.field_picker, self.value_editor, self.set_button)

    def _hint_text(self, flow: Flow | None) -> str:
        if flow is None:
            return "Pick or create a flow to edit its defaults."
        return (
            f"A default is written to a {flow.target.object} field when nothing else "
            "filled it: a constant for every record, or the fallback of a mapping."
        )

    def _flow_switched(self, flow: Flow | None) -> None:
        target = self.document.target_schema(flow.name) if flow is not None else None
        self.field_picker.set_schema(target, is_default_target)
        self.field_picker.set_path("")

    def _fill_rows(self, flow: Flow) -> None:
        for target, value in flow.defaults.items():
            mapped = flow.mapping_for(target) is not None
            self._append_row((target, shown(value), "yes (fallback)" if mapped else ""))

    def _load_item(self, item: tuple[str, Any]) -> None:
        target, value = item
        self.field_picker.set_path(target)
        self._shape_value()
        self.value_editor.set_value(value)
