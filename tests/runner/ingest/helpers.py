"""Small fakes for the ingest tests: an inbox with cursors, and a Stripe event lister."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from runner.classify import Failure
from runner.connectors.errors import ConnectorError


class FakeInbox:
    """The inbox and cursor part of StateStore, in memory."""

    def __init__(self) -> None:
        self.events: dict[str, tuple[dict, str]] = {}
        self.cursors: dict[str, str] = {}
        self.fail_with: Exception | None = None
        self.fail_after: int | None = None  # add_event calls that succeed before failing
        self.calls = 0
        self._lock = threading.Lock()

    def add_event(self, event: dict, *, source: str) -> bool:
        with self._lock:
            self.calls += 1
            if self.fail_with is not None and (
                self.fail_after is None or self.calls > self.fail_after
            ):
                raise self.fail_with
            if event["id"] in self.events:
                return False
            self.events[event["id"]] = (event, source)
            return True

    def cursor_get(self, name: str) -> str | None:
        return self.cursors.get(name)

    def cursor_set(self, name: str, value: str) -> None:
        self.cursors[name] = value


class FakeStripe:
    """``events_since`` over a list of events (oldest first), like the connector."""

    def __init__(self, events: list[dict], *, retention: set[str] | None = None) -> None:
        self.events = events
        self.retention = retention  # ids Stripe still has as anchors (None: all)
        self.calls: list[tuple[str | None, int | None, list[str] | None]] = []

    def events_since(self, last_event_id: str | None, created_gte: int | None = None,
                     *, types: list[str] | None = None) -> Iterator[dict]:
        self.calls.append((last_event_id, created_gte, types))
        ids = [e["id"] for e in self.events]
        if last_event_id is not None:
            if last_event_id not in ids or (
                self.retention is not None and last_event_id not in self.retention
            ):
                raise ConnectorError(f"No such event: {last_event_id!r}",
                                     failure=Failure.SKIPPABLE, status=404,
                                     error_code="resource_missing")
            after = self.events[ids.index(last_event_id) + 1:]
        else:
            after = [e for e in self.events
                     if created_gte is None or e["created"] >= created_gte]
        for event in after:
            if types is None or event["type"] in types:
                yield event
