"""Monitors: flow volume, mapped-field null rates, catch-up cursor health, and the alert of
a contract-drift finding.

Each monitor returns findings with a reason a person can act on; :func:`to_alert` turns one
into a :class:`runner.alerts.Alert`. The cores are pure (counts and times in). Contract
drift itself is checked by :mod:`runner.contract`, the one check the runner also makes at
start-up.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from runner.alerts import Alert
from runner.contract import DriftFinding
from runner.ingest.catchup import DEFAULT_CURSOR, RETENTION_DAYS, CursorStore, cursor_age_days

Severity = Literal["critical", "warning"]


@dataclass(frozen=True, slots=True)
class MonitorFinding:
    monitor: str  # "drift" | "volume" | "null_rate" | "cursor"
    severity: Severity
    reason: str
    flow: str | None = None
    field: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"monitor": self.monitor, "severity": self.severity, "reason": self.reason,
                "flow": self.flow, "field": self.field}


def to_alert(finding: MonitorFinding | DriftFinding) -> Alert:
    """The alert for a finding; its rule key de-duplicates repeats in :class:`Alerter`."""
    if isinstance(finding, DriftFinding):
        return Alert(f"drift:{finding.flow}:{finding.object}.{finding.field}",
                     f"contract drift paused flow {finding.flow}", finding.reason)
    key = ":".join(p for p in (finding.monitor, finding.flow, finding.field) if p)
    return Alert(key, f"{finding.monitor} monitor ({finding.severity})", finding.reason)


# -- volume --------------------------------------------------------------------------------
def _span(seconds: float) -> str:
    for unit, size in (("day", 86_400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds / size
            return f"{n:g} {unit}" + ("" if n == 1 else "s")
    return f"{seconds:g} seconds"


class VolumeMonitor:
    """Alert when a flow processes fewer than ``expected_min_per_period`` records per period.

    ``expected_min_per_period`` is one number for every flow or a per-flow mapping (flows
    missing from it are not watched). Nothing is reported before one full period has passed
    since the monitor (or the flow) started being watched.
    """

    def __init__(self, expected_min_per_period: int | Mapping[str, int], period: float,
                 *, flows: Iterable[str] = (), now: float | None = None) -> None:
        if period <= 0:
            raise ValueError(f"volume period must be positive, got {period}")
        mins = expected_min_per_period
        if isinstance(mins, Mapping):
            bad = {k: v for k, v in mins.items() if v < 0}
        else:
            bad = {"*": mins} if mins < 0 else {}
        if bad:
            raise ValueError(f"expected minimum must be >= 0, got {bad}")
        self.expected = mins
        self.period = float(period)
        start = time.time() if now is None else now
        self._since: dict[str, float] = {}
        self._seen: dict[str, deque[tuple[float, int]]] = {}
        names = list(flows) + (list(mins) if isinstance(mins, Mapping) else [])
        for name in names:
            self._since.setdefault(name, start)

    def _minimum(self, flow: str) -> int | None:
        if isinstance(self.expected, Mapping):
            return self.expected.get(flow)
        return self.expected

    def record(self, flow: str, count: int = 1, *, now: float | None = None) -> None:
        at = time.time() if now is None else now
        self._since.setdefault(flow, at)
        q = self._seen.setdefault(flow, deque())
        q.append((at, count))
        while q and q[0][0] < at - self.period:
            q.popleft()

    def check(self, *, now: float | None = None) -> list[MonitorFinding]:
        at = time.time() if now is None else now
        findings = []
        for flow, since in sorted(self._since.items()):
            minimum = self._minimum(flow)
            if not minimum or at - since < self.period:
                continue
            seen = sum(n for t, n in self._seen.get(flow, ()) if t >= at - self.period)
            if seen < minimum:
                what = "went silent" if seen == 0 else "is below its expected volume"
                findings.append(MonitorFinding(
                    "volume", "critical" if seen == 0 else "warning",
                    f"flow {flow} {what}: {seen} records in the last {_span(self.period)} "
                    f"(expected at least {minimum})", flow=flow))
        return findings


# -- null rate -----------------------------------------------------------------------------
@dataclass(slots=True)
class _FieldNulls:
    # Running null counts beside the two windows, so a record costs O(1) per field rather
    # than a sum over the window (200 records) for every field of every record.
    recent: deque[bool] = field(default_factory=deque)
    recent_nulls: int = 0
    baseline_nulls: int = 0
    baseline_total: int = 0
    baseline: deque[bool] = field(default_factory=deque)
    alerting: bool = False


class NullRateMonitor:
    """Alert when a mapped field's null rate jumps (baseline 2% -> now 95%).

    The last ``window`` records of each flow/field are compared with the ``baseline`` records
    before them. A finding is raised once per episode and again only after the rate fell back.
    """

    def __init__(self, window: int = 200, baseline: int = 2000, *, min_baseline: int = 100,
                 min_increase: float = 0.5) -> None:
        if window < 1 or baseline < 1 or min_baseline < 1:
            raise ValueError("null-rate window, baseline and min_baseline must be >= 1")
        if not (0 < min_increase <= 1):
            raise ValueError(f"min_increase must be in (0, 1], got {min_increase}")
        self.window, self.baseline_size = window, baseline
        self.min_baseline, self.min_increase = min(min_baseline, baseline), min_increase
        # flow -> field -> counts, made on first sight (setdefault would build and drop a
        # pair of windows for every field of every record).
        self._flows: defaultdict[str, defaultdict[str, _FieldNulls]] = defaultdict(
            lambda: defaultdict(_FieldNulls))

    def observe(self, flow: str, record: Mapping[str, Any],
                fields: Iterable[str] | None = None) -> list[MonitorFinding]:
        """Feed one mapped record; ``fields`` defaults to the record's keys."""
        findings = []
        states = self._flows[flow]
        for name in (fields if fields is not None else record.keys()):
            state = states[name]
            value = record.get(name)
            null = value is None or value == ""
            state.recent.append(null)
            state.recent_nulls += null
            if len(state.recent) > self.window:
                moved = state.recent.popleft()
                state.recent_nulls -= moved
                state.baseline.append(moved)
                state.baseline_nulls += moved
                state.baseline_total += 1
                if len(state.baseline) > self.baseline_size:
                    state.baseline_nulls -= state.baseline.popleft()
                    state.baseline_total -= 1
            found = self._check(flow, name, state)
            if found:
                findings.append(found)
        return findings

    def _check(self, flow: str, name: str, s: _FieldNulls) -> MonitorFinding | None:
        if s.baseline_total < self.min_baseline or len(s.recent) < self.window:
            return None
        base = s.baseline_nulls / s.baseline_total
        now = s.recent_nulls / len(s.recent)
        jumped = now - base >= self.min_increase
        if not jumped:
            s.alerting = False
            return None
        if s.alerting:
            return None
        s.alerting = True
        return MonitorFinding(
            "null_rate", "critical",
            f"flow {flow}: field {name} is null in {now:.0%} of the last {len(s.recent)} "
            f"records, against {base:.0%} in the {s.baseline_total} before "
            "(a source field renamed or gone after an API-version change?)",
            flow=flow, field=name)


# -- catch-up cursor -----------------------------------------------------------------------
def check_cursor(store: CursorStore, *, cursor: str = DEFAULT_CURSOR, warn_days: float = 20.0,
                 critical_days: float = 27.0, now: float | None = None) -> MonitorFinding | None:
    """A finding when the last processed Stripe event is getting close to 30 days old."""
    if not (0 < warn_days <= critical_days <= RETENTION_DAYS):
        raise ValueError("need 0 < warn_days <= critical_days <= 30, got "
                         f"{warn_days} and {critical_days}")
    age = cursor_age_days(store, cursor=cursor, now=now)
    if age is None or age < warn_days:
        return None
    left = RETENTION_DAYS - age
    if age >= RETENTION_DAYS:
        detail = ("events older than 30 days are gone from Stripe's events API: run a "
                  "backfill for the gap")
    else:
        detail = f"{left:.1f} days before Stripe drops the events after it; catch up now"
    return MonitorFinding(
        "cursor", "critical" if age >= critical_days else "warning",
        f"the last processed Stripe event ({cursor}) is {age:.1f} days old; {detail}")
