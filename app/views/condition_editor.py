"""The flow's conditions: records that fail any of them are skipped.

A condition is a field test (a source path, an operator from :class:`ConditionOp` and a
value whose editor fits the field: the enum values of a picklist in a combo, true/false
for a boolean, a number for amounts) or a JSONata expression. The draft runs on the
current sample record as the user types, so the result (true / false / the error) is
visible before anything is committed; each accepted change is one undo command
(:meth:`StudioDocument.set_conditions`).

:class:`ValueEditor` lives here and is shared with the defaults editor.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from app import theme
from app.document.document import StudioDocument
from app.views.editor_common import (
    EVENT_PREFIX,
    FieldPicker,
    FlowItemsEditor,
    is_scalar_field,
    split_sample,
)
from mappings.document.model import Condition, ConditionOp, Flow
from mappings.engine.conditions import ConditionEvalError, compile_condition
from mappings.errors import EditError, MappingError
from mappings.schema.model import FieldKind, FieldSchema
from mappings.transforms.context import RecordContext

SampleProvider = Callable[[], dict | None]

NUMERIC = {
    FieldKind.INTEGER,
    FieldKind.NUMBER,
    FieldKind.CURRENCY,
    FieldKind.PERCENT,
    FieldKind.TIMESTAMP,
}
ORDERED = NUMERIC | {FieldKind.DATE, FieldKind.DATETIME, FieldKind.TIME, FieldKind.ANY}
UNARY = (ConditionOp.EXISTS, ConditionOp.MISSING)
LISTED = (ConditionOp.IN, ConditionOp.NOT_IN)

OP_LABELS = {
    ConditionOp.EQ: "equals",
    ConditionOp.NE: "does not equal",
    ConditionOp.IN: "is one of",
    ConditionOp.NOT_IN: "is none of",
    ConditionOp.GT: "is greater than",
    ConditionOp.GE: "is at least",
    ConditionOp.LT: "is less than",
    ConditionOp.LE: "is at most",
    ConditionOp.EXISTS: "has a value",
    ConditionOp.MISSING: "is empty or absent",
    ConditionOp.CHANGED_TO: "changed to",
    ConditionOp.EXPR: "JSONata expression is true",
}


def parse_scalar(text: str, fs: FieldSchema | None) -> Any:
    """Text typed for ``fs`` as the value it means; raises EditError naming the problem."""
    kind = fs.kind if fs is not None else FieldKind.ANY
    name = fs.path if fs is not None else "the value"
    text = text.strip()
    if kind is FieldKind.BOOLEAN:
        lowered = text.lower()
        if lowered in ("true", "yes", "1"):
            return True
        if lowered in ("false", "no", "0"):
            return False
        raise EditError(f"{name} is a boolean: {text!r} is not true or false")
    if kind in NUMERIC:
        try:
            return int(text)
        except ValueError:
            pass
        try:
            return float(text)
        except ValueError:
            raise EditError(f"{name} is {kind.value}: {text!r} is not a number") from None
    if kind is FieldKind.ANY and text:
        # A free metadata key or unknown path: numbers and booleans as typed, else text.
        try:
            loaded = json.loads(text)
        except ValueError:
            return text
        return loaded if isinstance(loaded, bool | int | float) or loaded is None else text
    return text


def shown(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str, ensure_ascii=False)


class ValueEditor(QWidget):
    """A value editor shaped by the field's kind and the operator.

    Picklists get their enum values (a combo, or a checkable list for "is one of"),
    booleans a true/false combo, other kinds a line edit parsed by :func:`parse_scalar`.
    """

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.field: FieldSchema | None = None
        self.many = False
        self.needed = True
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.widget: QWidget | None = None
        self.configure(None)

    def configure(self, fs: FieldSchema | None, *, many: bool = False, needed: bool = True) -> None:
        """Rebuild for ``fs`` (None: any value); ``many`` for a list, ``needed`` False for none."""
        try:
            keep: Any = self.value() if self.widget is not None else None
        except EditError:
            keep = None
        self.field, self.many, self.needed = fs, many, needed
        if self.widget is not None:
            self._layout.removeWidget(self.widget)
            self.widget.hide()
            self.widget.deleteLater()
        self.widget = self._build()
        self._layout.addWidget(self.widget)
        if keep is not None:
            self.set_value(keep)

    def _build(self) -> QWidget:
        fs = self.field
        if not self.needed:
            label = QLabel("(no value needed)", self)
            theme.set_text_role(label, "muted")
            return label
        if fs is not None and fs.enum_values:
            if self.many:
                box = QListWidget(self)
                box.setMaximumHeight(110)
                for value in fs.enum_values:
                    item = QListWidgetItem(value, box)
                    item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                    item.setCheckState(Qt.CheckState.Unchecked)
                box.itemChanged.connect(lambda _item: self.changed.emit())
                return box
            combo = QComboBox(self)
            combo.setEditable(not fs.restricted)
            combo.addItems(list(fs.enum_values))
            combo.currentTextChanged.connect(lambda _t: self.changed.emit())
            return combo
        if fs is not None and fs.kind is FieldKind.BOOLEAN and not self.many:
            combo = QComboBox(self)
            combo.addItems(["true", "false"])
            combo.currentTextChanged.connect(lambda _t: self.changed.emit())
            return combo
        line = QLineEdit(self)
        kind = fs.kind.value if fs is not None else "value"
        line.setPlaceholderText(
            f"{kind} values, separated by commas" if self.many else f"a {kind}"
        )
        line.textChanged.connect(lambda _t: self.changed.emit())
        return line

    def value(self) -> Any:
        """The edited value (a list when ``many``); raises EditError when it is not valid."""
        w = self.widget
        if not self.needed:
            return None
        if isinstance(w, QListWidget):
            return [
                w.item(i).text()
                for i in range(w.count())
                if w.item(i).checkState() == Qt.CheckState.Checked
            ]
        if isinstance(w, QComboBox):
            return parse_scalar(w.currentText(), self.field)
        assert isinstance(w, QLineEdit)
        if self.many:
            parts = [p for p in w.text().split(",") if p.strip()]
            return [parse_scalar(p, self.field) for p in parts]
        return parse_scalar(w.text(), self.field)

    def set_value(self, value: Any) -> None:
        w = self.widget
        if isinstance(w, QListWidget):
            wanted = {shown(v) for v in (value if isinstance(value, list) else [value])}
            for i in range(w.count()):
                item = w.item(i)
                checked = item.text() in wanted
                item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        elif isinstance(w, QComboBox):
            text = shown(value) if value is not None else ""
            if w.findText(text) < 0 and w.isEditable():
                w.setEditText(text)
            else:
                w.setCurrentIndex(max(w.findText(text), 0))
        elif isinstance(w, QLineEdit):
            if isinstance(value, list):
                w.setText(", ".join(shown(v) for v in value))
            else:
                w.setText("" if value is None else shown(value))


def check_condition(document: StudioDocument, flow: Flow, cond: Condition) -> None:
    """Refuse a condition that cannot work on this flow, naming the problem."""
    if cond.op is ConditionOp.EXPR:
        if not (cond.expr or "").strip():
            raise EditError("write the JSONata expression first")
    else:
        path = (cond.path or "").strip()
        if not path:
            raise EditError(f"choose the field that {OP_LABELS[cond.op]!r} tests")
        source = document.source_schema(flow.name)
        fs = None
        if source is not None and not path.startswith(EVENT_PREFIX):
            fs = source.find(path)
            if fs is None:
                raise EditError(f"{flow.source} has no field {path!r}")
            if fs.free_keys and fs.path != path:
                fs = None  # metadata.<key>: any value
        if cond.op is ConditionOp.CHANGED_TO and flow.trigger.salesforce_change is None:
            raise EditError(
                "'changed to' compares with the record's previous state: only flows triggered "
                "by a Salesforce change have one"
            )
        if fs is not None and cond.op in ORDERED_OPS and fs.kind not in ORDERED:
            raise EditError(
                f"{path} is {fs.kind.value}: {OP_LABELS[cond.op]!r} needs a number or a date"
            )
        if cond.op in LISTED and (not isinstance(cond.value, list) or not cond.value):
            raise EditError(f"{OP_LABELS[cond.op]!r} needs at least one value")
        if fs is not None and fs.enum_values and fs.restricted and cond.op not in UNARY:
            values = cond.value if isinstance(cond.value, list) else [cond.value]
            unknown = [v for v in values if v not in fs.enum_values]
            if unknown:
                raise EditError(
                    f"{path} has no value {unknown[0]!r} (its values: {', '.join(fs.enum_values)})"
                )
    compile_condition(cond, _reader)  # the engine's own checks (bad JSONata, list values)


ORDERED_OPS = (ConditionOp.GT, ConditionOp.GE, ConditionOp.LT, ConditionOp.LE)


def _reader(path: str) -> Callable[[Any, Any], Any]:
    return lambda rec, ev: RecordContext(rec or {}, ev).get(path)


def evaluate_condition(cond: Condition, sample: dict | None) -> bool:
    """Whether the sample passes ``cond``; raises MappingError / ConditionEvalError."""
    record, event = split_sample(sample)
    return compile_condition(cond, _reader).test(record, event, None)


def describe_result(cond: Condition, sample: dict | None) -> tuple[str, bool | None]:
    """(text, passed) of a condition on the sample, for the live result and the table."""
    if sample is None:
        return "no sample record", None
    try:
        passed = evaluate_condition(cond, sample)
    except (MappingError, ConditionEvalError) as exc:
        return f"error — {exc}", None
    except Exception as exc:  # a JSONata bug must not take the editor down
        return f"error — {type(exc).__name__}: {exc}", None
    return ("true: the record passes" if passed else "false: the record is skipped"), passed


class ConditionEditor(FlowItemsEditor):
    """A table of the current flow's conditions and a form with a live result."""

    COLUMNS = ("Field / expression", "Test", "Value", "On the sample")
    ACCESSIBLE_NAME = "conditions"
    FIT_COLUMNS = (1, 3)

    def __init__(
        self,
        document: StudioDocument,
        sample_provider: SampleProvider | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(document, parent)
        self.sample_provider: SampleProvider = sample_provider or (lambda: None)
        self.table.setWordWrap(False)

        self.op_combo = QComboBox(self)
        self.op_combo.setAccessibleName("operator")
        for op in ConditionOp:
            self.op_combo.addItem(OP_LABELS[op], op)
        self.path_picker = FieldPicker(self, "search a source field…")
        self.path_picker.setAccessibleName("condition field")
        self.value_editor = ValueEditor(self)
        self.expr_editor = QPlainTextEdit(self)
        self.expr_editor.setObjectName("conditionExpression")
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        self.expr_editor.setFont(mono)
        self.expr_editor.setPlaceholderText("JSONata, e.g. amount > 1000 and currency = 'usd'")
        self.expr_editor.setMaximumHeight(70)
        self.form = QFormLayout()
        self.form.addRow("Test", self.op_combo)
        self.form.addRow("Field", self.path_picker)
        self.form.addRow("Value", self.value_editor)
        self.form.addRow("Expression", self.expr_editor)
        self.result = QLabel(self)
        self.result.setObjectName("conditionResult")
        self.result.setWordWrap(True)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._add_buttons(
            "Add condition",
            on_add=lambda: self.add_condition(self.draft()),
            on_apply=lambda: self.replace_condition(self.selected_row(), self.draft()),
            on_remove=lambda: self.remove_condition(self.selected_row()),
        )
        self._arrange(self.form, self.result)

        self._timer = QTimer(self, singleShot=True, interval=150)
        self._timer.timeout.connect(self.refresh_result)
        self.op_combo.currentIndexChanged.connect(lambda _i: self._shape_form())
        self.path_picker.pathChanged.connect(lambda _p: self._shape_form())
        self.value_editor.changed.connect(self._timer.start)
        self.expr_editor.textChanged.connect(self._timer.start)
        self._shaped: tuple[Any, ...] | None = None
        self._follow_document()

    # ------------------------------------------------------------------ reading

    def items(self) -> list[Condition]:
        return self.conditions()

    def conditions(self) -> list[Condition]:
        flow = self.flow()
        return list(flow.conditions) if flow is not None else []

    def current_op(self) -> ConditionOp:
        return ConditionOp(self.op_combo.currentData())

    def draft(self) -> Condition:
        """The condition the form describes; raises EditError for a value that is not valid."""
        op = self.current_op()
        if op is ConditionOp.EXPR:
            return Condition(op=op, expr=self.expr_editor.toPlainText().strip())
        value = None if op in UNARY else self.value_editor.value()
        return Condition(op=op, path=self.path_picker.path(), value=value)

    def set_draft(self, cond: Condition) -> None:
        self.op_combo.setCurrentIndex(max(self.op_combo.findData(cond.op), 0))
        if cond.op is ConditionOp.EXPR:
            self.expr_editor.setPlainText(cond.expr or "")
        else:
            self.path_picker.set_path(cond.path or "")
            self._shape_form()
            if cond.op not in UNARY:
                self.value_editor.set_value(cond.value)
        self.refresh_result()

    # ------------------------------------------------------------------ edits

    def add_condition(self, cond: Condition | None = None) -> bool:
        return self._commit(lambda items, c: [*items, c], cond)

    def replace_condition(self, row: int, cond: Condition | None = None) -> bool:
        if not self._has_row(row):
            return self._refuse("select the condition to change first")
        return self._commit(lambda items, c: items[:row] + [c] + items[row + 1 :], cond)

    def remove_condition(self, row: int) -> bool:
        if not self._has_row(row):
            return self._refuse("select the condition to remove first")
        return self._commit(lambda items, _c: items[:row] + items[row + 1 :], None, check=False)

    def _commit(
        self,
        change: Callable[[list[Condition], Any], list[Condition]],
        cond: Condition | None,
        *,
        check: bool = True,
    ) -> bool:
        def edit(flow: Flow) -> None:
            nonlocal cond
            if check:
                cond = cond if cond is not None else self.draft()
                check_condition(self.document, flow, cond)
            self.document.set_conditions(flow.name, change(list(flow.conditions), cond))

        if not self._apply(edit):
            return False
        if cond is not None:
            rows = [i for i, c in enumerate(self.conditions()) if c is cond or c == cond]
            if rows:
                self.table.selectRow(rows[-1])
        return True

    # ------------------------------------------------------------------ the form

    def _shape_form(self) -> None:
        op = self.current_op()
        is_expr = op is ConditionOp.EXPR
        for widget in (self.path_picker, self.value_editor):
            self.form.setRowVisible(widget, not is_expr)
        self.form.setRowVisible(self.expr_editor, is_expr)
        fs = self.path_picker.typed_field()
        shape = (fs, op in LISTED, op not in UNARY)
        if shape != self._shaped:
            self._shaped = shape
            self.value_editor.configure(fs, many=op in LISTED, needed=op not in UNARY)
        self._timer.start()

    def refresh_result(self) -> None:
        """Run the draft on the sample record and show true / false / the error."""
        try:
            cond = self.draft()
        except EditError as exc:
            self._show_result(f"On the sample: {exc}", None)
            return
        if cond.op is ConditionOp.EXPR and not cond.expr:
            self._show_result("Write a JSONata expression; its result on the sample shows here",
                              None)
            return
        if cond.op is not ConditionOp.EXPR and not cond.path:
            self._show_result("Choose a field; the test's result on the sample shows here", None)
            return
        text, passed = describe_result(cond, self.sample_provider())
        self._show_result(f"On the sample: {text}", passed)

    def _show_result(self, text: str, passed: bool | None) -> None:
        colour = {True: "#15803d", False: "#b45309", None: "#475569"}[passed]
        self.result.setStyleSheet(f"color: {colour}; font-weight: {600 if passed is not None else 400}")
        self.result.setText(text)

    # ------------------------------------------------------------------ following the document

    def refresh(self) -> None:
        super().refresh()
        self._shape_form()

    def _form_widgets(self) -> Sequence[QWidget]:
        return (self.op_combo, self.path_picker, self.value_editor, self.expr_editor,
                self.add_button)

    def _hint_text(self, flow: Flow | None) -> str:
        if flow is None:
            return "Pick or create a flow to edit its conditions."
        return (
            f"Each {flow.source.object} record is processed only when every condition "
            "holds; "
            "the others are skipped (and reported as skipped, not failed)."
        )

    def _flow_switched(self, flow: Flow | None) -> None:
        source = self.document.source_schema(flow.name) if flow is not None else None
        self.path_picker.set_schema(source, is_scalar_field)
        self.path_picker.set_path("")
        self.expr_editor.setPlainText("")

    def _fill_rows(self, flow: Flow) -> None:
        sample = self.sample_provider()
        for cond in flow.conditions:
            if cond.op is ConditionOp.EXPR:
                cells = [f"ƒ JSONata: {cond.expr or ''}", "", ""]
            else:
                value = "" if cond.op in UNARY else (
                    ", ".join(shown(v) for v in cond.value)
                    if isinstance(cond.value, list)
                    else shown(cond.value)
                )
                cells = [cond.path or "", OP_LABELS[cond.op], value]
            text, passed = describe_result(cond, sample)
            cells.append(text.split(":")[0] if passed is not None else text)
            row = self._append_row(cells, tooltip=True)
            if cond.op is ConditionOp.EXPR:
                self.table.setSpan(row, 0, 1, 3)  # the expression is the whole test
            outcome = self.table.item(row, 3)
            if passed is not None and outcome is not None:
                outcome.setForeground(QColor("#15803d" if passed else "#b45309"))

    def _load_item(self, item: Condition) -> None:
        self.set_draft(item)
