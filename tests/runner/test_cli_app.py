"""The Runner facade with fake connectors and a fake processor: fatal errors stop it with
exit code 1, other errors are retried, a stop releases claims and records the run, drift
refuses the start."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from runner.app import DriftError, Runner, parse_listen
from runner.config import load_config
from runner.connectors.stripe import StripeSettings
from runner.errors import ConfigError, FatalSyncError
from runner.state.store import StateStore
from tests.runner.e2e.helpers import TEMPLATES


class FakeStripe:
    def __init__(self) -> None:
        self.settings = StripeSettings(api_key="sk_test_fake", webhook_secrets=["whsec_fake"])
        self.registered: list[str] = []

    def events_since(self, *args: Any, **kwargs: Any):
        return iter(())

    def register_webhook(self, url: str, events: Any = ("*",)) -> str:
        self.registered.append(url)
        return "whsec_fake"


class FakeSalesforce:
    api_calls = 0

    def __init__(self, fields: dict[str, list[dict]] | None = None) -> None:
        self.fields = fields or {}

    def api_usage(self) -> tuple[int, int] | None:
        return (10, 1000)

    def describe(self, obj: str) -> dict:
        return {"fields": self.fields.get(obj, [])}


class FakeProcessor:
    """Stands in for runner.pipeline.processor.Processor; behaviour set per test."""

    behaviour: list[Any] = []
    seen: list[list[str]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.store = args[1]

    def process_events(self, events: list[Any]) -> None:
        FakeProcessor.seen.append([e.event_id for e in events])
        action = FakeProcessor.behaviour.pop(0) if FakeProcessor.behaviour else "done"
        if isinstance(action, BaseException):
            raise action
        for e in events:
            self.store.mark_done(e.event_id, worker=e.worker)


@pytest.fixture
def loaded():
    from mappings.bundle import build_bundle
    from mappings.document.yamlio import load_documents
    from runner.app import load_verified_bundle

    def make(tmp: Path):
        docs = [d for p, d in load_documents(TEMPLATES) if p.stem == "charges-payments"]
        return load_verified_bundle(build_bundle(docs, tmp / "b.fbz"))
    return make


@pytest.fixture
def setup(tmp_path, loaded, monkeypatch):
    monkeypatch.setattr("runner.pipeline.processor.Processor", FakeProcessor)
    FakeProcessor.behaviour = []
    FakeProcessor.seen = []
    config = load_config(None, env={}, use_keyring=False, overrides={
        "runner.listen": "127.0.0.1:0", "runner.worker_id": "test-worker",
        "runner.catchup_interval": 60.0})
    store = StateStore.open(f"sqlite:///{tmp_path / 'state.sqlite'}")
    yield loaded(tmp_path), config, store
    store.close()


def _event(n: int) -> dict:
    return {"id": f"evt_app{n}", "type": "charge.succeeded", "created": 1_700_000_000 + n,
            "data": {"object": {"id": f"ch_app{n}", "object": "charge"}}}


def _wait(condition, timeout: float = 10.0) -> None:
    done = threading.Event()
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        done.wait(0.05)
    raise AssertionError("condition not met in time")


def test_a_fatal_error_stops_the_runner_with_exit_1(setup) -> None:
    loaded, config, store = setup
    store.add_event(_event(1), source="webhook")
    FakeProcessor.behaviour = [FatalSyncError("Salesforce refused the credentials")]
    runner = Runner(loaded, config, store, salesforce=FakeSalesforce(), stripe=FakeStripe())
    with pytest.raises(FatalSyncError, match="the runner stopped: Salesforce refused"):
        runner.run_forever()
    assert runner.wait(0) == 1
    counts = store.counts()
    assert counts["processing"] == 0 and counts["pending"] == 1  # claim released
    run = store.runs()[0]
    assert run.stopped_at is not None and "refused" in run.counts["fatal"]


def test_other_errors_are_retried_and_the_stop_is_recorded(setup) -> None:
    loaded, config, store = setup
    store.add_event(_event(2), source="webhook")
    FakeProcessor.behaviour = [RuntimeError("the org hiccupped")]
    runner = Runner(loaded, config, store, salesforce=FakeSalesforce(), stripe=FakeStripe(),
                    register_webhook=True)
    runner.start()
    url = runner.webhook_url
    try:
        _wait(lambda: store.counts()["done"] == 1)
    finally:
        runner.stop()
    assert runner.wait(0) == 0
    assert FakeProcessor.seen == [["evt_app2"], ["evt_app2"]]
    assert runner.stats.errors == 1 and "hiccupped" in (runner.stats.last_error or "")
    assert runner.stripe.registered == [url]
    run = store.runs()[0]
    assert run.stopped_at is not None
    assert run.counts["salesforce_api"] == [10, 1000] and run.counts["events"] == 1


def test_drift_refuses_to_start_with_the_report(setup) -> None:
    loaded, config, store = setup
    runner = Runner(loaded, config, store, salesforce=FakeSalesforce(), stripe=FakeStripe())
    with pytest.raises(DriftError) as exc:
        runner.check()
    assert exc.value.report
    assert "Payment__c.StripeChargeID__c no longer exists" in str(exc.value)


@pytest.mark.parametrize(("text", "expected"), [
    ("127.0.0.1:8787", ("127.0.0.1", 8787)), ("0.0.0.0:0", ("0.0.0.0", 0)),
    ("[::1]:9000", ("::1", 9000))])
def test_parse_listen(text, expected) -> None:
    assert parse_listen(text) == expected


@pytest.mark.parametrize("text", ["", "8787", ":80", "host:", "host:port", "host:-1",
                                  "host:65536"])
def test_parse_listen_refuses(text) -> None:
    with pytest.raises(ConfigError, match="listen"):
        parse_listen(text)


# -- finance: paused flows --------------------------------------------------------------------

class RecordingProcessor(FakeProcessor):
    built: list[dict[str, Any]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        RecordingProcessor.built.append({"flows": sorted(args[0].flows),
                                         "observers": list(kwargs.get("observers", []))})


@pytest.fixture
def two_flows(tmp_path, monkeypatch):
    from mappings.bundle import build_bundle
    from mappings.document.yamlio import load_documents
    from mappings.schema.org_metadata import load_org
    from runner.app import load_verified_bundle

    monkeypatch.setattr("runner.pipeline.processor.Processor", RecordingProcessor)
    FakeProcessor.behaviour, FakeProcessor.seen, RecordingProcessor.built = [], [], []
    docs = [d for p, d in load_documents(TEMPLATES)
            if p.stem in ("charges-payments", "customer-account")]
    loaded = load_verified_bundle(build_bundle(docs, tmp_path / "b.fbz"))
    config = load_config(None, env={}, use_keyring=False, overrides={
        "runner.listen": "127.0.0.1:0", "runner.worker_id": "test-worker",
        "runner.catchup_interval": 60.0, "runner.monitors.interval": 0.1})
    store = StateStore.open(f"sqlite:///{tmp_path / 'state.sqlite'}")
    describes = load_org([]).describes
    fields = {name: body["fields"] for name, body in describes.items()}
    yield loaded, config, store, fields
    store.close()


def _pause(store: StateStore, flow: str) -> None:
    import json

    from runner.finance.runtime import STATE_CURSOR

    store.cursor_set(STATE_CURSOR, json.dumps({"paused": {flow: [
        {"flow": flow, "reason": f"flow {flow}: Payment__c.Amount__c missing"}]}}))


def test_a_paused_flow_is_held_while_the_others_sync(two_flows) -> None:
    loaded, config, store, fields = two_flows
    fields["Payment__c"] = [f for f in fields["Payment__c"] if f["name"] != "Amount__c"]
    _pause(store, "charge-to-payment")
    store.add_event(_event(1), source="webhook")  # charge.succeeded
    store.add_event({"id": "evt_cus1", "type": "customer.created", "created": 1_700_000_001,
                     "data": {"object": {"id": "cus_app1", "object": "customer"}}},
                    source="webhook")
    runner = Runner(loaded, config, store, salesforce=FakeSalesforce(fields),
                    stripe=FakeStripe())
    runner.check()  # the paused flow's drift does not refuse the start
    runner.start()
    try:
        _wait(lambda: store.counts()["done"] == 1)
        assert runner.paused_flows == {"charge-to-payment"}
        assert runner.finance is not None
        _wait(lambda: runner.finance.status()["last_drift_check"] is not None)
    finally:
        runner.stop()
    held = store.get_event("evt_app1")
    assert held.status == "retry" and "charge-to-payment is paused" in (held.last_error or "")
    assert store.get_event("evt_cus1").status == "done"
    assert ["evt_app1"] not in FakeProcessor.seen
    first = RecordingProcessor.built[0]
    assert first["flows"] == ["customer-to-account", "customer-to-contact"]  # no paused flow
    assert first["observers"] == [runner.finance.observe]
    assert runner.finance.paused == {"charge-to-payment"}  # still drifted: still paused


def test_a_fixed_org_resumes_the_paused_flow(two_flows) -> None:
    loaded, config, store, fields = two_flows
    _pause(store, "charge-to-payment")  # the org has every field again
    store.add_event(_event(3), source="webhook")
    runner = Runner(loaded, config, store, salesforce=FakeSalesforce(fields),
                    stripe=FakeStripe())
    runner.start()
    try:
        _wait(lambda: runner.paused_flows == frozenset())
        assert RecordingProcessor.built[-1]["flows"] == ["charge-to-payment",
                                                         "customer-to-account",
                                                         "customer-to-contact"]
    finally:
        runner.stop()


def test_without_finance_nothing_is_observed(two_flows) -> None:
    loaded, config, store, fields = two_flows
    runner = Runner(loaded, config, store, salesforce=FakeSalesforce(fields),
                    stripe=FakeStripe(), finance=False)
    runner.start()
    runner.stop()
    assert runner.finance is None and RecordingProcessor.built[0]["observers"] == []
