"""Stripe -> Salesforce: claimed inbox events become micro-batched Salesforce writes.

For a batch of claimed events:

1. Events of a type no flow handles are finished ("ignored"); events the runner caused itself
   (a customer it created from Salesforce) are skipped (no echo).
2. Each (event, flow) is a task. Per flow and Stripe object only the newest event of the
   batch is applied; per object an event older than what was applied before is stale and
   the object's current state is fetched from Stripe and applied instead (see ``ordering``).
3. Flows run in dependency order (those writing objects that others look up first), each as
   one group: lookups resolved for the whole group (cross-reference table, then one SOQL per
   field), the plan applied, dedup decided, then the writes sent as sObject Collections calls
   of up to ``batch_size`` records.
4. Each record's outcome decides: success -> cross-reference, own-write note, done;
   skippable -> dead-letter queue (the event, the mapped record, Salesforce's errors);
   retriable -> the event is retried with backoff (dead-lettered when attempts run out);
   fatal -> :class:`FatalSyncError`, the runner stops.

The batch's state (cross references, own writes, object versions, dead letters, review
items and every event's ledger entry) is gathered in a :class:`Settlement` and committed in
ONE transaction once the batch's writes are answered: O(1) commits per batch, not several per
event. An event is marked done only after its writes succeeded, in the same transaction as
its cross reference; a crash before that commit re-processes the whole batch, and the upsert
by external id finds the same records: no duplicate. Insert-only flows check the
cross-reference table before inserting, and commit an insert's cross references right after
Salesforce answers (a duplicate insert would not be harmless).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mappings.document.model import Action
from mappings.engine.result import json_safe
from runner.classify import Failure
from runner.connectors.errors import ConnectorError, RecordOutcome
from runner.errors import ConfigError, FatalSyncError
from runner.pipeline.batching import WriteKind, check_batch_size, write_chunk
from runner.pipeline.bundle_runtime import CompiledFlow, LoadedBundle
from runner.pipeline.dedup import decide_dedup
from runner.pipeline.lookups import STRIPE_ID, LookupResolver, lookup_values
from runner.pipeline.ordering import (
    event_object,
    is_stale,
    is_tied,
    newest_per_object,
    refreshed_event,
)
from runner.pipeline.writeback import PROCESSOR_MARK, is_stripe_echo
from runner.retry import DEFAULT_POLICY, RetryPolicy, decide
from runner.state.records import InboxEvent
from runner.state.settlement import Settlement

if TYPE_CHECKING:
    from runner.connectors.salesforce import SalesforceConnector
    from runner.connectors.stripe import StripeConnector
    from runner.metrics import Metrics
    from runner.state.store import StateStore

log = logging.getLogger(__name__)

# Task outcomes, strongest first: an event finishes with the strongest of its flows'.
_PRECEDENCE = ("retry", "dead_lettered", "review", "written", "stale", "skipped")
# Task outcome -> the inbox ledger's outcome.
_LEDGER = {"written": "done", "dead_lettered": "dead_lettered", "review": "review",
           "stale": "stale", "skipped": "skipped"}
# Task outcome -> the metrics' outcome label.
_METRIC = {"written": "written", "dead_lettered": "dead_lettered", "review": "review",
           "retry": "retried", "stale": "skipped", "skipped": "skipped"}
# Seconds to wait after a batch that did not fill ``batch_size`` (see ``Processor._linger``).
# Off by default: one-off callers (reconcile --fix, dlq replay, backfill) must not wait;
# the running runner's worker loop lingers between claims itself (``runner.linger``).
DEFAULT_LINGER = 0.0


@dataclass(frozen=True)
class ProcessedRecord:
    """What one flow did with one event, handed to the processor's observers once the batch
    has settled (its outcome is final for this attempt: "retry" means it will come again).

    ``payload`` is the event as received; ``data_object`` the Stripe object the flow applied
    (the refreshed current state for a stale or tied event); ``record`` the mapped JSON-safe
    record (None when the flow skipped before mapping).
    """

    flow: str
    event_type: str | None
    event_id: str | None
    payload: dict[str, Any]
    data_object: dict[str, Any] | None
    record: dict[str, Any] | None
    outcome: str  # "written" | "skipped" | "dead_lettered" | "review" | "retry" | "stale"
    sf_id: str | None


Observer = Callable[[ProcessedRecord], None]


@dataclass
class ProcessReport:
    """What one call did: events by final outcome, records by task outcome."""

    events: int = 0
    ignored: int = 0
    echo: int = 0
    written: int = 0
    skipped: int = 0
    stale: int = 0
    dead_lettered: int = 0
    review: int = 0
    retried: int = 0
    api_calls: int = 0  # Salesforce requests made
    outcomes: dict[str, str] = field(default_factory=dict)  # event id -> ledger outcome
    errors: list[str] = field(default_factory=list)

    def count(self, outcome: str) -> None:
        name = "retried" if outcome == "retry" else outcome
        setattr(self, name, getattr(self, name) + 1)


@dataclass
class _Task:
    """One flow applied to one event's object."""

    flow: CompiledFlow
    data: dict[str, Any]  # what the plan reads: the event (or its refreshed copy)
    payload: dict[str, Any]  # the event as received, for the dead-letter queue
    event_id: str | None
    received_at: datetime | None = None
    source_id: str | None = None
    record: dict[str, Any] | None = None  # JSON-safe mapped record
    outcome: str | None = None
    error: str | None = None
    error_code: str | None = None
    failure: Failure | None = None
    sf_id: str | None = None
    tied: bool = False  # another event of its object shares its second: fetch, don't guess

    def finish(self, outcome: str, error: str | None = None, code: str | None = None,
               failure: Failure | None = None) -> None:
        self.outcome, self.error, self.error_code, self.failure = outcome, error, code, failure


