"""The Runner facade with fake connectors and a fake processor: fatal errors stop it with
exit code 1, other errors are retried, a stop releases claims and records the run, drift
refuses the start."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from runner.app import DriftError, Runner
from runner.bootstrap import parse_listen
from runner.config import load_config
from runner.connectors.stripe import StripeSettings
from runner.errors import ConfigError, FatalSyncError
from runner.pipeline.processor import ProcessReport
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

    def process_events(self, events: list[Any]) -> ProcessReport:
        FakeProcessor.seen.append([e.event_id for e in events])
        action = FakeProcessor.behaviour.pop(0) if FakeProcessor.behaviour else "done"
        if isinstance(action, BaseException):
            raise action
        for e in events:
            self.store.mark_done(e.event_id, worker=e.worker)
        return ProcessReport(events=len(events), written=len(events), api_calls=1)


@pytest.fixture
def loaded():
    from mappings.bundle import build_bundle
    from mappings.document.yamlio import load_documents
    from runner.bootstrap import load_verified_bundle

    def make(tmp: Path):
        docs = [d for p, d in load_documents(TEMPLATES) if p.stem == "charges-payments"]
        return load_verified_bundle(build_bundle(docs, tmp / "b.fbz"))
    return make


@pytest.fixture
def setup(tmp_path, loaded, monkeypatch):
    monkeypatch.setattr("runner.app.Processor", FakeProcessor)
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
    assert "Payment__c.StripeChargeID__c missing" in str(exc.value)


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
                                         "observers": list(kwargs.get("observers", [])),
                                         "linger": kwargs.get("linger")})


@pytest.fixture
def two_flows(tmp_path, monkeypatch):
    from mappings.bundle import build_bundle
    from mappings.document.yamlio import load_documents
    from mappings.schema.org_metadata import load_org
    from runner.bootstrap import load_verified_bundle

    monkeypatch.setattr("runner.app.Processor", RecordingProcessor)
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


# -- the worker loop: wake-ups and linger -------------------------------------------------------

class RecordingEvent(threading.Event):
    """A threading.Event that logs clear/wait into a shared list."""

    def __init__(self, name: str, log: list[tuple[str, Any]]) -> None:
        super().__init__()
        self.name, self.log = name, log

    def clear(self) -> None:
        self.log.append((f"{self.name}.clear", None))
        super().clear()

    def wait(self, timeout: float | None = None) -> bool:
        answer = super().wait(timeout)
        self.log.append((f"{self.name}.wait", (timeout, answer)))
        return answer


class ScriptedStore:
    """claim_events answers from a script; each answer may run a side effect first."""

    def __init__(self, script: list[Any], log: list[tuple[str, Any]]) -> None:
        self.script, self.log = script, log

    def claim_events(self, worker: str, limit: int, lease_seconds: int,
                     gather: float = 0.0) -> list[Any]:
        self.log.append(("claim", limit))
        step = self.script.pop(0)
        return step() if callable(step) else step

    def release_claims(self, worker: str) -> int:
        return 0


class ScriptedProcessor:
    def __init__(self, api_calls: int) -> None:
        self.api_calls = api_calls

    def process_events(self, events: list[Any]) -> ProcessReport:
        return ProcessReport(events=len(events), api_calls=self.api_calls)


def _loop_runner(setup, script: list[Any], *, linger: float = 0.1, api_calls: int = 1,
                 batch_size: int = 200, gather: float = 0.0):
    loaded, _config, _store = setup
    config = load_config(None, env={}, use_keyring=False, overrides={
        "runner.listen": "127.0.0.1:0", "runner.worker_id": "test-worker",
        "runner.linger": linger, "runner.batch_size": batch_size, "runner.gather": gather})
    log: list[tuple[str, Any]] = []
    runner = Runner(loaded, config, ScriptedStore(script, log),  # type: ignore[arg-type]
                    salesforce=FakeSalesforce(), stripe=FakeStripe(), finance=False)
    runner._wake = RecordingEvent("wake", log)
    runner._stop = RecordingEvent("stop", log)
    runner._processor = ScriptedProcessor(api_calls)
    return runner, log


def test_a_wake_up_during_an_empty_claim_is_not_lost(setup) -> None:
    runner = None

    def arrives_while_claiming() -> list[Any]:
        assert runner is not None
        runner._wake.set()  # an event committed just after the claim looked
        return []

    def then_stop() -> list[Any]:
        assert runner is not None
        runner._stop.set()
        return []

    runner, log = _loop_runner(setup, [arrives_while_claiming, then_stop])
    runner._wake.set()  # a stale wake-up from before this claim: cleared, not waited on
    runner._work_loop()
    ops = [op for op, _ in log if op != "stop.wait"]
    assert ops == ["wake.clear", "claim", "wake.wait", "wake.clear", "claim", "wake.wait"]
    first_wait = next(arg for op, arg in log if op == "wake.wait")
    assert first_wait == (0.05, True)  # the wake-up set after the clear was seen at once


def test_while_events_gather_the_worker_polls_instead_of_claiming_per_wake_up(setup) -> None:
    runner = None

    def gathering() -> list[Any]:
        assert runner is not None
        runner._wake.set()  # events keep arriving, but the claim's gather holds them
        return []

    def then_stop() -> list[Any]:
        assert runner is not None
        runner._stop.set()
        return []

    runner, log = _loop_runner(setup, [gathering, then_stop], gather=0.2)
    runner._work_loop()
    assert ("claim", 200) in log
    assert not [op for op, _ in log if op == "wake.wait"]  # a wake-up does not end the wait
    assert [arg for op, arg in log if op == "stop.wait"][0] == (0.05, False)


def test_the_worker_lingers_after_a_small_batch_that_called_salesforce(setup) -> None:
    events = [object(), object()]
    runner, log = _loop_runner(setup, [events, events, []], linger=0.2, batch_size=2)
    runner._hold_paused = lambda evs: evs  # type: ignore[method-assign]
    script = runner.store.script  # type: ignore[attr-defined]
    script[-1] = lambda: runner._stop.set() or []
    script.insert(0, [events[0]])  # a small batch first
    runner._work_loop()
    waits = [arg for op, arg in log if op == "stop.wait"]
    # the small batch lingered 0.2 s; the two full ones went on at once
    assert [timeout for timeout, _ in waits] == [0.2]
    assert runner.stats.batches == 3 and runner.stats.events == 5


def test_no_linger_without_api_calls_or_when_off(setup) -> None:
    runner, log = _loop_runner(setup, [[object()], []], api_calls=0)
    runner._hold_paused = lambda evs: evs  # type: ignore[method-assign]
    runner.store.script[-1] = lambda: runner._stop.set() or []  # type: ignore[attr-defined]
    runner._work_loop()
    assert not [op for op, _ in log if op == "stop.wait"]
    runner, log = _loop_runner(setup, [[object()], []], linger=0)
    runner._hold_paused = lambda evs: evs  # type: ignore[method-assign]
    runner.store.script[-1] = lambda: runner._stop.set() or []  # type: ignore[attr-defined]
    runner._work_loop()
    assert not [op for op, _ in log if op == "stop.wait"]


def test_a_stop_cuts_the_linger_short(setup) -> None:
    runner, log = _loop_runner(setup, [], linger=5.0)
    runner.request_stop("test")  # asked to stop: the linger's wait returns at once
    runner._linger(1, 3)
    assert log[-1] == ("stop.wait", (5.0, True))  # ended by the stop, not the 5 s


@pytest.mark.parametrize("value", [-0.1, 5.5])
def test_linger_outside_its_range_is_refused(value: float) -> None:
    # Refused when the configuration is loaded (the declared bounds), before any Runner.
    with pytest.raises(ConfigError, match="linger must be from 0 to 5 seconds"):
        load_config(None, env={}, use_keyring=False,
                    overrides={"runner.listen": "127.0.0.1:0", "runner.linger": value})


def test_the_runner_builds_its_processor_without_linger(two_flows) -> None:
    loaded, config, store, fields = two_flows
    runner = Runner(loaded, config, store, salesforce=FakeSalesforce(fields),
                    stripe=FakeStripe(), finance=False)
    assert runner.linger == 0.1  # the runner setting's default
    runner._build_workers(frozenset())
    # The processor has no linger of its own any more: only the worker loop lingers.
    assert RecordingProcessor.built[-1]["linger"] is None
