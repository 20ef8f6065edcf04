"""Parsing Salesforce describe JSON, and the describes we ship (recorded and written)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mappings.errors import SchemaError
from mappings.schema.model import FieldKind, System
from mappings.schema.salesforce_describe import (
    FIELD_KEYS,
    describe_field,
    describe_object,
    parse_describe,
    parse_field,
)

DATA = Path(__file__).resolve().parents[2] / "mappings" / "data" / "salesforce"
RECORDED = ("Account", "Contact", "Opportunity", "Lead", "Case")
WRITTEN = {
    "Order": "801",
    "OrderItem": "802",
    "Product2": "01t",
    "Pricebook2": "01s",
    "PricebookEntry": "01u",
    "OpportunityLineItem": "00k",
    "User": "005",
    "Payment__c": "a0A",
    "Subscription_Contract__c": "a0B",
    "Payout__c": "a0C",
}


def _describe(name: str) -> dict:
    return json.loads((DATA / f"{name}.describe.json").read_text())


def _raw_field(describe: dict, name: str) -> dict:
    return next(f for f in describe["fields"] if f["name"] == name)


@pytest.fixture(scope="module")
def account() -> dict:
    return _describe("Account")


@pytest.mark.parametrize("name", [*RECORDED, *WRITTEN])
def test_every_shipped_describe_parses(name: str) -> None:
    raw = _describe(name)
    schema = parse_describe(raw)
    assert schema.system is System.SALESFORCE
    assert schema.name == name
    assert list(schema.fields) == [f["name"] for f in raw["fields"]]
    assert schema.field("Id").kind is FieldKind.ID


@pytest.mark.parametrize("name", list(WRITTEN))
def test_written_describes_carry_the_recorded_format(name: str, account: dict) -> None:
    written = _describe(name)
    assert set(written) == set(account)
    field_keys = set(account["fields"][0])
    for field in written["fields"]:
        assert set(field) == field_keys, field["name"]
    assert set(written["urls"]) == set(account["urls"])
    assert written["urls"]["describe"].endswith(f"/sobjects/{name}/describe")
    assert written["recordTypeInfos"][0]["master"] is True


@pytest.mark.parametrize(("name", "prefix"), list(WRITTEN.items()))
def test_written_key_prefixes_and_custom_flag(name: str, prefix: str) -> None:
    schema = parse_describe(_describe(name))
    assert schema.key_prefix == prefix
    assert schema.custom is name.endswith("__c")


def test_written_prefixes_are_distinct_from_each_other_and_the_recorded_ones() -> None:
    prefixes = [parse_describe(_describe(n)).key_prefix for n in [*RECORDED, *WRITTEN]]
    assert len(set(prefixes)) == len(prefixes)


def test_field_key_list_matches_the_recorded_describe(account: dict) -> None:
    assert tuple(sorted(account["fields"][0])) == FIELD_KEYS


def test_account_facts(account: dict) -> None:
    schema = parse_describe(account)
    name = schema.field("Name")
    assert name.required and name.kind is FieldKind.STRING and name.length == 255
    assert schema.field("Id").required is False  # not createable
    owner = schema.field("OwnerId")
    assert not owner.nullable and owner.default_on_create and not owner.required
    assert owner.reference_to == ("User",) and owner.relationship_name == "Owner"
    assert schema.field("BillingStreet").kind is FieldKind.TEXT
    assert schema.field("BillingAddress").kind is FieldKind.OBJECT
    assert schema.field("Website").kind is FieldKind.URL
    assert schema.field("NumberOfEmployees").kind is FieldKind.INTEGER
    assert schema.field("NumberOfEmployees").precision == 8  # from 'digits'
    assert schema.field("AnnualRevenue").kind is FieldKind.CURRENCY
    assert schema.field("PhotoUrl").createable is False
    assert "Customer - Direct" in schema.field("Type").enum_values
    assert schema.field("Type").restricted is False
    assert schema.key_prefix == "001"
    assert schema.find("billingcity") is schema.field("BillingCity")


def test_opportunity_facts() -> None:
    schema = parse_describe(_describe("Opportunity"))
    assert {f.path for f in schema.required_fields()} == {"Name", "StageName", "CloseDate"}
    amount = schema.field("Amount")
    assert (amount.precision, amount.scale) == (18, 2)
    assert "Closed Won" in schema.field("StageName").enum_values
    forecast = schema.field("ForecastCategoryName")
    assert forecast.restricted and "Pipeline" in forecast.enum_values
    assert schema.field("Probability").kind is FieldKind.PERCENT
    assert schema.field("CloseDate").kind is FieldKind.DATE


def test_payment_facts() -> None:
    schema = parse_describe(_describe("Payment__c"))
    assert schema.custom and schema.label == "Payment"
    status = schema.field("Status__c")
    assert status.restricted and status.required
    assert status.enum_values == ("Completed", "Failed", "Pending", "Refunded",
                                  "Requires Action", "Canceled")
    account_ref = schema.field("Account__c")
    assert account_ref.kind is FieldKind.REFERENCE
    assert account_ref.reference_to == ("Account",)
    assert account_ref.relationship_name == "Account__r"
    assert account_ref.nullable and not account_ref.required
    charge = schema.field("StripeChargeID__c")
    assert charge.external_id and charge.unique and charge.id_lookup and charge.required
    amount = schema.field("Amount__c")
    assert amount.kind is FieldKind.CURRENCY and (amount.precision, amount.scale) == (16, 2)
    assert amount.required
    assert schema.field("Currency__c").length == 3
    assert schema.field("Card_Last4__c").length == 4
    assert schema.field("Livemode__c").kind is FieldKind.BOOLEAN
    assert not schema.field("Livemode__c").required  # checkboxes default to false
    assert schema.field("Receipt_Email__c").kind is FieldKind.EMAIL
    assert schema.field("Paid_At__c").kind is FieldKind.DATETIME
    assert schema.field("Payout__c").reference_to == ("Payout__c",)
    assert schema.field("Name").required and schema.field("Name").length == 80
    assert {f.path for f in schema.required_fields()} == {
        "Name", "StripeChargeID__c", "Amount__c", "Currency__c", "Status__c"
    }
    for audit in ("CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById",
                  "SystemModstamp", "IsDeleted", "OwnerId"):
        assert not schema.field(audit).required, audit
    assert schema.field("OwnerId").reference_to == ("Group", "User")


def test_subscription_contract_and_payout_facts() -> None:
    sub = parse_describe(_describe("Subscription_Contract__c"))
    assert sub.field("Status__c").enum_values[-1] == "Paused"
    assert sub.field("Interval__c").enum_values == ("day", "week", "month", "year")
    assert sub.field("Quantity__c").kind is FieldKind.NUMBER
    assert (sub.field("Quantity__c").precision, sub.field("Quantity__c").scale) == (18, 0)
    assert sub.field("StripeSubscriptionID__c").external_id
    payout = parse_describe(_describe("Payout__c"))
    assert payout.field("Amount__c").required
    assert "In Transit" in payout.field("Status__c").enum_values
    assert payout.field("Arrival_Date__c").kind is FieldKind.DATE


def test_standard_written_objects_facts() -> None:
    order = parse_describe(_describe("Order"))
    assert {f.path for f in order.required_fields()} == {"AccountId", "EffectiveDate", "Status"}
    assert order.field("Status").restricted
    assert order.field("OrderNumber").createable is False
    item = parse_describe(_describe("OrderItem"))
    assert item.field("OrderId").updateable is False
    assert "OwnerId" not in item
    entry = parse_describe(_describe("PricebookEntry"))
    assert entry.field("Product2Id").reference_to == ("Product2",)
    user = parse_describe(_describe("User"))
    assert user.field("Username").unique and user.field("Username").required
    assert user.field("TimeZoneSidKey").restricted


def test_recorded_describes_stay_as_recorded() -> None:
    # The recorded files are data from a real org; we only ever add through the overlay.
    for name in RECORDED:
        raw = _describe(name)
        assert not any(f["name"].startswith("Stripe") for f in raw["fields"]), name


@pytest.mark.parametrize(
    ("describe", "message"),
    [
        ({"fields": []}, "no object 'name'"),
        ({"name": "", "fields": []}, "no object 'name'"),
        ({"name": "X__c"}, "has no 'fields' list"),
        ({"name": "X__c", "fields": {"a": 1}}, "has no 'fields' list"),
        ({"name": "X__c", "fields": ["Id"]}, "fields[0] is not a JSON object"),
        ({"name": "X__c", "fields": [{"type": "id"}]}, "fields[0] has no 'name'"),
        (["not", "a", "dict"], "must be a JSON object"),
    ],
)
def test_bad_describes_raise_schema_error(describe: object, message: str) -> None:
    with pytest.raises(SchemaError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_describe(describe)  # type: ignore[arg-type]


def test_odd_fields_do_not_crash() -> None:
    odd = {
        "name": "Odd__c",
        "fields": [
            {"name": "Id", "type": "id"},
            {"name": "Future__c", "type": "someNewType", "length": "?", "picklistValues": None},
            {"name": "Bare__c"},
            {"name": "Pick__c", "type": "picklist",
             "picklistValues": [{"value": "A", "active": True}, {"value": "B", "active": False},
                                "junk", {"label": "no value"}]},
            {"name": "Combo__c", "type": "combobox", "restrictedPicklist": True,
             "picklistValues": [{"value": "X"}]},
        ],
    }
    schema = parse_describe(odd)
    assert schema.field("Future__c").kind is FieldKind.ANY
    assert schema.field("Future__c").length is None
    assert schema.field("Bare__c").kind is FieldKind.ANY
    assert schema.field("Pick__c").enum_values == ("A",)  # inactive values are not accepted
    assert schema.field("Combo__c").kind is FieldKind.PICKLIST
    assert schema.field("Combo__c").restricted is False  # a combobox takes free text
    assert schema.key_prefix is None and schema.custom is True


@pytest.mark.parametrize(
    ("sf_type", "kind"),
    [("string", FieldKind.STRING), ("textarea", FieldKind.TEXT), ("email", FieldKind.EMAIL),
     ("phone", FieldKind.PHONE), ("url", FieldKind.URL), ("id", FieldKind.ID),
     ("reference", FieldKind.REFERENCE), ("boolean", FieldKind.BOOLEAN),
     ("int", FieldKind.INTEGER), ("double", FieldKind.NUMBER), ("currency", FieldKind.CURRENCY),
     ("percent", FieldKind.PERCENT), ("date", FieldKind.DATE), ("datetime", FieldKind.DATETIME),
     ("time", FieldKind.TIME), ("picklist", FieldKind.PICKLIST),
     ("multipicklist", FieldKind.MULTIPICKLIST), ("address", FieldKind.OBJECT),
     ("location", FieldKind.OBJECT), ("base64", FieldKind.STRING),
     ("encryptedstring", FieldKind.STRING), ("anyType", FieldKind.ANY)],
)
def test_type_table(sf_type: str, kind: FieldKind) -> None:
    parsed = parse_field(describe_field({"name": "F__c", "type": sf_type}))
    assert parsed.kind is kind
    assert parsed.native_type == sf_type


def test_required_rule_from_describe_flags() -> None:
    base = {"name": "F__c", "type": "string"}
    assert parse_field({**base, "nillable": False, "createable": True}).required
    assert not parse_field({**base, "nillable": True, "createable": True}).required
    assert not parse_field({**base, "nillable": False, "createable": False}).required
    assert not parse_field(
        {**base, "nillable": False, "createable": True, "defaultedOnCreate": True}
    ).required


def test_inline_help_becomes_description() -> None:
    field = describe_field({"name": "F__c", "type": "string", "description": "Why it exists"})
    assert field["inlineHelpText"] == "Why it exists"
    assert parse_field(field).description == "Why it exists"


def test_describe_field_imitates_recorded_fields(account: dict) -> None:
    """The short form reproduces real fields of the recorded Account, key for key."""
    cases = {
        "Phone": {"type": "phone", "label": "Account Phone"},
        "Website": {"type": "url", "label": "Website", "length": 255},
        "CreatedById": {"type": "reference", "label": "Created By ID", "referenceTo": "User",
                        "nillable": False, "createable": False, "defaultedOnCreate": True},
        "ParentId": {"type": "reference", "label": "Parent Account ID", "referenceTo": "Account"},
        "IsDeleted": {"type": "boolean", "label": "Deleted", "createable": False},
        "Description": {"type": "textarea", "label": "Account Description"},
    }
    for name, spec in cases.items():
        real = _raw_field(account, name)
        built = describe_field({"name": name, **spec})
        built["relationshipName"] = real["relationshipName"]  # Parent vs ParentId naming
        assert built == real, name


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"type": "string"}, "no 'name'"),
        ({"name": "F__c", "type": "strnig"}, "unknown Salesforce field type 'strnig'"),
        ({"name": "F__c"}, "unknown Salesforce field type None"),
        ({"name": "F__c", "type": "string", "lenght": 3}, "unknown key"),
        ({"name": "F__c", "type": "string", "length": -1}, "non-negative integer"),
        ({"name": "F__c", "type": "picklist", "picklistValues": [""]}, "non-empty string"),
    ],
)
def test_describe_field_rejects_bad_specs(spec: dict, message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        describe_field(spec)


def test_describe_object_rejects_duplicates_and_unknown_flags() -> None:
    fields = [{"name": "Id", "type": "id"}, {"name": "Id", "type": "id"}]
    with pytest.raises(SchemaError, match="duplicate field"):
        describe_object("X__c", label="X", label_plural="Xs", key_prefix="a0X", fields=fields)
    with pytest.raises(SchemaError, match="unknown describe key"):
        describe_object("X__c", label="X", label_plural="Xs", key_prefix="a0X",
                        fields=fields[:1], shiny=True)
