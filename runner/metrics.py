"""The runner's Prometheus metrics, on a registry of their own.

A private :class:`~prometheus_client.CollectorRegistry` (not the process-wide default) keeps
two runners in one process (tests, the benchmark) from sharing or colliding on counters.
The pipeline calls the plain-named methods below; ``GET /metrics`` serves :meth:`render`.

Label values that come from outside (event types) are cut to a bounded length so a signed
but odd event cannot blow up the series' size.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

OUTCOMES = frozenset({"written", "skipped", "dead_lettered", "review", "retried"})

# Webhook received -> Salesforce write committed. Micro-batching adds up to a batch window
# (tens of ms) and retries add seconds to minutes, so the buckets span 5 ms .. 10 min.
LATENCY_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0,
)

# store.counts() keys that are queue states; dlq_open feeds fieldbridge_dlq_size instead.
QUEUE_STATES = ("pending", "processing", "retry", "dead", "review_open")

MAX_LABEL = 100


def _label(value: object) -> str:
    text = str(value)
    return text if len(text) <= MAX_LABEL else text[:MAX_LABEL]


class Metrics:
    """Counters, gauges and the latency histogram of one runner."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._lock = threading.Lock()
        self._newest = 0.0
        r = self.registry
        self.events_received = Counter(
            "fieldbridge_events_received_total",
            "Events accepted into the inbox (first delivery of each id), by source.",
            ["source"], registry=r,
        )
        self.events_duplicate = Counter(
            "fieldbridge_events_duplicate_total",
            "Deliveries of an event id already in the inbox, by source.",
            ["source"], registry=r,
        )
        self.events_processed = Counter(
            "fieldbridge_events_processed_total",
            "Records handled by a flow, by outcome "
            "(written, skipped, dead_lettered, review, retried).",
            ["flow", "outcome"], registry=r,
        )
        self.events_ignored = Counter(
            "fieldbridge_events_ignored_total",
            "Signed events of a type no flow of the bundle handles (answered 200, not stored).",
            ["type"], registry=r,
        )
        self.webhook_rejected = Counter(
            "fieldbridge_webhook_rejected_total",
            "Webhook requests refused, by reason.",
            ["reason"], registry=r,
        )
        self.api_calls = Counter(
            "fieldbridge_salesforce_api_calls_total",
            "Salesforce API calls made, by kind (collections, query, bulk, ...).",
            ["kind"], registry=r,
        )
        self.api_remaining = Gauge(
            "fieldbridge_salesforce_api_remaining",
            "Salesforce daily API requests left, from the Sforce-Limit-Info header.",
            registry=r,
        )
        self.api_max = Gauge(
            "fieldbridge_salesforce_api_max",
            "Salesforce daily API request allowance, from the Sforce-Limit-Info header.",
            registry=r,
        )
        self.dlq_size = Gauge(
            "fieldbridge_dlq_size", "Open entries in the dead-letter queue.", registry=r,
        )
        self.queue_depth = Gauge(
            "fieldbridge_queue_depth", "Inbox and review queue rows, by status.",
            ["status"], registry=r,
        )
        self.last_event_timestamp = Gauge(
            "fieldbridge_last_event_timestamp_seconds",
            "Creation time (Unix seconds) of the newest event received.",
            registry=r,
        )
        self.sf_events = Counter(
            "fieldbridge_salesforce_events_total",
            "Change events and platform events received over the Pub/Sub API, by topic.",
            ["topic"], registry=r,
        )
        self.sf_catch_ups = Counter(
            "fieldbridge_salesforce_catch_ups_total",
            "SOQL catch-ups from the poll watermark after a gap event or an expired replay "
            "id, by topic.",
            ["topic"], registry=r,
        )
        self.end_to_end_latency = Histogram(
            "fieldbridge_end_to_end_latency_seconds",
            "Time from webhook received to Salesforce write committed.",
            buckets=LATENCY_BUCKETS, registry=r,
        )

    # -- what the webhook server and catch-up call

    def event_received(self, source: str, n: int = 1, *, created: float | None = None) -> None:
        """``n`` new events entered the inbox from ``source`` (webhook, catchup, ...)."""
        self.events_received.labels(source=_label(source)).inc(n)
        if created is not None:
            self.last_event(created)

    def duplicate(self, source: str, n: int = 1) -> None:
        self.events_duplicate.labels(source=_label(source)).inc(n)

    def ignored(self, event_type: str, n: int = 1) -> None:
        self.events_ignored.labels(type=_label(event_type)).inc(n)

    def rejected(self, reason: str) -> None:
        self.webhook_rejected.labels(reason=_label(reason)).inc()

    def last_event(self, created: float) -> None:
        """Move the newest-event time forward (an older, late event leaves it alone)."""
        with self._lock:
            if created > self._newest:
                self._newest = created
                self.last_event_timestamp.set(created)

    # -- what the pipeline calls

    def processed(self, flow: str, outcome: str, n: int = 1) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(
                f"unknown processing outcome {outcome!r}; expected one of {sorted(OUTCOMES)}"
            )
        self.events_processed.labels(flow=_label(flow), outcome=outcome).inc(n)

    def latency(self, seconds: float) -> None:
        """One record's webhook-received -> Salesforce-committed time."""
        self.end_to_end_latency.observe(max(0.0, seconds))

    def latency_since(self, received_at: float) -> None:
        """Latency from a Unix ``received_at`` to now."""
        self.latency(time.time() - received_at)

    def salesforce_events(self, topic: str, n: int = 1) -> None:
        self.sf_events.labels(topic=_label(topic)).inc(n)

    def catch_up(self, topic: str) -> None:
        """A Pub/Sub subscription fell back on a SOQL catch-up (gap, expired replay id)."""
        self.sf_catch_ups.labels(topic=_label(topic)).inc()

    def api_call(self, kind: str, n: int = 1) -> None:
        self.api_calls.labels(kind=_label(kind)).inc(n)

    def api_budget(self, used: int, max: int) -> None:  # "max": the header's own word
        """Sforce-Limit-Info ``api-usage=used/max``."""
        self.api_max.set(max)
        self.api_remaining.set(max - used)

    def queue(self, counts: Mapping[str, int]) -> None:
        """Gauges from :meth:`StateStore.counts` (pending, retry, dead, dlq_open, review_open)."""
        for status in QUEUE_STATES:
            if status in counts:
                self.queue_depth.labels(status=status).set(counts[status])
        if "dlq_open" in counts:
            self.dlq_size.set(counts["dlq_open"])

    def render(self) -> bytes:
        """The Prometheus text exposition (``CONTENT_TYPE``)."""
        return generate_latest(self.registry)
