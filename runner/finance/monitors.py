"""Monitors: contract drift, flow volume, mapped-field null rates, catch-up cursor health.

Each monitor returns findings with a reason a person can act on; :func:`to_alert` turns one
into a :class:`runner.alerts.Alert`. The cores are pure (describes, counts and times in);
:func:`describe_targets` is the only function here that calls Salesforce.

Drift is checked against the bundle manifest's flow contracts (``flows[*].writes``, see
:func:`mappings.bundle.manifest.flow_contract`): a written field that is gone, changed type
or is no longer writable stops that flow, and only that flow (:func:`flows_to_pause`).
A Salesforce-triggered flow's contract also lists what it ``reads`` (the poller's SOQL
fields, :func:`runner.pipeline.sf_poller.source_fields`): a read field that is gone or
changed type, or a ``writeback`` field that is gone or no longer updateable, stops it too.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from runner.alerts import Alert
from runner.ingest.catchup import DEFAULT_CURSOR, RETENTION_DAYS, CursorStore, cursor_age_days

if TYPE_CHECKING:
    from mappings.schema.model import Catalog
    from runner.connectors.salesforce import SalesforceConnector

Severity = Literal["critical", "warning"]
OBJECT = "(object)"  # the field name of a finding about a whole object


@dataclass(frozen=True, slots=True)
class DriftFinding:
    flow: str
    field: str
    problem: str  # "missing" | "type changed from X to Y" | "not writable" | "object missing"
    object: str = ""
    role: str = "writes"  # what the flow does with the field: "writes" | "reads" | "writeback"

    @property
    def reason(self) -> str:
        if self.field == OBJECT:
            return f"flow {self.flow}: object {self.object} is gone from the org"
        if self.role == "reads":
            return f"flow {self.flow}: {self.object}.{self.field}, which the flow reads, " \
                   f"{self.problem}"
        if self.role == "writeback":
            return f"flow {self.flow}: the writeback field {self.object}.{self.field} " \
                   f"{self.problem}"
        return f"flow {self.flow}: {self.object}.{self.field} {self.problem}"

    def to_dict(self) -> dict[str, str]:
        return {"flow": self.flow, "object": self.object, "field": self.field,
                "problem": self.problem, "role": self.role, "reason": self.reason}


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


# -- contract drift ------------------------------------------------------------------------
def _target_object(flow: Mapping[str, Any], end: str = "target") -> str | None:
    """``salesforce:Payment__c`` -> ``Payment__c``; None for flows writing to Stripe (or,
    with ``end="source"``, reading from it)."""
    target = flow.get(end)
    if isinstance(target, Mapping):
        system, obj = target.get("system"), target.get("object")
    elif isinstance(target, str) and ":" in target:
        system, obj = target.split(":", 1)
    else:
        return None
    return obj if system == "salesforce" and isinstance(obj, str) else None


def _source_object(flow: Mapping[str, Any]) -> str | None:
    """The Salesforce object a flow's contract says it reads (``reads``), else None."""
    if flow.get("reads") is None:
        return None
    return _target_object(flow, "source")


def expected_types(catalog: Catalog) -> dict[str, dict[str, str]]:
    """Object -> field -> describe type, from the Salesforce catalog a bundle was built with."""
    return {name: {f.path: f.native_type for f in obj.fields.values() if f.native_type}
            for name, obj in catalog.objects.items()}


def check_drift(contract_flows: Sequence[Mapping[str, Any]],
                describes: Mapping[str, Mapping[str, Any] | None],
                expected: Mapping[str, Mapping[str, str]] | None = None) -> list[DriftFinding]:
    """What each Salesforce-target flow writes that the org no longer accepts, and what each
    Salesforce-triggered flow reads (its contract's ``reads``) or writes back that is gone.

    ``describes`` maps object name to its current describe (None or absent: the object is
    gone). ``expected`` (object -> field -> type when the bundle was built, see
    :func:`expected_types`) enables the "type changed" check.
    """
    findings: list[DriftFinding] = []
    for flow in contract_flows:
        name = flow.get("name")
        writes = flow.get("writes")
        if not isinstance(name, str) or not isinstance(writes, list):
            raise ValueError(f"a flow contract needs 'name' and a 'writes' list, got {flow!r}")
        reads = flow.get("reads")
        if reads is not None and not (isinstance(reads, list)
                                      and all(isinstance(r, str) and r for r in reads)):
            raise ValueError(f"flow {name}: 'reads' must be a list of field names, got "
                             f"{reads!r}")
        findings += _check_source(name, flow, describes, expected or {})
        obj = _target_object(flow)
        if obj is None:
            continue
        describe = describes.get(obj)
        if not describe:
            findings.append(DriftFinding(name, OBJECT, "object missing", obj))
            continue
        fields = {f["name"]: f for f in describe.get("fields") or [] if "name" in f}
        operation = flow.get("operation") or {}
        action = operation.get("action", "upsert") if isinstance(operation, Mapping) \
            else "upsert"
        was = (expected or {}).get(obj, {})
        for target in writes:
            base = str(target).split(".", 1)[0]
            current = fields.get(base)
            if current is None:
                findings.append(DriftFinding(name, base, "missing", obj))
                continue
            old_type = was.get(base)
            if old_type and current.get("type") and current["type"] != old_type:
                findings.append(DriftFinding(
                    name, base, f"type changed from {old_type} to {current['type']}", obj))
                continue
            need_create = action in ("upsert", "insert", "create")
            need_update = action in ("upsert", "update")
            if (need_create and current.get("createable") is False and
                    base != operation.get("external_id")) or \
                    (need_update and current.get("updateable") is False and
                     not current.get("externalId")):
                findings.append(DriftFinding(name, base, "not writable", obj))
    return findings


