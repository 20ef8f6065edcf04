"""Mapping suggestions: ranking by name, synonyms and type fit."""

from __future__ import annotations

import pytest

from mappings.schema.model import FieldKind, FieldSchema, ObjectSchema, System
from mappings.suggest import Suggestion, normalise, suggest_mappings

K = FieldKind


def obj(system: System, name: str, *fields: FieldSchema) -> ObjectSchema:
    return ObjectSchema(system, name, fields={f.path: f for f in fields})


def stripe_customer() -> ObjectSchema:
    return obj(
        System.STRIPE,
        "customer",
        FieldSchema("id", K.ID),
        FieldSchema("object", K.PICKLIST, enum_values=("customer",)),
        FieldSchema("email", K.STRING),
        FieldSchema("name", K.STRING),
        FieldSchema("phone", K.STRING),
        FieldSchema("description", K.STRING),
        FieldSchema("created", K.TIMESTAMP),
        FieldSchema("balance", K.INTEGER),
        FieldSchema("address", K.OBJECT),
        FieldSchema("address.city", K.STRING),
        FieldSchema("address.line1", K.STRING),
        FieldSchema("shipping.address.city", K.STRING),
        FieldSchema("shipping.name", K.STRING),
        FieldSchema("metadata", K.MAP, free_keys=True),
    )


def salesforce_account() -> ObjectSchema:
    return obj(
        System.SALESFORCE,
        "Account",
        FieldSchema("Id", K.ID, createable=False, updateable=False),
        FieldSchema("Name", K.STRING, length=255, required=True),
        FieldSchema("Phone", K.PHONE, length=40),
        FieldSchema("Email__c", K.EMAIL, length=80),
        FieldSchema("Description", K.TEXT),
        FieldSchema("BillingCity", K.STRING, length=40),
        FieldSchema("BillingStreet", K.TEXT),
        FieldSchema("ShippingCity", K.STRING, length=40),
        FieldSchema("StripeCustomerID__c", K.STRING, length=255, external_id=True),
        FieldSchema("Stripe_Created__c", K.DATETIME),
        FieldSchema("CreatedDate", K.DATETIME, createable=False, updateable=False),
        FieldSchema(
            "Formula_Name__c", K.STRING, createable=False, updateable=False, calculated=True
        ),
        FieldSchema("Balance_Date__c", K.DATE),
    )


def by_target(suggestions: list[Suggestion]) -> dict[str, Suggestion]:
    return {s.target_field: s for s in suggestions}


@pytest.mark.parametrize(
    ("name", "normalised"),
    [
        ("StripeCustomerID__c", "customer id"),
        ("billing_details.address.city", "billing details address city"),
        ("BillingPostalCode", "billing postal code"),
        ("ns__Description__c", "description"),
        ("items.data[].price.id", "items data price id"),
        ("Stripe", "stripe"),
    ],
)
def test_normalise(name: str, normalised: str) -> None:
    assert normalise(name) == normalised


def test_customer_to_account_ranks_the_obvious_pairs() -> None:
    suggestions = suggest_mappings(stripe_customer(), salesforce_account())
    found = by_target(suggestions)
    assert found["Name"].source_path == "name"
    assert found["Name"].score == max(s.score for s in suggestions)
    assert "synonym: name -> Name" in found["Name"].reasons
    assert found["Email__c"].source_path == "email"
    assert found["Phone"].source_path == "phone"
    assert found["Description"].source_path == "description"
    assert found["BillingCity"].source_path == "address.city"
    assert found["BillingStreet"].source_path == "address.line1"
    assert found["ShippingCity"].source_path == "shipping.address.city"
    assert found["StripeCustomerID__c"].source_path == "id"


def test_timestamp_to_datetime_suggests_the_conversion() -> None:
    found = by_target(suggest_mappings(stripe_customer(), salesforce_account()))
    created = found["Stripe_Created__c"]
    assert created.source_path == "created"
    assert [t.name for t in created.transforms] == ["unix_to_datetime"]
    assert "types: timestamp -> datetime via unix_to_datetime" in created.reasons


def test_read_only_targets_and_noise_sources_are_skipped() -> None:
    suggestions = suggest_mappings(stripe_customer(), salesforce_account())
    targets = {s.target_field for s in suggestions}
    assert not targets & {"Id", "CreatedDate", "Formula_Name__c"}
    assert all(s.source_path not in ("object", "address", "metadata") for s in suggestions)


