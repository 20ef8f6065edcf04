"""Mapping documents on disk: every way to break one, and lossless round trips."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

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
from mappings.document.yamlio import (
    document_from_data,
    dump_document,
    load_document,
    load_documents,
    loads_document,
    save_document,
    schema_path,
)
from mappings.errors import DocumentError
from mappings.schema.model import System

ROOT = Path(__file__).resolve().parents[2]

GOOD = """\
format: 1
name: charges
value_maps:
  charge_status: {succeeded: Completed, failed: Failed, pending: Pending}
flows:
  - name: charge-to-payment
    trigger: {stripe_events: [charge.succeeded, charge.failed]}
    source: {system: stripe, object: charge}
    target: {system: salesforce, object: Payment__c}
    operation: {action: upsert, external_id: StripeChargeID__c}
    fields:
      - target: StripeChargeID__c
        source: id
      - target: Amount__c
        source: [amount]
        transforms:
          - name: minor_to_decimal
            args: {currency_path: currency}
      - target: Name
        source: [description, id]
        transforms: [coalesce, trim]
    lookups:
      - {target: Account__c, object: Account, match_field: StripeCustomerID__c, source: customer}
    conditions:
      - {path: livemode, op: eq, value: false}
    defaults: {Source__c: Stripe}
    fixtures:
      - name: paid
        input: {id: ch_1, amount: !decimal 12.50, created_on: 2026-01-01}
        expected: {Amount__c: !decimal 0.1250, Name: "Café ☕"}
