"""Real-time triggers of the Salesforce-triggered flows: change events and platform events.

Which flows listen to events, per ``runner.salesforce_triggers`` (:func:`plan_triggers`):

- ``poll``: none; the poller queries each flow on its ``SystemModstamp`` watermark.
- ``cdc``: every flow; a flow with a ``salesforce_event`` trigger listens to that platform
  event's topic, any other to its object's change events. A topic the org does not offer
  refuses the start.
- ``auto`` (the default): as ``cdc`` where ``GetTopic`` answers, the others are polled.

A flow triggered only by a platform event cannot be polled; without its topic it refuses
the start.

An event batch goes through the poller (:meth:`SalesforcePoller.handle_ids`): the records it
names are read by Id with the fields the flow reads (one query), then handled exactly as a
polled record (echo rule, trigger check, Stripe write, writeback): one path for both. Only
an event the echo rule can settle from its header alone is not read: the runner's own
writeback coming back (:func:`~runner.pipeline.writeback.is_writeback_echo`). Flows run in bundle
order, each reading its records after the previous flow's writebacks. Once the batch is
settled, the flows' watermarks move to the batch's commit time, so a catch-up poll (gap
event, expired replay id) starts where the events left off. A retriable failure leaves the
batch unsettled: it is delivered again (:class:`~runner.pubsub.subscriber.Redeliver`).

DELETE change events follow the flow's deletion policy (``on_delete``): the records they
name are read from the recycle bin (one ``queryAll``) and handled as a poll handles a deleted
record (:meth:`SalesforcePoller.handle_deleted_ids`, :mod:`runner.pipeline.sf_deletions`):
mark or delete the Stripe object, or ignore. A deletion the runner made itself is an echo.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from runner.errors import ConfigError
from runner.pipeline.sf_poller import PollReport, SalesforcePoller
from runner.pipeline.writeback import is_writeback_echo
from runner.pubsub.client import PubSubClient, Received
from runner.pubsub.probe import PROBE_TIMEOUT, offers, open_client
from runner.pubsub.subscriber import Redeliver, Subscriber
from runner.pubsub.topics import flow_topic

if TYPE_CHECKING:
    from runner.metrics import Metrics
    from runner.pipeline.bundle_runtime import CompiledFlow
    from runner.state.store import StateStore

log = logging.getLogger(__name__)

MODES = ("auto", "cdc", "poll")


@dataclass
class TriggerPlan:
    """Which flows listen to which topic, and which are polled (with the reason)."""

    topics: dict[str, list[str]] = field(default_factory=dict)  # topic -> flow names
    polled: dict[str, str] = field(default_factory=dict)  # flow -> why it is polled

    @property
    def subscribed(self) -> frozenset[str]:
        return frozenset(name for names in self.topics.values() for name in names)


def topic_of(compiled: CompiledFlow) -> str:
    """The topic a flow listens to: its platform event's, else its object's change events."""
    return flow_topic(compiled.flow)


def plan_triggers(flows: Sequence[CompiledFlow], mode: str,
                  offers: Callable[[str], bool]) -> TriggerPlan:
    """The plan for ``flows`` in ``mode``; ``offers(topic)`` says whether the org offers a
    topic (asked only in ``auto`` and ``cdc``). A ConfigError when a flow cannot run."""
    if mode not in MODES:
        raise ConfigError(f"runner.salesforce_triggers must be one of {', '.join(MODES)}, "
                          f"not {mode!r}")
    plan = TriggerPlan()
    offered: dict[str, bool] = {}
    for compiled in flows:
        topic = topic_of(compiled)
        pollable = compiled.flow.trigger.salesforce_change is not None
        if mode == "poll":
            if not pollable:
                raise ConfigError(f"flow {compiled.name!r} is triggered only by a platform "
                                  "event, which cannot be polled; set runner.salesforce_"
                                  "triggers to auto or cdc, or give it a salesforce_change "
                                  "trigger")
            plan.polled[compiled.name] = "runner.salesforce_triggers = poll"
            continue
        if topic not in offered:
            offered[topic] = offers(topic)
        if offered[topic]:
            plan.topics.setdefault(topic, []).append(compiled.name)
        elif mode == "cdc" or not pollable:
            raise ConfigError(f"flow {compiled.name!r} needs the Pub/Sub topic {topic}, which "
                              "the org does not offer"
                              + ("" if pollable else " (its trigger cannot be polled)"))
        else:
            plan.polled[compiled.name] = f"the org does not offer {topic}"
    return plan


def flow_ids(compiled: CompiledFlow, events: Sequence[Received],
             echo: Callable[[Received, str], bool] | None = None
             ) -> tuple[list[str], list[str]]:
    """``(changed, deleted)`` source record ids that ``events`` name for ``compiled``;
    ``echo(event, record id)`` leaves out changes known from the event to be echoes."""
    obj = compiled.flow.source.object
    trigger = compiled.flow.trigger.salesforce_event
    changed: list[str] = []
    deleted: list[str] = []
    for event in events:
        header = event.header
        if header is None:  # a platform event: it names its record in one field
            if trigger is not None:
                rid = event.payload.get(trigger.record_id_field(obj))
                if isinstance(rid, str) and rid:
                    changed.append(rid)
            continue
        if header.get("entityName") != obj:
            continue
        ids = [str(i) for i in header.get("recordIds") or ()]
        if header.get("changeType") == "DELETE":
            deleted.extend(ids)
            continue
        changed.extend(i for i in ids if echo is None or not echo(event, i))
    return changed, deleted


def commit_time(events: Sequence[Received]) -> datetime | None:
    """The newest commit time of ``events`` (a change's commitTimestamp, a platform event's
    CreatedDate; epoch milliseconds)."""
    stamps = []
    for event in events:
        header = event.header
        value = header.get("commitTimestamp") if header else event.payload.get("CreatedDate")
        if isinstance(value, int):
            stamps.append(value)
    return datetime.fromtimestamp(max(stamps) / 1000, UTC) if stamps else None


class SalesforceTriggers:
    """The subscriptions of one runner: a :class:`Subscriber` per topic of the plan."""

    def __init__(self, plan: TriggerPlan, client: PubSubClient, store: StateStore,
                 poller: Callable[[], SalesforcePoller | None], *,
                 metrics: Metrics | None = None) -> None:
        self.plan = plan
        self.client = client
        self.store = store
        self._poller = poller  # the runner rebuilds its poller when flows pause or resume
        self.metrics = metrics
        self._lock = threading.Lock()  # one batch or catch-up at a time: one poller
        self.subscribers = {topic: self._subscriber(topic) for topic in plan.topics}

    def _subscriber(self, topic: str) -> Subscriber:
        def handle(events: list[Received]) -> None:
            self.handle(topic, events)

        def catch_up(why: str) -> None:
            self.catch_up(topic, why)

        def on_start() -> None:
            self.catch_up(topic, None)

        return Subscriber(self.client, topic, self.store, handle, catch_up, on_start=on_start)

    @property
    def subscribed(self) -> frozenset[str]:
        return self.plan.subscribed

    def loops(self) -> list[tuple[str, Callable[[], None]]]:
        """``(thread name, target)`` per topic, for the runner to start."""
        return [(f"pubsub {topic}", sub.run) for topic, sub in self.subscribers.items()]

    def stop(self) -> None:
        for sub in self.subscribers.values():
            sub.stop()
        self.client.close()

    def _flows(self, topic: str) -> tuple[SalesforcePoller, list[CompiledFlow]]:
        poller = self._poller()
        if poller is None:
            raise Redeliver("the runner has no poller")
        names = set(self.plan.topics.get(topic, ()))
        # Bundle order (a paused flow is not in the poller's bundle).
        return poller, [c for c in poller.bundle.salesforce_flows if c.name in names]

    def handle(self, topic: str, events: list[Received]) -> None:
        """Settle one batch, or raise Redeliver."""
        if self.metrics is not None:
            self.metrics.salesforce_events(topic, len(events))
        with self._lock:
            poller, flows = self._flows(topic)
            report = PollReport()
            for compiled in flows:
                changed, deleted = flow_ids(compiled, events, self._echo(poller, compiled,
                                                                         report))
                if deleted and not poller.handle_deleted_ids(compiled, deleted, report):
                    raise Redeliver(report.errors[-1] if report.errors else compiled.name)
                if changed and not poller.handle_ids(compiled, changed, report):
                    raise Redeliver(report.errors[-1] if report.errors else compiled.name)
            stamp = commit_time(events)
            if stamp is not None:
                # One millisecond back: a change committed in the same millisecond whose
                # event is in the next batch is still found by a catch-up poll.
                with self.store.batch():
                    for compiled in flows:
                        poller.advance_to(compiled.name, stamp - timedelta(milliseconds=1))

    def _echo(self, poller: SalesforcePoller, compiled: CompiledFlow,
              report: PollReport) -> Callable[[Received, str], bool]:
        """Whether a change event is ``compiled``'s own writeback coming back (counted)."""
        user = poller.salesforce.user_id
        writeback = compiled.flow.operation.writeback

        def echo(event: Received, record_id: str) -> bool:
            header = event.header or {}
            if header.get("changeType") != "UPDATE":
                return False
            if not is_writeback_echo(self.store, user, commit_user=header.get("commitUser"),
                                     record_id=record_id, changed=event.changed,
                                     values=event.payload, writeback=writeback):
                return False
            report.echo += 1
            return True

        return echo

    def catch_up(self, topic: str, why: str | None) -> None:
        """Poll ``topic``'s flows from their watermarks: after a gap or an expired replay id
        (``why``; counted), or when a subscription starts without a stored position."""
        if why is not None and self.metrics is not None:
            self.metrics.catch_up(topic)
        with self._lock:
            poller, flows = self._flows(topic)
            pollable = [c.name for c in flows if c.flow.trigger.salesforce_change is not None]
            unpollable = [c.name for c in flows if c.name not in pollable]
            if why is not None and unpollable:
                log.warning("Pub/Sub %s: flows %s are triggered only by the platform event; "
                            "events missed (%s) cannot be found by a query", topic,
                            ", ".join(unpollable), why)
            if pollable:
                report = poller.poll_once(only=pollable)
                log.info("Pub/Sub %s: caught up by SOQL (%s): %d records, %d written",
                         topic, why or "no stored replay id", report.records,
                         report.created + report.updated)


