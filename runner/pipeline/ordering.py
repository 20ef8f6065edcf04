"""Per Stripe object, an older event never overwrites a newer state.

Stripe does not deliver in order: ``customer.subscription.updated`` often arrives before
``.created``. Every applied event leaves its ``(created, event id)`` as the object's version
in the state store. An event older than that version is stale: the object is fetched again
from Stripe and its current state applied instead, so the record converges to the newest
state whatever the delivery order.

Within one batch several events of the same object collapse to the newest per flow.

Stripe's ``created`` counts whole seconds and event ids are random, so two events of one
object in the same second (a charge and its refund) have no knowable order. Such a tie is
never settled by comparing ids: the object is fetched again and its current state applied.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mappings.schema.stripe_events import is_deletion_event, split_event
from runner.state.records import InboxEvent


def event_object(payload: Mapping[str, Any]) -> dict[str, Any] | None:
    """The object a Stripe event carries, or None for anything that is not such an event."""
    record, envelope = split_event(payload)
    # Inbox payloads are parsed JSON, so an object is a dict; callers store and copy it.
    return record if envelope is not None and isinstance(record, dict) else None


def version_of(event: InboxEvent) -> tuple[int, str]:
    return (int(event.created), event.event_id)


def _rank(event: InboxEvent) -> tuple[int, bool, str]:
    """Order within a batch: a deletion is the last word on its object, also in its second
    (nothing of a deleted object comes after its deletion)."""
    return (int(event.created), is_deletion_event(event.type), event.event_id)


def is_stale(event: InboxEvent, applied: tuple[int, str] | None) -> bool:
    """Strictly older than what was applied. The same version is not stale: it is the
    redelivery of an event whose write may not have been recorded (a crash), and upserts
    make applying it again harmless."""
    return applied is not None and version_of(event) < tuple(applied)


def is_tied(event: InboxEvent, applied: tuple[int, str] | None) -> bool:
    """Same second as what was applied, another event: which came first is unknowable."""
    return (
        applied is not None
        and int(event.created) == int(applied[0])
        and event.event_id != applied[1]
    )


def newest_per_object(
    events: Iterable[InboxEvent],
) -> tuple[dict[str, InboxEvent], list[InboxEvent], set[str]]:
    """``(object id -> newest event, superseded events, tied object ids)``; events without
    an object id are each their own key. An object is tied when another of its events
    shares the newest one's second: its newest state must be fetched, not guessed."""
    newest: dict[str, InboxEvent] = {}
    superseded: list[InboxEvent] = []
    for event in events:
        key = event.object_id or f"event:{event.event_id}"
        current = newest.get(key)
        if current is None:
            newest[key] = event
        elif _rank(event) > _rank(current):
            superseded.append(current)
            newest[key] = event
        else:
            superseded.append(event)
    tied = {
        event.object_id
        for event in superseded
        if event.object_id and int(event.created) == int(newest[event.object_id].created)
        and not is_deletion_event(newest[event.object_id].type)
    }
    return newest, superseded, tied


def refreshed_event(payload: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """The event envelope with the object as Stripe has it now (for a stale event)."""
    data = dict(payload.get("data") or {})
    data["object"] = current
    data.pop("previous_attributes", None)
    return {**payload, "data": data}
