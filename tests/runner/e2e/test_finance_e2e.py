"""Finance intelligence through a running Runner on the local sandboxes: planted anomalies
(a 50x amount after a history of normal charges, a duplicate charge) raise Cases in the org
emulator and alerts to a webhook receiver; a mapped field dropped from the org (emulator
restarted with a ``removeFields`` overlay) raises a drift alert and pauses only its flow
while the other flow keeps syncing."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mappings.bundle import build_bundle
from mappings.document.yamlio import load_documents
from runner.alerts import Alerter
from runner.app import Runner
from runner.bootstrap import connect_salesforce, connect_stripe, load_verified_bundle
from runner.config import load_config
from runner.finance.runtime import finance_status
from runner.sandbox.salesforce.server import salesforce_client, start_emulator
from runner.sandbox.stripe_events import deliver, make_event
from runner.state.store import StateStore
from tests.runner.e2e.helpers import TEMPLATES, sandbox_pair, soql_rows, wait_for

pytestmark = pytest.mark.slow

CUSTOMER = "cus_FinanceE2E01"


class Receiver:
    """A chat webhook on loopback that keeps what it is sent."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        received = self.texts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.append(json.loads(body)["text"])
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def having(self, text: str) -> list[str]:
        return [t for t in self.texts if text in t]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sandboxes(tmp_path: Path) -> Iterator[Any]:
    with sandbox_pair(tmp_path) as session:
        yield session


@pytest.fixture
def running(sandboxes, tmp_path: Path) -> Iterator[tuple[Any, Any, Receiver, Any]]:
    docs = [d for p, d in load_documents(TEMPLATES)
            if p.stem in ("charges-payments", "customer-account")]
    loaded = load_verified_bundle(build_bundle(docs, tmp_path / "b.fbz"))
    config = load_config(None, env={}, use_keyring=False, sandbox_json=sandboxes.json_path,
                         overrides={"runner.listen": "127.0.0.1:0",
                                    "runner.monitors.interval": 0.3,
                                    "runner.monitors.drift_check_minutes": 0.02,
                                    "runner.poll_interval": 60.0})
    store = StateStore.open(f"sqlite:///{tmp_path / 'state.sqlite'}")
    receiver = Receiver()
    sf = salesforce_client(sandboxes.salesforce)
    sf.Account.create({"Name": "Anomaly Co", "StripeCustomerID__c": CUSTOMER})
    runner = Runner(loaded, config, store, salesforce=connect_salesforce(config),
                    stripe=connect_stripe(config), catchup_since=int(time.time()),
                    alerter=Alerter(receiver.url, min_interval=0), poll=False)
    runner.check()
    runner.start()
    try:
        yield runner, sf, receiver, store
    finally:
        runner.stop()
        receiver.close()
        store.close()


def _charge(amount: int, created: int, n: int) -> dict:
    return make_event("charge.succeeded", created=created, event_id=f"evt_fin_{n:03d}",
                      overrides={"id": f"ch_fin_{n:03d}", "customer": CUSTOMER,
                                 "amount": amount, "currency": "usd", "created": created})


def test_planted_anomalies_raise_cases_and_alerts(sandboxes, running) -> None:
    runner, sf, receiver, store = running
    secret = sandboxes.stripe.webhook_secret
    now = int(time.time())
    events = [_charge(3000 + 10 * (n % 3), now - 86_400 + n * 3600, n) for n in range(10)]
    events += [_charge(4444, now - 600, 10), _charge(4444, now - 540, 11)]  # a duplicate
    events.append(_charge(150_000, now, 12))  # 50x this customer's usual
    for event in events:
        assert deliver(runner.webhook_url, event, secret).status_code == 200

    def cases() -> dict[str, dict]:
        rows = soql_rows(sf, "SELECT StripeObjectID__c, Subject, Description, AccountId, "
                             "Reason FROM Case WHERE Origin = 'Stripe'")
        return {r["StripeObjectID__c"]: r for r in rows}

    wait_for(lambda: len(cases()) >= 2, 60, "two anomaly Cases")
    found = cases()
    assert set(found) == {"anomaly:duplicate_charge:ch_fin_011",
                          "anomaly:amount_outlier:ch_fin_012"}
    account = soql_rows(sf, f"SELECT Id FROM Account WHERE StripeCustomerID__c = "
                            f"'{CUSTOMER}'")[0]["Id"]
    outlier = found["anomaly:amount_outlier:ch_fin_012"]
    assert outlier["Subject"] == "Unusual payment amount: ch_fin_012"
    assert "1,500.00 USD is" in outlier["Description"]
    assert "x this account's median of 30 days" in outlier["Description"]
    assert outlier["AccountId"] == account
    assert "as charge ch_fin_010 60 seconds earlier" in \
        found["anomaly:duplicate_charge:ch_fin_011"]["Description"]
    # ... and an alert each, with the reason text.
    wait_for(lambda: receiver.having("Unusual payment amount"), 10, "the outlier alert")
    assert "x this account's median" in receiver.having("Unusual payment amount")[0]
    assert receiver.having("Possible duplicate charge")
    # Every payment was written too: anomalies are flagged, not blocked.
    assert len(soql_rows(sf, "SELECT Id FROM Payment__c")) == len(events)
    assert runner.finance is not None
    assert runner.finance.status()["anomaly_cases"] == {"written": 2}


def test_a_dropped_field_pauses_only_its_flow(sandboxes, running, tmp_path: Path) -> None:
    runner, sf, receiver, store = running
    secret = sandboxes.stripe.webhook_secret
    old = sandboxes.salesforce
    port = int(old.instance_url.rsplit(":", 1)[1])
    old.stop()
    sandboxes.salesforce = start_emulator(Path(old.state_dir), port=port, metadata=[
        {"removeFields": {"Payment__c": ["Amount__c"]}}])
    # A real org restart drops every connection; the in-thread emulator's old handler
    # threads would keep serving the runner's pooled keep-alive connections with the old
    # metadata, so drop them on the client side.
    runner.salesforce.sf.session.close()
    sf.session.close()

    wait_for(lambda: runner.paused_flows == {"charge-to-payment"}, 30,
             "the drift monitor to pause charge-to-payment")
    wait_for(lambda: receiver.having("contract drift paused flow charge-to-payment"), 10,
             "the drift alert")
    assert "Payment__c.Amount__c missing" in \
        receiver.having("contract drift paused flow")[0]

    now = int(time.time())
    customer = make_event("customer.created", created=now, event_id="evt_fin_cus",
                          overrides={"id": "cus_FinanceE2E02", "name": "Still Syncing",
                                     "email": "still@example.com"})
    charge = _charge(1234, now, 99)
    for event in (charge, customer):
        assert deliver(runner.webhook_url, event, secret).status_code == 200
    wait_for(lambda: soql_rows(sf, "SELECT Id FROM Account WHERE StripeCustomerID__c = "
                                   "'cus_FinanceE2E02'"), 30, "the customer in Salesforce")
    held = wait_for(lambda: (e := store.get_event("evt_fin_099")).status == "retry" and e,
                    10, "the charge to be held")
    assert "charge-to-payment is paused" in (held.last_error or "")
    assert soql_rows(sf, "SELECT Id FROM Payment__c WHERE StripeChargeID__c = "
                         "'ch_fin_099'") == []

    assert list(finance_status(store)["paused_flows"]) == ["charge-to-payment"]
