"""Finance intelligence in the running runner: the :class:`FinanceMonitor`.

The Processor hands every record it processed to :meth:`FinanceMonitor.observe` (its
observer hook); the Runner calls :meth:`FinanceMonitor.tick` from its own thread. ``observe``
only feeds in-memory detectors (the worker must not wait on Salesforce); ``tick`` does the
I/O:

- contract drift: every ``drift_check_minutes`` the org's describe is compared with what
  the Salesforce-target flows write and what the Salesforce-triggered flows read and write
  back (:func:`runner.contract.check_org`, the check the runner makes at start); a flow
  that drifted is paused, and only that flow; a paused flow whose contract is whole again is
  resumed. The Runner holds a paused flow's events in the inbox (they are not lost);
- volume silence, null-rate jumps and catch-up cursor age -> alerts;
- anomaly flags -> an alert with the reason text, and a Salesforce Case written through the
  ``anomaly-to-case`` flow (the bundle's own, or the shipped ``anomaly-cases`` template's),
  so the Case is whatever the mapping says, not a record built here.

Paused flows, open findings and the flags (with their Case) persist in the state store's
cursor ``finance.paused`` as JSON, so a restart keeps them and ``status`` can show them.
Anomaly detector histories are in memory only: after a restart they build up again.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.alerts import Alert
from runner.contract import DriftFinding, check_org, flows_to_pause
from runner.errors import ConfigError, FatalSyncError
from runner.finance.anomaly import AnomalyDetector, Flag, observation_from_event
from runner.finance.anomaly_cases import EVENT_TYPE, case_key, flag_alert, flag_event
from runner.finance.monitors import (
    MonitorFinding,
    NullRateMonitor,
    VolumeMonitor,
    check_cursor,
    to_alert,
)
from runner.pipeline.bundle_runtime import CompiledFlow, LoadedBundle
from runner.pipeline.outcomes import TaskOutcome
from runner.pipeline.settle import StoreLedger
from runner.pipeline.writer import SalesforceWriter, WriteItem
from runner.settings import check_setting_range

if TYPE_CHECKING:
    from runner.alerts import Alerter
    from runner.config import RunnerConfig
    from runner.connectors.salesforce import SalesforceConnector
    from runner.pipeline.outcomes import ProcessedRecord
    from runner.state.store import StateStore

log = logging.getLogger(__name__)

STATE_CURSOR = "finance.paused"
CASE_TEMPLATE = Path(__file__).resolve().parents[2] / "mappings" / "templates" / \
    "anomaly-cases.yaml"
CASE_FLOW = "anomaly-to-case"
MAX_FLAGS_KEPT = 500  # flags remembered in the state (the most recent)
MAX_CASE_ATTEMPTS = 5  # a Case that fails this often is given up (the alert went out)
SEEN_EVENTS = 20_000  # event ids remembered so an event read by two flows counts once
CRITICAL_CURSOR_DAYS = 27.0
RECOMPUTED = ("volume", "cursor")


class CaseState(StrEnum):
    """Where a flag's Case stands in the persisted finance state (``off``: Cases disabled)."""

    PENDING = "pending"
    WRITTEN = "written"
    SKIPPED = "skipped"
    FAILED = "failed"
    OFF = "off"


