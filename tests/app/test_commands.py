"""Undo commands: push, undo and redo, then assert on the core model."""

from __future__ import annotations

import copy

import pytest

from app.document.document import StudioDocument
from mappings.document.model import (
    Condition,
    ConditionOp,
    Fixture,
    Lookup,
    TransformStep,
)
from mappings.errors import EditError

FLOW = "charge-to-payment"


def _snapshot(doc: StudioDocument):
    return copy.deepcopy(doc.documents)


def _round_trip(doc: StudioDocument, edit) -> None:
    """Apply ``edit``; undo must restore the exact model, redo the edited one."""
    before = _snapshot(doc)
    edit()
    after = _snapshot(doc)
    assert after != before
    doc.undo_stack.undo()
    assert _snapshot(doc) == before
    doc.undo_stack.redo()
    assert _snapshot(doc) == after


def test_map_field_round_trip(doc):
    _round_trip(doc, lambda: doc.map_field(FLOW, "amount", "Fee__c"))
    mapping = doc.mapping(FLOW, "Fee__c")
    assert mapping.sources == ["amount"] and mapping.transforms == []
    assert doc.flow(FLOW).fields[-1] is mapping


def test_unmap_restores_the_position(doc):
    order = [m.target for m in doc.flow(FLOW).fields]
    doc.unmap_field(FLOW, "Amount__c")
    assert "Amount__c" not in [m.target for m in doc.flow(FLOW).fields]
    doc.undo_stack.undo()
    assert [m.target for m in doc.flow(FLOW).fields] == order
    _round_trip(doc, lambda: doc.unmap_field(FLOW, "Currency__c"))


def test_replace_sources_keeps_transforms(doc):
    transforms = list(doc.mapping(FLOW, "Amount__c").transforms)
    _round_trip(doc, lambda: doc.map_field(FLOW, "amount_captured", "Amount__c", replace=True))
    assert doc.mapping(FLOW, "Amount__c").sources == ["amount_captured"]
    assert doc.mapping(FLOW, "Amount__c").transforms == transforms


def test_set_transforms_round_trip(doc):
    steps = [TransformStep("upper"), TransformStep("truncate", {"length": 3})]
    _round_trip(doc, lambda: doc.set_transforms(FLOW, "Currency__c", steps))
    assert doc.mapping(FLOW, "Currency__c").transforms == steps
    steps.append(TransformStep("lower"))  # the command kept its own copy
    assert len(doc.mapping(FLOW, "Currency__c").transforms) == 2


def test_move_mapping_round_trip(doc):
    _round_trip(doc, lambda: doc.move_mapping(FLOW, "Receipt_URL__c", 0))
    assert doc.flow(FLOW).fields[0].target == "Receipt_URL__c"
    with pytest.raises(EditError, match="position 99"):
        doc.move_mapping(FLOW, "Receipt_URL__c", 99)


def test_remove_flow_round_trip(doc):
    _round_trip(doc, lambda: doc.remove_flow(FLOW))
    assert doc.flows() == []
    assert doc.current_flow is None


def test_value_map_set_delete_and_order(doc):
    document = doc.documents[0]
    doc.set_value_map(document, "first", {"a": "A"})
    order = list(document.value_maps)
    _round_trip(doc, lambda: doc.set_value_map(document.name, "charge_status", {"x": "X"}))
    assert document.value_maps["charge_status"] == {"x": "X"}
    _round_trip(doc, lambda: doc.set_value_map(document, "charge_status", None))
    assert "charge_status" not in document.value_maps
    doc.undo_stack.undo()
    assert list(document.value_maps) == order
    with pytest.raises(EditError, match="no value map named 'ghost'"):
        doc.set_value_map(document, "ghost", None)
    with pytest.raises(EditError, match="text keys"):
        doc.set_value_map(document, "bad", {1: "x"})


def test_fixture_add_remove_round_trip(doc, qtbot):
    fixture = Fixture(name="pinned", input={"id": "ch_1", "object": "charge"})
    with qtbot.waitSignal(doc.fixturesChanged) as sig:
        _round_trip(doc, lambda: doc.add_fixture(FLOW, fixture))
    assert sig.args == [FLOW]
    assert doc.flow(FLOW).fixtures[-1] is fixture
    with pytest.raises(EditError, match="already has a fixture named 'pinned'"):
        doc.add_fixture(FLOW, Fixture(name="pinned", input={}))
    _round_trip(doc, lambda: doc.remove_fixture(FLOW, "pinned"))


def test_lookups_and_conditions_round_trip(doc):
    lookups = [Lookup("Payout__c", "Payout__c", "StripePayoutID__c", "id", required=False)]
    _round_trip(doc, lambda: doc.set_lookups(FLOW, lookups))
    assert doc.flow(FLOW).lookups == lookups
    with pytest.raises(EditError, match="Amount__c is already mapped"):
        doc.set_lookups(FLOW, [Lookup("Amount__c", "Account", "Name", "id")])
    conditions = [Condition(ConditionOp.EQ, path="paid", value=True)]
    _round_trip(doc, lambda: doc.set_conditions(FLOW, conditions))
    with pytest.raises(EditError, match="needs a field path"):
        doc.set_conditions(FLOW, [Condition(ConditionOp.EXISTS)])


def test_defaults_round_trip(doc):
    _round_trip(doc, lambda: doc.set_defaults(FLOW, {"Description__c": "from Stripe"}))
    assert doc.flow(FLOW).defaults == {"Description__c": "from Stripe"}


def test_clean_state_follows_undo(doc, qtbot):
    doc.map_field(FLOW, "amount", "Fee__c")
    assert doc.is_dirty
    with qtbot.waitSignal(doc.dirtyChanged) as sig:
        doc.undo_stack.undo()
    assert sig.args == [False]
    assert not doc.is_dirty