def _check_source(name: str, flow: Mapping[str, Any],
                  describes: Mapping[str, Mapping[str, Any] | None],
                  expected: Mapping[str, Mapping[str, str]]) -> list[DriftFinding]:
    """The read side of a Salesforce-triggered flow: the fields its SOQL selects and its
    writeback field. Salesforce field names are case-insensitive, so compare them so."""
    obj = _source_object(flow)
    if obj is None:
        return []
    describe = describes.get(obj)
    if not describe:
        return [DriftFinding(name, OBJECT, "object missing", obj, "reads")]
    fields = {str(f["name"]).lower(): f for f in describe.get("fields") or [] if "name" in f}
    relationships = {str(f["relationshipName"]).lower() for f in fields.values()
                     if f.get("relationshipName")}
    operation = flow.get("operation") or {}
    writeback = operation.get("writeback") if isinstance(operation, Mapping) else None
    was = {k.lower(): v for k, v in expected.get(obj, {}).items()}
    out: list[DriftFinding] = []

    def changed(base: str, current: Mapping[str, Any]) -> str | None:
        old_type = was.get(base.lower())
        if old_type and current.get("type") and current["type"] != old_type:
            return f"type changed from {old_type} to {current['type']}"
        return None

    for path in flow.get("reads") or []:
        head, dot, _rest = path.partition(".")
        if writeback and head.lower() == str(writeback).lower():
            continue  # checked below, as the writeback field it is
        if dot:
            # A relationship (Account.Name): its relationship must still be there; the
            # related object's own fields are that object's business.
            if head.lower() not in relationships:
                out.append(DriftFinding(name, head, "relationship missing", obj, "reads"))
            continue
        current = fields.get(head.lower())
        if current is None:
            out.append(DriftFinding(name, head, "missing", obj, "reads"))
        elif problem := changed(head, current):
            out.append(DriftFinding(name, head, problem, obj, "reads"))
    if writeback:
        wb = str(writeback)
        current = fields.get(wb.lower())
        if current is None:
            out.append(DriftFinding(name, wb, "missing", obj, "writeback"))
        elif problem := changed(wb, current):
            out.append(DriftFinding(name, wb, problem, obj, "writeback"))
        elif current.get("updateable") is False:
            out.append(DriftFinding(name, wb, "not writable", obj, "writeback"))
    return out


def flows_to_pause(findings: Iterable[DriftFinding]) -> list[str]:
    """The flows with at least one drift finding (the others keep running)."""
    return sorted({f.flow for f in findings})


def describe_targets(salesforce: SalesforceConnector,
                     contract_flows: Sequence[Mapping[str, Any]]) -> dict[str, dict | None]:
    """The current describe of each object the flows write, and of each object a
    Salesforce-triggered flow reads (None when the object is gone)."""
    from runner.connectors.errors import ConnectorError

    result: dict[str, dict | None] = {}
    for flow in contract_flows:
        for obj in (_target_object(flow), _source_object(flow)):
            if obj is None or obj in result:
                continue
            try:
                result[obj] = salesforce.describe(obj)
            except ConnectorError as exc:
                if exc.error_code not in ("NOT_FOUND", "INVALID_TYPE") and exc.status != 404:
                    raise
                result[obj] = None
    return result


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
        self._fields: dict[tuple[str, str], _FieldNulls] = {}

    def observe(self, flow: str, record: Mapping[str, Any],
                fields: Iterable[str] | None = None) -> list[MonitorFinding]:
        """Feed one mapped record; ``fields`` defaults to the record's keys."""
        findings = []
        for name in (fields if fields is not None else record.keys()):
            state = self._fields.setdefault((flow, name), _FieldNulls())
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