@dataclass
class FinanceSettings:
    """The ``[runner.anomalies]`` and ``[runner.monitors]`` settings, checked."""

    anomalies: bool = True
    cases: bool = True
    interval: float = 60.0
    drift_check_minutes: float = 15.0
    expected_min_per_hour: dict[str, int] = field(default_factory=dict)
    null_rate_window: int = 200
    null_rate_baseline: int = 2000
    null_rate_increase: float = 0.5
    cursor_warn_days: float = 20.0

    def __post_init__(self) -> None:
        # The ranges the settings declare (runner.settings), also for values handed in
        # directly: one rule and one sentence, whichever way a value arrives.
        for key in ("interval", "drift_check_minutes", "null_rate_window",
                    "null_rate_baseline", "null_rate_increase", "cursor_warn_days"):
            check_setting_range(f"runner.monitors.{key}", getattr(self, key))

    @classmethod
    def from_config(cls, config: RunnerConfig) -> FinanceSettings:
        g = config.get
        return cls(
            anomalies=g("runner.anomalies.enabled"), cases=g("runner.anomalies.cases"),
            interval=g("runner.monitors.interval"),
            drift_check_minutes=g("runner.monitors.drift_check_minutes"),
            expected_min_per_hour=parse_expected(g("runner.monitors.expected_min_per_hour")),
            null_rate_window=g("runner.monitors.null_rate_window"),
            null_rate_baseline=g("runner.monitors.null_rate_baseline"),
            null_rate_increase=g("runner.monitors.null_rate_increase"),
            cursor_warn_days=g("runner.monitors.cursor_warn_days"))


def parse_expected(entries: Iterable[str]) -> dict[str, int]:
    """``["charge-to-payment=1"]`` -> ``{"charge-to-payment": 1}``; ConfigError naming the
    entry that is not ``FLOW=N`` with N a whole number >= 0."""
    out: dict[str, int] = {}
    for entry in entries:
        name, sep, count = str(entry).partition("=")
        name, count = name.strip(), count.strip()
        try:
            number = float(count) if sep and name else -1.0
        except ValueError:
            number = -1.0
        if number < 0 or number != int(number):
            raise ConfigError("runner.monitors.expected_min_per_hour: each entry must be "
                              f"FLOW=N with N a whole number >= 0, got {entry!r}")
        out[name] = int(number)
    return out


@dataclass
class TickReport:
    """What one :meth:`FinanceMonitor.tick` did."""

    drift_checked: bool = False
    paused: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    cases_written: int = 0
    cases_failed: int = 0


