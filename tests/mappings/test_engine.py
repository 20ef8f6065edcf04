"""The transform engine: compile a flow, apply it, validate against a hand-built schema."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pytest

from mappings.document.model import (
    Action,
    Condition,
    ConditionOp,
    FieldMapping,
    Flow,
    Lookup,
    MappingDocument,
    ObjectRef,
    Operation,
    SalesforceChange,
    TransformStep,
    Trigger,
)
from mappings.engine import Issue, MappingResult, compile_flow, json_safe
from mappings.errors import DocumentError, ExpressionError, MappingError, TransformError
from mappings.schema.model import FieldKind, FieldSchema, ObjectSchema, System

K = FieldKind


def payment_schema(*extra: FieldSchema) -> ObjectSchema:
    fields = [
        FieldSchema("Name", K.STRING, length=80, required=True),
        FieldSchema("StripeChargeID__c", K.STRING, length=30, external_id=True, unique=True),
        FieldSchema("Amount__c", K.CURRENCY, precision=8, scale=2),
        FieldSchema("Paid_At__c", K.DATETIME),
        FieldSchema("Payment_Date__c", K.DATE),
        FieldSchema("Refunded__c", K.BOOLEAN, nullable=False),
        FieldSchema(
            "Status__c",
            K.PICKLIST,
            length=40,
            enum_values=("Completed", "Failed", "Pending"),
            restricted=True,
        ),
        FieldSchema("Brand__c", K.PICKLIST, length=20, enum_values=("visa",), restricted=False),
        FieldSchema("Description__c", K.STRING, length=10),
        FieldSchema(
            "Account__c",
            K.REFERENCE,
            reference_to=("Account",),
            relationship_name="Account__r",
        ),
        FieldSchema("Source__c", K.STRING, length=20),
        FieldSchema("Formula__c", K.STRING, createable=False, updateable=False, calculated=True),
        FieldSchema("Created_Once__c", K.STRING, updateable=False),
        FieldSchema("Count__c", K.INTEGER),
        *extra,
    ]
    return ObjectSchema(System.SALESFORCE, "Payment__c", fields={f.path: f for f in fields})


def make_flow(
    fields: list[FieldMapping],
    *,
    action: Action = Action.UPSERT,
    external_id: str | None = "StripeChargeID__c",
    lookups: list[Lookup] | None = None,
    conditions: list[Condition] | None = None,
    defaults: dict[str, Any] | None = None,
    target: ObjectRef | None = None,
    source: ObjectRef | None = None,
    events: list[str] | None = None,
) -> Flow:
    return Flow(
        name="charge-to-payment",
        trigger=Trigger(stripe_events=events if events is not None else ["charge.succeeded"]),
        source=source or ObjectRef(System.STRIPE, "charge"),
        target=target or ObjectRef(System.SALESFORCE, "Payment__c"),
        operation=Operation(action, external_id=external_id if action is Action.UPSERT else None),
        fields=fields,
        lookups=lookups or [],
        conditions=conditions or [],
        defaults=defaults or {},
    )


def doc(flow: Flow) -> MappingDocument:
    return MappingDocument(
        "test",
        [flow],
        value_maps={"charge_status": {"succeeded": "Completed", "failed": "Failed"}},
    )


def base_fields() -> list[FieldMapping]:
    return [
        FieldMapping("Name", ["id"]),
        FieldMapping("StripeChargeID__c", ["id"]),
    ]


def step(name: str, **args: Any) -> TransformStep:
    return TransformStep(name, args)


@pytest.fixture
def charge(stripe_fixtures: dict) -> dict[str, Any]:
    c = copy.deepcopy(stripe_fixtures["charge"])
    c.update(amount=1999, customer="cus_123", currency="usd", status="succeeded")
    return c


def event(obj: dict[str, Any], type_: str = "charge.succeeded") -> dict[str, Any]:
    return {
        "object": "event",
        "id": "evt_1",
        "type": type_,
        "created": 1700000000,
        "data": {"object": obj},
    }


def codes(result: MappingResult) -> list[str]:
    return [i.code for i in result.issues]


# -- mapping -------------------------------------------------------------------------------


def test_event_is_unwrapped_and_fields_are_transformed(charge: dict) -> None:
    flow = make_flow(
        [
            *base_fields(),
            FieldMapping(
                "Amount__c", ["amount"], [step("minor_to_decimal", currency_path="currency")]
            ),
            FieldMapping("Paid_At__c", ["created"], [step("unix_to_datetime")]),
            FieldMapping("Payment_Date__c", ["created"], [step("unix_to_date")]),
            FieldMapping("Status__c", ["status"], [step("map", table="charge_status")]),
            FieldMapping("Source__c", ["$event.type"]),
            FieldMapping("Count__c", ["$event.created"]),
        ]
    )
    plan = compile_flow(flow, doc(flow), payment_schema())
    result = plan.apply(event(charge))
    assert plan.static_issues == []
    assert result.ok, result.issues
    assert result.source_id == charge["id"]
    rec = result.record
    assert rec["Amount__c"] == Decimal("19.99") and isinstance(rec["Amount__c"], Decimal)
    assert rec["Paid_At__c"] == "2009-02-13T23:31:30.000+0000"
    assert rec["Payment_Date__c"] == "2009-02-13"
    assert rec["Status__c"] == "Completed"
    assert rec["Source__c"] == "charge.succeeded"
    assert rec["Count__c"] == 1700000000


def test_plain_object_input_is_the_source_record(charge: dict) -> None:
    flow = make_flow([*base_fields(), FieldMapping("Source__c", ["$event.type"])])
    result = compile_flow(flow, doc(flow), payment_schema()).apply(charge)
    assert result.record["StripeChargeID__c"] == charge["id"]
    assert result.record["Source__c"] is None


def test_dot_paths_and_list_indexes(stripe_fixtures: dict) -> None:
    sub = copy.deepcopy(stripe_fixtures["subscription"])
    sub["items"]["data"] = [{"price": {"id": "price_A"}}, {"price": {"id": "price_B"}}]
    flow = make_flow(
        [
            FieldMapping("Name", ["items.data.1.price.id"]),
            FieldMapping("StripeChargeID__c", ["items.data.0.price.id"]),
            FieldMapping("Source__c", ["items.data.7.price.id"]),
            FieldMapping("Description__c", ["no.such.path"]),
        ],
        events=[],
    )
    rec = compile_flow(flow, doc(flow)).apply(sub).record
    assert rec == {
        "Name": "price_B",
        "StripeChargeID__c": "price_A",
        "Source__c": None,
        "Description__c": None,
    }


def test_several_sources_give_the_first_step_a_list(charge: dict) -> None:
    charge["billing_details"]["name"] = None
    charge["billing_details"]["email"] = "a@example.com"
    flow = make_flow(
        [
            *base_fields(),
            FieldMapping(
                "Source__c",
                ["billing_details.name", "billing_details.email"],
                [step("coalesce")],
            ),
        ]
    )
    rec = compile_flow(flow, doc(flow)).apply(charge).record
    assert rec["Source__c"] == "a@example.com"


def test_defaults_fill_only_missing_values(charge: dict) -> None:
    flow = make_flow(
        [*base_fields(), FieldMapping("Source__c", ["metadata.src"])],
        defaults={"Source__c": "Stripe", "Description__c": "default"},
    )
    plan = compile_flow(flow, doc(flow), payment_schema())
    assert plan.apply(charge).record["Source__c"] == "Stripe"
    charge["metadata"] = {"src": "web"}
    rec = plan.apply(charge).record
    assert rec["Source__c"] == "web"
    assert rec["Description__c"] == "default"


def test_transform_failure_is_an_issue_and_the_field_is_left_out(charge: dict) -> None:
    charge["amount"] = "lots"
    flow = make_flow(
        [
            *base_fields(),
            FieldMapping("Amount__c", ["amount"], [step("minor_to_decimal", currency="usd")]),
        ]
    )
    result = compile_flow(flow, doc(flow), payment_schema()).apply(charge)
    assert codes(result) == ["TRANSFORM_FAILED"]
    issue = result.issues[0]
    assert issue.field == "Amount__c" and "lots" in issue.message
    assert "Amount__c" not in result.record
    assert not result.ok


def test_truncate_warning_is_a_warning_issue(charge: dict) -> None:
    flow = make_flow(
        [*base_fields(), FieldMapping("Description__c", ["description"], [step("truncate")])]
    )
    result = compile_flow(flow, doc(flow), payment_schema()).apply(charge)
    assert result.ok
    assert [(i.code, i.severity, i.field) for i in result.issues] == [
        ("TRUNCATED", "warning", "Description__c")
    ]
    assert len(result.record["Description__c"]) == 10


def test_misconfigured_transform_fails_at_compile_naming_flow_and_field() -> None:
    flow = make_flow([*base_fields(), FieldMapping("Status__c", ["status"], [step("no_such")])])
    with pytest.raises(TransformError, match=r"charge-to-payment.*Status__c.*no_such"):
        compile_flow(flow, doc(flow))


def test_same_target_mapped_twice_is_refused() -> None:
    flow = make_flow([*base_fields(), FieldMapping("Name", ["description"])])
    with pytest.raises(DocumentError, match="Name.*mapped twice"):
        compile_flow(flow, doc(flow))


def test_non_object_input_is_an_issue_not_an_exception() -> None:
    flow = make_flow(base_fields())
    result = compile_flow(flow, doc(flow)).apply(["not", "a", "record"])  # type: ignore[arg-type]
    assert codes(result) == ["INVALID_INPUT"]
    assert "list" in result.issues[0].message


# -- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "value", "code"),
    [
        ("Amount__c", "19.99", "INVALID_TYPE"),
        ("Amount__c", True, "INVALID_TYPE"),
        ("Amount__c", 123456789, "NUMBER_OUTSIDE_VALID_RANGE"),
        ("Refunded__c", "yes", "INVALID_TYPE"),
        ("Paid_At__c", "13/02/2009", "INVALID_TYPE"),
        ("Paid_At__c", "2009-02-30T10:00:00.000+0000", "INVALID_TYPE"),
        ("Payment_Date__c", "2009-13-01", "INVALID_TYPE"),
        ("Count__c", 1.5, "INVALID_TYPE"),
        ("Description__c", "much too long for ten", "STRING_TOO_LONG"),
        ("Description__c", {"a": 1}, "INVALID_TYPE"),
        ("Status__c", "Done", "INVALID_PICKLIST_VALUE"),
    ],
)
def test_runtime_validation_codes(target: str, value: Any, code: str) -> None:
    flow = make_flow([*base_fields(), FieldMapping(target, ["value"])], events=[])
    result = compile_flow(flow, doc(flow), payment_schema()).apply({"id": "ch_1", "value": value})
    assert codes(result) == [code]
    issue = result.issues[0]
    assert issue.field == target
    assert target in issue.message
    assert result.record[target] == value  # the preview still shows what was produced


@pytest.mark.parametrize(
    ("target", "value"),
    [
        ("Amount__c", Decimal("19.99")),
        ("Amount__c", 5),
        ("Amount__c", 2.5),
        ("Refunded__c", False),
        ("Paid_At__c", "2026-01-01T00:00:00.000+0000"),
        ("Paid_At__c", "2026-01-31T23:59:59Z"),
        ("Paid_At__c", "2024-02-29T12:00:00+01:00"),
        ("Payment_Date__c", "2024-02-29"),
        ("Count__c", 3),
        ("Brand__c", "amex"),  # not restricted: any value goes
        ("Status__c", "Pending"),
        ("Description__c", 12345),  # Salesforce turns a number into text
    ],
)
def test_runtime_validation_accepts(target: str, value: Any) -> None:
    flow = make_flow([*base_fields(), FieldMapping(target, ["value"])], events=[])
    result = compile_flow(flow, doc(flow), payment_schema()).apply({"id": "ch_1", "value": value})
    assert result.issues == []


def test_invalid_picklist_message_lists_allowed_values() -> None:
    flow = make_flow([*base_fields(), FieldMapping("Status__c", ["value"])], events=[])
    result = compile_flow(flow, doc(flow), payment_schema()).apply({"id": "c", "value": "Done"})
    assert "'Done'" in result.issues[0].message and "'Completed'" in result.issues[0].message


def test_required_field_mapped_but_empty_is_missing() -> None:
    flow = make_flow([FieldMapping("Name", ["name"]), FieldMapping("StripeChargeID__c", ["id"])])
    result = compile_flow(flow, doc(flow), payment_schema()).apply({"id": "ch_1"})
    assert codes(result) == ["REQUIRED_FIELD_MISSING"]
    assert result.issues[0].field == "Name"


def test_required_check_does_not_apply_to_update() -> None:
    flow = make_flow([FieldMapping("Name", ["name"])], action=Action.UPDATE)
    plan = compile_flow(flow, doc(flow), payment_schema())
    assert plan.static_issues == []
    assert plan.apply({"id": "ch_1"}).issues == []


def test_static_issues_found_at_compile() -> None:
    flow = make_flow(
        [
            FieldMapping("StripeChargeID__c", ["id"]),
            FieldMapping("Nope__c", ["id"]),
            FieldMapping("Formula__c", ["id"]),
            FieldMapping("Created_Once__c", ["id"]),
            FieldMapping("Paid_At__c", ["created"]),  # Unix seconds into a datetime
        ],
        defaults={"Amount__c": "free"},
    )
    plan = compile_flow(flow, doc(flow), payment_schema(), source_schema=charge_schema())
    found = {(i.code, i.field, i.severity) for i in plan.static_issues}
    assert found == {
        ("UNKNOWN_FIELD", "Nope__c", "error"),
        ("FIELD_NOT_CREATEABLE", "Formula__c", "error"),
        ("FIELD_NOT_UPDATEABLE", "Created_Once__c", "warning"),
        ("INVALID_TYPE", "Paid_At__c", "warning"),
        ("INVALID_TYPE", "Amount__c", "error"),
        ("REQUIRED_FIELD_MISSING", "Name", "error"),
    }
    hint = next(i for i in plan.static_issues if i.field == "Paid_At__c")
    assert "unix_to_datetime" in hint.message
    # Every record carries the flow's static problems, so a preview shows them.
    assert set(codes(plan.apply({"id": "ch_1", "created": 1}))) >= {"UNKNOWN_FIELD"}


def test_update_flags_fields_that_cannot_be_updated() -> None:
    flow = make_flow([FieldMapping("Created_Once__c", ["id"])], action=Action.UPDATE)
    plan = compile_flow(flow, doc(flow), payment_schema())
    assert [(i.code, i.severity) for i in plan.static_issues] == [("FIELD_NOT_UPDATEABLE", "error")]


def test_upsert_key_must_be_mapped() -> None:
    flow = make_flow([FieldMapping("Name", ["id"])])
    plan = compile_flow(flow, doc(flow), payment_schema())
    assert [(i.code, i.field) for i in plan.static_issues] == [
        ("REQUIRED_FIELD_MISSING", "StripeChargeID__c")
    ]


def test_transform_output_kind_is_checked_against_target() -> None:
    flow = make_flow(
        [*base_fields(), FieldMapping("Refunded__c", ["created"], [step("unix_to_datetime")])]
    )
    plan = compile_flow(flow, doc(flow), payment_schema())
    assert [(i.code, i.field) for i in plan.static_issues] == [("INVALID_TYPE", "Refunded__c")]


def charge_schema() -> ObjectSchema:
    fields = [
        FieldSchema("id", K.ID),
        FieldSchema("created", K.TIMESTAMP),
        FieldSchema("amount", K.INTEGER),
        FieldSchema("metadata", K.MAP, free_keys=True),
    ]
    return ObjectSchema(System.STRIPE, "charge", fields={f.path: f for f in fields})


# -- lookups -------------------------------------------------------------------------------

ACCOUNT_LOOKUP = Lookup("Account__c", "Account", "StripeCustomerID__c", "customer")


def test_lookup_with_resolver_sets_the_id(charge: dict) -> None:
    calls: list[tuple[str, str, Any]] = []

    def resolver(obj: str, match_field: str, value: Any) -> str | None:
        calls.append((obj, match_field, value))
        return "001000000000001AAA"

    flow = make_flow(base_fields(), lookups=[ACCOUNT_LOOKUP])
    result = compile_flow(flow, doc(flow), payment_schema()).apply(event(charge), resolver)
    assert result.ok
    assert result.record["Account__c"] == "001000000000001AAA"
    assert calls == [("Account", "StripeCustomerID__c", "cus_123")]


def test_lookup_unresolved_names_object_field_and_value(charge: dict) -> None:
    flow = make_flow(base_fields(), lookups=[ACCOUNT_LOOKUP])
    result = compile_flow(flow, doc(flow), payment_schema()).apply(charge, lambda *a: None)
    assert codes(result) == ["LOOKUP_UNRESOLVED"]
    assert result.issues[0].message == "no Account with StripeCustomerID__c = 'cus_123'"
    assert "Account__c" not in result.record


def test_optional_lookup_unresolved_is_fine(charge: dict) -> None:
    lookup = Lookup("Account__c", "Account", "StripeCustomerID__c", "customer", required=False)
    flow = make_flow(base_fields(), lookups=[lookup])
    result = compile_flow(flow, doc(flow), payment_schema()).apply(charge, lambda *a: None)
    assert result.issues == [] and "Account__c" not in result.record


def test_lookup_without_resolver_uses_relationship_by_external_id(charge: dict) -> None:
    flow = make_flow(base_fields(), lookups=[ACCOUNT_LOOKUP])
    rec = compile_flow(flow, doc(flow), payment_schema()).apply(charge).record
    assert rec["Account__r"] == {"StripeCustomerID__c": "cus_123"}
    assert "Account__c" not in rec
    # Without a schema the relationship name follows Salesforce's __c -> __r rule.
    rec = compile_flow(flow, doc(flow)).apply(charge).record
    assert rec["Account__r"] == {"StripeCustomerID__c": "cus_123"}


def test_lookup_standard_field_relationship_name(charge: dict) -> None:
    lookup = Lookup("AccountId", "Account", "StripeCustomerID__c", "customer")
    flow = make_flow(base_fields(), lookups=[lookup])
    rec = compile_flow(flow, doc(flow)).apply(charge).record
    assert rec["Account"] == {"StripeCustomerID__c": "cus_123"}


def test_lookup_with_no_source_value_is_unresolved(charge: dict) -> None:
    charge["customer"] = None
    flow = make_flow(base_fields(), lookups=[ACCOUNT_LOOKUP])
    plan = compile_flow(flow, doc(flow), payment_schema())
    for resolver in (None, lambda *a: "001"):
        result = plan.apply(charge, resolver)
        assert codes(result) == ["LOOKUP_UNRESOLVED"]
        assert "customer" in result.issues[0].message


def test_lookup_of_expanded_object_uses_its_id(charge: dict) -> None:
    charge["customer"] = {"id": "cus_9", "object": "customer"}
    flow = make_flow(base_fields(), lookups=[ACCOUNT_LOOKUP])
    rec = compile_flow(flow, doc(flow)).apply(charge).record
    assert rec["Account__r"] == {"StripeCustomerID__c": "cus_9"}


# -- conditions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "holds"),
    [
        (Condition(ConditionOp.EQ, "livemode", False), True),
        (Condition(ConditionOp.EQ, "livemode", 0), False),  # a bool is not a number
        (Condition(ConditionOp.NE, "status", "failed"), True),
        (Condition(ConditionOp.IN, "currency", ["usd", "eur"]), True),
        (Condition(ConditionOp.NOT_IN, "currency", ["usd", "eur"]), False),
        (Condition(ConditionOp.GT, "amount", 1000), True),
        (Condition(ConditionOp.GE, "amount", 1999.0), True),
        (Condition(ConditionOp.LT, "amount", 1999), False),
        (Condition(ConditionOp.LE, "missing_field", 5), False),
        (Condition(ConditionOp.EXISTS, "customer"), True),
        (Condition(ConditionOp.MISSING, "review"), True),
        (Condition(ConditionOp.EQ, "$event.type", "charge.succeeded"), True),
        (Condition(ConditionOp.EXPR, expr="amount > 1000 and currency = 'usd'"), True),
        (Condition(ConditionOp.EXPR, expr="$event.type = 'charge.failed'"), False),
    ],
)
def test_conditions(charge: dict, condition: Condition, holds: bool) -> None:
    flow = make_flow(base_fields(), conditions=[condition])
    result = compile_flow(flow, doc(flow)).apply(event(charge))
    assert result.skipped is not holds
    if not holds:
        assert result.skip_reason and "condition not met" in result.skip_reason
        assert result.record == {}


def test_skip_reason_names_the_condition(charge: dict) -> None:
    flow = make_flow(base_fields(), conditions=[Condition(ConditionOp.EQ, "livemode", True)])
    result = compile_flow(flow, doc(flow)).apply(charge)
    assert result.skip_reason == "condition not met: livemode eq True"


def test_event_type_outside_trigger_is_skipped(charge: dict) -> None:
    flow = make_flow(base_fields())
    result = compile_flow(flow, doc(flow)).apply(event(charge, "charge.refunded"))
    assert result.skipped and "charge.refunded" in (result.skip_reason or "")


def test_changed_to_needs_the_previous_state() -> None:
    flow = make_flow(
        [FieldMapping("Name", ["Name"])],
        action=Action.CREATE,
        source=ObjectRef(System.SALESFORCE, "Opportunity"),
        target=ObjectRef(System.STRIPE, "customer"),
        conditions=[Condition(ConditionOp.CHANGED_TO, "StageName", "Closed Won")],
        events=[],
    )
    flow.trigger = Trigger(
        salesforce_change=SalesforceChange("Opportunity", "StageName", "Closed Won")
    )
    plan = compile_flow(flow, doc(flow))
    won = {"Id": "006A", "Name": "Big deal", "StageName": "Closed Won"}
    assert not plan.apply(won, previous={"StageName": "Negotiation"}).skipped
    assert plan.apply(won, previous={"StageName": "Closed Won"}).skipped
    assert not plan.apply(won).skipped  # a new record becomes Closed Won by being created
    assert plan.apply({**won, "StageName": "Prospecting"}).skipped
    assert plan.apply(won).source_id == "006A"


def test_bad_expression_fails_at_compile() -> None:
    flow = make_flow(base_fields(), conditions=[Condition(ConditionOp.EXPR, expr="amount >")])
    with pytest.raises(ExpressionError, match="charge-to-payment.*amount >"):
        compile_flow(flow, doc(flow))


def test_condition_without_path_is_refused() -> None:
    flow = make_flow(base_fields(), conditions=[Condition(ConditionOp.EQ, None, 1)])
    with pytest.raises(MappingError, match="needs a path"):
        compile_flow(flow, doc(flow))


def test_expression_runtime_error_is_an_issue(charge: dict) -> None:
    flow = make_flow(
        base_fields(), conditions=[Condition(ConditionOp.EXPR, expr="$number(status) > 1")]
    )
    result = compile_flow(flow, doc(flow)).apply(charge)
    assert codes(result) == ["CONDITION_FAILED"] and not result.skipped


# -- Stripe targets ------------------------------------------------------------------------


def test_stripe_target_builds_nested_dicts() -> None:
    flow = make_flow(
        [
            FieldMapping("name", ["Name"]),
            FieldMapping("metadata.salesforceid", ["Id"]),
            FieldMapping("address.city", ["BillingCity"]),
            FieldMapping("address.line1", ["BillingStreet"], [step("trim")]),
        ],
        action=Action.CREATE,
        source=ObjectRef(System.SALESFORCE, "Account"),
        target=ObjectRef(System.STRIPE, "customer"),
        defaults={"metadata.source": "salesforce"},
        events=[],
    )
    account = {"Id": "001A", "Name": "Acme", "BillingCity": "Paris", "BillingStreet": " 1 rue "}
    rec = compile_flow(flow, doc(flow)).apply(account).record
    assert rec == {
        "name": "Acme",
        "metadata": {"salesforceid": "001A", "source": "salesforce"},
        "address": {"city": "Paris", "line1": "1 rue"},
    }


def test_stripe_target_schema_free_keys_and_unknown_fields() -> None:
    customer = ObjectSchema(
        System.STRIPE,
        "customer",
        fields={
            "name": FieldSchema("name", K.STRING),
            "metadata": FieldSchema("metadata", K.MAP, free_keys=True),
        },
    )
    flow = make_flow(
        [FieldMapping("metadata.salesforceid", ["Id"]), FieldMapping("nickname", ["Name"])],
        action=Action.CREATE,
        target=ObjectRef(System.STRIPE, "customer"),
        events=[],
    )
    plan = compile_flow(flow, doc(flow), customer)
    assert [(i.code, i.field) for i in plan.static_issues] == [("UNKNOWN_FIELD", "nickname")]


# -- output --------------------------------------------------------------------------------


def test_to_dict_is_json_with_numbers_for_money(charge: dict) -> None:
    flow = make_flow(
        [
            *base_fields(),
            FieldMapping("Amount__c", ["amount"], [step("minor_to_decimal", currency="usd")]),
            FieldMapping("Count__c", ["amount"], [step("minor_to_decimal", currency="jpy")]),
        ]
    )
    out = compile_flow(flow, doc(flow)).apply(charge).to_dict()
    text = json.dumps(out)
    assert json.loads(text)["record"]["Amount__c"] == 19.99
    assert out["record"]["Count__c"] == 1999 and isinstance(out["record"]["Count__c"], int)
    assert out["issues"] == [] and out["skipped"] is False


def test_json_safe_nested() -> None:
    value = {"a": [Decimal("1.50"), Decimal("2")], "b": (Decimal("0.1"),), "c": "x"}
    assert json_safe(value) == {"a": [1.5, 2], "b": [0.1], "c": "x"}


def test_issue_to_dict() -> None:
    issue = Issue("STRING_TOO_LONG", "Name", "too long", "warning")
    assert issue.to_dict() == {
        "code": "STRING_TOO_LONG",
        "field": "Name",
        "message": "too long",
        "severity": "warning",
    }


def test_apply_is_deterministic_and_does_not_touch_the_input(charge: dict) -> None:
    flow = make_flow(
        [
            *base_fields(),
            FieldMapping(
                "Amount__c", ["amount"], [step("minor_to_decimal", currency_path="currency")]
            ),
            FieldMapping("Paid_At__c", ["created"], [step("unix_to_datetime")]),
        ],
        lookups=[ACCOUNT_LOOKUP],
    )
    ev = event(charge)
    before = copy.deepcopy(ev)
    plan = compile_flow(flow, doc(flow), payment_schema())
    first = plan.apply(ev).to_dict()
    again = compile_flow(flow, doc(flow), payment_schema()).apply(ev).to_dict()
    assert first == again == plan.apply(ev).to_dict()
    assert ev == before


def subscription_schema() -> ObjectSchema:
    fields = [
        FieldSchema("customer", K.REFERENCE, expandable=True),
        FieldSchema("items", K.OBJECT),
        FieldSchema("items.data", K.LIST),
        FieldSchema("items.data[].price", K.OBJECT),
        FieldSchema("metadata", K.MAP, free_keys=True),
    ]
    return ObjectSchema(System.STRIPE, "subscription", fields={f.path: f for f in fields})


def test_stripe_list_parameters_and_metadata_values() -> None:
    flow = make_flow(
        [
            FieldMapping("customer", ["StripeCustomerID__c"]),
            FieldMapping("items.0.price", ["StripePriceID__c"]),
            FieldMapping("metadata.salesforce_opportunity_id", ["Id"]),
            FieldMapping("metadata.note", ["Note"]),
        ],
        action=Action.CREATE,
        source=ObjectRef(System.SALESFORCE, "Opportunity"),
        target=ObjectRef(System.STRIPE, "subscription"),
        events=[],
    )
    plan = compile_flow(flow, doc(flow), subscription_schema())
    assert plan.static_issues == []
    opp = {"Id": "006A", "StripeCustomerID__c": "cus_1", "StripePriceID__c": "price_1"}
    result = plan.apply({**opp, "Note": "x" * 501})
    assert result.record == {
        "customer": "cus_1",
        "items": {"0": {"price": "price_1"}},
        "metadata": {"salesforce_opportunity_id": "006A", "note": "x" * 501},
    }
    assert [(i.code, i.field) for i in result.issues] == [("STRING_TOO_LONG", "metadata.note")]


def test_unknown_stripe_field_is_only_a_warning() -> None:
    flow = make_flow(
        [FieldMapping("coupon", ["Coupon__c"])],
        action=Action.CREATE,
        target=ObjectRef(System.STRIPE, "subscription"),
        events=[],
    )
    plan = compile_flow(flow, doc(flow), subscription_schema())
    assert [(i.code, i.severity) for i in plan.static_issues] == [("UNKNOWN_FIELD", "warning")]
    assert plan.apply({"Coupon__c": "SAVE"}).ok
