"""What ``GET /healthz`` reports: the inbox, the dead letters, the last event received.

Healthy means "able to take webhooks": the state database answers. Dead letters or a queue
backlog do not make the runner unhealthy (a load balancer would take it out of rotation and
make things worse); they are reported here and alerted on by :mod:`runner.alerts`.
"""

from __future__ import annotations

from typing import Any, Protocol

from runner.ingest.webhook_server import describe_error


class HealthSource(Protocol):
    def counts(self) -> dict[str, int]: ...
    def last_event(self) -> Any: ...


def store_health(store: HealthSource, **extra: Any) -> dict[str, Any]:
    """``{"status": "ok", "queue": {...}, "dlq": n, "review": n, "last_event": {...}}``,
    or ``{"status": "error", "error": ...}`` when the store cannot be read. ``extra``
    (e.g. ``salesforce_api=(used, max)``) is added as is."""
    try:
        counts = store.counts()
        last = store.last_event()
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
    return {
        "status": "ok",
        "queue": {k: counts.get(k, 0) for k in ("pending", "processing", "retry", "dead")},
        "dlq": counts.get("dlq_open", 0),
        "review": counts.get("review_open", 0),
        "last_event": last_event,
        **extra,
    }