class FinanceMonitor:
    """Anomaly detection and monitors for one running bundle (thread-safe)."""

    def __init__(self, config: RunnerConfig | FinanceSettings | None, store: StateStore,
                 salesforce: SalesforceConnector, alerter: Alerter | None,
                 loaded_bundle: LoadedBundle, *, clock: Callable[[], float] = time.time,
                 on_pause_change: Callable[[frozenset[str]], None] | None = None) -> None:
        if isinstance(config, FinanceSettings):
            self.settings = config
        elif config is None:
            self.settings = FinanceSettings()
        else:
            self.settings = FinanceSettings.from_config(config)
        self.store = store
        self.salesforce = salesforce
        self.alerter = alerter
        self.bundle = loaded_bundle
        self.clock = clock
        self.on_pause_change = on_pause_change
        unknown = sorted(set(self.settings.expected_min_per_hour) - set(loaded_bundle.flows))
        if unknown:
            raise ConfigError("runner.monitors.expected_min_per_hour names flow(s) the bundle "
                              f"does not have: {', '.join(unknown)} (flows: "
                              f"{', '.join(sorted(loaded_bundle.flows))})")
        self._lock = threading.RLock()
        now = clock()
        self.detector = AnomalyDetector()
        self.volume = VolumeMonitor(self.settings.expected_min_per_hour, 3600.0, now=now)
        self.nulls = NullRateMonitor(self.settings.null_rate_window,
                                     self.settings.null_rate_baseline,
                                     min_baseline=min(100, self.settings.null_rate_baseline),
                                     min_increase=self.settings.null_rate_increase)
        self._seen: deque[str] = deque()
        self._seen_set: set[str] = set()
        self._new_flags: list[Flag] = []
        self._new_findings: list[MonitorFinding] = []
        self._case_flow: CompiledFlow | None = None
        self._fields_of: dict[str, tuple[str, ...] | None] = {}
        state = load_state(store)
        self._paused: dict[str, list[dict[str, Any]]] = state["paused"]
        self._findings: list[dict[str, Any]] = state["findings"]
        self._flags: list[dict[str, Any]] = state["flags"]
        self._last_drift: str | None = state["last_drift_check"]
        # The runner checked the contract as it started; flows paused by an earlier run are
        # re-checked at the first tick (to resume them once the org is fixed).
        self._last_drift_at: float | None = None if self._paused else now

    # -- paused flows ---------------------------------------------------------------------
    @property
    def paused(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._paused)

    def paused_reasons(self) -> dict[str, list[str]]:
        with self._lock:
            return {flow: [f["reason"] for f in found] for flow, found in self._paused.items()}

    # -- the observer hook (worker thread) --------------------------------------------------
    def observe(self, processed: ProcessedRecord) -> None:
        """Feed one processed record: payment events to the anomaly detector (once per
        event), written records to the volume and null-rate monitors."""
        if processed.outcome == TaskOutcome.RETRY:
            return  # it comes again; count it then
        with self._lock:
            if processed.outcome == TaskOutcome.WRITTEN:
                now = self.clock()
                self.volume.record(processed.flow, now=now)
                if processed.record is not None:
                    self._new_findings += self.nulls.observe(
                        processed.flow, processed.record, self._target_fields(processed.flow))
            if not self.settings.anomalies or not self._first_sight(processed.event_id):
                return
            try:
                observation = observation_from_event(processed.payload)
            except (KeyError, ValueError, TypeError) as exc:
                log.warning("event %s cannot be checked for anomalies: %s",
                            processed.event_id, exc)
                return
            if observation is not None:
                self._new_flags += self.detector.observe(observation)

    def _target_fields(self, flow: str) -> tuple[str, ...] | None:
        """The fields a flow writes, worked out once per flow (this runs per record)."""
        if flow not in self._fields_of:
            compiled = self.bundle.flows.get(flow)
            self._fields_of[flow] = tuple(compiled.flow.target_fields()) \
                if compiled is not None else None
        return self._fields_of[flow]

    def _first_sight(self, event_id: str | None) -> bool:
        if event_id is None:
            return True
        if event_id in self._seen_set:
            return False
        self._seen.append(event_id)
        self._seen_set.add(event_id)
        if len(self._seen) > SEEN_EVENTS:
            self._seen_set.discard(self._seen.popleft())
        return True

    # -- the periodic job -------------------------------------------------------------------
    def tick(self, now: float | None = None) -> TickReport:
        """Drift (when due), monitors, alerts, Cases; persist the state."""
        at = self.clock() if now is None else now
        report = TickReport()
        changed = False
        if self._drift_due(at):
            changed = self._check_drift(at, report)
        with self._lock:
            flags, self._new_flags = self._new_flags, []
            findings, self._new_findings = self._new_findings, []
            findings += self.volume.check(now=at)
        cursor = check_cursor(self.store, warn_days=self.settings.cursor_warn_days,
                              critical_days=max(self.settings.cursor_warn_days,
                                                CRITICAL_CURSOR_DAYS), now=at)
        if cursor is not None:
            findings.append(cursor)
        for finding in findings:
            self._alert(to_alert(finding), report)
        for flag in flags:
            self._alert(flag_alert(flag), report)
        with self._lock:
            self._remember_findings(findings)
            self._remember_flags(flags)
        if self.settings.cases:
            self._write_cases(report)
        self._save()
        if changed and self.on_pause_change is not None:
            self.on_pause_change(self.paused)
        return report

    def _drift_due(self, at: float) -> bool:
        minutes = self.settings.drift_check_minutes
        if minutes <= 0:
            return False
        return self._last_drift_at is None or at - self._last_drift_at >= minutes * 60

    def _check_drift(self, at: float, report: TickReport) -> bool:
        findings = check_org(self.bundle, self.salesforce)
        self._last_drift_at = at
        report.drift_checked = True
        by_flow: dict[str, list[DriftFinding]] = {}
        for f in findings:
            by_flow.setdefault(f.flow, []).append(f)
        with self._lock:
            self._last_drift = datetime.fromtimestamp(at, UTC).isoformat()
            before = set(self._paused)
            after = set(flows_to_pause(findings))
            for flow in sorted(after - before):
                for f in by_flow[flow]:
                    self._alert(to_alert(f), report)
                log.error("contract drift: flow %s paused (%s)", flow,
                          "; ".join(f.reason for f in by_flow[flow]))
            for flow in sorted(before - after):
                self._alert(Alert(f"drift:{flow}:resumed", f"flow {flow} resumed",
                                  f"flow {flow}: the org accepts what it writes again; its "
                                  "held events are processed now"), report)
                log.info("contract drift cleared: flow %s resumed", flow)
            self._paused = {flow: [f.to_dict() for f in by_flow[flow]] for flow in after}
            report.paused, report.resumed = sorted(after - before), sorted(before - after)
        return before != after

    def _alert(self, alert: Alert, report: TickReport) -> None:
        report.alerts.append(alert)
        if self.alerter is not None:
            self.alerter.raise_alert(alert)
        else:
            log.warning("alert: %s - %s", alert.title, alert.detail)

    def _remember_findings(self, findings: list[MonitorFinding]) -> None:
        # Volume and cursor are re-evaluated on every tick: only the latest ones are open.
        # A null-rate jump is reported once per episode, so it stays until it is replaced.
        current = {(f["monitor"], f.get("flow"), f.get("field")): f for f in self._findings
                   if f.get("monitor") not in RECOMPUTED}
        for f in findings:
            current[(f.monitor, f.flow, f.field)] = {
                **f.to_dict(), "at": datetime.fromtimestamp(self.clock(), UTC).isoformat()}
        self._findings = list(current.values())[-MAX_FLAGS_KEPT:]

    def _remember_flags(self, flags: list[Flag]) -> None:
        known = {f["key"] for f in self._flags}
        for flag in flags:
            if case_key(flag) in known:
                continue
            known.add(case_key(flag))
            self._flags.append({"key": case_key(flag), "flag": flag.to_dict(),
                                "case": CaseState.PENDING if self.settings.cases
                                else CaseState.OFF,
                                "attempts": 0, "sf_id": None, "error": None})
        del self._flags[:-MAX_FLAGS_KEPT]

    # -- Cases through the mapping ---------------------------------------------------------
    def case_flow(self) -> CompiledFlow:
        """The flow that maps ``fieldbridge.anomaly`` events to Cases: the bundle's own if it
        has one, otherwise the shipped template's, compiled against the shipped org schema."""
        if self._case_flow is None:
            mine = self.bundle.flows_for_event(EVENT_TYPE)
            if mine:
                self._case_flow = mine[0]
            else:
                self._case_flow = LoadedBundle.from_template(CASE_TEMPLATE).flow(CASE_FLOW)
        return self._case_flow

    def _write_cases(self, report: TickReport) -> None:
        """The pending flags' Cases through the one write path (lookups, key and body as the
        runner writes any record); a Case is given up when :func:`runner.retry.outcome_for`
        says its failure cannot heal, or after MAX_CASE_ATTEMPTS retriable ones."""
        with self._lock:
            pending = [f for f in self._flags if f["case"] == CaseState.PENDING]
        if not pending:
            return
        compiled = self.case_flow()
        items = [WriteItem(data=event, payload=event)
                 for event in (_event_of(entry["flag"]) for entry in pending)]
        writer = SalesforceWriter(self.salesforce,
                                  StoreLedger(self.store, self.bundle.polled_objects))
        try:
            writer.write(compiled.flow, compiled.plan, items)
        except FatalSyncError as exc:
            # Fatal for a Case is not fatal for the runner: the Cases not written fail.
            for item in items:
                if item.outcome is not TaskOutcome.WRITTEN:
                    item.finish(TaskOutcome.DEAD_LETTERED, str(exc))
        for entry, item in zip(pending, items, strict=True):
            if item.outcome is TaskOutcome.WRITTEN:
                entry.update(case=CaseState.WRITTEN, sf_id=item.sf_id, error=None)
                report.cases_written += 1
            elif item.outcome is TaskOutcome.SKIPPED:
                entry["case"], entry["error"] = CaseState.SKIPPED, item.error
            else:
                self._case_failed(entry, item.error or "not written", report,
                                  final=item.outcome is not TaskOutcome.RETRY)

    def _case_failed(self, entry: dict[str, Any], error: str, report: TickReport, *,
                     final: bool) -> None:
        entry["attempts"] += 1
        entry["error"] = error
        if final or entry["attempts"] >= MAX_CASE_ATTEMPTS:
            entry["case"] = CaseState.FAILED
            report.cases_failed += 1
            self._alert(Alert(f"case:{entry['key']}", "anomaly Case not written",
                              f"the Case for {entry['key']} could not be written: {error}. "
                              f"The flag: {entry['flag']['reason']}"), report)

    # -- state -----------------------------------------------------------------------------
    def _save(self) -> None:
        with self._lock:
            data = {"paused": self._paused, "findings": self._findings, "flags": self._flags,
                    "last_drift_check": self._last_drift}
            text = json.dumps(data, default=str)
        self.store.cursor_set(STATE_CURSOR, text)

    def status(self) -> dict[str, Any]:
        with self._lock:
            return summarize({"paused": self._paused, "findings": self._findings,
                              "flags": self._flags, "last_drift_check": self._last_drift})


