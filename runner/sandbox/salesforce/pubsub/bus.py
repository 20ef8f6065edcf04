"""The event bus: every published event in order, kept for a retention window.

Replay ids are opaque to clients: eight bytes, big-endian, of the bus position. A replay id
the bus no longer holds (older than the window) or never issued is refused, as Salesforce
refuses it, with ``ReplayIdInvalid``; subscribers then start again from a preset.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass

DEFAULT_RETENTION_SECONDS = 72 * 3600  # Salesforce keeps events for 72 hours


class ReplayIdInvalid(Exception):
    """A replay id that is malformed, expired or from another bus."""


@dataclass(frozen=True)
class BusEvent:
    position: int
    topics: frozenset[str]
    schema_id: str
    payload: bytes
    event_id: str
    published_at: float

    @property
    def replay_id(self) -> bytes:
        return encode_replay(self.position)


def encode_replay(position: int) -> bytes:
    return position.to_bytes(8, "big")


def decode_replay(replay_id: bytes) -> int:
    if len(replay_id) != 8:
        raise ReplayIdInvalid("malformed replay id")
    return int.from_bytes(replay_id, "big")


class EventBus:
    def __init__(self, *, retention_seconds: float = DEFAULT_RETENTION_SECONDS) -> None:
        self.retention_seconds = retention_seconds
        self._events: deque[BusEvent] = deque()
        self._next = 1
        self._purged_through = 0  # positions up to here are gone
        self.changed = threading.Condition()

    def publish(self, topics: frozenset[str], schema_id: str, payload: bytes) -> BusEvent:
        with self.changed:
            event = BusEvent(self._next, topics, schema_id, payload, str(uuid.uuid4()),
                             time.time())
            self._next += 1
            self._events.append(event)
            self._purge_locked()
            self.changed.notify_all()
        return event

    @property
    def latest(self) -> int:
        """The position of the newest event (0 when none was ever published)."""
        with self.changed:
            return self._next - 1

    def start_after(self, replay_id: bytes) -> int:
        """The position a CUSTOM subscription starts after, or ``ReplayIdInvalid``."""
        position = decode_replay(replay_id)
        with self.changed:
            self._purge_locked()
            # Valid: an event the bus still holds (or the empty start of a bus never purged).
            held = bool(self._events) and self._events[0].position <= position < self._next
            if not (held or position == self._purged_through == 0):
                raise ReplayIdInvalid(f"replay id {position} is not in the retention window")
        return position

    def earliest(self) -> int:
        """The position an EARLIEST subscription starts after."""
        with self.changed:
            self._purge_locked()
            return self._purged_through

    def after(self, position: int, topic: str, limit: int) -> tuple[list[BusEvent], int]:
        """Up to ``limit`` events of ``topic`` after ``position``, and the position scanned."""
        found: list[BusEvent] = []
        with self.changed:
            scanned = max(position, self._purged_through)
            # Positions are contiguous in the deque, so the start is an index, not a search.
            start = scanned + 1 - self._events[0].position if self._events else 0
            for index in range(max(start, 0), len(self._events)):
                if len(found) >= limit:
                    break
                event = self._events[index]
                scanned = event.position
                if topic in event.topics:
                    found.append(event)
        return found, scanned

    def purge(self, through: int | None = None) -> None:
        """Drop events (all, or up to ``through``): what the retention window does in time."""
        with self.changed:
            limit = self._next - 1 if through is None else through
            while self._events and self._events[0].position <= limit:
                self._events.popleft()
            self._purged_through = max(self._purged_through, limit)

    def _purge_locked(self) -> None:
        cutoff = time.time() - self.retention_seconds
        while self._events and self._events[0].published_at < cutoff:
            self._purged_through = self._events.popleft().position
