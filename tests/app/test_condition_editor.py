"""The condition editor: kind-shaped value editors, live result on the sample, undo."""

from __future__ import annotations

import copy

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLineEdit, QListWidget

from app.document.document import StudioDocument
from app.views.condition_editor import ConditionEditor, parse_scalar
from app.views.transform_panel import split_sample
from mappings.document.model import Condition, ConditionOp
from mappings.errors import EditError
from mappings.schema.model import FieldKind, FieldSchema, System

FLOW = "invoice-to-order"
EXPR_FLOW = "invoice-paid-to-contract"


@pytest.fixture
def doc(open_template) -> StudioDocument:
    return open_template("subscriptions", FLOW)


@pytest.fixture
def sample(doc):
    return copy.deepcopy(doc.flow(FLOW).fixtures[0].input)


@pytest.fixture
def editor(doc, sample, qtbot) -> ConditionEditor:
    widget = ConditionEditor(doc, lambda: sample)
    qtbot.addWidget(widget)
    widget.resize(1000, 380)
    widget.show()
    return widget


def choose_op(editor: ConditionEditor, op: ConditionOp) -> None:
    editor.op_combo.setCurrentIndex(editor.op_combo.findData(op))


def test_table_shows_the_conditions_and_their_result(editor, doc, sample):
    cond = doc.flow(FLOW).conditions[0]
    assert editor.table.item(0, 0).text() == cond.path
    record, _ = split_sample(sample)
    expected = "true" if record.get(cond.path) is not None else "false"
    assert editor.table.item(0, 3).text() == expected


def test_picklist_value_editor_and_undo_redo(editor, doc, catalogs, sample):
    status = catalogs[System.STRIPE].get("invoice").find("status")
    editor.path_picker.set_path("status")
    choose_op(editor, ConditionOp.IN)
    widget = editor.value_editor.widget
    assert isinstance(widget, QListWidget)
    assert [widget.item(i).text() for i in range(widget.count())] == list(status.enum_values)
    record, _ = split_sample(sample)
    chosen = [record["status"], next(v for v in status.enum_values if v != record["status"])]
    for i in range(widget.count()):
        if widget.item(i).text() in chosen:
            widget.item(i).setCheckState(Qt.CheckState.Checked)
    editor.add_button.click()
    added = Condition(ConditionOp.IN, path="status", value=[
        v for v in status.enum_values if v in chosen
    ])
    before = doc.flow(FLOW).conditions[:1]
    assert doc.flow(FLOW).conditions == [*before, added]
    assert editor.table.item(1, 3).text() == "true"  # the sample's own status is in the list
    doc.undo_stack.undo()
    assert doc.flow(FLOW).conditions == before
    assert editor.table.rowCount() == 1
    doc.undo_stack.redo()
    assert doc.flow(FLOW).conditions == [*before, added]

    # eq on a picklist: a combo of its values
    choose_op(editor, ConditionOp.EQ)
    assert isinstance(editor.value_editor.widget, QComboBox)
    assert editor.value_editor.widget.count() == len(status.enum_values)


def test_edit_and_remove(editor, doc):
    original = list(doc.flow(FLOW).conditions)
    editor.table.selectRow(0)
    assert editor.current_op() is original[0].op
    choose_op(editor, ConditionOp.MISSING)
    editor.apply_button.click()
    assert doc.flow(FLOW).conditions == [Condition(ConditionOp.MISSING, path=original[0].path)]
    assert editor.remove_condition(0)
    assert doc.flow(FLOW).conditions == []
    doc.undo_stack.undo()
    doc.undo_stack.undo()
    assert doc.flow(FLOW).conditions == original
    doc.undo_stack.redo()
    assert doc.flow(FLOW).conditions[0].op is ConditionOp.MISSING


