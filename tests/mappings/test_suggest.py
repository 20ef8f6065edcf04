"""Mapping suggestions: ranking by name, synonyms and type fit."""

from __future__ import annotations

import pytest

from mappings.schema.model import Catalog, FieldKind, FieldSchema, ObjectSchema, System
from mappings.suggest import (
    LookupSuggestion,
    Suggestion,
    normalise,
    suggest_lookups,
    suggest_mappings,
)

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
    # Both address lines: the whole address, flattened to its street part.
    assert found["BillingStreet"].source_path == "address"
    assert [(t.name, t.args) for t in found["BillingStreet"].transforms] == [
        ("flatten_address", {"part": "street"})
    ]
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
    assert all(s.source_path not in ("object", "metadata") for s in suggestions)
    # An object is only ever suggested through a transform that flattens it.
    assert all(s.transforms for s in suggestions if s.source_path == "address")


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
        # The catalog derives this fact from the SDK's docs ("in cents"); a hand-built
        # schema states it.
        FieldSchema("amount", K.INTEGER, minor_units_currency="currency"),
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


# --------------------------------------------------------------------------- nonsense pairs


def pairs(suggestions: list[Suggestion]) -> set[tuple[str, str]]:
    return {(s.source_path, s.target_field) for s in suggestions}


@pytest.fixture(scope="module")
def catalogs() -> tuple[Catalog, Catalog]:
    from mappings.schema.org_metadata import load_salesforce_catalog
    from mappings.schema.stripe_catalog import load_stripe_catalog

    return load_stripe_catalog(), load_salesforce_catalog()


@pytest.mark.parametrize(
    ("source", "target", "wrong"),
    [
        ("customer", "Contact", ("discount.id", "AccountId")),
        ("customer", "Contact", ("default_source", "LeadSource")),
        ("customer", "Contact", ("individual_name", "IndividualId")),
        ("customer", "Account", ("customer_account", "AccountNumber")),
        ("customer", "Account", ("discount.source.type", "Type")),
        ("charge", "Payment__c", ("source.account", "Account__c")),
        ("charge", "Payment__c", ("payment_method", "Payment_Method_Type__c")),
        ("dispute", "Case", ("payment_method_details.type", "Type")),
        ("invoice", "Order", ("amount_shipping", "ShippingLongitude")),
        ("invoice", "Order", ("customer_shipping.address.city", "BillingCity")),
        (
            "subscription",
            "Subscription_Contract__c",
            ("payment_settings.payment_method_options.card.mandate_options.amount", "Amount__c"),
        ),
    ],
)
def test_real_catalogs_nonsense_pairs_are_not_suggested(
    catalogs: tuple[Catalog, Catalog], source: str, target: str, wrong: tuple[str, str]
) -> None:
    stripe, salesforce = catalogs
    suggestions = suggest_mappings(stripe[source], salesforce[target])
    assert suggestions, "the good pairs should still be there"
    assert wrong not in pairs(suggestions)


def test_real_catalogs_customer_to_contact_keeps_the_good_pairs(
    catalogs: tuple[Catalog, Catalog],
) -> None:
    stripe, salesforce = catalogs
    found = by_target(suggest_mappings(stripe["customer"], salesforce["Contact"]))
    assert found["Email"].source_path == "email"
    assert found["Phone"].source_path == "phone"
    assert found["StripeCustomerID__c"].source_path == "id"
    assert found["MailingCity"].source_path == "address.city"
    assert found["FirstName"].source_path == "name"
    assert found["FirstName"].transforms[0].args == {"part": "first"}
    # No Salesforce reference (AccountId, IndividualId, OwnerId...) is filled by a field.
    contact = salesforce["Contact"]
    assert all(contact.fields[t].kind is not K.REFERENCE for t in found)


def test_real_catalogs_customer_to_account_suggests_the_account_lookup(
    catalogs: tuple[Catalog, Catalog],
) -> None:
    stripe, salesforce = catalogs
    (lookup,) = suggest_lookups(stripe["charge"], salesforce["Payment__c"], salesforce)
    assert (lookup.lookup.target, lookup.lookup.object) == ("Account__c", "Account")
    assert (lookup.lookup.match_field, lookup.lookup.source) == ("StripeCustomerID__c", "customer")
    # Contact.AccountId from the customer's own id; not ReportsToId/OwnerId/IndividualId.
    found = suggest_lookups(stripe["customer"], salesforce["Contact"], salesforce)
    assert [(s.lookup.target, s.lookup.source) for s in found] == [("AccountId", "id")]


# --------------------------------------------------------------------------- each rule


