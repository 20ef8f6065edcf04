"""Webhook deliveries from the Stripe sandbox and from our signed test events.

Also home of :class:`WebhookReceiver`, a loopback HTTP server recording deliveries, which
the other sandbox tests import.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import stripe

from runner.sandbox.stripe_events import deliver, make_event
from runner.sandbox.stripe_sandbox import StripeSandbox
from runner.stripe_signature import SignatureError, verify_signature


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes


class WebhookReceiver:
    """Answers every POST with ``status`` and queues what it received."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.deliveries: queue.Queue[Delivery] = queue.Queue()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                receiver.deliveries.put(Delivery(self.path, dict(self.headers), body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/stripe/webhook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def wait_for(self, predicate, timeout: float = 10.0) -> Delivery:
        """The first delivery matching ``predicate``; others are dropped."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("no matching webhook delivery arrived")
            try:
                delivery = self.deliveries.get(timeout=remaining)
            except queue.Empty:
                continue
            if predicate(delivery):
                return delivery

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = WebhookReceiver()
    yield r
    r.close()


def of_type(event_type: str):
    return lambda d: json.loads(d.body)["type"] == event_type


@pytest.mark.slow
def test_localstripe_delivers_signed_events(sandbox: StripeSandbox, receiver: WebhookReceiver):
    secret = sandbox.register_webhook(receiver.url, endpoint_id="all")
    assert secret == sandbox.webhook_secret
    customer = sandbox.client().v1.customers.create(params={"email": "hook@example.com"})
    got = receiver.wait_for(of_type("customer.created"))
    assert got.path == "/stripe/webhook"
    verify_signature(got.body, got.headers["Stripe-Signature"], [secret])
    event = stripe.Webhook.construct_event(got.body, got.headers["Stripe-Signature"], secret)
    assert event.data.object.id == customer.id
    with pytest.raises(SignatureError):
        verify_signature(got.body, got.headers["Stripe-Signature"], ["whsec_not_it"])


@pytest.mark.slow
def test_event_filter_and_own_secret(sandbox: StripeSandbox, receiver: WebhookReceiver):
    sandbox.register_webhook(receiver.url, endpoint_id="all")  # replaced below: same id
    secret = sandbox.register_webhook(
        receiver.url, events=["customer.updated"], endpoint_id="all", secret="whsec_filtered"
    )
    client = sandbox.client()
    customer = client.v1.customers.create(params={"email": "filter@example.com"})
    client.v1.customers.update(customer.id, params={"name": "Filtered"})
    got = receiver.wait_for(lambda d: True)
    assert json.loads(got.body)["type"] == "customer.updated"
    verify_signature(got.body, got.headers["Stripe-Signature"], [secret])


def test_our_signed_event_reaches_a_receiver_and_verifies(receiver: WebhookReceiver):
    event = make_event("charge.dispute.created", overrides={"charge": "ch_fromsandbox"})
    response = deliver(receiver.url, event, "whsec_ours")
    assert response.status_code == 200
    got = receiver.wait_for(of_type("charge.dispute.created"))
    verify_signature(got.body, got.headers["Stripe-Signature"], ["whsec_ours"])
    parsed = stripe.Webhook.construct_event(got.body, got.headers["Stripe-Signature"], "whsec_ours")
    assert parsed.data.object.object == "dispute"
    assert parsed.data.object.charge == "ch_fromsandbox"
    assert got.headers["Content-Type"].startswith("application/json")
