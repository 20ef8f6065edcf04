from __future__ import annotations

import json

import pytest
import stripe

from runner.errors import SandboxError
from runner.sandbox.stripe_events import (
    deliver,
    fixture_objects,
    make_event,
    object_for_event,
    signed_delivery,
)
from runner.stripe_signature import verify_signature


@pytest.mark.parametrize(
    ("event_type", "object_name"),
    [
        ("charge.succeeded", "charge"),
        ("charge.refunded", "charge"),
        ("charge.dispute.created", "dispute"),
        ("charge.dispute.funds_withdrawn", "dispute"),
        ("charge.refund.updated", "refund"),
        ("radar.early_fraud_warning.created", "radar.early_fraud_warning"),
        ("payout.paid", "payout"),
        ("customer.created", "customer"),
        ("customer.subscription.updated", "subscription"),
        ("invoice.paid", "invoice"),
        ("invoiceitem.created", "invoiceitem"),
        ("payment_intent.succeeded", "payment_intent"),
        ("checkout.session.completed", "checkout.session"),
        ("balance.available", "balance"),
    ],
)
def test_object_for_event(event_type, object_name):
    assert object_for_event(event_type) == object_name


@pytest.mark.parametrize("bad", ["", "charge", "nonsense.created", ".", "..created", 42])
def test_unknown_event_types_are_refused_clearly(bad):
    with pytest.raises(SandboxError, match="event type"):
        object_for_event(bad)


def test_event_envelope_has_stripes_current_shape(stripe_fixtures):
    event = make_event("charge.succeeded", created=1_800_000_000)
    assert set(stripe_fixtures["event"]) <= set(event)
    assert event["object"] == "event"
    assert event["id"].startswith("evt_") and len(event["id"]) == 28
    assert (event["type"], event["created"], event["livemode"]) == (
        "charge.succeeded", 1_800_000_000, False)
    charge = event["data"]["object"]
    assert charge["object"] == "charge"
    assert charge["id"].startswith("ch_") and charge["id"] != stripe_fixtures["charge"]["id"]
    assert charge["created"] == 1_800_000_000
    # Every field of the current-API example object is there.
    assert set(charge) == set(stripe_fixtures["charge"])


def test_each_event_gets_fresh_ids():
    a, b = make_event("payout.paid"), make_event("payout.paid")
    assert a["id"] != b["id"]
    assert a["data"]["object"]["id"] != b["data"]["object"]["id"]


def test_fixtures_are_not_mutated(stripe_fixtures):
    before = json.dumps(fixture_objects()["dispute"], sort_keys=True)
    event = make_event("charge.dispute.created", overrides={"evidence": {"receipt": "file_1"}})
    event["data"]["object"]["amount"] = -1
    assert json.dumps(fixture_objects()["dispute"], sort_keys=True) == before


@pytest.mark.parametrize(
    ("event_type", "field", "value"),
    [
        ("charge.failed", "status", "failed"),
        ("charge.failed", "failure_code", "card_declined"),
        ("charge.refunded", "refunded", True),
        ("charge.dispute.created", "status", "needs_response"),
        ("payout.paid", "status", "paid"),
        ("payout.failed", "status", "failed"),
        ("customer.subscription.deleted", "status", "canceled"),
        ("invoice.paid", "status", "paid"),
    ],
)
def test_object_state_follows_the_event(event_type, field, value):
    assert make_event(event_type)["data"]["object"][field] == value


def test_charge_refunded_is_fully_refunded():
    charge = make_event("charge.refunded")["data"]["object"]
    assert charge["amount_refunded"] == charge["amount"]


def test_overrides_merge_nested_and_replace_scalars():
    event = make_event(
        "charge.succeeded",
        overrides={"amount": 4321, "customer": "cus_X", "metadata": {"order": "42"},
                   "billing_details": {"email": "z@example.com"}},
    )
    charge = event["data"]["object"]
    assert (charge["amount"], charge["customer"], charge["metadata"]) == (
        4321, "cus_X", {"order": "42"})
    assert charge["billing_details"]["email"] == "z@example.com"
    assert "address" in charge["billing_details"]  # the rest of the nested dict survives


def test_explicit_object_and_ids_are_used_as_given():
    obj = {"id": "cus_mine", "object": "customer", "email": "m@example.com"}
    event = make_event("customer.updated", obj, event_id="evt_fixed",
                       previous_attributes={"email": "old@example.com"})
    assert event["id"] == "evt_fixed"
    assert event["data"]["object"] == obj and event["data"]["object"] is not obj
    assert event["data"]["previous_attributes"] == {"email": "old@example.com"}


def test_bad_arguments_are_refused():
    with pytest.raises(SandboxError, match="overrides must be a dict"):
        make_event("charge.succeeded", overrides=["amount"])  # type: ignore[arg-type]
    with pytest.raises(SandboxError, match="must be a dict"):
        make_event("charge.succeeded", "ch_1")  # type: ignore[arg-type]
    with pytest.raises(SandboxError, match="must start with http"):
        deliver("127.0.0.1:9/hook", make_event("charge.succeeded"), "whsec_x")


def test_signed_delivery_verifies_with_ours_and_the_sdk():
    event = make_event("radar.early_fraud_warning.created", overrides={"charge": "ch_1"})
    body, headers = signed_delivery(event, "whsec_abc", timestamp=1_800_000_000)
    assert json.loads(body) == event
    verify_signature(body, headers["Stripe-Signature"], ["whsec_abc"], now=1_800_000_000)
    assert headers["Stripe-Signature"].startswith("t=1800000000,v1=")
    parsed = stripe.Webhook.construct_event(
        body, headers["Stripe-Signature"], "whsec_abc", tolerance=10**10
    )
    assert parsed.type == "radar.early_fraud_warning.created"


def test_deliver_to_nowhere_is_a_clear_error():
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(SandboxError, match="could not deliver charge.succeeded"):
        deliver(f"http://127.0.0.1:{port}/hook", make_event("charge.succeeded"), "whsec_x",
                timeout=2)