def test_reference_target_takes_no_field_but_a_lookup() -> None:
    charge = obj(
        System.STRIPE,
        "charge",
        FieldSchema("id", K.ID),
        FieldSchema("customer", K.REFERENCE, reference_to=("customer",), expandable=True),
        FieldSchema("discount.id", K.STRING),
        FieldSchema("application", K.REFERENCE, reference_to=("application",)),
    )
    payment = obj(
        System.SALESFORCE,
        "Payment__c",
        FieldSchema("Account__c", K.REFERENCE, reference_to=("Account",)),
        FieldSchema("AccountId", K.REFERENCE, reference_to=("Account",)),
        FieldSchema("OwnerId", K.REFERENCE, reference_to=("User",)),
        FieldSchema("StripeCustomerID__c", K.STRING),
    )
    found = by_target(suggest_mappings(charge, payment))
    assert set(found) == {"StripeCustomerID__c"}
    assert found["StripeCustomerID__c"].source_path == "customer"
    assert "same object: both hold a Stripe customer id" in found["StripeCustomerID__c"].reasons

    lookups = suggest_lookups(charge, payment)
    assert {s.lookup.target for s in lookups} == {"Account__c", "AccountId"}
    first = lookups[0]
    assert isinstance(first, LookupSuggestion)
    assert (first.lookup.object, first.lookup.source) == ("Account", "customer")
    # No catalog given: the external id field is named by convention, and the reason says so.
    assert first.lookup.match_field == "StripeCustomerID__c"
    assert any("assumed" in r for r in first.reasons)
    assert set(first.to_dict()) == {
        "target",
        "object",
        "match_field",
        "source",
        "required",
        "score",
        "reasons",
    }


def test_lookup_needs_an_external_id_in_the_catalog() -> None:
    charge = obj(
        System.STRIPE,
        "charge",
        FieldSchema("customer", K.REFERENCE, reference_to=("customer",)),
    )
    payment = obj(
        System.SALESFORCE,
        "Payment__c",
        FieldSchema("Account__c", K.REFERENCE, reference_to=("Account",)),
    )
    no_key = Catalog(System.SALESFORCE)
    no_key.add(obj(System.SALESFORCE, "Account", FieldSchema("Name", K.STRING)))
    assert suggest_lookups(charge, payment, no_key) == []
    keyed = Catalog(System.SALESFORCE)
    keyed.add(
        obj(
            System.SALESFORCE,
            "Account",
            FieldSchema("Stripe_Customer_Id__c", K.STRING, external_id=True),
        )
    )
    (only,) = suggest_lookups(charge, payment, keyed)
    assert only.lookup.match_field == "Stripe_Customer_Id__c"
    assert suggest_lookups(payment, charge) == []  # only Stripe -> Salesforce
    with pytest.raises(ValueError, match="limit must be at least 1"):
        suggest_lookups(charge, payment, limit=0)


def test_id_words_alone_make_no_match() -> None:
    source = obj(
        System.STRIPE,
        "customer",
        FieldSchema("individual_name", K.STRING),
        FieldSchema("discount.id", K.STRING),
        FieldSchema("invoice_prefix", K.STRING),
    )
    target = obj(
        System.SALESFORCE,
        "Contact",
        FieldSchema("Individual_Id__c", K.STRING),  # a text field, so no reference rule
        FieldSchema("Account_Id__c", K.STRING),
        FieldSchema("Invoice_Prefix__c", K.STRING),
    )
    assert pairs(suggest_mappings(source, target)) == {("invoice_prefix", "Invoice_Prefix__c")}


def test_id_pairs_only_with_an_id_of_the_same_object() -> None:
    source = obj(
        System.STRIPE,
        "charge",
        FieldSchema("id", K.ID),
        FieldSchema("payment_method", K.STRING, description="ID of the payment method used."),
        FieldSchema("payment_method_details.type", K.STRING),
        FieldSchema("customer_account", K.STRING, description="The ID of an Account."),
    )
    target = obj(
        System.SALESFORCE,
        "Payment__c",
        FieldSchema("StripeChargeID__c", K.STRING, external_id=True),
        FieldSchema("StripeCustomerID__c", K.STRING),
        FieldSchema("Payment_Method_Type__c", K.STRING),
        FieldSchema("AccountNumber", K.STRING),
    )
    assert pairs(suggest_mappings(source, target)) == {
        ("id", "StripeChargeID__c"),
        ("payment_method_details.type", "Payment_Method_Type__c"),
    }


@pytest.mark.parametrize(
    ("source_field", "suggested"),
    [
        # a string with no known values: nothing says the values fit
        (FieldSchema("status", K.STRING), False),
        # values that meet none of the target's
        (FieldSchema("status", K.PICKLIST, enum_values=("warning_closed", "won", "lost")), False),
        # values read from the description (the SDK types payout.status as a plain str)
        (
            FieldSchema(
                "status",
                K.STRING,
                description="Current status: `paid`, `pending`, `in_transit` or `failed`.",
            ),
            True,
        ),
        (FieldSchema("status", K.PICKLIST, enum_values=("past_due", "unpaid")), True),
    ],
)
def test_picklist_target_needs_values_that_meet(source_field: FieldSchema, suggested: bool) -> None:
    source = obj(System.STRIPE, "x", source_field)
    target = obj(
        System.SALESFORCE,
        "Y__c",
        FieldSchema(
            "Status__c",
            K.PICKLIST,
            enum_values=("Paid", "Pending", "In Transit", "Failed", "Past Due", "Unpaid"),
            restricted=True,
        ),
    )
    found = suggest_mappings(source, target)
    assert bool(found) is suggested
    if suggested:
        (only,) = found
        step = only.transforms[0]
        assert step.name == "map"
        assert all(
            v in target.fields["Status__c"].enum_values for v in step.args["values"].values()
        )
        assert step.args["values"].get("paid", "Paid") == "Paid"


