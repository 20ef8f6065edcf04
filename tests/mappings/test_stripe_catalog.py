"""The Stripe catalog read from the installed SDK: objects, fields, kinds, event types."""

from __future__ import annotations

import importlib.util
import os
import re
from typing import Any

import pytest
from stripe._api_version import _ApiVersion

from mappings.errors import UnknownObjectError
from mappings.schema.model import Catalog, FieldKind, ObjectSchema, System
from mappings.schema.stripe_catalog import (
    CORE_OBJECTS,
    DEFAULT_OBJECTS,
    build_stripe_catalog,
    load_stripe_catalog,
    new_sdk_source,
    object_for_event_type,
    sdk_api_version,
    sdk_object_classes,
    stripe_object_names,
)
from mappings.schema.stripe_fields import DEFAULT_MAX_DEPTH, MINOR_UNITS_NOTE, is_timestamp
from mappings.schema.stripe_source import ClassRef


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_stripe_catalog()


@pytest.fixture(scope="module")
def charge(catalog: Catalog) -> ObjectSchema:
    return catalog["charge"]


# -- the catalog as a whole --------------------------------------------------------------------

# Lower bounds, well under what stripe 16 declares, so a new SDK does not break them.
MIN_FIELDS = {
    "customer": 30,
    "payment_intent": 60,
    "charge": 100,
    "refund": 20,
    "subscription": 60,
    "subscription_item": 15,
    "invoice": 100,
    "line_item": 20,
    "product": 15,
    "price": 20,
    "balance_transaction": 12,
    "payout": 20,
    "dispute": 30,
    "radar.early_fraud_warning": 6,
    "event": 10,
}


@pytest.mark.parametrize("name", CORE_OBJECTS)
def test_every_core_object_is_described(catalog: Catalog, name: str) -> None:
    obj = catalog[name]
    assert obj.system is System.STRIPE
    assert len(obj.fields) >= MIN_FIELDS[name], sorted(obj.fields)
    assert obj.description, f"{name} has no class docstring"
    # Named by Stripe's own ``object`` value, which the SDK declares as a one-value Literal.
    assert obj.field("object").enum_values == (name,)
    assert obj.field("id").kind is FieldKind.ID


def test_catalog_metadata(catalog: Catalog) -> None:
    assert catalog.system is System.STRIPE
    # The version the SDK's types describe; ``stripe.api_version`` is only its default and
    # may be overridden at runtime (the sandbox speaks 2017-08-15).
    assert catalog.api_version == sdk_api_version() == _ApiVersion.CURRENT
    assert set(catalog.names()) == set(DEFAULT_OBJECTS) == set(stripe_object_names())
    assert {"plan", "payment_method", "coupon"} <= set(catalog.names())


def test_loading_is_cached() -> None:
    # How long a build takes is for benchmarks, not tests (~0.3 s on this machine).
    assert load_stripe_catalog() is load_stripe_catalog()
    assert build_stripe_catalog() is not load_stripe_catalog()


def test_unknown_object_names_are_refused() -> None:
    with pytest.raises(UnknownObjectError, match="no_such_object"):
        build_stripe_catalog(("charge", "no_such_object"))


def test_every_sdk_object_can_be_built() -> None:
    everything = build_stripe_catalog(tuple(sdk_object_classes()))
    assert len(everything.objects) == len(sdk_object_classes())
    assert everything["issuing.card"].field("id").kind is FieldKind.ID


@pytest.mark.parametrize("name", DEFAULT_OBJECTS)
def test_paths_form_a_tree_within_the_depth_bound(catalog: Catalog, name: str) -> None:
    obj = catalog[name]
    for path, field in obj.fields.items():
        assert field.path == path
        segments = path.split(".")
        assert len(segments) <= DEFAULT_MAX_DEPTH, path
        if len(segments) > 1:
            parent_path = ".".join(segments[:-1])
            if parent_path.endswith("[]"):
                parent = obj.fields[parent_path[:-2]]
                assert parent.kind is FieldKind.LIST, path
            else:
                parent = obj.fields[parent_path]
                assert parent.kind is FieldKind.OBJECT, path


