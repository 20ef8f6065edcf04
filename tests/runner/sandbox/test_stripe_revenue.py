"""The revenue model on the Stripe sandbox, through the real ``stripe`` SDK (issue 14).

Products and prices, one-off invoices with more lines than one page, partial refunds and
deletions, with the events Stripe sends for each, signed and delivered to the registered
webhook endpoint (:mod:`runner.sandbox.localstripe_revenue`, and the refund additions in
:mod:`runner.sandbox.localstripe_launcher`).
"""

from __future__ import annotations

import contextlib
import json
import queue
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stripe

from runner.sandbox.stripe_sandbox import StripeSandbox, start_stripe_sandbox
from runner.stripe_signature import verify_signature
from tests.runner.sandbox.test_stripe_webhooks import WebhookReceiver

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def receiver(sandbox: StripeSandbox) -> Iterator[tuple[WebhookReceiver, str]]:
    r = WebhookReceiver()
    secret = sandbox.register_webhook(r.url, endpoint_id="revenue")
    yield r, secret
    r.close()


@pytest.fixture(scope="module")
def client(sandbox: StripeSandbox) -> stripe.StripeClient:
    return sandbox.client()


def delivered(receiver: tuple[WebhookReceiver, str], event_type: str, object_id: str,
              ) -> dict[str, Any]:
    """The signed event of ``event_type`` about ``object_id``, checked against the secret.

    Deliveries arrive in any order (they are sent concurrently), so every one is kept:
    ``WebhookReceiver.wait_for`` alone would drop those another test waits for later.
    """
    hook, secret = receiver
    kept: list[Any] = _KEPT.setdefault(id(hook), [])
    deadline = time.monotonic() + 10
    while True:
        for delivery in kept:
            event = json.loads(delivery.body)
            if event["type"] == event_type and event["data"]["object"].get("id") == object_id:
                verify_signature(delivery.body, delivery.headers["Stripe-Signature"], [secret])
                return event
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no {event_type} delivered about {object_id}")
        with contextlib.suppress(queue.Empty):
            kept.append(hook.deliveries.get(timeout=min(remaining, 0.5)))


_KEPT: dict[int, list[Any]] = {}


def events_of(client: stripe.StripeClient, object_id: str, wanted: int = 1,
              ) -> list[str]:
    """Types of ``/v1/events`` about ``object_id``, oldest first (waits for ``wanted``)."""
    deadline = time.monotonic() + 5
    while True:
        found = [e.type for e in client.v1.events.list(params={"limit": 100}).data
                 if e.data.object.to_dict().get("id") == object_id]
        if len(found) >= wanted or time.monotonic() > deadline:
            return list(reversed(found))
        time.sleep(0.1)