def test_lookalike_values_of_opposite_meaning_are_no_overlap() -> None:
    # "paid"/"unpaid" and "complete"/"incomplete" are 80-89% alike and mean the opposite.
    source = obj(
        System.STRIPE,
        "invoice",
        FieldSchema("status", K.PICKLIST, enum_values=("paid", "complete", "void")),
    )
    target = obj(
        System.SALESFORCE,
        "Y__c",
        FieldSchema("Status__c", K.PICKLIST, enum_values=("Unpaid", "Incomplete", "Active")),
    )
    assert suggest_mappings(source, target) == []


def test_described_values_are_mapped_one_by_one() -> None:
    source = obj(
        System.STRIPE,
        "payout",
        FieldSchema(
            "status", K.STRING, description="Possible values are `paid`, `in_transit` or `failed`."
        ),
    )
    target = obj(
        System.SALESFORCE,
        "Payout__c",
        FieldSchema("Status__c", K.PICKLIST, enum_values=("Paid", "In Transit", "Failed")),
    )
    (only,) = suggest_mappings(source, target)
    assert only.transforms[0].args == {
        "values": {"paid": "Paid", "in_transit": "In Transit", "failed": "Failed"}
    }
    assert "values from its description" in only.reasons[-1]


def test_paths_nested_in_unrelated_objects_rank_below_direct_fields() -> None:
    source = obj(
        System.STRIPE,
        "subscription",
        FieldSchema("description", K.STRING),
        FieldSchema("invoice_settings.footer", K.STRING),
        FieldSchema(
            "payment_settings.payment_method_options.card.mandate_options.amount", K.INTEGER
        ),
        FieldSchema("discount.coupon.name", K.STRING),
        FieldSchema("payment_method_details.card.brand", K.STRING),
    )
    target = obj(
        System.SALESFORCE,
        "Subscription_Contract__c",
        FieldSchema("Description__c", K.STRING),
        FieldSchema("Footer__c", K.STRING),
        FieldSchema("Amount__c", K.CURRENCY),
        FieldSchema("Name", K.STRING),
        FieldSchema("Card_Brand__c", K.STRING),
    )
    found = by_target(suggest_mappings(source, target))
    # deep in objects the target names do not mention: gone
    assert "Amount__c" not in found and "Name" not in found
    # one unrelated level: still offered, but below every direct or related field
    footer = found["Footer__c"]
    assert any("nested in invoice_settings" in r for r in footer.reasons)
    assert footer.score < found["Description__c"].score
    # a container the target does name (card) costs nothing beyond depth
    assert found["Card_Brand__c"].score > footer.score


def test_shipping_address_never_fills_billing_fields() -> None:
    source = obj(
        System.STRIPE,
        "invoice",
        FieldSchema("customer_shipping.address.city", K.STRING),
        FieldSchema("customer_address.city", K.STRING),
    )
    target = obj(
        System.SALESFORCE,
        "Order",
        FieldSchema("BillingCity", K.STRING),
        FieldSchema("ShippingCity", K.STRING),
    )
    found = by_target(suggest_mappings(source, target))
    assert found["BillingCity"].source_path == "customer_address.city"
    assert found["ShippingCity"].source_path == "customer_shipping.address.city"


def test_noise_fields_only_into_their_namesake() -> None:
    source = obj(System.STRIPE, "charge", FieldSchema("livemode", K.BOOLEAN))
    target = obj(
        System.SALESFORCE,
        "Payment__c",
        FieldSchema("Livemode__c", K.BOOLEAN),
        FieldSchema("Live__c", K.BOOLEAN),
    )
    assert pairs(suggest_mappings(source, target)) == {("livemode", "Livemode__c")}


def test_salesforce_ids_go_to_metadata_of_the_object_they_stand_for() -> None:
    opportunity = obj(
        System.SALESFORCE,
        "Opportunity",
        FieldSchema("Id", K.ID, createable=False, updateable=False),
        FieldSchema("AccountId", K.REFERENCE, reference_to=("Account",)),
        FieldSchema("OwnerId", K.REFERENCE, reference_to=("User",)),
        FieldSchema("StripeCustomerID__c", K.STRING),
    )
    customer = stripe_customer()
    customer.fields["discount.id"] = FieldSchema("discount.id", K.STRING)
    customer.fields["discount.customer"] = FieldSchema(
        "discount.customer", K.REFERENCE, reference_to=("customer",)
    )
    found = pairs(suggest_mappings(opportunity, customer))
    assert ("AccountId", "metadata.salesforceid") in found
    assert ("Id", "metadata.salesforce_opportunity_id") in found
    # a Salesforce Id is no Stripe id, and a customer's nested references to itself are
    # Stripe's to set
    assert not {t for s, t in found if s in ("AccountId", "OwnerId") and "metadata" not in t}
    assert ("StripeCustomerID__c", "discount.customer") not in found