def test_deeper_walks_terminate_on_cyclic_shapes() -> None:
    deep = build_stripe_catalog(("customer", "invoice"), max_depth=9)
    assert len(deep["customer"].fields) > len(load_stripe_catalog()["customer"].fields)


# -- kinds --------------------------------------------------------------------------------------


def test_charge_fields(charge: ObjectSchema) -> None:
    city = charge.field("billing_details.address.city")
    assert (city.kind, city.nullable, city.native_type) == (FieldKind.STRING, True, "Optional[str]")
    assert city.description.startswith("City")
    assert charge.field("billing_details").kind is FieldKind.OBJECT
    assert charge.field("billing_details.address").native_type == "Optional[Address]"

    status = charge.field("status")
    assert status.kind is FieldKind.PICKLIST
    assert {"succeeded", "pending", "failed"} <= set(status.enum_values)
    assert status.nullable is False

    customer = charge.field("customer")
    assert customer.kind is FieldKind.REFERENCE
    assert customer.expandable and customer.reference_to == ("customer",)
    assert customer.native_type == "Optional[ExpandableField[Customer]]"

    metadata = charge.field("metadata")
    assert metadata.kind is FieldKind.MAP and metadata.free_keys
    assert charge.find("metadata.order_id") is metadata
    assert "metadata.order_id" in charge
    assert "billing_details.nope" not in charge

    assert charge.field("created").kind is FieldKind.TIMESTAMP
    assert charge.field("captured").kind is FieldKind.BOOLEAN
    assert charge.field("id").kind is FieldKind.ID
    assert charge.field("outcome.risk_score").kind is FieldKind.INTEGER
    assert charge.field("payment_method_details.card.last4").kind is FieldKind.STRING
    assert charge.field("payment_method_details.card.exp_month").kind is FieldKind.INTEGER


@pytest.mark.parametrize(
    ("obj", "path"),
    [
        ("charge", "amount"),
        ("charge", "amount_refunded"),
        ("charge", "application_fee_amount"),
        ("price", "unit_amount"),
        ("invoice", "amount_due"),
        ("line_item", "amount"),
        ("payout", "amount"),
        ("refund", "amount"),
    ],
)
def test_amounts_stay_integers_and_say_minor_units(catalog: Catalog, obj: str, path: str) -> None:
    field = catalog[obj].field(path)
    assert field.kind is FieldKind.INTEGER
    text = field.description.lower()
    assert "smallest currency unit" in text or "cents" in text or MINOR_UNITS_NOTE.lower() in text


@pytest.mark.parametrize(
    ("obj", "path"),
    [
        ("charge", "created"),
        ("subscription", "cancel_at"),
        ("subscription", "items.data[].current_period_end"),
        ("subscription_item", "current_period_start"),
        ("invoice", "due_date"),
        ("invoice", "status_transitions.paid_at"),
        ("line_item", "period.start"),
        ("payout", "arrival_date"),
        ("balance_transaction", "available_on"),
        ("dispute", "evidence_details.due_by"),
        ("coupon", "redeem_by"),
    ],
)
def test_unix_seconds_are_timestamps(catalog: Catalog, obj: str, path: str) -> None:
    assert catalog[obj].field(path).kind is FieldKind.TIMESTAMP


@pytest.mark.parametrize(
    ("obj", "path"),
    [
        ("charge", "payment_method_details.card.exp_year"),
        ("price", "recurring.interval_count"),
        ("price", "recurring.trial_period_days"),
        ("invoice", "attempt_count"),
        ("subscription", "days_until_due"),
    ],
)
def test_counts_and_calendar_parts_are_not_timestamps(
    catalog: Catalog, obj: str, path: str
) -> None:
    assert catalog[obj].field(path).kind is FieldKind.INTEGER


