"""Initial load: every Stripe object of a flow created since a date, through Bulk API 2.0.

Webhooks and catch-up see what happens from now on (Stripe keeps 30 days of events); what
existed before comes in with a backfill. The flow's source objects are listed with the
Stripe list API (``created >= since``), mapped by the same compiled plan the runner uses
(each object wrapped as the event the flow is triggered by), and upserted by the flow's
external id through Bulk API 2.0 in chunks.

Resumable: after each chunk is written, the id of its last object is stored in the cursor
``backfill.<flow>.<since>``; a new run with the same flow and date lists from there
(``starting_after``). A crash repeats at most one chunk, and an upsert by external id makes
that harmless. A finished backfill leaves the cursor at ``done``; running it again starts
over (``restart``) only when asked.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import IO, TYPE_CHECKING, Any

from mappings.document.model import Action
from mappings.engine.result import json_safe
from mappings.schema.model import System
from runner.classify import Failure
from runner.connectors.errors import ConnectorError
from runner.errors import ConfigError, FatalSyncError
from runner.pipeline.lookups import STRIPE_ID, LookupResolver, lookup_values

if TYPE_CHECKING:
    from runner.connectors.salesforce import SalesforceConnector
    from runner.connectors.stripe import StripeConnector
    from runner.metrics import Metrics
    from runner.pipeline.bundle_runtime import CompiledFlow, LoadedBundle
    from runner.state.store import StateStore

log = logging.getLogger(__name__)

CHUNK_SIZE = 2000
DONE = "done"
RETRIES = 3


def parse_since(text: str) -> int:
    """``YYYY-MM-DD`` (UTC midnight) or an ISO date-time -> Unix seconds; ConfigError else."""
    value = (text or "").strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            when = datetime(day.year, day.month, day.day, tzinfo=UTC)
        else:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
    except ValueError:
        raise ConfigError(f"--since must be a date (YYYY-MM-DD) or an ISO date-time, got "
                          f"{text!r}") from None
    if when > datetime.now(UTC):
        raise ConfigError(f"--since {text} is in the future")
    return int(when.timestamp())


def cursor_name(flow: str, since: int) -> str:
    return f"backfill.{flow}.{since}"


@dataclass
class BackfillReport:
    flow: str
    since: int
    listed: int = 0
    written: int = 0
    skipped: int = 0
    dead_lettered: int = 0
    chunks: int = 0
    resumed_after: str | None = None
    already_done: bool = False
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"flow": self.flow, "since": self.since, "listed": self.listed,
                "written": self.written, "skipped": self.skipped,
                "dead_lettered": self.dead_lettered, "chunks": self.chunks,
                "resumed_after": self.resumed_after, "already_done": self.already_done,
                "errors": self.errors[:20]}


class ProgressBar:
    """A one-line text bar on stderr. Stripe lists have no total, so progress is measured
    by creation time between ``since`` and now (lists come newest first on Stripe, oldest
    first on the sandbox)."""

    def __init__(self, since: int, *, oldest_first: bool, stream: IO[str] | None = None,
                 width: int = 30) -> None:
        self.since = since
        self.now = int(time.time())
        self.oldest_first = oldest_first
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self._last = 0.0

    def fraction(self, created: int) -> float:
        span = max(1, self.now - self.since)
        done = (created - self.since) if self.oldest_first else (self.now - created)
        return min(1.0, max(0.0, done / span))

    def update(self, report: BackfillReport, created: int | None, *, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self._last < 0.2:
            return
        self._last = now
        frac = 1.0 if final else (self.fraction(created) if created is not None else 0.0)
        filled = int(round(frac * self.width))
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r[{bar}] {frac * 100:3.0f}%  {report.listed} listed, "
                          f"{report.written} written, {report.dead_lettered} dead-lettered")
        if final:
            self.stream.write("\n")
        self.stream.flush()


def backfill_flow(
    loaded: LoadedBundle,
    store: StateStore,
    salesforce: SalesforceConnector,
    stripe: StripeConnector,
    *,
    flow: str,
    since: int,
    chunk_size: int = CHUNK_SIZE,
    progress: ProgressBar | None = None,
    metrics: Metrics | None = None,
    restart: bool = False,
    should_stop: Callable[[], bool] | None = None,
) -> BackfillReport:
    """Load every source object of ``flow`` created at or after ``since``."""
    compiled = loaded.flow(flow)
    _check_flow(compiled)
    if chunk_size < 1:
        raise ConfigError(f"chunk size must be at least 1, got {chunk_size}")
    report = BackfillReport(flow=flow, since=since)
    name = cursor_name(flow, since)
    after = store.cursor_get(name)
    if after == DONE and not restart:
        report.already_done = True
        return report
    if after == DONE or restart:
        after = None
    report.resumed_after = after
    event_type = compiled.flow.trigger.stripe_events[0]
    objects = stripe.list_objects(compiled.flow.source.object, created_gte=since,
                                  starting_after=after)
    chunk: list[dict[str, Any]] = []
    created: int | None = None
    for obj in objects:
        report.listed += 1
        created = int(obj.get("created") or since)
        chunk.append(obj)
        if len(chunk) >= chunk_size:
            _write_chunk(compiled, chunk, event_type, store, salesforce, metrics, report)
            store.cursor_set(name, str(chunk[-1]["id"]))
            chunk = []
            if should_stop is not None and should_stop():
                return report
        if progress is not None:
            progress.update(report, created)
    if chunk:
        _write_chunk(compiled, chunk, event_type, store, salesforce, metrics, report)
    store.cursor_set(name, DONE)
    if progress is not None:
        progress.update(report, created, final=True)
    return report


def _check_flow(compiled: CompiledFlow) -> None:
    flow = compiled.flow
    if flow.source.system is not System.STRIPE or flow.target.system is not System.SALESFORCE \
            or not flow.trigger.stripe_events:
        raise ConfigError(f"flow {flow.name!r} is not a Stripe -> Salesforce flow; backfill "
                          "loads Stripe objects into Salesforce")
    if flow.operation.action is not Action.UPSERT or not flow.operation.external_id:
        raise ConfigError(f"flow {flow.name!r} does not upsert by an external id "
                          f"({flow.operation.action.value}); a backfill must be repeatable, so "
                          "it only runs upsert flows")


def as_event(obj: dict[str, Any], event_type: str) -> dict[str, Any]:
    """The object wrapped as the event the flow's plan reads."""
    return {"id": f"backfill_{obj.get('id')}", "object": "event", "type": event_type,
            "created": int(obj.get("created") or 0), "data": {"object": obj},
            "livemode": bool(obj.get("livemode", False))}


