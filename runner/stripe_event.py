"""What a Stripe event must hold before the runner takes it: the one check.

The webhook server checks a delivery's body with :func:`check_event` and hands the
:class:`CheckedEvent` to the inbox, which stores it without checking it again; events that
come another way (catch-up pages, reconcile's resync events) are checked by the inbox with
the same function. A :class:`MalformedEvent` says what is missing, and its ``reason``
labels the webhook's rejection metric.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class MalformedEvent(ValueError):
    """Not a Stripe event the runner can take; ``reason`` is a short metric label."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class CheckedEvent:
    """A Stripe event that passed :func:`check_event`, with the fields the inbox indexes."""

    event_id: str
    type: str
    created: int
    object_id: str | None
    payload: dict[str, Any]


def check_event(event: Any) -> CheckedEvent:
    """``event`` as a :class:`CheckedEvent`, or :class:`MalformedEvent` naming what it lacks:
    a JSON object of ``object`` "event" with an ``id``, a ``type``, an integer ``created``
    and a ``data.object``."""
    if not isinstance(event, dict):
        raise MalformedEvent(f"an event must be a JSON object, not a JSON "
                             f"{type(event).__name__}", "not_an_event")
    if event.get("object", "event") != "event":
        raise MalformedEvent(f"a Stripe {event.get('object')!r} object is not an event",
                             "not_an_event")
    event_id = event.get("id")
    if not isinstance(event_id, str) or not event_id.strip():
        raise MalformedEvent("the event has no 'id' (a non-empty string)", "no_id")
    kind = event.get("type")
    if not isinstance(kind, str) or not kind.strip():
        raise MalformedEvent(f"event {event_id} has no 'type' (a non-empty string)", "no_type")
    created = event.get("created")
    if isinstance(created, bool) or not isinstance(created, int):
        raise MalformedEvent(f"event {event_id} has no 'created' (Unix seconds, an integer)",
                             "not_an_event")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        raise MalformedEvent(f"event {event_id} has no data.object", "not_an_event")
    object_id = obj.get("id")
    return CheckedEvent(event_id, kind, created,
                        object_id if isinstance(object_id, str) else None, event)
