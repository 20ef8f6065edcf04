"""The shipped templates on Stripe objects as older API versions and ``expand[]`` shape them:
string amounts, missing fields, expanded or unexpanded references. Each gives the mapped
record or a clear issue, never a crash (issue 11, "Also")."""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from mappings.document.model import Flow, MappingDocument
from mappings.document.yamlio import load_document
from mappings.engine import compile_flow
from mappings.engine.plan import FlowPlan
from mappings.schema.model import System
from mappings.schema.org_metadata import load_salesforce_catalog
from mappings.schema.stripe_catalog import load_stripe_catalog
from mappings.schema.stripe_events import reference_id

TEMPLATES = sorted((Path(__file__).resolve().parents[2] / "mappings" / "templates").glob("*.yaml"))
# What a user must never read in an issue: Python's own words for a crash.
PYTHON_WORDS = re.compile(
    r"Traceback|\b\w+(Error|Exception)\b|NoneType|has no attribute|not subscriptable|"
    r"unsupported operand|object is not"
)


@functools.cache
def _plans() -> dict[str, tuple[FlowPlan, Flow]]:
    stripe, salesforce = load_stripe_catalog(), load_salesforce_catalog()
    plans: dict[str, tuple[FlowPlan, Flow]] = {}
    for path in TEMPLATES:
        doc: MappingDocument = load_document(path)
        for flow in doc.flows:
            catalog = stripe if flow.target.system is System.STRIPE else salesforce
            plans[flow.name] = (compile_flow(flow, doc, catalog.get(flow.target.object)), flow)
    return plans


def _stripe_flows() -> list[str]:
    return [
        name
        for name, (_, flow) in _plans().items()
        if flow.source.system is System.STRIPE and flow.fixtures
    ]


def _event(flow_name: str, **changes: Any) -> dict[str, Any]:
    """The flow's first fixture (an event) with ``changes`` made to its object (None drops)."""
    _, flow = _plans()[flow_name]
    data = copy.deepcopy(flow.fixtures[0].input)
    obj = data["data"]["object"] if data.get("object") == "event" else data
    for key, value in changes.items():
        if value is None:
            obj.pop(key, None)
        else:
            obj[key] = value
    return data


