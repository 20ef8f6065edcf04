"""The Runner holds a drift-paused flow's events without spending their retry budget."""

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
    from runner.app import load_verified_bundle
    from runner.config import load_config

    monkeypatch.setattr("runner.pipeline.processor.Processor", FakeProcessor)
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