class Processor:
    """Processes claimed inbox events through the bundle's Stripe-triggered flows."""

    def __init__(self, bundle: LoadedBundle, store: StateStore,
                 salesforce: SalesforceConnector, stripe: StripeConnector, *,
                 metrics: Metrics | None = None, batch_size: int = 200,
                 policy: RetryPolicy = DEFAULT_POLICY,
                 observers: Sequence[Observer] = (), linger: float = DEFAULT_LINGER) -> None:
        self.bundle = bundle
        self.store = store
        self.salesforce = salesforce
        self.stripe = stripe
        self.metrics = metrics
        self.batch_size = check_batch_size(batch_size)
        self.policy = policy
        self.observers: tuple[Observer, ...] = tuple(observers)
        if isinstance(linger, bool) or not isinstance(linger, int | float) \
                or not 0 <= linger <= 5:
            raise ValueError(f"linger must be a number of seconds from 0 to 5, got {linger!r}")
        self.linger = float(linger)
        self._polled_objects = frozenset(c.flow.source.object for c in bundle.salesforce_flows)

    # -- events -------------------------------------------------------------------------
    def process_events(self, events: Sequence[InboxEvent]) -> ProcessReport:
        settlement = Settlement()
        try:
            report, tasks = self._process(events, settlement)
            self._commit(settlement, report)
        except BaseException:
            self._keep_references(settlement)
            raise
        self._notify(tasks)
        self._linger(len(events), report)
        return report

    def _linger(self, claimed: int, report: ProcessReport) -> None:
        """Micro-batching's linger: after a batch that called Salesforce but did not fill
        ``batch_size``, wait a moment before returning, so that the next batch gathers what
        arrives meanwhile. Off by default (``linger=0``): the Runner's worker loop applies
        this policy itself between claims (see ``runner.app``), where a stop request can
        cut the wait short."""
        if self.linger and report.api_calls and claimed < self.batch_size:
            time.sleep(self.linger)

    def _process(self, events: Sequence[InboxEvent],
                 settlement: Settlement) -> tuple[ProcessReport, list[_Task]]:
        report = ProcessReport(events=len(events))
        calls_before = self.salesforce.api_calls
        relevant: list[InboxEvent] = []
        for ev in events:
            if not self.bundle.flows_for_event(ev.type):
                self._finish_event(ev, "ignored", report, settlement)
                report.ignored += 1
                if self.metrics is not None:
                    self.metrics.ignored(ev.type)
            elif is_stripe_echo(self.store, ev.payload):
                self._finish_event(ev, "skipped", report, settlement)
                report.echo += 1
            else:
                relevant.append(ev)

        tasks_of: dict[str, list[_Task]] = {ev.event_id: [] for ev in relevant}
        tasks: list[_Task] = []
        for compiled in self._flow_order():
            name = compiled.name
            mine = [ev for ev in relevant if compiled in self.bundle.flows_for_event(ev.type)]
            if not mine:
                continue
            newest, superseded, tied = newest_per_object(mine)
            for ev in superseded:
                task = _Task(compiled, ev.payload, ev.payload, ev.event_id, ev.received_at)
                task.finish("stale")
                tasks_of[ev.event_id].append(task)
            for ev in newest.values():
                task = _Task(compiled, ev.payload, ev.payload, ev.event_id, ev.received_at)
                task.tied = ev.object_id in tied
                tasks_of[ev.event_id].append(task)
                tasks.append(task)
            log.debug("flow %s: %d events, %d superseded", name, len(mine), len(superseded))

        self._guard_order(tasks, {ev.event_id: ev for ev in relevant})
        self._run(tasks, report, settlement, dead_letter=True)
        for ev in relevant:
            self._settle(ev, tasks_of[ev.event_id], report, settlement)
        report.api_calls = self.salesforce.api_calls - calls_before
        return report, [task for ev in relevant for task in tasks_of[ev.event_id]]

    def _commit(self, settlement: Settlement, report: ProcessReport) -> None:
        """The batch's one transaction. An event whose claim expired meanwhile was taken
        over by another worker: its ledger entry is that worker's to write."""
        if not settlement:
            return
        result = self.store.settle_batch(settlement)
        for event_id in sorted(result.lost):
            log.warning("event %s: the claim expired before it finished", event_id)

    def _keep_references(self, settlement: Settlement) -> None:
        """A batch that fails part way (a fatal error, the state database) still keeps the
        cross references and own writes of what Salesforce accepted: they are true, and
        they spare a later insert-only flow a duplicate and the poller an echo."""
        part = settlement.take_references()
        if not part:
            return
        try:
            self.store.settle_batch(part)
        except Exception as exc:  # the original error matters more
            log.warning("could not keep the cross references of a failed batch: %s", exc)

    def _flow_order(self) -> list[CompiledFlow]:
        """Flows writing objects that other flows look up come first."""
        flows = list(self.bundle.flows.values())
        return sorted(flows, key=lambda c: 0 if c.flow.target.object
                      in self.bundle.lookup_objects else 1)

    def _guard_order(self, tasks: list[_Task], events: dict[str, InboxEvent]) -> None:
        """Stale events, and events tied in time with another of their object's, apply the
        object's current state, fetched once per object."""
        versions = self.store.object_versions(
            ev.object_id for ev in events.values() if ev.object_id)
        current: dict[str, dict[str, Any] | ConnectorError] = {}
        for task in tasks:
            if task.outcome is not None or task.event_id is None:
                continue
            ev = events[task.event_id]
            if not ev.object_id:
                continue
            applied = versions.get(ev.object_id)
            if task.tied or is_stale(ev, applied) or is_tied(ev, applied):
                self._refresh(task, ev.object_id, current)

    def _refresh(self, task: _Task, object_id: str,
                 current: dict[str, dict[str, Any] | ConnectorError]) -> None:
        if object_id not in current:
            try:
                current[object_id] = self.stripe.retrieve(task.flow.flow.source.object,
                                                          object_id)
            except ConnectorError as exc:
                current[object_id] = exc
        found = current[object_id]
        if isinstance(found, ConnectorError):
            if found.failure is Failure.FATAL:
                raise FatalSyncError(str(found)) from found
            if found.failure is Failure.RETRIABLE:
                task.finish("retry", str(found), found.error_code, Failure.RETRIABLE)
            else:
                # Gone or not retrievable: a newer state was applied already, keep it.
                task.finish("stale")
            return
        task.data = refreshed_event(task.payload, found)

    # -- running tasks ------------------------------------------------------------------
    def _run(self, tasks: list[_Task], report: ProcessReport, settlement: Settlement, *,
             dead_letter: bool) -> None:
        resolver = LookupResolver(self.store, self.salesforce, metrics=self.metrics,
                                  settlement=settlement)
        groups: dict[str, list[_Task]] = {}
        for task in tasks:
            groups.setdefault(task.flow.name, []).append(task)
        for compiled in self._flow_order():
            group = [t for t in groups.get(compiled.name, []) if t.outcome is None]
            if not group:
                continue
            try:
                self._run_flow(compiled, group, resolver)
            except ConnectorError as exc:
                # A lookup or dedup query failed for the whole group.
                if exc.failure is Failure.FATAL:
                    raise FatalSyncError(f"flow {compiled.name!r}: {exc}") from exc
                outcome = "retry" if exc.failure is Failure.RETRIABLE else "dead_lettered"
                for task in group:
                    if task.outcome is None:
                        task.finish(outcome, str(exc), exc.error_code, exc.failure)
        for task in tasks:
            if task.outcome is None:  # defensive: every path above finishes its tasks
                task.finish("retry", "the record was not written", None, Failure.RETRIABLE)
            if task.outcome == "dead_lettered" and dead_letter:
                self._dead_letter(task, settlement)
            if task.outcome != "retry":
                self._count(task, report)
            if task.error and task.outcome in ("dead_lettered", "retry"):
                report.errors.append(f"{task.flow.name} {task.source_id or task.event_id}: "
                                     f"{task.error}")

    def _run_flow(self, compiled: CompiledFlow, group: list[_Task],
                  resolver: LookupResolver) -> None:
        flow = compiled.flow
        if flow.lookups:
            wanted = []
            for task in group:
                wanted += lookup_values(flow, event_object(task.data) or task.data)
            resolver.prefetch(wanted)
        ready: list[_Task] = []
        for task in group:
            result = compiled.plan.apply(task.data, resolver)
            task.source_id = result.source_id
            if result.skipped:
                task.finish("skipped", result.skip_reason)
            elif not result.ok:
                errors = result.errors
                task.record = json_safe(result.record)
                task.finish("dead_lettered", "; ".join(str(i) for i in errors),
                            errors[0].code, Failure.SKIPPABLE)
            else:
                task.record = json_safe(result.record)
                ready.append(task)
        if not ready:
            return
        obj = flow.target.object
        ext = flow.operation.external_id
        action = flow.operation.action
        if action is Action.INSERT:
            self._insert(compiled, ready, resolver)
        elif action is Action.UPDATE:
            self._update_by_key(compiled, ready, resolver)
        elif flow.operation.dedup_on and ext:
            self._dedup_upsert(compiled, ready, resolver)
        elif ext:
            self._write(compiled, "upsert", ext, ready, [t.record or {} for t in ready],
                        resolver)
        else:
            for task in ready:
                task.finish("dead_lettered", f"flow {flow.name!r} upserts {obj} without an "
                            "external id field", "INVALID_FLOW", Failure.SKIPPABLE)

    def _insert(self, compiled: CompiledFlow, ready: list[_Task],
                resolver: LookupResolver) -> None:
        """Insert-only: a record already cross-referenced was inserted before (a crash after
        the write): do not insert it twice."""
        obj = compiled.flow.target.object
        known = self._xref_known(obj, [t.source_id for t in ready if t.source_id], resolver)
        fresh = []
        for task in ready:
            if task.source_id and task.source_id in known:
                task.sf_id = known[task.source_id]
                task.finish("written")
            else:
                fresh.append(task)
        if fresh:
            self._write(compiled, "insert", None, fresh, [t.record or {} for t in fresh],
                        resolver)
            # Not at the end of the batch: a crash before then would insert these again.
            references = _batch(resolver).take_references()
            if references:
                self.store.settle_batch(references)

    def _update_by_key(self, compiled: CompiledFlow, ready: list[_Task],
                       resolver: LookupResolver) -> None:
        """Update-only by external id: find the records' Ids, then update by Id."""
        flow = compiled.flow
        obj, ext = flow.target.object, flow.operation.external_id
        if not ext:
            for task in ready:
                task.finish("dead_lettered", f"flow {flow.name!r} updates {obj} but names no "
                            "external id field to find the record", "INVALID_FLOW",
                            Failure.SKIPPABLE)
            return
        values = [str(t.record.get(ext)) for t in ready if t.record and t.record.get(ext)]
        ids: dict[str, list[str]] = {v: [sf_id] for v, sf_id in
                                     self._xref_known(obj, values, resolver).items()}
        missing = [v for v in values if v not in ids]
        if missing:
            self._api("query")
            ids.update(self._call(lambda: self.salesforce.find_ids(obj, ext, missing)))
        writes: list[_Task] = []
        records: list[dict[str, Any]] = []
        for task in ready:
            value = task.record.get(ext) if task.record else None
            found = ids.get(str(value)) or []
            if len(found) == 1:
                writes.append(task)
                records.append({**(task.record or {}), "Id": found[0]})
            elif len(found) > 1:
                task.finish("dead_lettered", f"{len(found)} {obj} records have {ext} = "
                            f"{value}; cannot tell which to update", "DUPLICATE_VALUE",
                            Failure.SKIPPABLE)
            else:
                # The record may come with a later event (the subscription of this invoice).
                task.finish("retry", f"no {obj} with {ext} = {value} to update yet",
                            "NOT_FOUND", Failure.RETRIABLE)
        if writes:
            self._write(compiled, "update", None, writes, records, resolver)

    def _dedup_upsert(self, compiled: CompiledFlow, ready: list[_Task],
                      resolver: LookupResolver) -> None:
        flow = compiled.flow
        obj, ext = flow.target.object, str(flow.operation.external_id)
        records = [t.record or {} for t in ready]
        decisions = self._call(lambda: decide_dedup(
            self.salesforce, self.store, obj, ext, flow.operation.dedup_on, records,
            metrics=self.metrics))
        upserts: list[_Task] = []
        links: list[_Task] = []
        for task, decision in zip(ready, decisions, strict=True):
            if decision.kind == "review":
                _batch(resolver).review(flow=flow.name, source_id=task.source_id or "",
                                        record=task.record or {},
                                        candidates=decision.candidates, payload=task.payload)
                task.finish("review", f"{len(decision.candidates)} {obj} records match on "
                            f"{decision.matched_on}; held for review")
            elif decision.kind == "link":
                task.sf_id = decision.sf_id
                links.append(task)
            else:
                upserts.append(task)
        if links:
            self._write(compiled, "update", None, links,
                        [{**(t.record or {}), "Id": t.sf_id} for t in links], resolver)
        if upserts:
            self._write(compiled, "upsert", ext, upserts, [t.record or {} for t in upserts],
                        resolver)

    def _write(self, compiled: CompiledFlow, kind: WriteKind, key: str | None,
               tasks: list[_Task], records: list[dict[str, Any]],
               resolver: LookupResolver) -> None:
        obj = compiled.flow.target.object
        for start in range(0, len(tasks), self.batch_size):
            part = tasks[start:start + self.batch_size]
            body = [_without_id_for_upsert(r, kind) for r in records[start:start + self.batch_size]]
            answer = write_chunk(self.salesforce, kind, obj, key, body, metrics=self.metrics)
            if isinstance(answer, ConnectorError):
                if answer.failure is Failure.FATAL:
                    raise FatalSyncError(f"flow {compiled.name!r}: {answer}") from answer
                for task in part:
                    outcome = "retry" if answer.failure is Failure.RETRIABLE else "dead_lettered"
                    task.finish(outcome, str(answer), answer.error_code, answer.failure)
                continue
            for task, result in zip(part, answer, strict=True):
                self._record_outcome(compiled, task, result, resolver)

    def _record_outcome(self, compiled: CompiledFlow, task: _Task, result: RecordOutcome,
                        resolver: LookupResolver) -> None:
        flow = compiled.flow
        if result.success:
            task.sf_id = result.id or task.sf_id
            if task.sf_id:
                ext = flow.operation.external_id
                key = (task.record or {}).get(ext) if ext else None
                stripe_id = key if isinstance(key, str) and STRIPE_ID.match(key) \
                    else task.source_id
                if stripe_id:
                    _batch(resolver).xref(flow.target.object, stripe_id, task.sf_id, flow.name)
                    if ext and key == stripe_id:
                        resolver.remember(flow.target.object, ext, stripe_id, task.sf_id)
                if flow.target.object in self._polled_objects:
                    # Only where a Salesforce -> Stripe flow looks can an echo start.
                    _batch(resolver).own_write("salesforce", task.sf_id, PROCESSOR_MARK)
            task.finish("written")
            if self.metrics is not None and task.received_at is not None:
                self.metrics.latency((datetime.now(UTC) - _aware(task.received_at))
                                     .total_seconds())
            return
        failure = result.failure or Failure.SKIPPABLE
        if failure is Failure.FATAL:
            raise FatalSyncError(f"flow {flow.name!r}: Salesforce refused {flow.target.object} "
                                 f"for {task.source_id}: {result.message}")
        outcome = "retry" if failure is Failure.RETRIABLE else "dead_lettered"
        task.finish(outcome, result.message, result.error_code, failure)

    # -- finishing ----------------------------------------------------------------------
    def _dead_letter(self, task: _Task, settlement: Settlement) -> None:
        settlement.dead_letter(flow=task.flow.name, event_id=task.event_id,
                               source_id=task.source_id, payload=task.payload,
                               record=task.record, error=task.error or "dead-lettered",
                               error_code=task.error_code)

    def _count(self, task: _Task, report: ProcessReport) -> None:
        outcome = task.outcome or "skipped"
        report.count(outcome)
        if self.metrics is not None:
            self.metrics.processed(task.flow.name, _METRIC[outcome])

    def _settle(self, ev: InboxEvent, tasks: list[_Task], report: ProcessReport,
                settlement: Settlement) -> None:
        outcomes = {t.outcome for t in tasks}
        if "retry" in outcomes:
            retrying = [t for t in tasks if t.outcome == "retry"]
            first = retrying[0]
            attempts = max(ev.attempts, 1)
            decision = decide(Failure.RETRIABLE, attempts, self.policy,
                              error_code=first.error_code, key=ev.event_id)
            if decision.action == "retry":
                error = "; ".join(f"{t.flow.name}: {t.error}" for t in retrying)
                settlement.retry(ev.event_id, error[:2000], decision.retry_at(self.store.now()),
                                 worker=self._holder(ev))
                report.outcomes[ev.event_id] = "retry"
                for task in retrying:
                    self._count(task, report)
                return
            for task in retrying:  # out of attempts: a person must look at it
                task.finish("dead_lettered", f"{task.error} ({decision.reason})",
                            task.error_code, Failure.RETRIABLE)
                self._dead_letter(task, settlement)
                self._count(task, report)
            outcomes = {t.outcome for t in tasks}
        best = next((o for o in _PRECEDENCE if o in outcomes), "skipped")
        if ev.object_id and best != "stale":
            settlement.version(ev.object_id, int(ev.created), ev.event_id)
        self._finish_event(ev, _LEDGER[best], report, settlement)

    def _finish_event(self, ev: InboxEvent, outcome: str, report: ProcessReport,
                      settlement: Settlement) -> None:
        settlement.done(ev.event_id, outcome=outcome, worker=self._holder(ev))
        report.outcomes[ev.event_id] = outcome

    @staticmethod
    def _holder(ev: InboxEvent) -> str | None:
        """The worker whose claim must still hold for the ledger entry (None: any)."""
        return ev.worker if ev.status == "processing" and ev.worker else None

    def _xref_known(self, obj: str, stripe_ids: list[str],
                    resolver: LookupResolver) -> dict[str, str]:
        """Stripe id -> Salesforce Id from the table and from this batch's new ones."""
        known = self.store.xref_get_many(obj, stripe_ids)
        for stripe_id in stripe_ids:
            pending = _batch(resolver).xref_get(obj, stripe_id)
            if pending is not None:
                known[stripe_id] = pending
        return known

    # -- dead letters and reviews -------------------------------------------------------
    def replay_dlq(self, entry_id: int) -> ProcessReport:
        """Run a dead letter's event through the current bundle; on success the entry is
        marked replayed, otherwise it stays open with the new error."""
        entry = self.store.dlq_get(entry_id)
        if entry.status != "open":
            raise ConfigError(f"dead letter {entry_id} is {entry.status}; only open entries "
                              "can be replayed")
        compiled = self.bundle.flow(entry.flow)
        if compiled.from_salesforce:
            raise ConfigError(f"dead letter {entry_id} is of the Salesforce -> Stripe flow "
                              f"{entry.flow!r}; replay it with the poller")
        report = ProcessReport(events=1)
        calls_before = self.salesforce.api_calls
        payload = entry.payload
        task = _Task(compiled, payload, payload, entry.event_id)
        obj = event_object(payload)
        object_id = obj.get("id") if obj else None
        created = payload.get("created")
        if isinstance(object_id, str) and isinstance(created, int) and entry.event_id:
            applied = self.store.object_version(object_id)
            if applied is not None and (created, entry.event_id) < tuple(applied):
                self._refresh(task, object_id, {})
        settlement = Settlement()
        try:
            if task.outcome is None:
                self._run([task], report, settlement, dead_letter=False)
            else:
                self._count(task, report)
            if task.outcome in ("written", "skipped", "stale", "review") and isinstance(
                    object_id, str) and isinstance(created, int) and entry.event_id:
                settlement.version(object_id, created, entry.event_id)
            self._commit(settlement, report)
        except BaseException:
            self._keep_references(settlement)
            raise
        if task.outcome in ("written", "skipped", "stale", "review"):
            self.store.dlq_record_attempt(entry_id)
            self.store.dlq_set_status(entry_id, "replayed")
        else:
            self.store.dlq_record_attempt(entry_id, task.error or "replay failed")
        report.outcomes[entry.event_id or f"dlq:{entry_id}"] = task.outcome or "retry"
        report.api_calls = self.salesforce.api_calls - calls_before
        self._notify([task])
        return report

    def apply_review(self, item_id: int) -> ProcessReport:
        """Carry out a decided review item: approved with a chosen record -> update that
        record (linking it by external id); approved without -> create; rejected -> nothing."""
        item = self.store.review_get(item_id)
        report = ProcessReport(events=1)
        if item.status == "rejected":
            return report
        if item.status != "approved":
            raise ConfigError(f"review item {item_id} is {item.status}; approve or reject it "
                              "first")
        compiled = self.bundle.flow(item.flow)
        flow = compiled.flow
        task = _Task(compiled, item.payload, item.payload, None, source_id=item.source_id,
                     record=dict(item.record))
        settlement = Settlement()
        resolver = LookupResolver(self.store, self.salesforce, metrics=self.metrics,
                                  settlement=settlement)
        try:
            if item.chosen:
                task.sf_id = item.chosen
                self._write(compiled, "update", None, [task],
                            [{**item.record, "Id": item.chosen}], resolver)
            else:
                self._write(compiled, "upsert", flow.operation.external_id, [task],
                            [dict(item.record)], resolver)
            if task.outcome == "dead_lettered":
                self._dead_letter(task, settlement)
            self._commit(settlement, report)
        except BaseException:
            self._keep_references(settlement)
            raise
        self._count(task, report)
        if task.error:
            report.errors.append(task.error)
        self._notify([task])
        return report

    # -- observers ----------------------------------------------------------------------
    def _notify(self, tasks: Iterable[_Task]) -> None:
        """Tell each observer about each task, after the state has settled. An observer's
        failure is logged and never breaks processing: the sync is what must not stop."""
        if not self.observers:
            return
        for task in tasks:
            done = ProcessedRecord(
                flow=task.flow.name,
                event_type=_str_or_none(task.payload.get("type")),
                event_id=task.event_id,
                payload=task.payload,
                data_object=event_object(task.data),
                record=task.record,
                outcome=task.outcome or "retry",
                sf_id=task.sf_id,
            )
            for observer in self.observers:
                try:
                    observer(done)
                except Exception:
                    log.exception("processor observer %r failed on %s %s (ignored)",
                                  observer, done.flow, done.event_id)

    # -- helpers ------------------------------------------------------------------------
    def _api(self, kind: str) -> None:
        if self.metrics is not None:
            self.metrics.api_call(kind)

    def _call(self, fn: Any) -> Any:
        """A lookup query whose failure concerns the whole batch."""
        try:
            return fn()
        except ConnectorError as exc:
            if exc.failure is Failure.FATAL:
                raise FatalSyncError(str(exc)) from exc
            raise


def _without_id_for_upsert(record: dict[str, Any], kind: WriteKind) -> dict[str, Any]:
    # An upsert body must not carry Id; an update must.
    if kind == "upsert" and "Id" in record:
        return {k: v for k, v in record.items() if k != "Id"}
    return record


def _batch(resolver: LookupResolver) -> Settlement:
    """The batch's settlement: the processor's resolvers always carry one."""
    if resolver.settlement is None:
        raise RuntimeError("internal error: a processor resolver without its settlement")
    return resolver.settlement


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


__all__ = ["Observer", "ProcessReport", "ProcessedRecord", "Processor"]
