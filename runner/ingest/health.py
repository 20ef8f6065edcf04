"""What ``GET /healthz`` reports: the inbox, the dead letters, the last event received, and
whether the sync is moving.

Healthy means "able to take webhooks and getting through them". Dead letters or a queue
backlog alone do not make the runner unhealthy (a load balancer would take it out of
rotation and make things worse); they are reported here and alerted on by
:mod:`runner.alerts`. A stall does: events wait while none settles (a worker stuck on an
expression, a store it cannot write), which answering 200 to every webhook would hide.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Protocol

from runner.ingest.webhook_server import describe_error

# runner.stall_after's default: well above a busy batch (200 records, each expression
# bounded by the mapping core's budget) and a few retries' back-off.
DEFAULT_STALL_AFTER = 120.0


class HealthSource(Protocol):
    def counts(self) -> dict[str, int]: ...
    def last_event(self) -> Any: ...
    def oldest_due_age(self) -> timedelta | None: ...
    def last_settled_age(self) -> timedelta | None: ...


def stall(store: HealthSource, counts: dict[str, int], after: float) -> str | None:
    """Why the sync counts as stalled, or None: the oldest pending event has waited more
    than ``after`` seconds and no event settled (by any worker) in the last ``after``
    seconds. A long backlog that is being worked through is not a stall."""
    waited = store.oldest_due_age()
    if waited is None or waited.total_seconds() <= after:
        return None
    settled = store.last_settled_age()
    if settled is not None and settled.total_seconds() <= after:
        return None
    last = ("no event has settled yet" if settled is None
            else f"the last event settled {settled.total_seconds():.0f} s ago")
    return (f"{counts.get('pending', 0)} events are waiting, the oldest for "
            f"{waited.total_seconds():.0f} s, and {last} (runner.stall_after is {after:g} s)")


def store_health(store: HealthSource, *, stall_after: float | None = DEFAULT_STALL_AFTER,
                 **extra: Any) -> dict[str, Any]:
    """``{"status": "ok", "queue": {...}, "dlq": n, "review": n, "last_event": {...}}``;
    ``"status": "degraded"`` with a ``"reason"`` when the sync stalled (see :func:`stall`;
    ``stall_after=None`` turns the check off), or ``{"status": "error", "error": ...}`` when
    the store cannot be read. ``extra`` (e.g. ``salesforce_api=(used, max)``) is added as
    is."""
    try:
        counts = store.counts()
        last = store.last_event()
        stalled = stall(store, counts, stall_after) if stall_after is not None else None
    except Exception as exc:
        return {"status": "error", "error": describe_error(exc), **extra}
    last_event = None
    if last is not None:
        received = getattr(last, "received_at", None)
        last_event = {
            "id": last.event_id,
            "type": last.type,
            "created": last.created,
            "received_at": received.isoformat() if received is not None else None,
        }
    report: dict[str, Any] = {
        "status": "ok" if stalled is None else "degraded",
        "queue": {k: counts.get(k, 0) for k in ("pending", "processing", "retry", "dead")},
        "dlq": counts.get("dlq_open", 0),
        "review": counts.get("review_open", 0),
        "last_event": last_event,
        **extra,
    }
    if stalled is not None:
        report["reason"] = f"stalled: {stalled}"
    return report