def customer_with_card(client: stripe.StripeClient, email: str) -> str:
    customer = client.v1.customers.create(params={"email": email})
    pm = client.v1.payment_methods.create(params={"type": "card", "card": {
        "number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}})
    client.v1.payment_methods.attach(pm.id, params={"customer": customer.id})
    client.v1.customers.update(customer.id, params={
        "invoice_settings": {"default_payment_method": pm.id}})
    return customer.id


# -- products and prices ----------------------------------------------------------------------
def test_prices_are_created_listed_and_archived(client: stripe.StripeClient,
                                                receiver: Any) -> None:
    product = client.v1.products.create(params={"name": "Seat"})
    one_off = client.v1.prices.create(params={"product": product.id, "currency": "usd",
                                              "unit_amount": 1500})
    monthly = client.v1.prices.create(params={
        "product": product.id, "currency": "eur", "unit_amount": 900,
        "recurring": {"interval": "month"}})
    assert (one_off.object, one_off.type, one_off.active) == ("price", "one_time", True)
    assert monthly.type == "recurring" and monthly.recurring["interval"] == "month"
    assert client.v1.prices.retrieve(one_off.id).unit_amount == 1500
    listed = client.v1.prices.list(params={"product": product.id})
    assert {p.id for p in listed.data} == {one_off.id, monthly.id}
    assert delivered(receiver, "price.created", one_off.id)["data"]["object"]["product"] == (
        product.id)

    archived = client.v1.prices.update(one_off.id, params={"active": False})
    assert archived.active is False
    event = delivered(receiver, "price.updated", one_off.id)
    assert event["data"]["previous_attributes"] == {"active": True}
    active = client.v1.prices.list(params={"product": product.id, "active": True})
    assert [p.id for p in active.data] == [monthly.id]


def test_a_price_needs_currency_and_product(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.prices.create(params={"unit_amount": 100, "currency": "usd"})
    assert "product" in str(caught.value.user_message)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.prices.create(params={"unit_amount": 100, "product_data": {"name": "X"}})
    assert caught.value.code == "parameter_missing" and caught.value.param == "currency"


def test_a_subscription_can_name_a_price(client: stripe.StripeClient) -> None:
    customer = customer_with_card(client, "sub@example.com")
    price = client.v1.prices.create(params={
        "product_data": {"name": "Plan"}, "currency": "usd", "unit_amount": 2000,
        "recurring": {"interval": "month"}})
    sub = client.v1.subscriptions.create(params={"customer": customer,
                                                 "items": [{"price": price.id}]})
    assert sub.status == "active"
    client.v1.subscriptions.cancel(sub.id)
    assert "customer.subscription.deleted" in events_of(client, sub.id, wanted=2)


def test_product_updated_and_deleted_events(client: stripe.StripeClient,
                                            receiver: Any) -> None:
    product = client.v1.products.create(params={"name": "Old name"})
    client.v1.products.update(product.id, params={"name": "New name"})
    updated = delivered(receiver, "product.updated", product.id)
    assert updated["data"]["previous_attributes"] == {"name": "Old name"}
    assert client.v1.products.delete(product.id).deleted is True
    assert delivered(receiver, "product.deleted", product.id)["data"]["object"]["name"] == (
        "New name")


def test_a_product_with_prices_cannot_be_deleted(client: stripe.StripeClient) -> None:
    product = client.v1.products.create(params={"name": "Priced"})
    client.v1.prices.create(params={"product": product.id, "currency": "usd",
                                     "unit_amount": 5})
    with pytest.raises(stripe.InvalidRequestError, match="one or more user-created prices"):
        client.v1.products.delete(product.id)


# -- invoices with many lines -------------------------------------------------------------------
def test_an_invoice_with_12_lines_pages_them(client: stripe.StripeClient,
                                             receiver: Any) -> None:
    customer = customer_with_card(client, "lines@example.com")
    product = client.v1.products.create(params={"name": "Widget"})
    prices = [client.v1.prices.create(params={"product": product.id, "currency": "usd",
                                              "unit_amount": 100 * (n + 1)})
              for n in range(12)]
    invoice = client.v1.invoices.create(params={
        "customer": customer, "pending_invoice_items_behavior": "exclude"})
    assert invoice.status == "draft" and invoice.lines.total_count == 0
    for n, price in enumerate(prices):
        client.v1.invoice_items.create(params={"customer": customer, "invoice": invoice.id,
                                               "price": price.id, "quantity": 2 if n else 1})
    invoice = client.v1.invoices.retrieve(invoice.id)
    # The payload shows one page of 10 lines; has_more says where the rest are.
    assert len(invoice.lines.data) == 10 and invoice.lines.has_more is True
    assert invoice.lines.url == f"/v1/invoices/{invoice.id}/lines"
    rest = client.v1.invoices.line_items.list(invoice.id, params={
        "starting_after": invoice.lines.data[-1].id})
    assert len(rest.data) == 2 and rest.has_more is False
    lines = [*invoice.lines.data, *rest.data]
    assert len({line.id for line in lines}) == 12
    assert [line.price.id for line in lines] == [p.id for p in prices]
    assert lines[0].quantity == 1 and lines[1].quantity == 2 and lines[1].amount == 400
    assert invoice.amount_due == 100 + sum(2 * 100 * n for n in range(2, 13))

    client.v1.invoices.finalize_invoice(invoice.id)
    paid = client.v1.invoices.pay(invoice.id)
    assert paid.status == "paid"
    created = delivered(receiver, "invoice.created", invoice.id)
    assert created["data"]["object"]["lines"]["object"] == "list"


def test_pending_items_make_a_one_off_invoice(client: stripe.StripeClient) -> None:
    customer = customer_with_card(client, "pending@example.com")
    for amount in (300, 400):
        client.v1.invoice_items.create(params={"customer": customer, "amount": amount,
                                               "currency": "usd"})
    invoice = client.v1.invoices.create(params={"customer": customer})
    assert invoice.lines.total_count == 2 and invoice.amount_due == 700


def test_voiding_an_open_invoice(client: stripe.StripeClient, receiver: Any) -> None:
    customer = customer_with_card(client, "void@example.com")
    client.v1.invoice_items.create(params={"customer": customer, "amount": 500,
                                           "currency": "usd"})
    invoice = client.v1.invoices.create(params={"customer": customer})
    client.v1.invoices.finalize_invoice(invoice.id)
    voided = client.v1.invoices.void_invoice(invoice.id)
    assert voided.status == "void"
    assert delivered(receiver, "invoice.voided", invoice.id)["data"]["object"]["status"] == (
        "void")


# -- partial refunds ----------------------------------------------------------------------------
def test_two_partial_refunds_on_one_charge(client: stripe.StripeClient,
                                           receiver: Any) -> None:
    customer = customer_with_card(client, "refunds@example.com")
    charge = client.v1.charges.create(params={"amount": 5000, "currency": "usd",
                                              "customer": customer})
    first = client.v1.refunds.create(params={"charge": charge.id, "amount": 1200,
                                             "reason": "requested_by_customer"})
    second = client.v1.refunds.create(params={"charge": charge.id, "amount": 800})
    assert first.reason == "requested_by_customer" and first.status == "succeeded"

    after = client.v1.charges.retrieve(charge.id)
    assert after.amount_refunded == 2000 and after.refunded is False
    assert {r.id for r in after.refunds.data} == {first.id, second.id}
    for refund in (first, second):
        event = delivered(receiver, "refund.created", refund.id)
        assert event["data"]["object"]["charge"] == charge.id
    assert delivered(receiver, "charge.refunded", charge.id)["data"]["object"]["refunded"] is (
        False)

    client.v1.refunds.update(first.id, params={"metadata": {"ticket": "T-1"}})
    for event_type in ("refund.updated", "charge.refund.updated"):
        event = delivered(receiver, event_type, first.id)
        assert event["data"]["object"]["metadata"] == {"ticket": "T-1"}
        assert event["data"]["previous_attributes"] == {"metadata": {}}

    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.refunds.create(params={"charge": charge.id, "amount": 3001})
    assert caught.value.code == "amount_too_large"
    client.v1.refunds.create(params={"charge": charge.id})  # the remaining 3000
    assert client.v1.charges.retrieve(charge.id).refunded is True
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.refunds.create(params={"charge": charge.id, "amount": 1})
    assert caught.value.code == "charge_already_refunded"


# -- deletions ----------------------------------------------------------------------------------
def test_a_deleted_customer_sends_customer_deleted(client: stripe.StripeClient,
                                                   receiver: Any) -> None:
    customer = client.v1.customers.create(params={"email": "gone@example.com"})
    assert client.v1.customers.delete(customer.id).deleted is True
    event = delivered(receiver, "customer.deleted", customer.id)
    assert event["data"]["object"]["email"] == "gone@example.com"


# -- persistence --------------------------------------------------------------------------------
def test_prices_and_invoice_lines_survive_a_restart(tmp_path: Path) -> None:
    # localstripe pickles its store on every write: our Price must pickle and load again.
    data = tmp_path / "localstripe.pickle"
    first = start_stripe_sandbox(data_file=data)
    try:
        client = first.client()
        customer = client.v1.customers.create(params={"email": "kept@example.com"})
        price = client.v1.prices.create(params={"product_data": {"name": "Kept"},
                                                "currency": "usd", "unit_amount": 250})
        item = client.v1.invoice_items.create(params={"customer": customer.id,
                                                      "price": price.id, "quantity": 3})
    finally:
        first.stop()
    second = start_stripe_sandbox(data_file=data)
    try:
        client = second.client()
        assert client.v1.prices.retrieve(price.id).unit_amount == 250
        invoice = client.v1.invoices.create(params={"customer": customer.id})
        line = invoice.lines.data[0]
        assert (line.invoice_item, line.price.id, line.amount) == (item.id, price.id, 750)
    finally:
        second.stop()


def test_a_subscription_with_three_items_invoices_them_all(client: stripe.StripeClient) -> None:
    customer = customer_with_card(client, "three@example.com")
    prices = [client.v1.prices.create(params={
        "product_data": {"name": f"Part {n}"}, "currency": "usd", "unit_amount": 1000 * n,
        "recurring": {"interval": "month"}}) for n in (1, 2, 3)]
    sub = client.v1.subscriptions.create(params={"customer": customer, "items": [
        {"price": prices[0].id}, {"price": prices[1].id, "quantity": 2},
        {"price": prices[2].id}]})
    assert sub.status == "active"
    assert [(i.plan.id, i.quantity) for i in sub["items"].data] == [
        (prices[0].id, 1), (prices[1].id, 2), (prices[2].id, 1)]
    invoice = client.v1.invoices.retrieve(sub.latest_invoice)
    assert invoice.amount_due == 1000 + 4000 + 3000
    assert [line.price.id for line in invoice.lines.data] == [p.id for p in prices]
