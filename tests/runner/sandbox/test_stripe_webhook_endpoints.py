"""Several webhook endpoints in the Stripe sandbox, each with its own secret, kept across
restarts (:mod:`runner.sandbox.localstripe_webhooks`)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from runner.connectors.stripe import StripeConnector, StripeSettings
from runner.sandbox import localstripe_webhooks
from runner.sandbox.localstripe_webhooks import WebhookEndpoints
from runner.sandbox.stripe_sandbox import StripeSandbox, start_stripe_sandbox
from runner.stripe_signature import SignatureError, verify_signature
from tests.runner.sandbox.test_stripe_webhooks import WebhookReceiver, of_type

DEAD_URL = "http://127.0.0.1:9/nobody-listens"


@pytest.fixture
def receivers():
    made: list[WebhookReceiver] = []

    def make() -> WebhookReceiver:
        made.append(WebhookReceiver())
        return made[-1]

    yield make
    for r in made:
        r.close()


def _runner_connector(sandbox: StripeSandbox, secret: str) -> StripeConnector:
    """What a runner started with ``--sandbox`` registers through."""
    return StripeConnector(StripeSettings(api_key=sandbox.api_key, api_base=sandbox.api_base,
                                          webhook_secrets=[secret], flavor="localstripe",
                                          timeout=10))


# --- in the sandbox, end to end -------------------------------------------------------------


@pytest.mark.slow
def test_two_runners_both_receive_each_under_its_own_secret(receivers, tmp_path: Path):
    first, second, updates_only = receivers(), receivers(), receivers()
    with start_stripe_sandbox() as sandbox:
        # The same endpoint id for both, as every runner's connector uses: before, the
        # second registration replaced the first.
        _runner_connector(sandbox, "whsec_first").register_webhook(first.url)
        _runner_connector(sandbox, "whsec_second").register_webhook(second.url)
        sandbox.register_webhook(updates_only.url, ["customer.updated"], secret="whsec_third")
        sandbox.register_webhook(DEAD_URL, secret="whsec_dead")  # must not hold up the rest
        client = sandbox.client()
        customer = client.v1.customers.create(params={"email": "two@x.example"})
        client.v1.customers.update(customer.id, params={"name": "Two"})
        for receiver, secret in ((first, "whsec_first"), (second, "whsec_second")):
            got = receiver.wait_for(of_type("customer.created"))
            assert json.loads(got.body)["data"]["object"]["id"] == customer.id
            verify_signature(got.body, got.headers["Stripe-Signature"], [secret])
            other = "whsec_second" if secret == "whsec_first" else "whsec_first"
            with pytest.raises(SignatureError):
                verify_signature(got.body, got.headers["Stripe-Signature"], [other])
        got = updates_only.wait_for(lambda d: True)
        assert json.loads(got.body)["type"] == "customer.updated"
        verify_signature(got.body, got.headers["Stripe-Signature"], ["whsec_third"])


@pytest.mark.slow
def test_endpoints_survive_a_restart_of_the_sandbox(receivers, tmp_path: Path):
    receiver = receivers()
    data_file = tmp_path / "stripe" / "localstripe.pickle"
    with start_stripe_sandbox(data_file=data_file) as before:
        _runner_connector(before, "whsec_kept").register_webhook(receiver.url)
    endpoints_file = data_file.with_name(data_file.name + ".webhooks")
    assert endpoints_file.stat().st_mode & 0o077 == 0  # it holds the signing secrets
    # A new process on another port; the runner did not register again.
    with start_stripe_sandbox(data_file=data_file) as after:
        customer = after.client().v1.customers.create(params={"email": "kept@x.example"})
        got = receiver.wait_for(of_type("customer.created"))
        assert json.loads(got.body)["data"]["object"]["id"] == customer.id
        verify_signature(got.body, got.headers["Stripe-Signature"], ["whsec_kept"])


# --- the registry, in process ---------------------------------------------------------------


class _Event:
    def __init__(self, event_type: str) -> None:
        self.type = event_type
        self.created = 1_700_000_000

    def _export(self) -> dict[str, Any]:
        return {"id": "evt_test", "type": self.type, "created": self.created}


def test_same_id_and_url_replaces_another_url_adds(tmp_path: Path):
    endpoints = WebhookEndpoints(tmp_path / "hooks.webhooks")
    endpoints.register("fieldbridge", "http://127.0.0.1:1/a", "whsec_a", None)
    endpoints.register("fieldbridge", "http://127.0.0.1:1/a", "whsec_a2", ["x.y"])
    endpoints.register("fieldbridge", "http://127.0.0.1:2/b", "whsec_b", None)
    kept = {key: (hook.secret, hook.events) for key, hook in endpoints.endpoints.items()}
    assert kept == {("fieldbridge", "http://127.0.0.1:1/a"): ("whsec_a2", ["x.y"]),
                    ("fieldbridge", "http://127.0.0.1:2/b"): ("whsec_b", None)}
    reloaded = WebhookEndpoints(tmp_path / "hooks.webhooks")
    assert {key: (hook.secret, hook.events) for key, hook in reloaded.endpoints.items()} == kept


def test_an_unreadable_endpoints_file_is_ignored_not_fatal(tmp_path: Path, capsys):
    broken = tmp_path / "hooks.webhooks"
    broken.write_text("[{not json")
    assert WebhookEndpoints(broken).endpoints == {}
    assert "ignoring the unreadable webhook endpoints" in capsys.readouterr().err


def test_an_endpoint_refusing_for_long_enough_is_forgotten(tmp_path: Path, monkeypatch,
                                                            receivers):
    live = receivers()
    monkeypatch.setattr(localstripe_webhooks, "DELIVERY_DELAY", 0.0)
    endpoints = WebhookEndpoints(tmp_path / "hooks.webhooks")
    endpoints.register("fieldbridge", DEAD_URL, "whsec_dead", None)
    endpoints.register("fieldbridge", live.url, "whsec_live", None)
    asyncio.run(endpoints.send(_Event("customer.created")))
    assert len(endpoints.endpoints) == 2  # refused once: kept for now
    monkeypatch.setattr(localstripe_webhooks, "STALE_AFTER", 0.0)
    asyncio.run(endpoints.send(_Event("customer.updated")))
    assert list(endpoints.endpoints) == [("fieldbridge", live.url)]
    assert [row["url"] for row in json.loads((tmp_path / "hooks.webhooks").read_text())] == \
        [live.url]
    for event_type in ("customer.created", "customer.updated"):
        got = live.wait_for(of_type(event_type))
        verify_signature(got.body, got.headers["Stripe-Signature"], ["whsec_live"],
                         tolerance=None)
