"""Which flow applies which event, and which version of the event's object it applies.

Events of a type no flow handles are ignored; events the runner caused itself (a customer
it created from Salesforce) are echoes. Every other (event, flow) pair is a :class:`Task`.
Per flow and Stripe object only the newest event of the batch is applied (older ones are
stale); an event older than what was applied before, or tied in time with another of its
object's, applies the object's current state fetched from Stripe (see ``ordering``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mappings.schema.stripe_events import is_deletion_event
from runner.connectors.errors import ConnectorError
from runner.pipeline.ordering import is_stale, is_tied, newest_per_object, refreshed_event
from runner.pipeline.outcomes import TaskOutcome, failed
from runner.pipeline.writeback import is_stripe_echo
from runner.pipeline.writer import WriteItem
from runner.retry import outcome_for
from runner.state.records import InboxEvent

if TYPE_CHECKING:
    from runner.connectors.stripe import StripeConnector
    from runner.pipeline.bundle_runtime import CompiledFlow, LoadedBundle
    from runner.state.store import StateStore

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class Task(WriteItem):
    """One flow applied to one event's object."""

    flow: CompiledFlow
    event_id: str | None = None
    tied: bool = False  # another event of its object shares its second: fetch, don't guess


@dataclass
class Routing:
    """A batch of events sorted out: what to ignore, which are echoes, and the tasks."""

    ignored: list[InboxEvent] = field(default_factory=list)
    echoes: list[InboxEvent] = field(default_factory=list)
    relevant: list[InboxEvent] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)  # to run
    tasks_of: dict[str, list[Task]] = field(default_factory=dict)  # every task, by event


def flow_order(bundle: LoadedBundle) -> list[CompiledFlow]:
    """Flows writing objects that other flows look up come first, in dependency order: the
    Account before the Payment__c that looks it up, before the Refund__c that looks up the
    Payment__c. Flows of one level keep the bundle's order; a cycle of lookups orders none."""
    flows = list(bundle.flows.values())
    needs: dict[tuple[str, str], set[tuple[str, str]]] = {}  # target -> what its writers look up
    for compiled in flows:
        flow = compiled.flow
        wanted = needs.setdefault((flow.target.system.value, flow.target.object), set())
        for lookups in (flow.lookups, *(child.lookups for child in flow.children)):
            wanted.update(("salesforce", lk.object) for lk in lookups)
    depth: dict[tuple[str, str], int] = {}

    def level(obj: tuple[str, str], path: frozenset[tuple[str, str]]) -> int:
        if obj not in depth:
            below = [level(o, path | {obj}) + 1 for o in needs.get(obj, ())
                     if o in needs and o not in path and o != obj]
            depth[obj] = max(below, default=0)
        return depth[obj]

    return sorted(flows, key=lambda c: level((c.flow.target.system.value,
                                               c.flow.target.object), frozenset()))


def route(bundle: LoadedBundle, store: StateStore, events: Sequence[InboxEvent]) -> Routing:
    routing = Routing()
    for ev in events:
        if not bundle.flows_for_event(ev.type):
            routing.ignored.append(ev)
        elif is_stripe_echo(store, ev.payload):
            routing.echoes.append(ev)
        else:
            routing.relevant.append(ev)
    routing.tasks_of = {ev.event_id: [] for ev in routing.relevant}
    for compiled in flow_order(bundle):
        mine = [ev for ev in routing.relevant if compiled in bundle.flows_for_event(ev.type)]
        if not mine:
            continue
        newest, superseded, tied = newest_per_object(mine)
        for ev in superseded:
            task = _task(compiled, ev)
            task.finish(TaskOutcome.STALE)
            routing.tasks_of[ev.event_id].append(task)
        for ev in newest.values():
            task = _task(compiled, ev)
            task.tied = ev.object_id in tied
            routing.tasks_of[ev.event_id].append(task)
            routing.tasks.append(task)
        log.debug("flow %s: %d events, %d superseded", compiled.name, len(mine),
                  len(superseded))
    return routing


def _task(compiled: CompiledFlow, ev: InboxEvent) -> Task:
    return Task(data=ev.payload, payload=ev.payload, flow=compiled, event_id=ev.event_id,
                received_at=ev.received_at)


class Freshness:
    """Applies the ordering guard: stale and tied tasks get their object's current state,
    fetched from Stripe once per object."""

    def __init__(self, store: StateStore, stripe: StripeConnector) -> None:
        self.store = store
        self.stripe = stripe
        self._current: dict[str, dict[str, Any] | ConnectorError] = {}

    def guard(self, tasks: Sequence[Task], events: dict[str, InboxEvent]) -> None:
        versions = self.store.object_versions(
            ev.object_id for ev in events.values() if ev.object_id)
        for task in tasks:
            if task.outcome is not None or task.event_id is None:
                continue
            ev = events[task.event_id]
            if not ev.object_id or is_deletion_event(ev.type):
                # A deletion is final: there is no newer state to fetch.
                continue
            applied = versions.get(ev.object_id)
            if task.tied or is_stale(ev, applied) or is_tied(ev, applied):
                self.refresh(task, ev.object_id)

    def refresh(self, task: Task, object_id: str) -> None:
        if object_id not in self._current:
            try:
                self._current[object_id] = self.stripe.retrieve(
                    task.flow.flow.source.object, object_id)
            except ConnectorError as exc:
                self._current[object_id] = exc
        found = self._current[object_id]
        if isinstance(found, ConnectorError):
            if outcome_for(found.failure) == "dead_letter":
                # Gone or not retrievable: a newer state was applied already, keep it.
                task.finish(TaskOutcome.STALE)
            else:
                task.finish(failed(found.failure, str(found), found), str(found),
                            found.error_code, found.failure)
            return
        task.data = refreshed_event(task.payload, found)
