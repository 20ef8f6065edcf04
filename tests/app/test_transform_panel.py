"""The transform panel: library, chain edits as undo commands, params forms, live result."""

from __future__ import annotations

import copy

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QLineEdit

from app.document.document import StudioDocument, default_catalogs
from app.models.transform_models import (
    TransformChainModel,
    TransformLibraryModel,
    TransformNameRole,
)
from app.views.transform_panel import TransformPanel, split_sample
from mappings.document.model import TransformStep
from mappings.transforms import all_transforms

FLOW = "charge-to-payment"


@pytest.fixture
def sample(doc):
    return copy.deepcopy(doc.flow(FLOW).fixtures[0].input)


@pytest.fixture
def panel(doc, sample, qtbot) -> TransformPanel:
    widget = TransformPanel(doc, lambda: sample)
    qtbot.addWidget(widget)
    widget.resize(900, 420)
    widget.show()
    return widget


def test_library_model_groups_every_transform(qtmodeltester):
    model = TransformLibraryModel()
    qtmodeltester.check(model)
    names = {
        model.item(r).child(i).data(TransformNameRole)
        for r in range(model.rowCount())
        for i in range(model.item(r).rowCount())
    }
    assert names == {spec.name for spec in all_transforms()}
    assert [label for label, _ in model.grouped()][0] == "Money"


def test_chain_model_passes_modeltester(qtmodeltester):
    model = TransformChainModel()
    model.set_steps([TransformStep("upper"), TransformStep("truncate", {"length": 5})])
    qtmodeltester.check(model)
    # issue 13, scenario 4: steps read in words (was "2. truncate  (length=5)")
    assert model.data(model.index(1, 0)) == "2. Truncate — maximum length: 5"


def test_sample_envelope_is_split():
    record, event = split_sample({"object": "event", "data": {"object": {"id": "ch_1"}}})
    assert record == {"id": "ch_1"} and event["object"] == "event"
    assert split_sample({"id": "ch_2"}) == ({"id": "ch_2"}, None)
    assert split_sample(None) == ({}, None)


def test_shows_the_chain_and_the_result_on_the_sample(panel, sample):
    panel.show_mapping("Amount__c")
    assert "Amount__c" in panel.title.text()
    assert panel.chain.rowCount() == 1
    amount = sample["data"]["object"]["amount"]
    assert panel.result.text().endswith(f'{amount} → "{amount / 100:.2f}"')


def test_add_remove_and_reorder_are_undoable(panel, doc):
    panel.show_mapping("Currency__c")
    assert panel.add_step("trim")
    assert [s.name for s in doc.mapping(FLOW, "Currency__c").transforms] == ["upper", "trim"]
    assert panel.selected_row() == 1
    assert panel.move_step(-1)
    assert [s.name for s in doc.mapping(FLOW, "Currency__c").transforms] == ["trim", "upper"]
    assert panel.remove_step()
    assert [s.name for s in doc.mapping(FLOW, "Currency__c").transforms] == ["upper"]
    for _ in range(3):
        doc.undo_stack.undo()
    assert [s.name for s in doc.mapping(FLOW, "Currency__c").transforms] == ["upper"]
    assert panel.chain.rowCount() == 1  # the panel followed the undo


def test_params_form_commits_and_refuses_bad_values(panel, doc, sample):
    panel.show_mapping("Currency__c")
    panel.add_step("truncate")
    line = panel.step_box.findChild(QLineEdit)
    assert line is not None
    line.setText("2")
    line.editingFinished.emit()
    assert doc.mapping(FLOW, "Currency__c").transforms[1] == TransformStep("truncate", {"length": 2})
    assert panel.result.text().endswith('→ "US"')
    count = doc.undo_stack.count()
    line = panel.step_box.findChild(QLineEdit)
    line.setText("two")
    line.editingFinished.emit()
    assert "not a valid integer" in panel.error.text()
    assert doc.undo_stack.count() == count


def test_boolean_param_is_a_checkbox(panel, doc):
    panel.show_mapping("Currency__c")
    panel.add_step("map")
    box = panel.step_box.findChild(QCheckBox)
    box.setChecked(True)
    assert doc.mapping(FLOW, "Currency__c").transforms[1].args["strict"] is True


def test_a_misconfigured_step_is_refused_before_the_stack(panel, doc):
    panel.show_mapping("Currency__c")
    panel.add_step("map")
    count = doc.undo_stack.count()
    assert not panel._set_map_args("no_such_table", None)
    assert "no_such_table" in panel.error.text()
    assert doc.undo_stack.count() == count


def test_inline_value_map_editor(panel, doc, sample):
    panel.show_mapping("Currency__c")
    panel.add_step("map")
    editor = panel.value_map_editor
    editor.add_row()
    editor.table.item(0, 0).setText("USD")
    editor.table.item(0, 1).setText("US Dollar")
    assert doc.mapping(FLOW, "Currency__c").transforms[1].args["values"] == {"USD": "US Dollar"}
    assert panel.result.text().endswith('→ "US Dollar"')


