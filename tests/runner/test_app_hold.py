"""The Runner and drift-paused flows: held events keep their retry budget; a Salesforce-
triggered flow whose read field is gone stops polling, alone."""

from __future__ import annotations

from datetime import timedelta

import pytest

from runner.app import Runner
from runner.classify import Failure
from runner.retry import DEFAULT_POLICY, decide
from runner.state.store import StateStore
from tests.runner.e2e.helpers import TEMPLATES
from tests.runner.state.helpers import FakeClock
from tests.runner.test_cli_app import FakeProcessor, FakeSalesforce, FakeStripe, _event


@pytest.fixture
def runner_and_store(tmp_path, monkeypatch):
    from mappings.bundle import build_bundle
    from mappings.document.yamlio import load_documents
    from runner.bootstrap import load_verified_bundle
    from runner.config import load_config

    monkeypatch.setattr("runner.app.Processor", FakeProcessor)
    FakeProcessor.behaviour, FakeProcessor.seen = [], []
    config = load_config(None, env={}, use_keyring=False, overrides={
        "runner.listen": "127.0.0.1:0", "runner.worker_id": "test-worker"})
    clock = FakeClock()
    store = StateStore.open(f"sqlite:///{tmp_path / 'state.sqlite'}", clock=clock)
    docs = [d for p, d in load_documents(TEMPLATES) if p.stem == "charges-payments"]
    loaded = load_verified_bundle(build_bundle(docs, tmp_path / "b.fbz"))
    runner = Runner(loaded, config, store, salesforce=FakeSalesforce(),
                    stripe=FakeStripe(), finance=False)
    yield runner, store, clock
    store.close()


def test_a_held_then_resumed_event_gets_its_full_retry_budget(runner_and_store) -> None:
    runner, store, clock = runner_and_store
    store.add_event(_event(1), source="webhook")  # charge.succeeded -> charge-to-payment
    store.add_event({"id": "evt_other", "type": "customer.created", "created": 1_700_000_000,
                     "data": {"object": {"id": "cus_1", "object": "customer"}}},
                    source="webhook")
    runner._set_paused(frozenset({"charge-to-payment"}))
    for _ in range(DEFAULT_POLICY.max_attempts + 2):  # paused longer than the budget
        events = store.claim_events(runner.worker)
        kept = runner._hold_paused(events)
        assert [e.event_id for e in kept] == [e.event_id for e in events
                                              if e.event_id != "evt_app1"]
        for ev in kept:
            store.mark_done(ev.event_id, worker=ev.worker)
        held = store.get_event("evt_app1")
        assert (held.status, held.attempts) == ("retry", 0)
        assert held.last_error == "held: flow charge-to-payment is paused by contract drift"
        assert held.retry_at == clock.now + timedelta(seconds=60)
        clock.advance(61)
    assert store.get_event("evt_other").status == "done"

    runner._set_paused(frozenset())  # the org is fixed
    tried = 0
    while True:
        (event,) = store.claim_events(runner.worker)
        assert runner._hold_paused([event]) == [event]
        tried += 1
        assert event.attempts == tried
        decision = decide(Failure.RETRIABLE, event.attempts, DEFAULT_POLICY)
        if decision.action != "retry":
            break
        store.mark_retry(event.event_id, "HTTP 503",
                         clock.now + timedelta(seconds=decision.delay), worker=event.worker)
        clock.advance(decision.delay + 1)
    assert decision.action == "dead_letter" and tried == DEFAULT_POLICY.max_attempts


def test_drift_on_what_a_salesforce_triggered_flow_reads_stops_polling_only_it(
        tmp_path, monkeypatch) -> None:
    """The finance monitor's drift check pauses the flow whose SOQL field is gone; the
    Runner rebuilds its poller without it while the other Salesforce flow keeps polling."""
    from mappings.bundle import build_bundle
    from mappings.document.yamlio import load_documents
    from mappings.schema.org_metadata import load_org
    from runner.bootstrap import load_verified_bundle
    from runner.config import load_config
    from runner.finance.runtime import FinanceMonitor, FinanceSettings

    monkeypatch.setattr("runner.app.Processor", FakeProcessor)
    docs = [d for p, d in load_documents(TEMPLATES) if p.stem == "opportunity-to-subscription"]
    loaded = load_verified_bundle(build_bundle(docs, tmp_path / "b.fbz"))
    config = load_config(None, env={}, use_keyring=False, overrides={
        "runner.listen": "127.0.0.1:0", "runner.worker_id": "test-worker"})
    fields = {name: body["fields"] for name, body in load_org([]).describes.items()}
    org = FakeSalesforce(fields)
    now = [1_767_225_600.0]
    with StateStore.open(f"sqlite:///{tmp_path / 'state.sqlite'}") as store:
        monitor = FinanceMonitor(FinanceSettings(drift_check_minutes=1), store, org, None,
                                 loaded, clock=lambda: now[0])
        runner = Runner(loaded, config, store, salesforce=org, stripe=FakeStripe(),
                        finance=monitor)
        runner.check()
        monitor.on_pause_change = runner._set_paused  # as Runner.start wires it
        runner._build_workers(frozenset())
        polled = sorted(c.name for c in runner._poller.bundle.salesforce_flows)
        assert polled == ["closed-won-to-customer", "closed-won-to-subscription"]

        fields["Opportunity"] = [f for f in fields["Opportunity"]
                                 if f["name"] != "StripePriceID__c"]
        now[0] += 61
        assert monitor.tick().paused == ["closed-won-to-subscription"]
        assert runner.paused_flows == {"closed-won-to-subscription"}
        assert [c.name for c in runner._poller.bundle.salesforce_flows] == [
            "closed-won-to-customer"]
        assert sorted(runner.bundle.flows) == polled  # the bundle itself keeps both
