"""Live numbers for the admin API's status, read from :class:`runner.metrics.Metrics`:
records handled per second (over the last :data:`RATE_WINDOW` seconds), per-flow outcome
totals, and end-to-end latency quantiles from the histogram's buckets."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from runner.metrics import Metrics

RATE_WINDOW = 10.0


def _samples(metrics: Metrics, name: str) -> list[Any]:
    return [s for family in metrics.registry.collect() for s in family.samples
            if s.name == name]


def flow_outcomes(metrics: Metrics) -> dict[str, dict[str, int]]:
    """``{flow: {outcome: count}}`` since the runner started."""
    out: dict[str, dict[str, int]] = {}
    for sample in _samples(metrics, "fieldbridge_events_processed_total"):
        flow, outcome = sample.labels["flow"], sample.labels["outcome"]
        out.setdefault(flow, {})[outcome] = int(sample.value)
    return out


def latency_quantiles(metrics: Metrics, quantiles: tuple[float, ...] = (0.5, 0.99)
                      ) -> dict[str, float | None]:
    """``{"p50": seconds, "p99": seconds}`` as the upper bound of the bucket each falls in
    (None before any record was written)."""
    buckets = sorted(
        ((float(s.labels["le"]), s.value) for s in
         _samples(metrics, "fieldbridge_end_to_end_latency_seconds_bucket")),
        key=lambda b: b[0])
    total = buckets[-1][1] if buckets else 0.0
    out: dict[str, float | None] = {}
    for q in quantiles:
        key = f"p{round(q * 100)}"
        if not total:
            out[key] = None
            continue
        bound = next((le for le, count in buckets if count >= q * total), buckets[-1][0])
        # +Inf: slower than the largest bucket; say the largest finite bound.
        finite = [le for le, _ in buckets if le != float("inf")]
        out[key] = bound if bound != float("inf") else (finite[-1] if finite else None)
    return out


class LiveStats:
    """Rates between calls: each :meth:`sample` notes the totals, and the rate is the
    change over the last :data:`RATE_WINDOW` seconds."""

    def __init__(self, metrics: Metrics, clock: Callable[[], float] = time.monotonic) -> None:
        self.metrics = metrics
        self.clock = clock
        self._history: deque[tuple[float, int, int]] = deque()
        self._lock = threading.Lock()

    def sample(self) -> dict[str, Any]:
        outcomes = flow_outcomes(self.metrics)
        handled = sum(sum(v.values()) for v in outcomes.values())
        errors = sum(v.get("dead_lettered", 0) + v.get("retried", 0)
                     for v in outcomes.values())
        now = self.clock()
        with self._lock:
            self._history.append((now, handled, errors))
            while len(self._history) > 2 and self._history[0][0] < now - RATE_WINDOW:
                self._history.popleft()
            first = self._history[0]
        span = now - first[0]
        rate = (handled - first[1]) / span if span > 0 else 0.0
        error_rate = (errors - first[2]) / span if span > 0 else 0.0
        return {"events_per_second": round(rate, 3), "errors_per_second": round(error_rate, 3),
                "handled": handled, "errors": errors, "flows": outcomes,
                "latency": latency_quantiles(self.metrics)}