def test_expression_live_result_on_the_sample(editor, doc, sample, qtbot):
    record, _ = split_sample(sample)
    choose_op(editor, ConditionOp.EXPR)
    assert editor.expr_editor.isVisible() and not editor.path_picker.isVisible()
    editor.expr_editor.setPlainText(f"id = '{record['id']}'")
    qtbot.waitUntil(lambda: "true" in editor.result.text())
    editor.expr_editor.setPlainText(f"id = '{record['id']}-other'")
    qtbot.waitUntil(lambda: "false" in editor.result.text())
    editor.expr_editor.setPlainText("id = (")
    qtbot.waitUntil(lambda: "error" in editor.result.text())
    count = doc.undo_stack.count()
    assert not editor.add_condition()  # a broken expression is refused
    assert "does not compile" in editor.error.text()
    assert doc.undo_stack.count() == count
    editor.expr_editor.setPlainText(f"id = '{record['id']}'")
    assert editor.add_condition()
    assert doc.flow(FLOW).conditions[-1] == Condition(
        ConditionOp.EXPR, expr=f"id = '{record['id']}'"
    )


def test_selecting_an_expression_condition_loads_it(qtbot, catalogs):
    doc = StudioDocument(catalogs=catalogs)
    doc.open_template("subscriptions")
    doc.set_current_flow(EXPR_FLOW)
    sample = doc.flow(EXPR_FLOW).fixtures[0].input
    editor = ConditionEditor(doc, lambda: sample)
    qtbot.addWidget(editor)
    editor.table.selectRow(0)
    assert editor.current_op() is ConditionOp.EXPR
    assert editor.expr_editor.toPlainText() == doc.flow(EXPR_FLOW).conditions[0].expr
    text = editor.result.text()
    assert text.startswith("On the sample: ") and "error" not in text
    assert text.split(": ")[1].split(":")[0] == editor.table.item(0, 3).text()


@pytest.mark.parametrize(
    ("cond", "words"),
    [
        (Condition(ConditionOp.GT, path="status", value="paid"), "needs a number or a date"),
        (Condition(ConditionOp.EQ, path="no.such.field", value=1), "has no field"),
        (Condition(ConditionOp.CHANGED_TO, path="status", value="paid"), "Salesforce change"),
        (Condition(ConditionOp.IN, path="status", value=[]), "at least one value"),
        (Condition(ConditionOp.EXPR, expr=""), "write the JSONata expression"),
        (Condition(ConditionOp.EQ, path="", value=1), "choose the field"),
    ],
)
def test_invalid_conditions_are_refused(editor, doc, cond, words):
    before = copy.deepcopy(doc.flow(FLOW).conditions)
    count = doc.undo_stack.count()
    assert not editor.add_condition(cond)
    assert words in editor.error.text()
    assert doc.flow(FLOW).conditions == before
    assert doc.undo_stack.count() == count


def test_value_editors_fit_the_kind(editor, doc):
    editor.path_picker.set_path("attempted")  # a boolean
    choose_op(editor, ConditionOp.EQ)
    widget = editor.value_editor.widget
    assert isinstance(widget, QComboBox)
    assert [widget.itemText(i) for i in range(widget.count())] == ["true", "false"]
    widget.setCurrentText("false")
    assert editor.draft() == Condition(ConditionOp.EQ, path="attempted", value=False)

    editor.path_picker.set_path("amount_due")  # a number
    choose_op(editor, ConditionOp.GE)
    line = editor.value_editor.widget
    assert isinstance(line, QLineEdit)
    line.setText("lots")
    count = doc.undo_stack.count()
    assert not editor.add_condition()
    assert "not a number" in editor.error.text()
    assert doc.undo_stack.count() == count
    line.setText("1000")
    assert editor.add_condition()
    assert doc.flow(FLOW).conditions[-1] == Condition(ConditionOp.GE, path="amount_due", value=1000)

    choose_op(editor, ConditionOp.EXISTS)
    assert editor.draft() == Condition(ConditionOp.EXISTS, path="amount_due", value=None)


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("12", FieldKind.INTEGER, 12),
        ("1.5", FieldKind.CURRENCY, 1.5),
        ("yes", FieldKind.BOOLEAN, True),
        ("False", FieldKind.BOOLEAN, False),
        ("12", FieldKind.STRING, "12"),
        ("12", FieldKind.ANY, 12),
        ("abc", FieldKind.ANY, "abc"),
    ],
)
def test_parse_scalar(text, kind, expected):
    value = parse_scalar(text, FieldSchema("f", kind))
    assert value == expected and type(value) is type(expected)


def test_parse_scalar_names_the_problem():
    with pytest.raises(EditError, match="amount is integer: 'ten' is not a number"):
        parse_scalar("ten", FieldSchema("amount", FieldKind.INTEGER))
