"""``fieldbridge-runner run`` given only a refresh-token Salesforce connection (what "Log in
with Salesforce" approved in the browser), syncing on the local sandboxes.

No password, key or session reaches the runner: its configuration names the connected app
and the login URL, and the refresh token comes from the environment, as it would from the
secrets file or the keyring.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.sandbox.salesforce import salesforce_client
from tests.runner.e2e.helpers import (
    RunnerProcess,
    charge_counts,
    customer_with_card,
    wait_for,
)
from tests.runner.oauth_browser import approve_in_browser

pytestmark = pytest.mark.slow


def test_a_refresh_token_connection_syncs_and_survives_expired_sessions(
        sandbox, sf, charges_bundle, state_url, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    emulator = sandbox.salesforce
    approved = approve_in_browser(emulator)
    assert approved.refresh_token
    stripe = sandbox.to_dict()["stripe"]
    config = tmp_path / "runner.toml"
    config.write_text(f"""
[connections.stripe.default]
api_base = "{stripe['api_base']}"
flavor = "localstripe"

[connections.salesforce.default]
auth = "refresh_token"
login_url = "{emulator.login_url}"
consumer_key = "{emulator.consumer_key}"
ca_file = "{emulator.ca_file}"
api_version = "{emulator.api_version}"
pubsub_endpoint = "{emulator.pubsub_endpoint}"
""")
    monkeypatch.setenv("FIELDBRIDGE_STRIPE_DEFAULT_API_KEY", stripe["api_key"])
    monkeypatch.setenv("FIELDBRIDGE_STRIPE_DEFAULT_WEBHOOK_SECRET", stripe["webhook_secret"])
    monkeypatch.setenv("FIELDBRIDGE_SALESFORCE_DEFAULT_REFRESH_TOKEN", approved.refresh_token)
    # Without --sandbox no webhook is registered with the local Stripe: events come by the
    # catch-up through GET /v1/events, every second here.
    monkeypatch.setenv("FIELDBRIDGE_CATCHUP_INTERVAL", "1")
    runner = RunnerProcess(charges_bundle, sandbox.json_path, state_url, tmp_path)
    at = runner.args.index("--sandbox")
    runner.args[at:at + 2] = ["--config", str(config)]
    runner.start()
    try:
        client = sandbox.stripe.client()
        customer = customer_with_card(client, "Refresh Person", "refresh.token@example.com")
        first = client.v1.charges.create(params={"amount": 1200, "currency": "usd",
                                                 "customer": customer}).id
        wait_for(lambda: charge_counts(sf, [first]) == {first: 1}, 30,
                 "the first charge's Payment__c")
        # Every access token expires: the runner refreshes once and carries on.
        emulator.expire_sessions()
        sf = salesforce_client(emulator, access_token=emulator.new_token())  # ours expired too
        second = client.v1.charges.create(params={"amount": 1300, "currency": "usd",
                                                  "customer": customer}).id
        wait_for(lambda: charge_counts(sf, [second]) == {second: 1}, 30,
                 "the second charge's Payment__c after the sessions expired")
        log = runner.log()
        assert "logged in again" in log
        assert approved.refresh_token not in log
    finally:
        assert runner.stop() == 0
