"""Semantic diff: flows, fields, transforms, value maps and rates; order is not a change."""

from __future__ import annotations

import copy

from mappings.document.diff import Change, diff_document_sets, diff_documents, format_diff
from mappings.document.model import (
    Action,
    Condition,
    ConditionOp,
    FieldMapping,
    Fixture,
    Flow,
    Lookup,
    MappingDocument,
    ObjectRef,
    Operation,
    RatesTable,
    SalesforceChange,
    TransformStep,
    Trigger,
)
from mappings.schema.model import System


def _doc() -> MappingDocument:
    flow = Flow(
        name="charge-to-payment",
        trigger=Trigger(stripe_events=["charge.succeeded"]),
        source=ObjectRef(System.STRIPE, "charge"),
        target=ObjectRef(System.SALESFORCE, "Payment__c"),
        operation=Operation(Action.UPSERT, external_id="StripeChargeID__c"),
        fields=[
            FieldMapping("StripeChargeID__c", ["id"]),
            FieldMapping(
                "Amount__c",
                ["amount"],
                [TransformStep("minor_to_decimal", {"currency_path": "currency"})],
            ),
            FieldMapping("Status__c", ["status"], [TransformStep("map", {"map": "status"})]),
        ],
        lookups=[Lookup("Account__c", "Account", "StripeCustomerID__c", "customer")],
        conditions=[Condition(ConditionOp.EQ, path="livemode", value=False)],
        defaults={"Source__c": "Stripe"},
        fixtures=[Fixture("paid", {"id": "ch_1"}, {"StripeChargeID__c": "ch_1"})],
    )
    return MappingDocument(
        name="charges",
        flows=[flow],
        value_maps={"status": {"succeeded": "Completed", "failed": "Failed"}},
        rates=RatesTable("usd", {"eur": 0.9}, "2026-01-01"),
    )


def _paths(changes: list[Change]) -> list[tuple[str, str]]:
    return [(c.kind, c.path) for c in changes]


def test_identical_documents_have_no_changes() -> None:
    assert diff_documents(_doc(), _doc()) == []
    assert format_diff([]) == "no differences"


def test_reordering_fields_and_flows_is_not_a_change() -> None:
    a = _doc()
    a.flows.append(copy.deepcopy(a.flows[0]))
    a.flows[1].name = "second"
    b = copy.deepcopy(a)
    b.flows.reverse()
    b.flows[1].fields.reverse()
    assert diff_documents(a, b) == []


def test_field_added_removed_and_changed() -> None:
    a, b = _doc(), _doc()
    flow = b.flows[0]
    flow.fields = [m for m in flow.fields if m.target != "Status__c"]
    flow.fields.append(FieldMapping("Currency__c", ["currency"], [TransformStep("upper")]))
    flow.fields[1].transforms[0].args["currency_path"] = "presentment_currency"
    flow.fields[0].sources = ["id", "payment_intent"]
    changes = diff_documents(a, b)
    assert _paths(changes) == [
        ("removed", "flow charge-to-payment / field Status__c"),
        ("changed", "flow charge-to-payment / field StripeChargeID__c / sources"),
        ("changed", "flow charge-to-payment / field Amount__c / transforms"),
        ("added", "flow charge-to-payment / field Currency__c"),
    ]
    transforms = changes[2]
    assert transforms.before == [
        {"name": "minor_to_decimal", "args": {"currency_path": "currency"}}
    ]
    assert transforms.after == [
        {"name": "minor_to_decimal", "args": {"currency_path": "presentment_currency"}}
    ]
    assert transforms.summary == (
        "field Amount__c transforms: minor_to_decimal(currency_path='currency') -> "
        "minor_to_decimal(currency_path='presentment_currency')"
    )
    assert changes[3].after == {
        "target": "Currency__c",
        "source": "currency",
        "transforms": [{"name": "upper"}],
    }