@pytest.mark.parametrize(
    ("name", "doc", "expected"),
    [
        (
            "created",
            "Time at which the object was created. Measured in seconds since the Unix epoch.",
            True,
        ),
        ("updated", "Time at which the object was last updated.", True),
        ("arrival_date", "Date that you can expect the payout to arrive in the bank.", True),
        ("billed_until", "The time period the subscription item has been billed for.", True),
        ("capture_before", "When using manual capture, a future timestamp at which ...", True),
        ("trial_end", "", True),
        ("canceled_at", "", True),
        ("data_load_time", "Sigma contained a snapshot of your Stripe data at this time.", True),
        ("exp_year", "Four-digit number representing the card's expiration year.", False),
        ("interval_count", "The number of intervals between subscription billings.", False),
        ("expires_after_seconds", "The number of seconds after which the link expires.", False),
        (
            "destination_duration",
            "The time it took in milliseconds for the destination to respond.",
            False,
        ),
        (
            "timezone_offset",
            "The time difference between UTC time and the local time, in minutes.",
            False,
        ),
        ("quantity", "", False),
    ],
)
def test_timestamp_judgement(name: str, doc: str, expected: bool) -> None:
    assert is_timestamp(name, doc) is expected


def test_enums_are_restricted_only_when_the_sdk_closes_them(charge: ObjectSchema) -> None:
    # ``Literal["charge"]``: closed.
    assert charge.field("object").restricted is True
    # ``Union[Literal["failed", "pending", "succeeded"], str]``: Stripe may add values.
    assert charge.field("status").restricted is False


def test_descriptions_are_present_for_most_fields(catalog: Catalog) -> None:
    for name in CORE_OBJECTS:
        fields = list(catalog[name])
        described = sum(1 for f in fields if f.description)
        assert described / len(fields) >= 0.5, name


def test_lists_of_objects(catalog: Catalog) -> None:
    subscription = catalog["subscription"]
    assert subscription.field("items").kind is FieldKind.OBJECT
    assert subscription.field("items.data").kind is FieldKind.LIST
    assert subscription.field("items.has_more").kind is FieldKind.BOOLEAN
    assert subscription.field("items.object").enum_values == ("list",)
    assert subscription.field("items.data").native_type == "List[SubscriptionItem]"
    price_id = subscription.field("items.data[].price.id")
    assert price_id.kind is FieldKind.STRING
    assert subscription.field("items.data[].price.unit_amount").kind is FieldKind.INTEGER
    interval = subscription.field("items.data[].price.recurring.interval")
    assert interval.kind is FieldKind.PICKLIST and "month" in interval.enum_values
    assert subscription.field("items.data[].price.product").reference_to == ("product",)

    invoice = catalog["invoice"]
    assert invoice.field("lines.data[].amount").kind is FieldKind.INTEGER
    assert invoice.field("lines.data[].description").kind is FieldKind.STRING
    assert invoice.field("lines.data[].metadata").free_keys

    charge = catalog["charge"]
    assert charge.field("refunds.data[].amount").kind is FieldKind.INTEGER
    assert charge.field("refunds.data[].charge").reference_to == ("charge",)


def test_lists_of_scalars_and_of_references(catalog: Catalog) -> None:
    types = catalog["payment_intent"].field("payment_method_types")
    assert types.kind is FieldKind.LIST and types.native_type == "List[str]"
    discounts = catalog["subscription"].field("discounts")
    assert discounts.kind is FieldKind.LIST
    assert discounts.expandable and discounts.reference_to == ("discount",)


def test_unions_of_objects_merge_their_members(charge: ObjectSchema) -> None:
    # ``source: Optional[Union[Account, BankAccount, Card, Source]]``
    kind = charge.field("source.object")
    assert {"account", "bank_account", "card", "source"} <= set(kind.enum_values)
    assert charge.field("source.owner.email").nullable  # only a Source has an owner
    assert charge.field("source.customer").kind is FieldKind.REFERENCE


def test_resources_inside_api_errors_are_not_copied(catalog: Catalog) -> None:
    invoice = catalog["invoice"]
    embedded = invoice.field("last_finalization_error.payment_intent")
    assert embedded.kind is FieldKind.OBJECT
    assert not any(p.startswith("last_finalization_error.payment_intent.") for p in invoice.fields)
    assert invoice.field("last_finalization_error.code").kind is FieldKind.PICKLIST