def _write_chunk(compiled: CompiledFlow, objects: list[dict[str, Any]], event_type: str,
                 store: StateStore, salesforce: SalesforceConnector, metrics: Metrics | None,
                 report: BackfillReport) -> None:
    flow = compiled.flow
    resolver = LookupResolver(store, salesforce, metrics=metrics)
    if flow.lookups:
        wanted: list[tuple[str, str, str]] = []
        for obj in objects:
            wanted += lookup_values(flow, obj)
        resolver.prefetch(wanted)
    events: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    sources: list[str | None] = []
    for obj in objects:
        event = as_event(obj, event_type)
        result = compiled.plan.apply(event, resolver)
        if result.skipped:
            report.skipped += 1
            continue
        record = json_safe(result.record)
        if not result.ok:
            errors = result.errors
            _dead_letter(store, flow.name, event, result.source_id, record,
                         "; ".join(str(i) for i in errors), errors[0].code, report)
            continue
        events.append(event)
        records.append({k: v for k, v in record.items() if k != "Id"})
        sources.append(result.source_id)
    if not records:
        report.chunks += 1
        return
    obj_name, ext = flow.target.object, str(flow.operation.external_id)
    outcomes = _bulk_upsert(salesforce, obj_name, ext, records, metrics)
    for event, record, source_id, outcome in zip(events, records, sources, outcomes,
                                                 strict=True):
        if outcome.success:
            report.written += 1
            key = record.get(ext)
            stripe_id = key if isinstance(key, str) and STRIPE_ID.match(key) else source_id
            if stripe_id and outcome.id:
                store.xref_put(obj_name, stripe_id, outcome.id, flow.name)
            if metrics is not None:
                metrics.processed(flow.name, "written")
            continue
        if outcome.failure is Failure.FATAL:
            raise FatalSyncError(f"backfill of {flow.name!r}: Salesforce refused {obj_name} "
                                 f"for {source_id}: {outcome.message}")
        _dead_letter(store, flow.name, event, source_id, record, outcome.message,
                     outcome.error_code, report)
    report.chunks += 1


def _bulk_upsert(salesforce: SalesforceConnector, obj: str, ext: str,
                 records: list[dict[str, Any]], metrics: Metrics | None) -> list[Any]:
    """Bulk upsert with a few retries for transient failures of the whole job, and of the
    rows the job left unprocessed."""
    delay = 1.0
    for attempt in range(1, RETRIES + 1):
        try:
            if metrics is not None:
                metrics.api_call("bulk")
            outcomes = salesforce.bulk_upsert(obj, ext, records)
        except ConnectorError as exc:
            if exc.failure is not Failure.RETRIABLE or attempt == RETRIES:
                if exc.failure is Failure.FATAL:
                    raise FatalSyncError(f"backfill: {exc}") from exc
                raise
            log.warning("bulk upsert of %s failed (%s); retrying in %.0f s", obj, exc, delay)
            time.sleep(delay)
            delay *= 2
            continue
        retry = [i for i, o in enumerate(outcomes) if o.failure is Failure.RETRIABLE]
        if not retry or attempt == RETRIES:
            return outcomes
        time.sleep(delay)
        delay *= 2
        again = _bulk_upsert_once(salesforce, obj, ext, [records[i] for i in retry])
        for i, outcome in zip(retry, again, strict=True):
            outcomes[i] = outcome
        return outcomes
    raise AssertionError("unreachable")  # pragma: no cover


def _bulk_upsert_once(salesforce: SalesforceConnector, obj: str, ext: str,
                      records: list[dict[str, Any]]) -> list[Any]:
    try:
        return salesforce.bulk_upsert(obj, ext, records)
    except ConnectorError as exc:
        if exc.failure is Failure.FATAL:
            raise FatalSyncError(f"backfill: {exc}") from exc
        raise


def _dead_letter(store: StateStore, flow: str, event: dict[str, Any], source_id: str | None,
                 record: dict[str, Any] | None, error: str, code: str | None,
                 report: BackfillReport) -> None:
    store.dlq_add(flow=flow, event_id=None, source_id=source_id, payload=event,
                  record=record, error=error[:2000] or "dead-lettered", error_code=code)
    report.dead_lettered += 1
    if len(report.errors) < 100:
        report.errors.append(f"{source_id}: {error}")