def _event_of(flag: Mapping[str, Any]) -> dict[str, Any]:
    return flag_event(Flag(rule=flag["rule"], severity=flag["severity"],
                           object_id=flag["object_id"], account=flag.get("account"),
                           reason=flag["reason"], score=float(flag["score"]),
                           created=int(flag["created"])))


def load_state(store: Any) -> dict[str, Any]:
    """The persisted finance state (empty when there is none or it is unreadable)."""
    empty: dict[str, Any] = {"paused": {}, "findings": [], "flags": [],
                             "last_drift_check": None}
    raw = store.cursor_get(STATE_CURSOR)
    if not raw:
        return empty
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        log.warning("the finance state (cursor %s) is not JSON; starting afresh", STATE_CURSOR)
        return empty
    if not isinstance(data, dict):
        return empty
    paused = data.get("paused")
    return {"paused": paused if isinstance(paused, dict) else {},
            "findings": [f for f in data.get("findings") or [] if isinstance(f, dict)],
            "flags": [f for f in data.get("flags") or [] if isinstance(f, dict)
                      and isinstance(f.get("flag"), dict)],
            "last_drift_check": data.get("last_drift_check")}


def summarize(state: Mapping[str, Any]) -> dict[str, Any]:
    """What ``status`` shows of the finance state."""
    flags = state.get("flags") or []
    by_case: dict[str, int] = {}
    for f in flags:
        by_case[f.get("case", "?")] = by_case.get(f.get("case", "?"), 0) + 1
    return {
        "paused_flows": {flow: [f.get("reason", "") for f in found]
                         for flow, found in (state.get("paused") or {}).items()},
        "anomaly_flags_open": len(flags),
        "anomaly_cases": by_case,
        "findings": list(state.get("findings") or []),
        "last_drift_check": state.get("last_drift_check"),
    }


def finance_status(store: Any) -> dict[str, Any]:
    """The finance part of ``status``, read from the state store alone."""
    return summarize(load_state(store))


__all__ = ["FinanceMonitor", "FinanceSettings", "TickReport", "finance_status",
           "load_state", "parse_expected"]