def _variants(obj: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every top-level field dropped, nulled, and reshaped as another API version might."""
    for key, value in obj.items():
        yield f"drop {key}", {k: v for k, v in obj.items() if k != key}
        yield f"{key}=null", {**obj, key: None}
        if isinstance(value, int) and not isinstance(value, bool):
            yield f"{key}=string", {**obj, key: str(value)}
            yield f"{key}=decimal string", {**obj, key: f"{value}.50"}
            yield f"{key}=float", {**obj, key: value + 0.5}
            yield f"{key}=text", {**obj, key: "n/a"}
        elif isinstance(value, str):
            yield f"{key}=expanded", {**obj, key: {"id": value, "object": "x"}}
            yield f"{key}=number", {**obj, key: 12}
        elif isinstance(value, dict):
            if isinstance(value.get("id"), str):
                yield f"{key}=unexpanded", {**obj, key: value["id"]}
            yield f"{key}=empty", {**obj, key: {}}
            yield f"{key}=text", {**obj, key: "x"}
            yield f"{key}=list", {**obj, key: [value]}
        elif isinstance(value, list):
            yield f"{key}=object", {**obj, key: {"data": value}}
            yield f"{key}=[null]", {**obj, key: [None]}


@pytest.mark.parametrize("flow_name", _stripe_flows())
def test_every_reshaped_field_maps_or_gives_a_clear_issue(flow_name: str) -> None:
    plan, flow = _plans()[flow_name]
    base = flow.fixtures[0].input
    is_event = base.get("object") == "event"
    obj = base["data"]["object"] if is_event else base
    checked = 0
    for label, variant in _variants(obj):
        data = copy.deepcopy(base)
        if is_event:
            data["data"]["object"] = variant
        else:
            data = variant
        for resolver in (None, lambda obj, field, value: None):
            result = plan.apply(data, resolver)  # never raises
            for issue in result.issues:
                assert issue.code and issue.code.isupper(), (label, issue)
                assert not PYTHON_WORDS.search(issue.message), (label, str(issue))
            checked += 1
    assert checked > 20


# -- charges-payments, field by field ------------------------------------------------------

CHARGE = "charge-to-payment"


@pytest.mark.parametrize(
    ("changes", "field", "expected"),
    [
        ({"amount": "1999"}, "Amount__c", Decimal("19.99")),  # a string amount, as some SDKs give
        ({"amount": 1999.0}, "Amount__c", Decimal("19.99")),
        ({"status": "paid", "refunded": False}, "Status__c", "Completed"),  # before 2015
        ({"customer": {"id": "cus_old", "object": "customer"}}, "StripeCustomerID__c", "cus_old"),
        (
            {"balance_transaction": {"id": "txn_1", "object": "balance_transaction", "fee": 59}},
            "StripeBalanceTransactionID__c",
            "txn_1",
        ),
        ({"payment_method_details": None}, "Card_Brand__c", None),  # absent on old charges
        ({"receipt_url": None}, "Receipt_URL__c", None),
    ],
    ids=[
        "string-amount",
        "float-amount",
        "status-paid",
        "expanded-customer",
        "expanded-balance-transaction",
        "no-payment-method-details",
        "no-receipt-url",
    ],
)
def test_older_charge_shapes_map_to_the_same_payment(
    changes: dict[str, Any], field: str, expected: Any
) -> None:
    plan, _ = _plans()[CHARGE]
    result = plan.apply(_event(CHARGE, **changes))
    assert result.ok, [str(i) for i in result.errors]
    assert field in result.record and result.record[field] == expected


@pytest.mark.parametrize(
    ("changes", "code", "field", "words"),
    [
        ({"amount": "19.99"}, "TRANSFORM_FAILED", "Amount__c", "'19.99' to a decimal amount"),
        ({"amount": None}, "REQUIRED_FIELD_MISSING", "Amount__c", "required"),
        ({"currency": None}, "TRANSFORM_FAILED", "Amount__c", "no currency"),
        ({"created": "2015-01-01"}, "TRANSFORM_FAILED", "Paid_At__c", "Unix seconds"),
        ({"customer": {"object": "customer"}}, "INVALID_TYPE", "StripeCustomerID__c", "text"),
        ({"customer": ["cus_1"]}, "INVALID_TYPE", "StripeCustomerID__c", "text"),
        ({"id": None}, "REQUIRED_FIELD_MISSING", "StripeChargeID__c", "required"),
    ],
    ids=[
        "decimal-string",
        "no-amount",
        "no-currency",
        "iso-created",
        "expanded-without-id",
        "list",
        "no-id",
    ],
)
def test_charge_shapes_that_cannot_map_give_one_clear_issue(
    changes: dict[str, Any], code: str, field: str, words: str
) -> None:
    plan, _ = _plans()[CHARGE]
    result = plan.apply(_event(CHARGE, **changes))
    matching = [i for i in result.errors if i.field == field]
    assert matching, [str(i) for i in result.errors]
    assert matching[0].code == code and words in matching[0].message, str(matching[0])


def test_an_event_without_its_object_is_refused_not_mapped_as_the_object() -> None:
    # The envelope would otherwise be mapped as the charge: evt_... as the charge id.
    plan, _ = _plans()[CHARGE]
    for data in ({"data": None}, {"data": {"object": "ch_1"}}, {"data": {}}):
        event = {**_event(CHARGE), **data}
        result = plan.apply(event)
        [issue] = result.errors
        assert issue.code == "INVALID_INPUT" and "carries no data.object" in issue.message
        assert event["id"] in issue.message
        assert result.record == {}


def test_a_lookup_through_an_expanded_or_unexpanded_reference_finds_the_same_account() -> None:
    plan, _ = _plans()[CHARGE]
    asked: list[Any] = []

    def resolver(obj: str, field: str, value: Any) -> str:
        asked.append(value)
        return "001000000000001AAA"

    for customer in ("cus_1", {"id": "cus_1", "object": "customer", "email": "a@b.c"}):
        result = plan.apply(_event(CHARGE, customer=customer), resolver)
        assert result.ok, [str(i) for i in result.errors]
    assert asked == ["cus_1", "cus_1"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("cus_1", "cus_1"),
        ({"id": "cus_1", "object": "customer"}, "cus_1"),
        ({"object": "customer"}, None),
        ({"id": 7}, None),
        ("", None),
        (None, None),
        (["cus_1"], None),
        (12, None),
    ],
)
def test_reference_id_reads_both_shapes_of_an_expandable_field(value: Any, expected: Any) -> None:
    assert reference_id(value) == expected
