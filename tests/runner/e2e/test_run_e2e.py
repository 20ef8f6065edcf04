"""``fieldbridge-runner run`` as a subprocess against the local sandboxes."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import requests

from runner.sandbox.stripe_events import deliver, make_event, signed_delivery
from runner.state.store import StateStore
from tests.runner.e2e.helpers import (
    RunnerProcess,
    charge_counts,
    customer_with_card,
    wait_for,
)

pytestmark = pytest.mark.slow


def _charge_events(n: int) -> list[dict]:
    return [make_event("charge.succeeded", overrides={"customer": None}) for _ in range(n)]


def test_sdk_charges_land_in_salesforce_exactly_once(sandbox, sf, charges_bundle, state_url,
                                                     tmp_path: Path) -> None:
    runner = RunnerProcess(charges_bundle, sandbox.json_path, state_url, tmp_path).start()
    try:
        client = sandbox.stripe.client()
        customer = customer_with_card(client, "E2E Person", "e2e.once@example.com")
        charges = [client.v1.charges.create(params={
            "amount": 1000 + n, "currency": "usd", "customer": customer,
            "description": f"e2e order {n}"}).id for n in range(5)]
        wait_for(lambda: len(charge_counts(sf, charges)) == len(charges), 30,
                 "Payment__c rows for every charge")
        # Catch-up lists the same events again; they must not write twice.
        with StateStore.open(state_url) as store:
            assert store.counts()["dlq_open"] == 0
        counts = charge_counts(sf, charges)
        assert counts == dict.fromkeys(charges, 1)
        account = sf.query_all("SELECT Id FROM Account WHERE StripeCustomerID__c = "
                               f"'{customer}'")["records"]
        assert len(account) == 1
        rows = sf.query_all("SELECT Account__c, Amount__c, Status__c FROM Payment__c WHERE "
                            f"StripeChargeID__c = '{charges[0]}'")["records"]
        assert rows[0]["Status__c"] == "Completed"
        assert rows[0]["Amount__c"] == 10.0
    finally:
        assert runner.stop() == 0


def test_forged_webhook_gets_400_and_leaves_nothing(sandbox, sf, charges_bundle, state_url,
                                                    tmp_path: Path) -> None:
    runner = RunnerProcess(charges_bundle, sandbox.json_path, state_url, tmp_path).start()
    try:
        event = make_event("charge.succeeded", overrides={"customer": None})
        body, headers = signed_delivery(event, "whsec_not_the_real_secret")
        resp = requests.post(runner.webhook_url, data=body, headers=headers, timeout=5)
        assert resp.status_code == 400
        assert "signature" in resp.json()["error"].lower()
        unsigned = requests.post(runner.webhook_url, data=body,
                                 headers={"Content-Type": "application/json"}, timeout=5)
        assert unsigned.status_code == 400
        # A genuine event afterwards is processed, so "nothing" below is not just "not yet".
        genuine = make_event("charge.succeeded", overrides={"customer": None})
        assert deliver(runner.webhook_url, genuine, sandbox.stripe.webhook_secret) \
            .status_code == 200
        genuine_id = genuine["data"]["object"]["id"]
        wait_for(lambda: charge_counts(sf, [genuine_id]), 20, "the genuine event's row")
        forged_id = event["data"]["object"]["id"]
        assert charge_counts(sf, [forged_id]) == {}
        with StateStore.open(state_url) as store:
            ids = {e.event_id for e in store.list_events(limit=1000)}
        assert event["id"] not in ids
        assert genuine["id"] in ids
    finally:
        assert runner.stop() == 0


def test_kill_9_during_a_burst_loses_and_duplicates_nothing(sandbox, sf, charges_bundle,
                                                           state_url, tmp_path: Path) -> None:
    events = _charge_events(300)
    secret = sandbox.stripe.webhook_secret
    first = RunnerProcess(charges_bundle, sandbox.json_path, state_url, tmp_path).start()
    acked: set[str] = set()

    def burst(url: str) -> None:
        for event in events:
            try:
                if deliver(url, event, secret, timeout=5).status_code == 200:
                    acked.add(event["id"])
            except Exception:  # the runner died mid-burst: Stripe would retry later
                continue

    sender = threading.Thread(target=burst, args=(first.webhook_url,))
    sender.start()
    wait_for(lambda: len(acked) >= 100, 30, "a third of the burst to be acknowledged")
    first.kill9()
    sender.join(60)
    assert 0 < len(acked) < len(events)

    second = RunnerProcess(charges_bundle, sandbox.json_path, state_url, tmp_path,
                           port=first.port).start()
    try:
        # Stripe redelivers what was not acknowledged, and may repeat what was.
        for event in events:
            assert deliver(second.webhook_url, event, secret).status_code == 200
        charge_ids = [e["data"]["object"]["id"] for e in events]
        wait_for(lambda: len(charge_counts(sf, charge_ids)) == len(charge_ids), 60,
                 "a Payment__c row for every event of the burst")
        assert charge_counts(sf, charge_ids) == dict.fromkeys(charge_ids, 1)
        with StateStore.open(state_url) as store:
            counts = store.counts()
        assert counts["dlq_open"] == 0 and counts["dead"] == 0
        # Every event is in the ledger. The few the killed worker had claimed stay
        # "processing" until their lease runs out (then the new runner takes them over and
        # finds their rows already written), so they are counted but not yet done.
        assert counts["done"] + counts["processing"] >= len(events)
        assert counts["processing"] <= 200  # at most the one batch in flight at the kill
    finally:
        assert second.stop() == 0


def test_injected_503s_and_dropped_connections_are_survived(sandbox, sf, charges_bundle,
                                                           state_url, tmp_path: Path) -> None:
    runner = RunnerProcess(charges_bundle, sandbox.json_path, state_url, tmp_path).start()
    events = _charge_events(60)
    charge_ids = [e["data"]["object"]["id"] for e in events]
    try:
        sandbox.salesforce.set_faults("error503=0.3,drop=0.15,lock=0.1,seed=11")
        for event in events:
            assert deliver(runner.webhook_url, event, sandbox.stripe.webhook_secret) \
                .status_code == 200
        # The faults must actually have hit the runner's writes...
        wait_for(lambda: _retried(state_url) >= 1, 30, "a write to fail and be retried")
        time.sleep(3)  # ... a few rounds of them, then the org recovers.
        sandbox.salesforce.set_faults(None)
        wait_for(lambda: len(charge_counts(sf, charge_ids)) == len(charge_ids), 90,
                 "every row after the faults")
        assert charge_counts(sf, charge_ids) == dict.fromkeys(charge_ids, 1)
        with StateStore.open(state_url) as store:
            assert store.counts()["dlq_open"] == 0
    finally:
        sandbox.salesforce.set_faults(None)
        assert runner.stop() == 0


def _retried(state_url: str) -> int:
    with StateStore.open(state_url) as store:
        return sum(1 for e in store.list_events(limit=1000) if e.attempts > 1
                   or e.status == "retry")