def test_event_envelope(catalog: Catalog) -> None:
    event = catalog["event"]
    assert event.field("data.object").kind is FieldKind.MAP
    assert event.find("data.object.amount") is event.field("data.object")
    assert event.field("data.previous_attributes").free_keys
    assert event.field("created").kind is FieldKind.TIMESTAMP
    event_type = event.field("type")
    assert event_type.kind is FieldKind.PICKLIST
    assert {"charge.succeeded", "payout.paid", "invoice.payment_succeeded"} <= set(
        event_type.enum_values
    )
    assert len(event_type.native_type) < 200  # long Literals are abbreviated in the text


# -- event types --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ("charge", {"charge.succeeded", "charge.failed", "charge.refunded", "charge.captured"}),
        (
            "subscription",
            {
                "customer.subscription.created",
                "customer.subscription.updated",
                "customer.subscription.deleted",
            },
        ),
        ("invoice", {"invoice.payment_succeeded", "invoice.paid", "invoice.created"}),
        ("dispute", {"charge.dispute.created", "charge.dispute.closed"}),
        ("radar.early_fraud_warning", {"radar.early_fraud_warning.created"}),
        ("payout", {"payout.paid", "payout.failed"}),
        ("refund", {"charge.refund.updated", "refund.created"}),
        ("customer", {"customer.created", "customer.updated", "customer.deleted"}),
        ("payment_intent", {"payment_intent.succeeded", "payment_intent.payment_failed"}),
        ("discount", {"customer.discount.created"}),
        ("tax_id", {"customer.tax_id.created"}),
        ("fee_refund", {"application_fee.refund.updated"}),
    ],
)
def test_objects_know_the_events_that_carry_them(
    catalog: Catalog, obj: str, expected: set[str]
) -> None:
    assert expected <= set(catalog[obj].event_types)


def test_event_types_are_consistent(catalog: Catalog) -> None:
    seen: dict[str, str] = {}
    for obj in catalog.objects.values():
        for event_type in obj.event_types:
            assert event_type not in seen, f"{event_type} on {seen.get(event_type)} and {obj.name}"
            seen[event_type] = obj.name
            assert object_for_event_type(event_type) == obj.name
    all_types = set(catalog["event"].field("type").enum_values)
    assert set(seen) <= all_types
    assert not catalog["event"].event_types
    assert not catalog["balance_transaction"].event_types


@pytest.mark.parametrize(
    ("event_type", "expected"),
    [
        ("charge.succeeded", "charge"),
        ("charge.refunded", "charge"),
        ("charge.refund.updated", "refund"),
        ("charge.dispute.created", "dispute"),
        ("customer.subscription.created", "subscription"),
        ("customer.subscription.trial_will_end", "subscription"),
        ("customer.discount.deleted", "discount"),
        ("customer.source.expiring", "source"),
        ("customer.tax_id.updated", "tax_id"),
        ("customer.updated", "customer"),
        ("invoice.payment_succeeded", "invoice"),
        ("invoiceitem.created", "invoiceitem"),
        ("invoice_payment.paid", "invoice_payment"),
        ("payout.paid", "payout"),
        ("radar.early_fraud_warning.created", "radar.early_fraud_warning"),
        ("checkout.session.completed", "checkout.session"),
        ("application_fee.refund.updated", "fee_refund"),
        ("issuing_card.created", "issuing.card"),
        ("issuing_authorization.request", "issuing.authorization"),
        ("sigma.scheduled_query_run.created", "scheduled_query_run"),
        ("source.mandate_notification", "source_mandate_notification"),
        ("source.transaction.created", "source_transaction"),
        ("billing.alert.triggered", "billing.alert_triggered"),
        ("test_helpers.test_clock.ready", "test_helpers.test_clock"),
        # Not typed by the SDK (an external account is a card or a bank account).
        ("account.external_account.created", None),
        ("charge", None),
        ("", None),
        ("nothing.known.here", None),
    ],
)
def test_object_for_event_type(event_type: str, expected: str | None) -> None:
    assert object_for_event_type(event_type) == expected


