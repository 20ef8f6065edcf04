"""The fixture runner and its readable report."""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from mappings.document.model import (
    Action,
    FieldMapping,
    Fixture,
    Flow,
    Lookup,
    MappingDocument,
    ObjectRef,
    Operation,
    TransformStep,
    Trigger,
)
from mappings.engine import format_fixture_report, run_fixtures
from mappings.engine.fixtures import values_equal
from mappings.errors import DocumentError
from mappings.schema.model import FieldKind, FieldSchema, ObjectSchema, System


def payment_schema() -> ObjectSchema:
    fields = [
        FieldSchema("StripeChargeID__c", FieldKind.STRING, length=30, external_id=True),
        FieldSchema("Amount__c", FieldKind.CURRENCY, precision=18, scale=2),
        FieldSchema("Account__c", FieldKind.REFERENCE, relationship_name="Account__r"),
        FieldSchema("Name", FieldKind.STRING, length=80, required=True),
    ]
    return ObjectSchema(System.SALESFORCE, "Payment__c", fields={f.path: f for f in fields})


def charge_event(charge: dict[str, Any], type_: str = "charge.succeeded") -> dict[str, Any]:
    return {"object": "event", "id": "evt_1", "type": type_, "data": {"object": charge}}


def document(fixtures: list[Fixture], amount_step: str = "minor_to_decimal") -> MappingDocument:
    args = {"currency_path": "currency"} if amount_step == "minor_to_decimal" else {}
    flow = Flow(
        name="charge-to-payment",
        trigger=Trigger(stripe_events=["charge.succeeded"]),
        source=ObjectRef(System.STRIPE, "charge"),
        target=ObjectRef(System.SALESFORCE, "Payment__c"),
        operation=Operation(Action.UPSERT, external_id="StripeChargeID__c"),
        fields=[
            FieldMapping("StripeChargeID__c", ["id"]),
            FieldMapping("Name", ["id"]),
            FieldMapping("Amount__c", ["amount"], [TransformStep(amount_step, args)]),
        ],
        lookups=[Lookup("Account__c", "Account", "StripeCustomerID__c", "customer")],
        fixtures=fixtures,
    )
    other = Flow(
        name="other",
        trigger=Trigger(stripe_events=["charge.failed"]),
        source=ObjectRef(System.STRIPE, "charge"),
        target=ObjectRef(System.SALESFORCE, "Payment__c"),
        operation=Operation(Action.INSERT),
        fields=[FieldMapping("Name", ["id"])],
    )
    return MappingDocument("charges", [flow, other])


@pytest.fixture
def charge(stripe_fixtures: dict) -> dict[str, Any]:
    c = copy.deepcopy(stripe_fixtures["charge"])
    c.update(id="ch_1", amount=1999, currency="usd", customer="cus_1")
    return c


def expected_record(**extra: Any) -> dict[str, Any]:
    return {"StripeChargeID__c": "ch_1", "Name": "ch_1", "Amount__c": 19.99, **extra}


def test_passing_fixture_with_lookup_table(charge: dict) -> None:
    fx = Fixture(
        "paid",
        charge_event(charge),
        expected_record(Account__c="001A"),
        lookups={"Account.StripeCustomerID__c=cus_1": "001A"},
    )
    results = run_fixtures(document([fx]), {"Payment__c": payment_schema()})
    assert [(r.flow, r.fixture, r.passed) for r in results] == [("charge-to-payment", "paid", True)]
    assert results[0].result is not None and results[0].result.record["Account__c"] == "001A"
    report = format_fixture_report(results)
    assert "ok    charge-to-payment / paid" in report
    assert report.splitlines()[-1] == "1 fixture: 1 passed, 0 failed"


def test_without_lookups_the_relationship_form_is_expected(charge: dict) -> None:
    fx = Fixture(
        "paid",
        charge_event(charge),
        expected_record(Account__r={"StripeCustomerID__c": "cus_1"}),
    )
    assert run_fixtures(document([fx]))[0].passed


def test_failing_fixture_reports_field_by_field(charge: dict) -> None:
    fx = Fixture(
        "paid",
        charge_event(charge),
        expected_record(Account__r={"StripeCustomerID__c": "cus_2"}, Extra__c="x"),
    )
    results = run_fixtures(document([fx], amount_step="to_number"))
    assert not results[0].passed
    diffs = {d.field: d for d in results[0].differences}
    assert set(diffs) == {"Amount__c", "Account__r.StripeCustomerID__c", "Extra__c"}
    report = format_fixture_report(results)
    assert "FAIL  charge-to-payment / paid" in report
    assert "  Amount__c: expected 19.99, got 1999" in report
    assert '  Account__r.StripeCustomerID__c: expected "cus_2", got "cus_1"' in report
    assert '  Extra__c: expected "x", got (absent)' in report
    assert report.splitlines()[-1] == "1 fixture: 0 passed, 1 failed"