def test_flow_level_changes() -> None:
    a, b = _doc(), _doc()
    flow = b.flows[0]
    flow.trigger = Trigger(salesforce_change=SalesforceChange("Opportunity", "StageName", "Won"))
    flow.source = ObjectRef(System.SALESFORCE, "Opportunity")
    flow.target = ObjectRef(System.STRIPE, "customer")
    flow.operation = Operation(Action.CREATE, writeback="StripeCustomerID__c")
    flow.conditions = []
    flow.defaults = {"Source__c": "Salesforce", "Kind__c": "x"}
    flow.lookups = []
    flow.fixtures.append(Fixture("skipped", {"id": "ch_2"}, expect_skip=True))
    flow.fixtures[0].expected = {"StripeChargeID__c": "ch_9"}
    assert _paths(diff_documents(a, b)) == [
        ("changed", "flow charge-to-payment / trigger"),
        ("changed", "flow charge-to-payment / source"),
        ("changed", "flow charge-to-payment / target"),
        ("changed", "flow charge-to-payment / operation"),
        ("changed", "flow charge-to-payment / conditions"),
        ("removed", "flow charge-to-payment / lookup Account__c"),
        ("changed", "flow charge-to-payment / default Source__c"),
        ("added", "flow charge-to-payment / default Kind__c"),
        ("changed", "flow charge-to-payment / fixture paid"),
        ("added", "flow charge-to-payment / fixture skipped"),
    ]
    trigger = diff_documents(a, b)[0]
    assert trigger.summary == (
        "trigger: charge.succeeded -> Opportunity changed (StageName becomes 'Won')"
    )


def test_flows_added_and_removed() -> None:
    a, b = _doc(), _doc()
    b.flows[0].name = "renamed"
    changes = diff_documents(a, b)
    assert _paths(changes) == [("removed", "flow charge-to-payment"), ("added", "flow renamed")]
    assert changes[1].after["name"] == "renamed"
    assert changes[1].summary == (
        "flow 'renamed' added (stripe:charge -> salesforce:Payment__c, upsert, 3 fields)"
    )


def test_value_maps_and_rates() -> None:
    a, b = _doc(), _doc()
    b.value_maps["status"]["failed"] = "Declined"
    b.value_maps["status"]["pending"] = "Pending"
    b.value_maps["country"] = {"US": "United States"}
    b.rates = RatesTable("usd", {"eur": 0.95, "gbp": 0.8}, "2026-02-01")
    changes = diff_documents(a, b)
    assert _paths(changes) == [
        ("changed", "value map status / entry failed"),
        ("added", "value map status / entry pending"),
        ("added", "value map country"),
        ("changed", "rates"),
    ]
    assert changes[0].summary == "entry failed: 'Failed' -> 'Declined'"
    assert changes[3].summary == "rates: rates for eur, gbp; as of 2026-01-01 -> 2026-02-01"
    b.rates = None
    assert diff_documents(a, b)[-1].kind == "removed"


def test_format_diff_groups_changes_under_their_flow() -> None:
    a, b = _doc(), _doc()
    b.flows[0].fields[2].transforms = []
    b.flows.append(
        Flow(
            "new",
            Trigger(["payout.paid"]),
            ObjectRef(System.STRIPE, "payout"),
            ObjectRef(System.SALESFORCE, "Payout__c"),
            Operation(Action.INSERT),
        )
    )
    b.value_maps = {}
    text = format_diff(diff_documents(a, b))
    assert text.splitlines() == [
        "- value map status removed (was 2 entries)",
        "flow charge-to-payment:",
        "  ~ field Status__c transforms: map(map='status') -> (none)",
        "+ flow 'new' added (stripe:payout -> salesforce:Payout__c, insert, 0 fields)",
        "3 changes: 1 added, 1 removed, 1 changed",
    ]


def test_document_sets_pair_documents_by_name() -> None:
    a, b = _doc(), _doc()
    other = MappingDocument(name="payouts")
    b.flows[0].defaults = {}
    changes = diff_document_sets([a, other], [b])
    assert _paths(changes) == [
        ("removed", "document payouts"),
        ("removed", "document charges / flow charge-to-payment / default Source__c"),
    ]
    assert "flow charge-to-payment:" in format_diff(changes).splitlines()[1]