def start_triggers(mode: str, flows: Sequence[CompiledFlow], salesforce: Any,
                   store: StateStore, poller: Callable[[], SalesforcePoller | None], *,
                   metrics: Metrics | None = None) -> SalesforceTriggers | None:
    """The runner's subscriptions for ``flows``, or None when every flow is polled (mode
    ``poll``, no Pub/Sub settings, or ``auto`` and the API cannot be reached)."""
    if mode == "poll" or not flows:
        plan_triggers(flows, "poll", lambda _topic: False)  # refuses unpollable flows
        return None
    # Unreachable, no session: auto polls, cdc refuses in plan_triggers.
    client = open_client(salesforce, PROBE_TIMEOUT)
    endpoint = getattr(getattr(salesforce, "settings", None), "pubsub_endpoint", None)
    plan = plan_triggers(flows, mode, lambda topic: offers(client, topic, PROBE_TIMEOUT))
    for name, why in plan.polled.items():
        log.info("flow %s is polled every runner.poll_interval: %s", name, why)
    if client is None or not plan.topics:
        if client is not None:
            client.close()
        return None
    current = poller()
    if current is not None:  # the first start's watermark: now, before the streams open
        for name in plan.subscribed:
            current.watermark(name)
    for topic, names in plan.topics.items():
        log.info("flows %s listen to %s (Pub/Sub API at %s)", ", ".join(names), topic,
                 endpoint)
    return SalesforceTriggers(plan, client, store, poller, metrics=metrics)
