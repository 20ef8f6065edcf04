"""Initial load: every Stripe object of a flow created since a date, through Bulk API 2.0.

Webhooks and catch-up see what happens from now on (Stripe keeps 30 days of events); what
existed before comes in with a backfill. The flow's source objects are listed with the
Stripe list API (``created >= since``) and written in chunks by the runner's one write path,
:class:`runner.pipeline.writer.SalesforceWriter` (each object wrapped as the event the flow
is triggered by): the same plan, lookups, dedup and key as the runner, with Bulk API 2.0 as
the transport (:mod:`runner.pipeline.bulk`) instead of collections calls.

Resumable: after each chunk is written, the id of its last object is stored in the cursor
``backfill.<flow>.<since>``; a new run with the same flow and date lists from there
(``starting_after``). A crash repeats at most one chunk, and an upsert by external id makes
that harmless. A finished backfill leaves the cursor at ``done``; running it again starts
over (``restart``) only when asked.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import IO, TYPE_CHECKING, Any

from mappings.document.model import Action
from mappings.schema.model import System
from runner.connectors.stripe_lists import complete_lists
from runner.errors import ConfigError
from runner.pipeline.bulk import BulkUpserts
from runner.pipeline.outcomes import TaskOutcome
from runner.pipeline.settle import StoreLedger
from runner.pipeline.writer import SalesforceWriter, WriteItem

if TYPE_CHECKING:
    from runner.connectors.salesforce import SalesforceConnector
    from runner.connectors.stripe import StripeConnector
    from runner.metrics import Metrics
    from runner.pipeline.bundle_runtime import CompiledFlow, LoadedBundle
    from runner.state.store import StateStore

CHUNK_SIZE = 2000
DONE = "done"  # the cursor of a finished backfill (a cursor value, not a row status)


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
    review: int = 0  # held for a person: several records matched on the flow's dedup_on
    chunks: int = 0
    resumed_after: str | None = None
    already_done: bool = False
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"flow": self.flow, "since": self.since, "listed": self.listed,
                "written": self.written, "skipped": self.skipped,
                "dead_lettered": self.dead_lettered, "review": self.review,
                "chunks": self.chunks,
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
            _write_chunk(compiled, chunk, event_type, store,
                         _writer(loaded, store, salesforce, metrics, stripe), metrics, report)
            store.cursor_set(name, str(chunk[-1]["id"]))
            chunk = []
            if should_stop is not None and should_stop():
                return report
        if progress is not None:
            progress.update(report, created)
    if chunk:
        _write_chunk(compiled, chunk, event_type, store,
                     _writer(loaded, store, salesforce, metrics, stripe), metrics, report)
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


def _writer(loaded: LoadedBundle, store: StateStore, salesforce: SalesforceConnector,
            metrics: Metrics | None, stripe: StripeConnector) -> SalesforceWriter:
    """The one write path over Bulk API 2.0, its state straight in the store. One per chunk:
    its lookup cache lives for a chunk, as a batch's does in the runner. Listed invoices
    carry 10 lines at most: the rest is fetched before mapping."""
    return SalesforceWriter(salesforce, StoreLedger(store, loaded.polled_objects),
                            metrics=metrics, transport=BulkUpserts(salesforce, metrics=metrics),
                            complete_lists=lambda flow, data: complete_lists(data, flow, stripe))


def _write_chunk(compiled: CompiledFlow, objects: list[dict[str, Any]], event_type: str,
                 store: StateStore, writer: SalesforceWriter, metrics: Metrics | None,
                 report: BackfillReport) -> None:
    """One chunk through the one write path (its Bulk 2.0 transport): the writer maps,
    looks up, dedups and upserts; a record it could not write now is dead-lettered, since a
    backfill has no later attempt of its own."""
    flow = compiled.flow
    items = [WriteItem(data=event, payload=event)
             for event in (as_event(obj, event_type) for obj in objects)]
    writer.write(flow, compiled.plan, items)
    for item in items:
        if item.outcome is TaskOutcome.WRITTEN:
            report.written += 1
            if metrics is not None:
                metrics.processed(flow.name, TaskOutcome.WRITTEN.metric)
        elif item.outcome is TaskOutcome.SKIPPED:
            report.skipped += 1
        elif item.outcome is TaskOutcome.REVIEW:
            report.review += 1
        else:  # dead-lettered, or retriable and still failing after the transport's retries
            _dead_letter(store, flow.name, item.payload, item.source_id, item.record,
                         item.error or "not written", item.error_code, report)
    report.chunks += 1


def _dead_letter(store: StateStore, flow: str, event: dict[str, Any], source_id: str | None,
                 record: dict[str, Any] | None, error: str, code: str | None,
                 report: BackfillReport) -> None:
    store.dlq_add(flow=flow, event_id=None, source_id=source_id, payload=event,
                  record=record, error=error[:2000] or "dead-lettered", error_code=code)
    report.dead_lettered += 1
    if len(report.errors) < 100:
        report.errors.append(f"{source_id}: {error}")
