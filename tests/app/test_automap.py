"""Auto-map: suggestions as a checkable table; accepting is one undo step."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from app.document.document import StudioDocument, default_catalogs
from app.views.automap_dialog import AutoMapDialog, SuggestionModel, target_of
from mappings.document.model import Action, Flow, ObjectRef, Operation, Trigger
from mappings.errors import MappingError
from mappings.schema.model import System
from mappings.suggest import suggest_mappings


@pytest.fixture
def doc(qtbot, catalogs) -> StudioDocument:
    document = StudioDocument(catalogs=catalogs)
    document.new_workspace()
    document.add_flow(
        Flow(
            name="charges",
            trigger=Trigger(stripe_events=["charge.succeeded"]),
            source=ObjectRef(System.STRIPE, "charge"),
            target=ObjectRef(System.SALESFORCE, "Payment__c"),
            operation=Operation(Action.UPSERT, external_id="StripeChargeID__c"),
        )
    )
    document.undo_stack.clear()
    return document


def test_suggestion_model_passes_modeltester(qtmodeltester, doc):
    suggestions = suggest_mappings(doc.source_schema("charges"), doc.target_schema("charges"))
    model = SuggestionModel(suggestions, {suggestions[0].target_field})
    qtmodeltester.check(model)
    # an already-mapped target cannot be ticked
    first = model.index(0, 0)
    assert not model.flags(first) & Qt.ItemFlag.ItemIsUserCheckable
    assert not model.setData(first, Qt.CheckState.Checked, Qt.ItemDataRole.CheckStateRole)


def test_dialog_lists_scores_and_reasons(doc, qtbot):
    dialog = AutoMapDialog(doc)
    qtbot.addWidget(dialog)
    model = dialog.model
    assert model.rowCount() > 5
    scores = [model.data(model.index(r, 2)) for r in range(model.rowCount())]
    assert all(s.endswith("%") for s in scores)
    reasons = model.data(model.index(0, 4))
    assert "name" in reasons or "synonym" in reasons or "types" in reasons


def test_accept_ticked_is_one_undo_step(doc, qtbot):
    dialog = AutoMapDialog(doc)
    qtbot.addWidget(dialog)
    model = dialog.model
    model.set_all(False)
    rows = [r for r in range(model.rowCount())][:3]
    for r in rows:
        assert model.setData(model.index(r, 0), Qt.CheckState.Checked, Qt.ItemDataRole.CheckStateRole)
    chosen = model.accepted()
    assert len(chosen) == 3
    mapped, refused = dialog.apply()
    assert (mapped, refused) == (3, [])
    flow = doc.flow("charges")
    for s in chosen:
        mapping = flow.mapping_for(s.target_field)
        assert mapping.sources == [s.source_path]
        assert mapping.transforms == s.transforms
    assert doc.undo_stack.count() == 1
    doc.undo_stack.undo()
    assert doc.flow("charges").fields == []
    doc.undo_stack.redo()
    assert len(doc.flow("charges").fields) == 3


def test_reopened_dialog_marks_mapped_targets(doc, qtbot):
    first = AutoMapDialog(doc)
    qtbot.addWidget(first)
    first.apply()
    mapped = set(doc.flow("charges").target_fields())  # fields and lookups
    assert mapped
    again = AutoMapDialog(doc)
    qtbot.addWidget(again)
    assert {target_of(s) for s in again.model.accepted()}.isdisjoint(mapped)
    # open choices are listed before the mapped ones
    taken = [target_of(s) in mapped for s in again.model.suggestions]
    assert taken == sorted(taken)


def test_untick_all_disables_accept(doc, qtbot):
    dialog = AutoMapDialog(doc)
    qtbot.addWidget(dialog)
    dialog.model.set_all(False)
    assert not dialog.accept_button.isEnabled()
    assert dialog.apply() == (0, [])
    assert doc.undo_stack.count() == 0


def test_no_flow_is_a_clear_error(qtbot):
    document = StudioDocument(catalogs=default_catalogs())
    document.new_workspace()
    with pytest.raises(MappingError, match="needs a flow"):
        AutoMapDialog(document)


def test_reference_fields_are_offered_as_lookups(doc, qtbot):
    dialog = AutoMapDialog(doc)
    qtbot.addWidget(dialog)
    rows = {target_of(s): s for s in dialog.model.suggestions}
    assert "Account__c" in rows and hasattr(rows["Account__c"], "lookup")
    dialog.apply()
    [lookup] = [lk for lk in doc.flow("charges").lookups if lk.target == "Account__c"]
    assert (lookup.object, lookup.match_field, lookup.source) == (
        "Account", "StripeCustomerID__c", "customer"
    )
    assert all(m.target != "Account__c" for m in doc.flow("charges").fields)
    doc.undo_stack.undo()  # one step takes back the fields and the lookup together
    assert doc.flow("charges").lookups == [] and doc.flow("charges").fields == []
