"""The defaults editor: target field -> constant, checked by the engine's validator, undo."""

from __future__ import annotations

import copy

import pytest
from PySide6.QtWidgets import QComboBox, QLineEdit

from app.canvas.scene import MappingScene
from app.document.document import StudioDocument
from app.views.defaults_editor import DefaultsEditor
from mappings.schema.model import System

FLOW = "dispute-to-case"


@pytest.fixture
def doc(open_template) -> StudioDocument:
    return open_template("disputes-fraud-cases", FLOW)


@pytest.fixture
def editor(doc, qtbot) -> DefaultsEditor:
    widget = DefaultsEditor(doc)
    qtbot.addWidget(widget)
    widget.resize(1000, 360)
    widget.show()
    return widget


def test_table_shows_the_defaults(editor, doc):
    rows = [
        (editor.table.item(r, 0).text(), editor.table.item(r, 1).text())
        for r in range(editor.table.rowCount())
    ]
    assert rows == [(k, str(v)) for k, v in doc.flow(FLOW).defaults.items()]


def test_set_through_the_form_with_a_picklist_combo(editor, doc, catalogs):
    priority = catalogs[System.SALESFORCE].get("Case").find("Priority")
    editor.field_picker.set_path("Priority")
    combo = editor.value_editor.widget
    assert isinstance(combo, QComboBox)
    assert [combo.itemText(i) for i in range(combo.count())] == list(priority.enum_values)
    combo.setCurrentText(priority.enum_values[0])
    before = dict(doc.flow(FLOW).defaults)
    editor.set_button.click()
    assert doc.flow(FLOW).defaults == {**before, "Priority": priority.enum_values[0]}
    doc.undo_stack.undo()
    assert doc.flow(FLOW).defaults == before
    assert editor.table.rowCount() == len(before)
    doc.undo_stack.redo()
    assert doc.flow(FLOW).defaults["Priority"] == priority.enum_values[0]


def test_change_keeps_the_order_and_remove_undoes(editor, doc):
    assert editor.set_default("Origin", "Stripe")
    first = list(doc.flow(FLOW).defaults)[0]
    assert editor.set_default(first, "Working")
    assert list(doc.flow(FLOW).defaults) == [first, "Origin"]
    assert doc.flow(FLOW).defaults[first] == "Working"
    editor.table.selectRow(0)
    assert editor.field_picker.path() == first  # a selected row fills the form
    editor.remove_button.click()
    assert list(doc.flow(FLOW).defaults) == ["Origin"]
    doc.undo_stack.undo()
    assert list(doc.flow(FLOW).defaults) == [first, "Origin"]
    doc.undo_stack.undo()
    assert doc.flow(FLOW).defaults[first] != "Working"


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("NoSuchField__c", "x", "has no field"),
        ("CreatedDate", "2024-01-01T00:00:00Z", "cannot be written"),
        ("IsEscalated", "yes", "default for IsEscalated"),
        ("Subject", "", "needs a value"),
        ("", "x", "choose the target field"),
    ],
)
def test_invalid_defaults_are_refused(editor, doc, field, value, words):
    before = copy.deepcopy(doc.flow(FLOW).defaults)
    count = doc.undo_stack.count()
    assert not editor.set_default(field, value)
    assert words in editor.error.text()
    assert doc.flow(FLOW).defaults == before
    assert doc.undo_stack.count() == count


def test_boolean_field_gets_true_false(editor, doc):
    editor.field_picker.set_path("IsEscalated")
    combo = editor.value_editor.widget
    assert isinstance(combo, QComboBox)
    combo.setCurrentText("true")
    editor.set_button.click()
    assert doc.flow(FLOW).defaults["IsEscalated"] is True


def test_text_field_value_is_kept_as_text(editor, doc):
    editor.field_picker.set_path("Subject")
    line = editor.value_editor.widget
    assert isinstance(line, QLineEdit)
    line.setText("42")
    editor.set_button.click()
    assert doc.flow(FLOW).defaults["Subject"] == "42"


def test_the_canvas_shows_a_default_note(editor, doc):
    scene = MappingScene(doc)
    editor.set_default("Origin", "Stripe")
    assert scene.target_items["Origin"].note == "= Stripe"
    doc.undo_stack.undo()
    assert "Origin" not in doc.flow(FLOW).defaults
    assert scene.target_items["Origin"].note == ""