def _thin_event_related_objects() -> dict[str, str]:
    """``v1.<type>`` -> object name, from the SDK's typed thin-event classes."""
    spec = importlib.util.find_spec("stripe.events")
    assert spec is not None and spec.submodule_search_locations
    folder = list(spec.submodule_search_locations)[0]
    source = new_sdk_source()
    related: dict[str, str] = {}
    for filename in sorted(os.listdir(folder)):
        if not (filename.startswith("_v1_") and filename.endswith("_event.py")):
            continue
        module = f"stripe.events.{filename[:-3]}"
        with open(os.path.join(folder, filename), encoding="utf-8") as handle:
            text = handle.read()
        lookup = re.search(r'LOOKUP_TYPE = "v1\.([^"]+)"', text)
        returns = re.search(r'def fetch_related_object\(self\) -> "(\w+)"', text)
        notification = re.search(r"class (\w+EventNotification)\(", text)
        if not (lookup and returns and notification):
            continue
        ref = source.resolve(returns.group(1), ClassRef(module, notification.group(1)))
        name = source.object_name(ref) if ref is not None else None
        if name:
            related[lookup.group(1)] = name
    return related


def test_prefix_rules_agree_with_the_sdk_thin_event_classes() -> None:
    related = _thin_event_related_objects()
    assert len(related) > 150
    # The thin event points at the alert; the snapshot event carries the alert_triggered.
    related.pop("billing.alert.triggered", None)
    disagreements = {
        event_type: (name, object_for_event_type(event_type))
        for event_type, name in related.items()
        if object_for_event_type(event_type) != name
    }
    assert not disagreements


# -- the real example objects -------------------------------------------------------------------


def _leaf_paths(value: Any, path: str, obj: ObjectSchema, out: list[str]) -> None:
    """Leaf paths of an example object; an expanded reference or free-keys map is one leaf."""
    if path:
        known = obj.find(path)
        if known is not None and known.kind in (FieldKind.REFERENCE, FieldKind.MAP):
            out.append(path)
            return
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _leaf_paths(item, f"{path}.{key}" if path else key, obj, out)
    elif isinstance(value, list) and any(isinstance(item, dict) for item in value):
        for item in value:
            _leaf_paths(item, f"{path}[]", obj, out)
    else:
        out.append(path)


@pytest.mark.parametrize("name", DEFAULT_OBJECTS)
def test_example_objects_resolve_in_the_catalog(
    catalog: Catalog, stripe_fixtures: dict[str, Any], name: str
) -> None:
    if name not in stripe_fixtures:
        pytest.skip(f"no example {name} in fixtures3.json")
    obj = catalog[name]
    leaves: list[str] = []
    _leaf_paths(stripe_fixtures[name], "", obj, leaves)
    paths = sorted(set(leaves))
    unknown = [p for p in paths if obj.find(p) is None]
    share = 1 - len(unknown) / len(paths)
    assert share >= 0.9, f"{name}: {share:.0%} of {len(paths)} leaf paths known; unknown: {unknown}"


def test_example_values_match_their_kinds(
    catalog: Catalog, stripe_fixtures: dict[str, Any]
) -> None:
    charge = catalog["charge"]
    example = stripe_fixtures["charge"]
    for path in ("amount", "created", "captured", "currency", "status", "id"):
        field = charge.field(path)
        value = example[path]
        expected_type = {
            FieldKind.INTEGER: int,
            FieldKind.TIMESTAMP: int,
            FieldKind.BOOLEAN: bool,
            FieldKind.STRING: str,
            FieldKind.PICKLIST: str,
            FieldKind.ID: str,
        }[field.kind]
        assert isinstance(value, expected_type), path
    assert example["status"] in charge.field("status").enum_values


def test_list_elements_by_position_resolve_to_their_element_fields() -> None:
    sub = load_stripe_catalog()["subscription"]
    assert sub.field("items.data.0.price.nickname").path == "items.data[].price.nickname"
    assert sub.field("items.data.3.current_period_end").kind is FieldKind.TIMESTAMP
    assert sub.find("items.data.0.no_such_field") is None
