"""What our launcher adds to localstripe: charge events and Idempotency-Key, as real Stripe has."""

from __future__ import annotations

import time

import pytest
import stripe

from runner.sandbox.stripe_sandbox import StripeSandbox, start_stripe_sandbox

pytestmark = pytest.mark.slow


def _card(client: stripe.StripeClient, number: str, customer: str | None = None) -> str:
    pm = client.v1.payment_methods.create(
        params={"type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"}}
    )
    if customer:
        client.v1.payment_methods.attach(pm.id, params={"customer": customer})
    return pm.id


def _events(client: stripe.StripeClient, charge_id: str) -> list[tuple[str, dict]]:
    deadline = time.monotonic() + 5
    while True:
        found = [
            (e.type, e.data.object.to_dict())
            for e in client.v1.events.list(params={"limit": 100}).data
            if e.data.object.to_dict().get("id") == charge_id
        ]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_successful_charge_then_refund_emit_events(sandbox: StripeSandbox) -> None:
    client = sandbox.client()
    customer = client.v1.customers.create(params={"email": "pay@example.com"})
    card = _card(client, "4242424242424242", customer.id)
    charge = client.v1.charges.create(
        params={"amount": 1999, "currency": "usd", "customer": customer.id, "source": card}
    )
    client.v1.refunds.create(params={"charge": charge.id, "amount": 500})

    events = dict(_events(client, charge.id))
    assert sorted(events) == ["charge.refunded", "charge.succeeded"]
    assert events["charge.succeeded"]["status"] == "succeeded"
    assert events["charge.succeeded"]["customer"] == customer.id
    assert events["charge.refunded"]["amount_refunded"] == 500


def test_declined_charge_emits_charge_failed(sandbox: StripeSandbox) -> None:
    client = sandbox.client()
    card = _card(client, "4000000000000341")
    with pytest.raises(stripe.CardError):
        client.v1.charges.create(params={"amount": 700, "currency": "eur", "source": card})
    failed = [
        obj
        for e in client.v1.events.list(params={"limit": 100}).data
        if e.type == "charge.failed"
        for obj in [e.data.object.to_dict()]
        if obj["amount"] == 700
    ]
    assert failed and failed[0]["failure_message"] == "Your card was declined."


def test_idempotency_key_replays_the_first_response(sandbox: StripeSandbox) -> None:
    client = sandbox.client()
    params = {"email": "once@example.com", "name": "Only Once"}
    first = client.v1.customers.create(params=params, options={"idempotency_key": "fb-key-1"})
    again = client.v1.customers.create(params=params, options={"idempotency_key": "fb-key-1"})
    assert again.id == first.id
    emails = [c.email for c in client.v1.customers.list(params={"limit": 100}).data]
    assert emails.count("once@example.com") == 1


def test_idempotency_key_reused_with_other_parameters_is_refused(sandbox: StripeSandbox) -> None:
    client = sandbox.client()
    client.v1.customers.create(params={"email": "a@example.com"}, options={"idempotency_key": "fb-key-2"})
    with pytest.raises(stripe.IdempotencyError) as err:
        client.v1.customers.create(params={"email": "b@example.com"}, options={"idempotency_key": "fb-key-2"})
    assert "same parameters" in str(err.value)


def test_idempotency_keys_survive_a_restart(tmp_path) -> None:
    data = tmp_path / "stripe.pickle"
    first = start_stripe_sandbox(data_file=data)
    try:
        created = first.client().v1.customers.create(
            params={"email": "r@example.com"}, options={"idempotency_key": "fb-key-3"}
        )
    finally:
        first.stop()
    second = start_stripe_sandbox(data_file=data)
    try:
        again = second.client().v1.customers.create(
            params={"email": "r@example.com"}, options={"idempotency_key": "fb-key-3"}
        )
    finally:
        second.stop()
    assert again.id == created.id


def test_subscription_items_may_name_a_price(sandbox: StripeSandbox) -> None:
    client = sandbox.client()
    plan = client.v1.plans.create(
        params={"amount": 4900, "currency": "usd", "interval": "month", "product": {"name": "Gold"}}
    )
    customer = client.v1.customers.create(params={"email": "sub@example.com"})
    _card(client, "4242424242424242", customer.id)
    client.v1.customers.update(customer.id, params={"invoice_settings": {"default_payment_method": _card(client, "4242424242424242", customer.id)}})
    sub = client.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": plan.id, "quantity": 2}]}
    )
    item = sub.to_dict()["items"]["data"][0]
    assert item["plan"]["id"] == plan.id and item["quantity"] == 2


def test_send_invoice_subscription_needs_no_card(sandbox: StripeSandbox) -> None:
    client = sandbox.client()
    plan = client.v1.plans.create(
        params={"amount": 120000, "currency": "usd", "interval": "year", "product": {"name": "Enterprise"}}
    )
    customer = client.v1.customers.create(params={"email": "deal@example.com"})
    sub = client.v1.subscriptions.create(
        params={
            "customer": customer.id,
            "items": [{"price": plan.id}],
            "collection_method": "send_invoice",
            "days_until_due": 30,
        }
    ).to_dict()
    assert sub["status"] == "active"
    assert sub["collection_method"] == "send_invoice" and sub["days_until_due"] == 30
    invoices = client.v1.invoices.list(params={"customer": customer.id}).data
    assert [i.status for i in invoices] == ["open"]  # sent, not charged


def test_send_invoice_without_days_until_due_is_refused(sandbox: StripeSandbox) -> None:
    client = sandbox.client()
    plan = client.v1.plans.create(
        params={"amount": 100, "currency": "usd", "interval": "month", "product": {"name": "P"}}
    )
    customer = client.v1.customers.create(params={"email": "x@example.com"})
    with pytest.raises(stripe.InvalidRequestError, match="days_until_due"):
        client.v1.subscriptions.create(
            params={"customer": customer.id, "items": [{"price": plan.id}], "collection_method": "send_invoice"}
        )


def test_charge_automatically_without_a_card_is_still_refused(sandbox: StripeSandbox) -> None:
    client = sandbox.client()
    plan = client.v1.plans.create(
        params={"amount": 100, "currency": "usd", "interval": "month", "product": {"name": "Q"}}
    )
    customer = client.v1.customers.create(params={"email": "nocard@example.com"})
    with pytest.raises(stripe.InvalidRequestError, match="no payment method"):
        client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": plan.id}]})