def test_named_value_map_edits_the_document_table(panel, doc):
    panel.show_mapping("Currency__c")
    panel.add_step("map")
    combo = panel.table_combo
    combo.setCurrentIndex(combo.findText("charge_status"))
    combo.activated.emit(combo.currentIndex())
    assert doc.mapping(FLOW, "Currency__c").transforms[1].args == {"table": "charge_status"}
    editor = panel.value_map_editor
    # The template's own table, including 'paid' (charge status of older Stripe API versions).
    assert editor.values() == {
        "succeeded": "Completed", "paid": "Completed", "failed": "Failed", "pending": "Pending"
    }
    editor.table.item(0, 1).setText("Paid")
    assert doc.documents[0].value_maps["charge_status"]["succeeded"] == "Paid"
    doc.undo_stack.undo()
    assert doc.documents[0].value_maps["charge_status"]["succeeded"] == "Completed"


def test_jsonata_editor_live_result_then_apply(panel, doc, qtbot):
    panel.show_mapping("Status__c")
    editor = panel.expression_editor
    assert editor is not None
    editor.setPlainText("$uppercase(currency)")
    qtbot.waitUntil(lambda: panel.result.text().endswith('→ "USD"'))
    assert doc.mapping(FLOW, "Status__c").transforms[0].args["expr"].startswith("refunded")
    editor.setPlainText("currency = (")
    qtbot.waitUntil(lambda: "error" in panel.result.text())
    editor.setPlainText("$uppercase(currency)")
    panel.set_arg("expr", editor.toPlainText())
    assert doc.mapping(FLOW, "Status__c").transforms[0].args == {"expr": "$uppercase(currency)"}


def test_no_mapping_disables_the_editing(panel):
    panel.show_mapping("Fee__c")
    assert "no field mapping" in panel.title.text()
    assert not panel.add_button.isEnabled()
    assert not panel.add_step("trim")


def test_panel_renders(panel, tmp_path):
    panel.show_mapping("Currency__c")
    path = tmp_path / "panel.png"
    assert panel.grab().save(str(path))
    assert path.stat().st_size > 1000
    assert panel.chain_view.model().data(panel.chain.index(0, 0), Qt.ItemDataRole.DisplayRole)


# --------------------------------------------------------------------------- the editor tabs


def test_tabs_hold_the_flow_editors(panel, doc):
    labels = [panel.tabs.tabText(i) for i in range(panel.tabs.count())]
    assert labels == ["Transforms", f"Lookups ({len(doc.flow(FLOW).lookups)})", "Conditions",
                      "Defaults"]
    panel.defaults_editor.set_default("Description__c", "from Stripe")
    assert panel.tabs.tabText(3) == "Defaults (1)"
    doc.undo_stack.undo()
    assert panel.tabs.tabText(3) == "Defaults"


def test_show_mapping_opens_the_tab_that_fills_the_target(panel, doc):
    panel.tabs.setCurrentWidget(panel.condition_editor)
    panel.show_mapping("Account__c")  # filled by a lookup, not a field mapping
    assert panel.tabs.currentWidget() is panel.lookup_editor
    assert panel.lookup_editor.selected_row() == 0
    panel.show_mapping("Amount__c")
    assert panel.tabs.currentWidget() is panel.transforms_page
    panel.defaults_editor.set_default("Fee__c", 0)
    panel.show_mapping("Fee__c")
    assert panel.tabs.currentWidget() is panel.defaults_editor


@pytest.mark.parametrize(
    ("template", "flow", "tab"),
    [
        ("charges-payments", FLOW, 0),
        ("charges-payments", FLOW, 1),
        ("subscriptions", "invoice-paid-to-contract", 2),
        ("disputes-fraud-cases", "dispute-to-case", 3),
    ],
)
def test_each_tab_renders(qtbot, tmp_path, template, flow, tab):
    document = StudioDocument(catalogs=default_catalogs())
    document.open_template(template)
    document.set_current_flow(flow)
    sample = document.flow(flow).fixtures[0].input
    widget = TransformPanel(document, lambda: sample)
    qtbot.addWidget(widget)
    widget.resize(1100, 380)
    widget.show()
    widget.show_mapping("Amount__c" if tab == 0 else "")
    widget.tabs.setCurrentIndex(tab)
    page = widget.tabs.currentWidget()
    table = getattr(page, "table", None)
    if table is not None:
        assert table.rowCount() >= 1  # the template's lookups / conditions / defaults
        table.selectRow(0)
    path = tmp_path / f"tab{tab}.png"
    assert widget.grab().save(str(path))
    image = widget.grab().toImage()
    colours = {image.pixel(x, y) for x in range(0, 1100, 9) for y in range(0, 380, 9)}
    assert len(colours) > 8
