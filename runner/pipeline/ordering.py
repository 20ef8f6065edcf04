"""Per Stripe object, an older event never overwrites a newer state.

Stripe does not deliver in order: ``customer.subscription.updated`` often arrives before
``.created``. Every applied event leaves its ``(created, event id)`` as the object's version
in the state store. An event older than that version is stale: the object is fetched again
from Stripe and its current state applied instead, so the record converges to the newest
state whatever the delivery order.

Within one batch several events of the same object collapse to the newest per flow.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from runner.state.records import InboxEvent


def event_object(payload: dict[str, Any]) -> dict[str, Any] | None:
    data = payload.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    return obj if isinstance(obj, dict) else None


def version_of(event: InboxEvent) -> tuple[int, str]:
    return (int(event.created), event.event_id)


def is_stale(event: InboxEvent, applied: tuple[int, str] | None) -> bool:
    """Strictly older than what was applied. The same version is not stale: it is the
    redelivery of an event whose write may not have been recorded (a crash), and upserts
    make applying it again harmless."""
    return applied is not None and version_of(event) < tuple(applied)


def newest_per_object(events: Iterable[InboxEvent]) -> tuple[dict[str, InboxEvent],
                                                               list[InboxEvent]]:
    """``(object id -> newest event, superseded events)``; events without an object id are
    each their own key."""
    newest: dict[str, InboxEvent] = {}
    superseded: list[InboxEvent] = []
    for event in events:
        key = event.object_id or f"event:{event.event_id}"
        current = newest.get(key)
        if current is None:
            newest[key] = event
        elif version_of(event) > version_of(current):
            superseded.append(current)
            newest[key] = event
        else:
            superseded.append(event)
    return newest, superseded


def refreshed_event(payload: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """The event envelope with the object as Stripe has it now (for a stale event)."""
    data = dict(payload.get("data") or {})
    data["object"] = current
    data.pop("previous_attributes", None)
    return {**payload, "data": data}
