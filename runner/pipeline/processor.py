"""Stripe -> Salesforce: claimed inbox events become micro-batched Salesforce writes.

:class:`Processor` coordinates one batch of claimed events; each step lives in its own module:

1. ``router``: events of a type no flow handles are finished ("ignored"), echoes of the
   runner's own writes are skipped, every other (event, flow) is a task; per flow and Stripe
   object only the newest event is applied, and a stale or tied one applies the object's
   current state fetched from Stripe.
2. ``writer``: flows run in dependency order (those writing objects that others look up
   first), each as one group through the one Salesforce write path (lookups, then insert /
   update by key / dedup + upsert / upsert, in collections calls of up to ``batch_size``).
3. ``settle``: each task's outcome (success -> cross reference, own-write note, done;
   skippable -> dead-letter queue; retriable -> retried with backoff until attempts run out;
   fatal -> :class:`runner.errors.FatalSyncError`, the runner stops) goes into the batch's
   one transaction.
4. ``replay``: dead-letter replay and review decisions go through the same steps.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from runner.connectors.stripe_lists import complete_lists
from runner.pipeline import replay
from runner.pipeline.batching import check_batch_size
from runner.pipeline.deletion import write_with_deletions
from runner.pipeline.ordering import event_object
from runner.pipeline.outcomes import Observer, ProcessedRecord, ProcessReport, TaskOutcome
from runner.pipeline.router import Freshness, Task, flow_order, route
from runner.pipeline.settle import BatchLedger, Settler
from runner.pipeline.writer import SalesforceWriter
from runner.retry import DEFAULT_POLICY, RetryPolicy
from runner.state.records import InboxEvent
from runner.state.settlement import Settlement

if TYPE_CHECKING:
    from mappings.document.model import Flow
    from runner.connectors.salesforce import SalesforceConnector
    from runner.connectors.stripe import StripeConnector
    from runner.metrics import Metrics
    from runner.pipeline.bundle_runtime import LoadedBundle
    from runner.state.store import StateStore

log = logging.getLogger(__name__)


class Processor:
    """Processes claimed inbox events through the bundle's Stripe-triggered flows."""

    def __init__(self, bundle: LoadedBundle, store: StateStore,
                 salesforce: SalesforceConnector, stripe: StripeConnector, *,
                 metrics: Metrics | None = None, batch_size: int = 200,
                 policy: RetryPolicy = DEFAULT_POLICY,
                 observers: Sequence[Observer] = ()) -> None:
        self.bundle = bundle
        self.store = store
        self.salesforce = salesforce
        self.stripe = stripe
        self.metrics = metrics
        self.batch_size = check_batch_size(batch_size)
        self.policy = policy
        self.observers: tuple[Observer, ...] = tuple(observers)
        self.settler = Settler(store, policy, metrics)
        self._polled_objects = bundle.polled_objects

    # -- events -------------------------------------------------------------------------
    def process_events(self, events: Sequence[InboxEvent]) -> ProcessReport:
        settlement = Settlement()
        try:
            report, tasks = self._process(events, settlement)
            self.settler.commit(settlement)
        except BaseException:
            self.settler.keep_references(settlement)
            raise
        self.notify(tasks)
        return report

    def _process(self, events: Sequence[InboxEvent],
                 settlement: Settlement) -> tuple[ProcessReport, list[Task]]:
        report = ProcessReport(events=len(events))
        calls_before = self.salesforce.api_calls
        routing = route(self.bundle, self.store, events)
        for ev in routing.ignored:
            self.settler.finish(ev, "ignored", report, settlement)
            report.ignored += 1
            if self.metrics is not None:
                self.metrics.ignored(ev.type)
        for ev in routing.echoes:
            self.settler.finish(ev, TaskOutcome.SKIPPED.value, report, settlement)
            report.echo += 1
        Freshness(self.store, self.stripe).guard(
            routing.tasks, {ev.event_id: ev for ev in routing.relevant})
        self.run_tasks(routing.tasks, report, settlement, dead_letter=True)
        for ev in routing.relevant:
            self.settler.event(ev, routing.tasks_of[ev.event_id], report, settlement)
        report.api_calls = self.salesforce.api_calls - calls_before
        return report, [task for ev in routing.relevant for task in routing.tasks_of[ev.event_id]]

    def writer(self, settlement: Settlement) -> SalesforceWriter:
        """The one write path, leaving its state in ``settlement``."""
        ledger = BatchLedger(self.store, settlement, self._polled_objects)
        return SalesforceWriter(self.salesforce, ledger, batch_size=self.batch_size,
                                metrics=self.metrics, complete_lists=self.complete_lists)

    def complete_lists(self, flow: Flow, data: dict[str, Any]) -> dict[str, Any]:
        """A payload's truncated Stripe lists fetched in full (an invoice's 11th line on)."""
        return complete_lists(data, flow, self.stripe)

    def run_tasks(self, tasks: list[Task], report: ProcessReport, settlement: Settlement, *,
                  dead_letter: bool) -> None:
        """Write the open tasks flow by flow (one writer, so one lookup cache, per batch)."""
        writer = self.writer(settlement)
        groups: dict[str, list[Task]] = {}
        for task in tasks:
            groups.setdefault(task.flow.name, []).append(task)
        for compiled in flow_order(self.bundle):
            group = [t for t in groups.get(compiled.name, []) if t.outcome is None]
            if group:
                write_with_deletions(writer, compiled.flow, compiled.plan, group)
        self.settler.tasks_ran(tasks, report, settlement, dead_letter=dead_letter)

    # -- dead letters and reviews -------------------------------------------------------
    def replay_dlq(self, entry_id: int) -> ProcessReport:
        """Run a dead letter's event through the current bundle (see ``replay``)."""
        return replay.replay_dlq(self, entry_id)

    def apply_review(self, item_id: int) -> ProcessReport:
        """Carry out a decided review item (see ``replay``)."""
        return replay.apply_review(self, item_id)

    # -- observers ----------------------------------------------------------------------
    def notify(self, tasks: Iterable[Task]) -> None:
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
                outcome=task.outcome or TaskOutcome.RETRY,
                sf_id=task.sf_id,
            )
            for observer in self.observers:
                try:
                    observer(done)
                except Exception:
                    log.exception("processor observer %r failed on %s %s (ignored)",
                                  observer, done.flow, done.event_id)


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


__all__ = ["Observer", "ProcessReport", "ProcessedRecord", "Processor"]
