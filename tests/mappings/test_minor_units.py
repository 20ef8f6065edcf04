"""Money keeps its meaning: Stripe amounts in minor units never reach a decimal field as they
are (issue 13, scenario 1), and decimals never reach a Stripe amount unconverted."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from mappings.document.model import (
    Action,
    FieldMapping,
    Fixture,
    Flow,
    MappingDocument,
    ObjectRef,
    Operation,
    TransformStep,
    Trigger,
)
from mappings.document.yamlio import load_document
from mappings.engine import compile_flow
from mappings.engine.fixtures import run_fixtures
from mappings.schema.compat import units_conversion
from mappings.schema.model import FieldKind, FieldSchema, System
from mappings.schema.org_metadata import load_salesforce_catalog
from mappings.schema.serialize import field_schema_from_dict, field_schema_to_dict
from mappings.schema.stripe_catalog import load_stripe_catalog
from mappings.suggest import conversion_choices, suggest_mappings, type_fit

TEMPLATES = Path(__file__).resolve().parents[2] / "mappings" / "templates"


@pytest.fixture(scope="module")
def stripe():
    return load_stripe_catalog()


@pytest.fixture(scope="module")
def salesforce():
    return load_salesforce_catalog()


@pytest.mark.parametrize(
    ("obj", "path", "currency"),
    [
        ("charge", "amount", "currency"),
        ("charge", "amount_refunded", "currency"),
        ("charge", "refunds.data[].amount", "refunds.data[].currency"),
        ("balance_transaction", "fee", "currency"),  # said only by its docstring ("in cents")
        ("balance_transaction", "fee_details[].amount", "fee_details[].currency"),
        ("invoice", "total_excluding_tax", "currency"),
        ("payout", "amount", "currency"),
    ],
)
def test_the_catalog_knows_amounts_in_minor_units_and_their_currency(stripe, obj, path, currency):
    assert stripe[obj].field(path).minor_units_currency == currency


@pytest.mark.parametrize(("obj", "path"), [("charge", "created"), ("invoice", "attempt_count")])
def test_other_integers_are_not_money(stripe, obj, path):
    assert stripe[obj].field(path).minor_units_currency is None


def test_the_fact_survives_a_schema_snapshot(stripe):
    fs = stripe["charge"].field("amount")
    assert field_schema_from_dict(field_schema_to_dict(fs)) == fs


def _charge_flow(*fields: FieldMapping) -> tuple[Flow, MappingDocument]:
    flow = Flow(
        name="charge-to-payment",
        trigger=Trigger(stripe_events=["charge.succeeded"]),
        source=ObjectRef(System.STRIPE, "charge"),
        target=ObjectRef(System.SALESFORCE, "Payment__c"),
        operation=Operation(Action.UPSERT, external_id="StripeChargeID__c"),
        fields=[FieldMapping("StripeChargeID__c", ["id"]), FieldMapping("Name", ["id"]), *fields],
    )
    return flow, MappingDocument(name="doc", flows=[flow])


def _units_issues(flow, doc, stripe, salesforce):
    plan = compile_flow(
        flow, doc, salesforce["Payment__c"], source_schema=stripe["charge"]
    )
    return [i for i in plan.static_issues if i.code == "AMOUNT_IN_MINOR_UNITS"]


def test_amount_straight_into_a_currency_field_is_an_error(stripe, salesforce):
    flow, doc = _charge_flow(FieldMapping("Net__c", ["amount"]))
    (issue,) = _units_issues(flow, doc, stripe, salesforce)
    assert issue.field == "Net__c" and issue.severity == "error"
    assert "minor units" in issue.message and "minor_to_decimal" in issue.message
    result = compile_flow(
        flow, doc, salesforce["Payment__c"], source_schema=stripe["charge"]
    ).apply({"id": "ch_1", "amount": 1999, "currency": "usd"})
    assert any(i.code == "AMOUNT_IN_MINOR_UNITS" for i in result.issues)


@pytest.mark.parametrize(
    "steps",
    [
        [TransformStep("minor_to_decimal", {"currency_path": "currency"})],
        [TransformStep("jsonata", {"expr": "amount / 100"})],
    ],
)
def test_a_conversion_or_an_expression_settles_it(stripe, salesforce, steps):
    flow, doc = _charge_flow(FieldMapping("Net__c", ["amount"], steps))
    assert _units_issues(flow, doc, stripe, salesforce) == []


def test_a_conversion_that_keeps_the_units_does_not(stripe, salesforce):
    flow, doc = _charge_flow(FieldMapping("Net__c", ["amount"], [TransformStep("default", {"value": 0})]))
    assert len(_units_issues(flow, doc, stripe, salesforce)) == 1


def test_a_decimal_into_a_stripe_amount_is_an_error_too():
    src = FieldSchema("Amount", FieldKind.CURRENCY)
    tgt = FieldSchema("unit_amount", FieldKind.INTEGER, minor_units_currency="currency")
    assert units_conversion(src, tgt) == "decimal_to_minor"
    assert units_conversion(tgt, FieldSchema("Net__c", FieldKind.NUMBER)) == "minor_to_decimal"
    assert units_conversion(tgt, FieldSchema("Count__c", FieldKind.INTEGER)) is None


def test_bundle_test_fails_on_such_a_fixture(stripe, salesforce):
    flow, doc = _charge_flow(FieldMapping("Net__c", ["amount"]))
    flow.fixtures.append(
        Fixture(
            name="net",
            input={"id": "ch_1", "amount": 1999, "currency": "usd"},
            expected={"StripeChargeID__c": "ch_1", "Name": "ch_1", "Net__c": 1999},
        )
    )
    schemas = {"salesforce:Payment__c": salesforce["Payment__c"], "stripe:charge": stripe["charge"]}
    (result,) = run_fixtures(doc, schemas)
    assert not result.passed
    assert any("AMOUNT_IN_MINOR_UNITS" in str(d) for d in result.differences)


def test_suggestions_and_drops_bridge_with_the_objects_currency(stripe, salesforce):
    charge, payment = stripe["charge"], salesforce["Payment__c"]
    fit = type_fit(charge.field("amount"), payment.field("Net__c"), charge, payment)
    assert fit is not None
    assert fit[1] == [TransformStep("minor_to_decimal", {"currency_path": "currency"})]
    refund = charge.field("refunds.data[].amount")
    fit = type_fit(refund, payment.field("Net__c"), charge, payment)
    assert fit is not None and fit[1][0].args == {"currency_path": "refunds.data[].currency"}
    bridged = 0
    for suggestion in suggest_mappings(charge, payment):
        src, tgt = charge.find(suggestion.source_path), payment.find(suggestion.target_field)
        if src is not None and tgt is not None and units_conversion(src, tgt):
            assert [s.name for s in suggestion.transforms] == ["minor_to_decimal"], suggestion
            bridged += 1
    assert bridged


def test_a_refused_link_offers_conversions_in_words(stripe, salesforce):
    charge, payment = stripe["charge"], salesforce["Payment__c"]
    options = conversion_choices(
        charge.field("description"), payment.field("Fee__c"), charge, payment
    )
    assert [o.words for o in options] == ["text → number"]
    assert options[0].steps == (TransformStep("to_number"),)


def test_shipped_templates_convert_their_amounts(stripe, salesforce):
    catalogs = {System.STRIPE: stripe, System.SALESFORCE: salesforce}
    for path in sorted(TEMPLATES.glob("*.yaml")):
        doc = load_document(path)
        for flow in doc.flows:
            target = catalogs[flow.target.system].get(flow.target.object)
            source = catalogs[flow.source.system].get(flow.source.object)
            plan = compile_flow(copy.deepcopy(flow), doc, target, source_schema=source)
            wrong = [i for i in plan.static_issues if i.code == "AMOUNT_IN_MINOR_UNITS"]
            assert wrong == [], f"{path.name} / {flow.name}"
