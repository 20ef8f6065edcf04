"""Doubles for the ingest tests: the real inbox with a probe, and a Stripe event lister."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping

from runner.classify import Failure
from runner.connectors.errors import ConnectorError
from runner.state.store import StateStore
from runner.state.testing import memory_store
from runner.stripe_event import CheckedEvent


class _Cursors(Mapping[str, str]):
    """The store's cursors, read like a dict (only the names asked for: no listing)."""

    def __init__(self, store: StateStore) -> None:
        self._store = store

    def __getitem__(self, name: str) -> str:
        value = self._store.cursor_get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __iter__(self) -> Iterator[str]:
        raise TypeError("the store does not list its cursors; ask for one by name")

    def __len__(self) -> int:
        raise TypeError("the store does not list its cursors; ask for one by name")


class FakeInbox:
    """The inbox and cursors of the REAL state store (in memory, ``runner.state.testing``),
    with a probe around ``add_event`` and ``add_events_reporting_new``: a call counter (did a request reach the store at
    all?) and injected failures. Only the failures are fake: deduplication and the event
    checks are the store's own, so these tests cannot pass on a rule the store lacks."""

    def __init__(self, store: StateStore | None = None) -> None:
        self.store = store or memory_store()
        self.fail_with: Exception | None = None
        self.fail_after: int | None = None  # add_event calls that succeed before failing
        self.calls = 0
        self._lock = threading.Lock()

    def _probe(self) -> None:
        with self._lock:
            self.calls += 1
            if self.fail_with is not None and (
                self.fail_after is None or self.calls > self.fail_after
            ):
                raise self.fail_with

    def add_event(self, event: dict | CheckedEvent, *, source: str) -> bool:
        self._probe()
        return self.store.add_event(event, source=source)

    def add_events_reporting_new(self, events: Iterable[dict | CheckedEvent], *,
                                 source: str) -> list[bool]:
        self._probe()
        return self.store.add_events_reporting_new(events, source=source)

    def cursor_get(self, name: str) -> str | None:
        return self.store.cursor_get(name)

    def cursor_set(self, name: str, value: str) -> None:
        self.store.cursor_set(name, value)

    @property
    def events(self) -> dict[str, tuple[dict, str]]:
        """Event id -> (payload, source) of every stored event, in received order."""
        stored = self.store.list_events(limit=1_000_000)
        return {e.event_id: (e.payload, e.source) for e in reversed(stored)}

    @property
    def cursors(self) -> Mapping[str, str]:
        return _Cursors(self.store)


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
