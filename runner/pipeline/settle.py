"""Turning task outcomes into state rows: the batch's ledger entries, retries, dead letters.

The batch's state (cross references, own writes, object versions, dead letters, review
items and every event's ledger entry) is gathered in a :class:`Settlement` and committed in
ONE transaction once the batch's writes are answered: O(1) commits per batch, not several per
event. An event is marked done only after its writes succeeded, in the same transaction as
its cross reference; a crash before that commit re-processes the whole batch, and the upsert
by external id finds the same records: no duplicate.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from runner.classify import Failure
from runner.pipeline.outcomes import ProcessReport, TaskOutcome
from runner.pipeline.writeback import DELETED_MARK, PROCESSOR_MARK
from runner.retry import RetryPolicy, decide
from runner.state import EventStatus
from runner.state.settlement import Settlement

if TYPE_CHECKING:
    from runner.metrics import Metrics
    from runner.pipeline.router import Task
    from runner.state.records import InboxEvent
    from runner.state.store import StateStore

log = logging.getLogger(__name__)


class BatchLedger:
    """The runner's :class:`runner.pipeline.writer.WriteLedger`: reads the cross-reference
    table and the batch's own new pairs, and gathers what a write leaves in the batch's
    settlement (committed with the batch)."""

    def __init__(self, store: StateStore, settlement: Settlement,
                 polled_objects: frozenset[str]) -> None:
        self.store = store
        self.settlement = settlement
        self.polled_objects = polled_objects

    def xref_get_many(self, sf_object: str, stripe_ids: Iterable[str]) -> dict[str, str]:
        stripe_ids = list(stripe_ids)
        known = {stripe_id: sf_id for stripe_id, sf_id in
                 self.store.xref_get_many(sf_object, stripe_ids).items()
                 if not self.settlement.is_forgotten(sf_object, sf_id)}
        for stripe_id in stripe_ids:
            pending = self.settlement.xref_get(sf_object, stripe_id)
            if pending is not None:
                known[stripe_id] = pending
        return known

    def xref_put(self, sf_object: str, stripe_id: str, sf_id: str, flow: str) -> None:
        self.settlement.xref(sf_object, stripe_id, sf_id, flow)

    def own_write(self, sf_object: str, sf_id: str) -> None:
        # Only where a Salesforce -> Stripe flow looks can an echo start.
        if sf_object in self.polled_objects:
            self.settlement.own_write("salesforce", sf_id, PROCESSOR_MARK)

    def own_deletion(self, sf_object: str, sf_id: str) -> None:
        self.settlement.xref_forget(sf_object, sf_id)
        if sf_object in self.polled_objects:
            self.settlement.own_write("salesforce", sf_id, DELETED_MARK)

    def review(self, *, flow: str, source_id: str, record: dict[str, Any],
               candidates: list[dict[str, Any]], payload: dict[str, Any]) -> None:
        self.settlement.review(flow=flow, source_id=source_id, record=record,
                               candidates=candidates, payload=payload)

    def keep_now(self) -> None:
        references = self.settlement.take_references()
        if references:
            self.store.settle_batch(references)


class StoreLedger:
    """A :class:`runner.pipeline.writer.WriteLedger` straight over the state store, for
    writes outside the processor's batches (a backfill, the finance monitor's Cases): every
    cross reference, own-write note and review item is committed as it is made, so there is
    nothing to keep at the end."""

    def __init__(self, store: StateStore, polled_objects: frozenset[str]) -> None:
        self.store = store
        self.polled_objects = polled_objects

    def xref_get_many(self, sf_object: str, stripe_ids: Iterable[str]) -> dict[str, str]:
        return self.store.xref_get_many(sf_object, stripe_ids)

    def xref_put(self, sf_object: str, stripe_id: str, sf_id: str, flow: str) -> None:
        self.store.xref_put(sf_object, stripe_id, sf_id, flow)

    def own_write(self, sf_object: str, sf_id: str) -> None:
        # The same rule as the batch ledger's: only where the poller looks.
        if sf_object in self.polled_objects:
            self.store.note_own_write("salesforce", sf_id, PROCESSOR_MARK)

    def own_deletion(self, sf_object: str, sf_id: str) -> None:
        self.store.xref_forget(sf_object, sf_id)
        if sf_object in self.polled_objects:
            self.store.note_own_write("salesforce", sf_id, DELETED_MARK)

    def review(self, *, flow: str, source_id: str, record: dict[str, Any],
               candidates: list[dict[str, Any]], payload: dict[str, Any]) -> None:
        self.store.review_add(flow=flow, source_id=source_id, record=record,
                              candidates=candidates, payload=payload)

    def keep_now(self) -> None:
        """Everything is committed already."""


class Settler:
    """Counts each task, and writes its outcome into the settlement and the report."""

    def __init__(self, store: StateStore, policy: RetryPolicy,
                 metrics: Metrics | None = None) -> None:
        self.store = store
        self.policy = policy
        self.metrics = metrics

    def count(self, task: Task, report: ProcessReport) -> None:
        self.count_all([task], report)

    def count_all(self, tasks: Iterable[Task], report: ProcessReport) -> None:
        """Count each task in the report, and in the metrics once per flow and outcome (a
        counter's labels looked up per task cost more than the rest of its settling)."""
        counts: dict[tuple[str, str], int] = {}
        for task in tasks:
            outcome = task.outcome or TaskOutcome.SKIPPED
            report.count(outcome)
            key = (task.flow.name, outcome.metric)
            counts[key] = counts.get(key, 0) + 1
        if self.metrics is not None:
            for (flow, outcome_metric), n in counts.items():
                self.metrics.processed(flow, outcome_metric, n)

    def dead_letter(self, task: Task, settlement: Settlement) -> None:
        settlement.dead_letter(flow=task.flow.name, event_id=task.event_id,
                               source_id=task.source_id, payload=task.payload,
                               record=task.record, error=task.error or "dead-lettered",
                               error_code=task.error_code)

    def tasks_ran(self, tasks: Sequence[Task], report: ProcessReport, settlement: Settlement,
                  *, dead_letter: bool) -> None:
        """After the writes: dead letters, counts and errors of each task (a retried task
        is counted when its event settles)."""
        for task in tasks:
            if task.outcome is TaskOutcome.DEAD_LETTERED and dead_letter:
                self.dead_letter(task, settlement)
            if task.error and task.outcome in (TaskOutcome.DEAD_LETTERED, TaskOutcome.RETRY):
                report.errors.append(f"{task.flow.name} {task.source_id or task.event_id}: "
                                     f"{task.error}")
        self.count_all((task for task in tasks if task.outcome is not TaskOutcome.RETRY),
                       report)

    def event(self, ev: InboxEvent, tasks: list[Task], report: ProcessReport,
              settlement: Settlement) -> None:
        """An event's ledger entry: retried while any of its tasks is (until attempts run
        out), otherwise finished with its strongest task outcome."""
        retrying = [t for t in tasks if t.outcome is TaskOutcome.RETRY]
        if retrying:
            first = retrying[0]
            decision = decide(Failure.RETRIABLE, max(ev.attempts, 1), self.policy,
                              error_code=first.error_code, key=ev.event_id)
            if decision.action == "retry":
                error = "; ".join(f"{t.flow.name}: {t.error}" for t in retrying)
                settlement.retry(ev.event_id, error[:2000], decision.retry_at(self.store.now()),
                                 worker=holder(ev))
                report.outcomes[ev.event_id] = TaskOutcome.RETRY.value
                self.count_all(retrying, report)
                return
            for task in retrying:  # out of attempts: a person must look at it
                task.finish(TaskOutcome.DEAD_LETTERED, f"{task.error} ({decision.reason})",
                            task.error_code, Failure.RETRIABLE)
                self.dead_letter(task, settlement)
            self.count_all(retrying, report)
        best = TaskOutcome.strongest({t.outcome for t in tasks})
        if ev.object_id and best is not TaskOutcome.STALE:
            settlement.version(ev.object_id, int(ev.created), ev.event_id)
        self.finish(ev, str(best.ledger), report, settlement)

    def finish(self, ev: InboxEvent, outcome: str, report: ProcessReport,
               settlement: Settlement) -> None:
        settlement.done(ev.event_id, outcome=outcome, worker=holder(ev))
        report.outcomes[ev.event_id] = outcome

    def commit(self, settlement: Settlement) -> None:
        """The batch's one transaction. An event whose claim expired meanwhile was taken
        over by another worker: its ledger entry is that worker's to write."""
        if not settlement:
            return
        result = self.store.settle_batch(settlement)
        for event_id in sorted(result.lost):
            log.warning("event %s: the claim expired before it finished", event_id)

    def keep_references(self, settlement: Settlement) -> None:
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


def holder(ev: InboxEvent) -> str | None:
    """The worker whose claim must still hold for the ledger entry (None: any)."""
    return ev.worker if ev.status == EventStatus.PROCESSING and ev.worker else None