def test_unexpected_field_in_output_is_a_difference(charge: dict) -> None:
    fx = Fixture("paid", charge_event(charge), {"StripeChargeID__c": "ch_1", "Name": "ch_1"})
    result = run_fixtures(document([fx]))[0]
    assert not result.passed
    assert "  Amount__c: expected (absent), got 19.99" in format_fixture_report([result])


def test_expected_skip(charge: dict) -> None:
    skipping = Fixture("refund", charge_event(charge, "charge.refunded"), None, expect_skip=True)
    not_skipping = Fixture("paid", charge_event(charge), None, expect_skip=True)
    results = run_fixtures(document([skipping, not_skipping]))
    assert [r.passed for r in results] == [True, False]
    assert "expected the flow to skip this input" in format_fixture_report(results)


def test_unexpected_skip_reports_the_reason(charge: dict) -> None:
    fx = Fixture("refund", charge_event(charge, "charge.refunded"), expected_record())
    results = run_fixtures(document([fx]))
    assert not results[0].passed
    assert "skipped this input: event type 'charge.refunded'" in format_fixture_report(results)


def test_expected_issues(charge: dict) -> None:
    lookups = {"Account.StripeCustomerID__c=cus_other": "001B"}
    expected = expected_record()
    unresolved = Fixture(
        "unresolved",
        charge_event(charge),
        expected,
        expected_issues=["LOOKUP_UNRESOLVED"],
        lookups=lookups,
    )
    surprised = Fixture("surprised", charge_event(charge), expected, lookups=lookups)
    missing = Fixture(
        "missing",
        charge_event(charge),
        expected_record(Account__r={"StripeCustomerID__c": "cus_1"}),
        expected_issues=["STRING_TOO_LONG"],
    )
    results = run_fixtures(document([unresolved, surprised, missing]))
    assert [r.passed for r in results] == [True, False, False]
    report = format_fixture_report(results)
    assert "unexpected LOOKUP_UNRESOLVED: no Account with StripeCustomerID__c = 'cus_1'" in report
    assert "expected issue STRING_TOO_LONG, none raised" in report
    assert results[1].issues[0].code == "LOOKUP_UNRESOLVED"


def test_flow_filter_and_unknown_flow(charge: dict) -> None:
    doc = document([Fixture("paid", charge_event(charge), None)])
    assert len(run_fixtures(doc, flow="charge-to-payment")) == 1
    assert run_fixtures(doc, flow="other") == []
    with pytest.raises(DocumentError, match="no flow named 'nope'.*charge-to-payment, other"):
        run_fixtures(doc, flow="nope")


def test_schema_keyed_by_system_and_object(charge: dict) -> None:
    fx = Fixture("paid", charge_event(charge), None)
    doc = document([fx])
    doc.flows[0].fields.append(FieldMapping("Nope__c", ["id"]))
    result = run_fixtures(doc, {"salesforce:Payment__c": payment_schema()})[0]
    assert not result.passed
    assert "UNKNOWN_FIELD" in {i.code for i in result.issues}


def test_empty_report() -> None:
    assert format_fixture_report([]) == "no fixtures to run"


@pytest.mark.parametrize(
    ("expected", "actual", "equal"),
    [
        (19.99, Decimal("19.99"), True),
        (20, Decimal("20.00"), True),
        (1999, 19.99, False),
        (True, 1, False),
        ("19.99", Decimal("19.99"), False),
        ({"a": 1.5}, {"a": Decimal("1.50")}, True),
        ([1, 2], [Decimal(1), 2.0], True),
        (None, None, True),
    ],
)
def test_values_equal(expected: Any, actual: Any, equal: bool) -> None:
    assert values_equal(expected, actual) is equal


TEMPLATES = sorted((Path(__file__).resolve().parents[2] / "mappings" / "templates").glob("*.yaml"))


@pytest.fixture(scope="module")
def real_schemas() -> dict[str, ObjectSchema]:
    try:
        from mappings.schema.org_metadata import load_salesforce_catalog
        from mappings.schema.stripe_catalog import load_stripe_catalog
    except ImportError:  # the catalogs are built by other parts of the project
        pytest.skip("schema catalogs not available")
    schemas: dict[str, ObjectSchema] = {}
    for catalog in (load_salesforce_catalog(), load_stripe_catalog()):
        for obj in catalog.objects.values():
            schemas[f"{catalog.system.value}:{obj.name}"] = obj
    return schemas


@pytest.mark.parametrize("path", TEMPLATES, ids=[p.stem for p in TEMPLATES])
def test_template_fixtures_pass_against_the_real_schemas(
    path: Path, real_schemas: dict[str, ObjectSchema]
) -> None:
    from mappings.document.yamlio import load_document

    results = run_fixtures(load_document(path), real_schemas)
    assert results, f"{path.name} has no fixtures"
    assert all(r.passed for r in results), format_fixture_report(results)