def test_one_suggestion_per_target_sorted_by_score() -> None:
    suggestions = suggest_mappings(stripe_customer(), salesforce_account())
    targets = [s.target_field for s in suggestions]
    assert len(targets) == len(set(targets))
    scores = [s.score for s in suggestions]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert all(s.reasons for s in suggestions)


def test_limit() -> None:
    assert len(suggest_mappings(stripe_customer(), salesforce_account(), limit=3)) == 3
    with pytest.raises(ValueError, match="limit must be at least 1"):
        suggest_mappings(stripe_customer(), salesforce_account(), limit=0)


def test_amount_into_currency_suggests_minor_to_decimal() -> None:
    charge = obj(
        System.STRIPE,
        "charge",
        FieldSchema("amount", K.INTEGER),
        FieldSchema("currency", K.STRING),
        FieldSchema("status", K.PICKLIST, enum_values=("succeeded", "pending", "failed")),
    )
    payment = obj(
        System.SALESFORCE,
        "Payment__c",
        FieldSchema("Amount__c", K.CURRENCY, precision=18, scale=2),
        FieldSchema(
            "Status__c",
            K.PICKLIST,
            enum_values=("Completed", "Pending", "Failed"),
            restricted=True,
        ),
    )
    found = by_target(suggest_mappings(charge, payment))
    amount = found["Amount__c"]
    assert amount.source_path == "amount"
    assert amount.transforms[0].name == "minor_to_decimal"
    assert amount.transforms[0].args == {"currency_path": "currency"}
    status = found["Status__c"]
    assert status.transforms[0].name == "map"
    assert "via map" in status.reasons[-1]


def test_picklist_map_by_value_similarity() -> None:
    source = obj(
        System.STRIPE, "x", FieldSchema("state", K.PICKLIST, enum_values=("open", "closed"))
    )
    target = obj(
        System.SALESFORCE,
        "Y__c",
        FieldSchema("State__c", K.PICKLIST, enum_values=("Open", "Closed")),
    )
    (only,) = suggest_mappings(source, target)
    assert only.transforms[0].args == {"values": {"open": "Open", "closed": "Closed"}}


def test_incompatible_types_are_not_suggested() -> None:
    source = obj(
        System.STRIPE, "x", FieldSchema("paid", K.BOOLEAN), FieldSchema("amount", K.INTEGER)
    )
    target = obj(
        System.SALESFORCE,
        "Y__c",
        FieldSchema("Paid__c", K.DATETIME),
        FieldSchema("Amount__c", K.REFERENCE),
    )
    assert suggest_mappings(source, target) == []


def test_salesforce_to_stripe_carries_the_id_in_metadata() -> None:
    found = by_target(suggest_mappings(salesforce_account(), stripe_customer()))
    assert found["name"].source_path == "Name"
    assert found["address.city"].source_path == "BillingCity"
    assert found["shipping.address.city"].source_path == "ShippingCity"
    assert found["metadata.salesforceid"].source_path == "Id"


def test_deterministic_and_serialisable() -> None:
    first = [s.to_dict() for s in suggest_mappings(stripe_customer(), salesforce_account())]
    again = [s.to_dict() for s in suggest_mappings(stripe_customer(), salesforce_account())]
    assert first == again
    created = next(d for d in first if d["target_field"] == "Stripe_Created__c")
    assert created["transforms"] == [{"name": "unix_to_datetime", "args": {}}]
    assert set(created) == {"source_path", "target_field", "score", "reasons", "transforms"}


def test_real_catalogs_charge_to_payment() -> None:
    try:
        from mappings.schema.org_metadata import load_salesforce_catalog
        from mappings.schema.stripe_catalog import load_stripe_catalog
    except ImportError:
        pytest.skip("schema catalogs not available")
    charge = load_stripe_catalog().get("charge")
    payment = load_salesforce_catalog().get("Payment__c")
    if charge is None or payment is None:
        pytest.skip("charge or Payment__c not in the catalogs")
    found = by_target(suggest_mappings(charge, payment))
    assert found["Amount__c"].source_path == "amount"
    assert found["StripeChargeID__c"].source_path == "id"
    assert found["Currency__c"].source_path == "currency"