"""


def test_good_document_loads_into_the_model() -> None:
    doc = loads_document(GOOD, "charges.yaml")
    flow = doc.flow("charge-to-payment")
    assert flow is not None
    assert flow.trigger.stripe_events == ["charge.succeeded", "charge.failed"]
    assert flow.source == ObjectRef(System.STRIPE, "charge")
    assert flow.operation == Operation(Action.UPSERT, external_id="StripeChargeID__c")
    # A single source path may be a scalar or a one-item list; the shorthand step is a name.
    assert flow.fields[0].sources == ["id"]
    assert flow.fields[1].sources == ["amount"]
    assert flow.fields[1].transforms == [
        TransformStep("minor_to_decimal", {"currency_path": "currency"})
    ]
    assert flow.fields[2].transforms == [TransformStep("coalesce"), TransformStep("trim")]
    assert flow.conditions == [Condition(ConditionOp.EQ, path="livemode", value=False)]
    fixture = flow.fixtures[0]
    assert fixture.input["amount"] == Decimal("12.50")
    assert isinstance(fixture.input["amount"], Decimal)
    assert fixture.input["created_on"] == dt.date(2026, 1, 1)
    assert fixture.expected == {"Amount__c": Decimal("0.1250"), "Name": "Café ☕"}


def test_dump_uses_the_human_key_order_and_block_style() -> None:
    text = dump_document(loads_document(GOOD))
    top = [line.split(":")[0] for line in text.splitlines() if line and not line[0].isspace()]
    assert top == ["format", "name", "value_maps", "flows"]
    flow_keys = [
        line.strip().lstrip("- ").split(":")[0]
        for line in text.split("flows:\n", 1)[1].splitlines()
        if line.startswith("  - ") or (line.startswith("    ") and not line.startswith("     "))
    ]
    assert flow_keys == [
        "name", "trigger", "source", "target", "operation",
        "conditions", "fields", "lookups", "defaults", "fixtures",
    ]  # fmt: skip
    assert "{" not in text and "&" not in text and "*" not in text
    assert "Café ☕" in text  # unicode kept, not escaped
    assert "      - target: StripeChargeID__c\n        source: id\n" in text
    assert "source:\n          - description\n          - id\n" in text
    assert "          - name: trim\n" in text  # no empty args
    assert "amount: !decimal '12.50'" in text


def test_shared_objects_are_written_without_anchors() -> None:
    shared = {"currency": "usd"}
    doc = MappingDocument(name="d", flows=[_flow("f", defaults={"A": shared, "B": shared})])
    text = dump_document(doc)
    assert "&" not in text and "*id" not in text
    assert loads_document(text) == doc


def test_multi_line_text_is_a_literal_block() -> None:
    doc = MappingDocument(name="d", description="first line\nsecond line\n")
    text = dump_document(doc)
    assert "description: |\n  first line\n  second line\n" in text
    assert loads_document(text) == doc


def test_save_and_load_a_file(tmp_path: Path) -> None:
    doc = loads_document(GOOD)
    target = tmp_path / "charges.yaml"
    save_document(doc, target)
    assert load_document(target) == doc
    assert load_document(str(target)) == doc
    assert load_documents(tmp_path) == [(target, doc)]


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match=r"nope\.yaml: cannot read the file"):
        load_document(tmp_path / "nope.yaml")
    with pytest.raises(DocumentError, match="the folder holds no mapping documents"):
        load_documents(tmp_path)


def test_the_published_schema_is_valid_draft_2020_12() -> None:
    schema = json.loads(schema_path().read_text())
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    # The dumped form of a good document validates against it as published.
    data = yaml.safe_load(dump_document(loads_document(GOOD)).replace("!decimal", ""))
    assert list(Draft202012Validator(schema).iter_errors(data)) == []


F = "  - name: charge-to-payment\n"


def _broken(old: str, new: str) -> str:
    assert old in GOOD, old
    return GOOD.replace(old, new, 1)


BROKEN = [
    pytest.param(
        _broken("      - target: Amount__c\n", "      - targte: Amount__c\n"),
        "charges.yaml: flow 'charge-to-payment', fields[1]: 'target' is required "
        "(and 1 more problem)",
        id="field-without-target",
    ),
    pytest.param(
        _broken("format: 1", "format: 7"),
        "charges.yaml: format 7 is newer than this Fieldbridge understands (1)",
        id="newer-format",
    ),
    pytest.param(
        _broken("format: 1", "format: 0"),
        "charges.yaml: format 0 is not a known format version",
        id="format-zero",
    ),
    pytest.param(
        _broken("format: 1", "format: one"),
        "charges.yaml: 'format' must be a whole number such as 1, not 'one'",
        id="format-not-a-number",
    ),
    pytest.param(
        _broken("format: 1\n", ""),
        "charges.yaml: 'format' is required (this Fieldbridge writes format 1)",
        id="format-missing",
    ),
    pytest.param(
        _broken("name: charges", "name: charges\n  bad: indent"),
        "charges.yaml: line 3, column 6: invalid YAML: mapping values are not allowed in this context",
        id="bad-yaml",
    ),
    pytest.param(
        _broken("value_maps:", "name: again\nvalue_maps:"),
        "charges.yaml: line 3, column 1: invalid YAML: duplicate key 'name'",
        id="duplicate-yaml-key",
    ),
    pytest.param("", "charges.yaml: the document is empty", id="empty"),
    pytest.param(
        "- a\n- b\n",
        "charges.yaml: a mapping document is a mapping with 'format', 'name' and 'flows', "
        "not a list",
        id="not-a-mapping",
    ),
    pytest.param(
        GOOD + GOOD[GOOD.index(F) :],
        "charges.yaml: flow 'charge-to-payment' is defined twice (flows[0] and flows[1])",
        id="duplicate-flow",
    ),
    pytest.param(
        _broken("      - target: Name\n", "      - target: Amount__c\n"),
        "charges.yaml: flow 'charge-to-payment', fields[2]: target 'Amount__c' is already "
        "mapped by fields[1]",
        id="duplicate-target-field",
    ),
    pytest.param(
        _broken("- {target: Account__c,", "- {target: Name,"),
        "charges.yaml: flow 'charge-to-payment', lookups[0]: target 'Name' is already mapped "
        "by fields[2]",
        id="lookup-on-a-mapped-field",
    ),
    pytest.param(
        _broken("trigger: {stripe_events: [charge.succeeded, charge.failed]}", "trigger: {}"),
        "charges.yaml: flow 'charge-to-payment', trigger: a trigger needs either "
        "'stripe_events' or 'salesforce_change'",
        id="trigger-neither",
    ),
    pytest.param(
        _broken(
            "trigger: {stripe_events: [charge.succeeded, charge.failed]}",
            "trigger: {stripe_events: [charge.succeeded], salesforce_change: {object: Account}}",
        ),
        "charges.yaml: flow 'charge-to-payment', trigger: a trigger has either "
        "'stripe_events' or 'salesforce_change', not both",
        id="trigger-both",
    ),
    pytest.param(
        _broken("[charge.succeeded, charge.failed]", "[Charge Succeeded]"),
        "charges.yaml: flow 'charge-to-payment', trigger.stripe_events[0]: a Stripe event "
        "type looks like 'charge.succeeded'",
        id="bad-event-type",
    ),
    pytest.param(
        _broken("action: upsert, external_id: StripeChargeID__c", "action: upsert"),
        "charges.yaml: flow 'charge-to-payment', operation: an upsert needs 'external_id' "
        "(the target field it matches on)",
        id="upsert-without-external-id",
    ),
    pytest.param(
        _broken("action: upsert,", "action: upsret,"),
        "charges.yaml: flow 'charge-to-payment', operation.action: 'upsret' is not one of: "
        "upsert, insert, update, create",
        id="unknown-action",
    ),
    pytest.param(
        _broken("            args: {currency_path", "            arg: {currency_path"),
        "charges.yaml: flow 'charge-to-payment', fields[1].transforms[0]: unknown key 'arg' "
        "(did you mean 'args'?); allowed keys: name, args",
        id="misspelt-transform-key",
    ),
    pytest.param(
        _broken("transforms: [coalesce, trim]", "transforms: [coalesce, 3]"),
        "charges.yaml: flow 'charge-to-payment', fields[2].transforms[1]: a transform step "
        "is a name ('trim') or a mapping {name: ..., args: {...}}",
        id="transform-step-not-a-name",
    ),
    pytest.param(
        _broken("source: [amount]", "source: {path: amount}"),
        "charges.yaml: flow 'charge-to-payment', fields[1].source: 'source' is one path or "
        "a list of paths",
        id="source-is-a-mapping",
    ),
    pytest.param(
        _broken("source: {system: stripe, object: charge}", "source: {system: hubspot, object: x}"),
        "charges.yaml: flow 'charge-to-payment', source.system: 'hubspot' is not one of: "
        "stripe, salesforce",
        id="unknown-system",
    ),
    pytest.param(
        _broken("- {path: livemode, op: eq, value: false}", "- {op: eq, value: false}"),
        "charges.yaml: flow 'charge-to-payment', conditions[0]: a condition needs 'path' "
        "(the source field it tests)",
        id="condition-without-path",
    ),
    pytest.param(
        _broken("- {path: livemode, op: eq, value: false}", "- {op: expr}"),
        "charges.yaml: flow 'charge-to-payment', conditions[0]: an 'expr' condition needs "
        "'expr' (a JSONata expression)",
        id="expr-condition-without-expr",
    ),
    pytest.param(
        _broken("      - name: paid\n", "      - name: paid\n        expect_skip: maybe\n"),
        "charges.yaml: flow 'charge-to-payment', fixtures[0].expect_skip: must be true or "
        "false, not a string",
        id="fixture-flag-not-boolean",
    ),
    pytest.param(
        _broken(
            "      - name: paid\n        input: {id: ch_1,",
            "      - name: paid\n        x: {id: ch_1,",
        ),
        "charges.yaml: flow 'charge-to-payment', fixtures[0]: 'input' is required "
        "(and 1 more problem)",
        id="fixture-without-input",
    ),
    pytest.param(
        _broken("name: charges", "name: charges\ncolour: blue"),
        "charges.yaml: unknown key 'colour'; allowed keys: format, name, description, "
        "value_maps, rates, flows",
        id="unknown-top-level-key",
    ),
    pytest.param(
        _broken("  - name: charge-to-payment", "  - name: charges/payments"),
        "charges.yaml: flow 'charges/payments', name: a name must not contain '/' or start "
        "or end with a space",
        id="slash-in-flow-name",
    ),
    pytest.param(
        _broken("value_maps:", "rates: {base: dollars}\nvalue_maps:"),
        "charges.yaml: rates.base: a currency is a three-letter ISO code such as 'usd'",
        id="bad-rates-base",
    ),
    pytest.param(
        _broken("amount: !decimal 12.50", "amount: !decimal twelve"),
        "charges.yaml: line 29, column 35: invalid YAML: 'twelve' is not a decimal number",
        id="bad-decimal",
    ),
]


@pytest.mark.parametrize(("text", "message"), BROKEN)
def test_each_broken_document_gets_its_own_message(text: str, message: str) -> None:
    with pytest.raises(DocumentError) as err:
        loads_document(text, "charges.yaml")
    assert str(err.value) == message


def test_the_reader_is_chosen_by_format(monkeypatch: pytest.MonkeyPatch) -> None:
    from mappings.document import yamlio

    seen: list[int] = []

    def read_v2(data: dict, source: str) -> MappingDocument:
        seen.append(data["format"])
        return MappingDocument(name=data["name"], format=2)

    monkeypatch.setitem(yamlio._READERS, 2, read_v2)
    doc = document_from_data({"format": 2, "name": "later"})
    assert (doc.format, seen) == (2, [2])
    with pytest.raises(DocumentError, match="format 3 is newer than this Fieldbridge understands"):
        document_from_data({"format": 3, "name": "x"})


def test_every_shipped_template_round_trips() -> None:
    folder = ROOT / "mappings" / "templates"
    files = sorted(folder.glob("*.yaml"))
    if not files:
        pytest.skip("no templates in this checkout yet")
    for path in files:
        doc = load_document(path)
        text = dump_document(doc)
        assert loads_document(text) == doc, path.name
        assert dump_document(loads_document(text)) == text, path.name


# --------------------------------------------------------------------------- generated


def _flow(name: str, **kwargs: object) -> Flow:
    return Flow(
        name=name,
        trigger=Trigger(stripe_events=["charge.succeeded"]),
        source=ObjectRef(System.STRIPE, "charge"),
        target=ObjectRef(System.SALESFORCE, "Payment__c"),
        operation=Operation(Action.INSERT),
        **kwargs,  # type: ignore[arg-type]
    )


names = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9 _.-]{0,10}[A-Za-z0-9])?", fullmatch=True)
idents = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,10}", fullmatch=True)
text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")) | st.sampled_from("\n\t "),
    max_size=20,
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False)
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.dates()
    | st.datetimes(timezones=st.none() | st.just(dt.UTC))
    | text
)
json_like = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)
json_object = st.dictionaries(text, json_like, max_size=3)

steps = st.builds(TransformStep, name=idents, args=st.dictionaries(idents, json_like, max_size=2))
triggers = st.builds(
    Trigger,
    stripe_events=st.lists(
        st.from_regex(r"[a-z_]{1,6}(\.[a-z_]{1,6}){1,2}", fullmatch=True), min_size=1, max_size=3
    ),
) | st.builds(
    lambda obj, fld, becomes: Trigger(salesforce_change=SalesforceChange(obj, fld, becomes)),
    idents,
    st.none() | idents,
    st.none() | json_like,
)
refs = st.builds(ObjectRef, system=st.sampled_from(System), object=idents)
operations = st.builds(
    Operation,
    action=st.sampled_from([Action.INSERT, Action.UPDATE, Action.CREATE]),
    external_id=st.none() | idents,
    dedup_on=st.lists(idents, max_size=2),
    writeback=st.none() | idents,
) | st.builds(
    Operation,
    action=st.just(Action.UPSERT),
    external_id=idents,
    dedup_on=st.lists(idents, max_size=2),
)
conditions = st.builds(
    Condition,
    op=st.sampled_from([op for op in ConditionOp if op is not ConditionOp.EXPR]),
    path=idents,
    value=json_like,
) | st.builds(Condition, op=st.just(ConditionOp.EXPR), expr=text.filter(bool))
field_mappings = st.builds(
    FieldMapping,
    target=idents.map(lambda s: "F" + s),
    sources=st.lists(idents, max_size=3),
    transforms=st.lists(steps, max_size=2),
    description=text,
)
lookups = st.builds(
    Lookup,
    target=idents.map(lambda s: "L" + s),
    object=idents,
    match_field=idents,
    source=idents,
    required=st.booleans(),
)
fixtures = st.builds(
    Fixture,
    name=names,
    input=json_object,
    expected=st.none() | json_object,
    expect_skip=st.booleans(),
    expected_issues=st.lists(idents, max_size=2),
    lookups=st.dictionaries(text, text, max_size=2),
)
flows = st.builds(
    Flow,
    name=names,
    trigger=triggers,
    source=refs,
    target=refs,
    operation=operations,
    description=text,
    fields=st.lists(field_mappings, max_size=4, unique_by=lambda m: m.target),
    lookups=st.lists(lookups, max_size=2, unique_by=lambda lk: lk.target),
    conditions=st.lists(conditions, max_size=2),
    defaults=json_object,
    fixtures=st.lists(fixtures, max_size=2, unique_by=lambda f: f.name),
)
rates = st.builds(
    RatesTable,
    base=st.from_regex(r"[a-z]{3}", fullmatch=True),
    rates=st.dictionaries(text, st.floats(min_value=1e-6, max_value=1e6), max_size=3),
    as_of=text,
)
documents = st.builds(
    MappingDocument,
    name=names,
    description=text,
    value_maps=st.dictionaries(text, json_object, max_size=2),
    rates=st.none() | rates,
    flows=st.lists(flows, max_size=3, unique_by=lambda f: f.name),
)


@pytest.mark.slow  # about 2 s on a busy 2-core machine
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_load_of_dump_is_the_same_document(doc: MappingDocument) -> None:
    text = dump_document(doc)
    again = loads_document(text)
    assert again == doc
    assert dump_document(again) == text
