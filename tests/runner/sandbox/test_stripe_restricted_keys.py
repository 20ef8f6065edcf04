"""Restricted keys in the Stripe sandbox answer as Stripe's do, seen through the real SDK."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
import stripe

from runner.sandbox.localstripe_keys import allowed, resource_of
from runner.sandbox.stripe_sandbox import SandboxError, StripeSandbox, start_stripe_sandbox

KEY = "rk_test_fieldbridge_nopayouts"


@pytest.mark.parametrize(
    ("path", "resource"),
    [
        ("/v1/payouts", "payouts"),
        ("/v1/payouts/po_1", "payouts"),
        ("/v1/checkout/sessions", "checkout/sessions"),
        ("/v1/radar/early_fraud_warnings/issfr_1", "radar/early_fraud_warnings"),
        ("/_config/data", None),
    ],
)
def test_resource_of_a_path(path: str, resource: str | None) -> None:
    assert resource_of(path) == resource


@pytest.mark.parametrize(
    ("level", "method", "ok"),
    [
        ("none", "GET", False),
        ("read", "GET", True),
        ("read", "POST", False),
        ("write", "GET", True),
        ("write", "POST", True),
        ("write", "DELETE", True),
        (None, "GET", False),  # not listed: none, as on a new restricted key
    ],
)
def test_levels(level: str | None, method: str, ok: bool) -> None:
    perms = {} if level is None else {"payouts": level}
    assert allowed(perms, "payouts", method) is ok


@pytest.mark.slow
def test_a_key_without_payouts_gets_stripes_403() -> None:
    with start_stripe_sandbox() as sandbox:
        sandbox.declare_restricted_keys(
            {KEY: {"payouts": "none", "charges": "read", "customers": "write"}})
        client = stripe.StripeClient(KEY, base_addresses={"api": sandbox.api_base},
                                     max_network_retries=0)
        with pytest.raises(stripe.PermissionError) as caught:
            client.v1.payouts.list(params={"limit": 1})
        err = caught.value
        assert err.http_status == 403
        assert err.error is not None and err.error.type == "invalid_request_error"
        assert "does not have the required permissions for this endpoint" in str(err.user_message)
        assert KEY not in str(err.user_message)  # redacted, as Stripe does

        assert client.v1.charges.list(params={"limit": 1}).data == []  # read is enough
        with pytest.raises(stripe.PermissionError):
            client.v1.charges.create(params={"amount": 100, "currency": "usd"})
        customer = client.v1.customers.create(params={"email": "rk@example.com"})
        assert client.v1.customers.retrieve(customer.id).email == "rk@example.com"

        # An undeclared restricted key is refused as a wrong key, as Stripe does.
        with pytest.raises(stripe.AuthenticationError):
            stripe.StripeClient("rk_test_unknown", base_addresses={"api": sandbox.api_base},
                                max_network_retries=0).v1.customers.list()
        # The secret key is unaffected.
        assert sandbox.client().v1.payouts.list().data == []


@pytest.mark.slow
def test_declared_keys_outlive_a_restart_and_bad_declarations_are_refused(
    tmp_path: Path,
) -> None:
    data_file = tmp_path / "stripe.pickle"
    sandbox: StripeSandbox = start_stripe_sandbox(data_file=data_file)
    try:
        with pytest.raises(SandboxError, match="must be one of none, read, write"):
            sandbox.declare_restricted_keys({KEY: {"payouts": "maybe"}})
        sandbox.declare_restricted_keys({KEY: {"payouts": "read"}})
    finally:
        sandbox.stop()
    with start_stripe_sandbox(data_file=data_file) as again:
        resp = requests.get(f"{again.api_base}/v1/payouts", timeout=10,
                            headers={"Authorization": f"Bearer {KEY}"})
        assert resp.status_code == 200
        resp = requests.post(f"{again.api_base}/v1/payouts", timeout=10,
                             headers={"Authorization": f"Bearer {KEY}"})
        assert resp.status_code == 403
