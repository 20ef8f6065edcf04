"""Catch up on webhooks Stripe could not deliver, through ``GET /v1/events``.

Webhooks can be lost (the runner was down past Stripe's retries, a network partition, an
endpoint that was misconfigured for a while). On start and periodically the runner lists the
events after the last one catch-up saw and puts them into the same inbox as webhooks, where
the event id deduplicates: an event that came both ways is processed once.

The cursor (``stripe.last_event_id``) is moved only here, never by a webhook: webhooks arrive
out of order, and a cursor moved past a gap by a webhook would make catch-up skip the gap. It
moves after each insert has committed, so a crash repeats at most one insert (a duplicate,
which the inbox refuses) and never skips one. Beside it we keep the cursor event's creation
time (``<cursor>.created``), to know how old it is: Stripe keeps events for 30 days, and a
cursor older than that means events are gone for good and a backfill is needed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from runner.classify import Failure
from runner.connectors.errors import ConnectorError
from runner.metrics import Metrics

log = logging.getLogger(__name__)

DEFAULT_CURSOR = "stripe.last_event_id"
SOURCE = "catchup"
# Stripe lists events for 30 days; warn early enough to act before they expire.
STALE_AFTER_DAYS = 27.0
RETENTION_DAYS = 30.0
# Stripe's ``types`` filter takes at most 20 types; with more we filter here.
MAX_TYPES_FILTER = 20
DAY = 86_400.0


class CursorStore(Protocol):
    """The part of :class:`runner.state.store.StateStore` catch-up needs."""

    def add_event(self, event: dict, *, source: str) -> bool: ...
    def cursor_get(self, name: str) -> str | None: ...
    def cursor_set(self, name: str, value: str) -> None: ...


class EventSource(Protocol):
    """The part of :class:`runner.connectors.stripe.StripeConnector` catch-up needs."""

    def events_since(self, last_event_id: str | None, created_gte: int | None = None,
                     *, types: list[str] | None = None) -> Iterator[dict]: ...


@dataclass
class CatchUpReport:
    """What one catch-up run did."""

    inserted: int = 0  # new events in the inbox
    duplicates: int = 0  # already there (delivered by webhook)
    ignored: int = 0  # types no flow handles
    last_event_id: str | None = None  # the cursor after the run
    cursor_age_days: float | None = None  # age of the cursor event before the run
    stale: bool = False  # that age is near or past Stripe's 30-day retention
    truncated: bool = False  # stopped at ``limit`` with more events possibly waiting
    anchor_lost: bool = False  # the cursor event was gone; resumed by its creation time

    @property
    def seen(self) -> int:
        return self.inserted + self.duplicates + self.ignored


def created_cursor(cursor: str) -> str:
    """Name of the companion cursor holding the cursor event's ``created`` time."""
    return f"{cursor}.created"


def cursor_age_days(store: CursorStore, *, cursor: str = DEFAULT_CURSOR,
                    now: float | None = None) -> float | None:
    """Days since the cursor event was created; None when there is no cursor yet."""
    raw = store.cursor_get(created_cursor(cursor))
    if raw is None:
        return None
    try:
        created = float(raw)
    except ValueError:
        log.warning("catch-up cursor time %r is not a number; ignoring it", raw)
        return None
    current = time.time() if now is None else now
    return max(0.0, (current - created) / DAY)


def catch_up(store: CursorStore, stripe: EventSource, *, event_types: set[str] | None = None,
             cursor: str = DEFAULT_CURSOR, limit: int | None = None,
             metrics: Metrics | None = None, initial_since: int | None = None,
             now: float | None = None) -> int:
    """Put the events after the cursor into the inbox; the number of new events.

    See :func:`catch_up_report` for the details and the full report.
    """
    return catch_up_report(store, stripe, event_types=event_types, cursor=cursor, limit=limit,
                           metrics=metrics, initial_since=initial_since, now=now).inserted


def catch_up_report(store: CursorStore, stripe: EventSource, *,
                    event_types: set[str] | None = None, cursor: str = DEFAULT_CURSOR,
                    limit: int | None = None, metrics: Metrics | None = None,
                    initial_since: int | None = None, now: float | None = None) -> CatchUpReport:
    """List the events after the cursor (oldest first) and add them with ``source="catchup"``.

    ``event_types``: the types some flow handles; others advance the cursor and are counted
    as ignored. ``limit``: stop after this many events (the next run goes on). With no cursor
    yet, events created at or after ``initial_since`` are listed (None: all Stripe still
    keeps). Connector errors propagate; the cursor then stands after the last stored event.
    """
    if limit is not None and limit <= 0:
        raise ValueError(f"limit must be a positive number of events, got {limit}")
    report = CatchUpReport()
    last_id = store.cursor_get(cursor)
    report.last_event_id = last_id
    report.cursor_age_days = cursor_age_days(store, cursor=cursor, now=now)
    if report.cursor_age_days is not None and report.cursor_age_days >= STALE_AFTER_DAYS:
        report.stale = True
        log.warning(
            "the Stripe catch-up cursor %s is %.1f days old; Stripe keeps events for %d days, "
            "so events older than that cannot be caught up: run a backfill if the runner was "
            "down that long", last_id, report.cursor_age_days, int(RETENTION_DAYS),
        )
    anchor_created = _anchor_created(store, cursor)
    types = sorted(event_types) if event_types and len(event_types) <= MAX_TYPES_FILTER \
        else None

    for event in _events(stripe, last_id, anchor_created, initial_since, types, report):
        if limit is not None and report.seen >= limit:
            report.truncated = True
            break
        _take(store, event, event_types, cursor, metrics, report)
    if report.inserted or report.ignored or report.duplicates:
        log.info("catch-up: %d new, %d already received, %d ignored; cursor at %s",
                 report.inserted, report.duplicates, report.ignored, report.last_event_id)
    return report


def _anchor_created(store: CursorStore, cursor: str) -> int | None:
    raw = store.cursor_get(created_cursor(cursor))
    try:
        return int(float(raw)) if raw is not None else None
    except ValueError:
        return None


def _events(stripe: EventSource, last_id: str | None, anchor_created: int | None,
            initial_since: int | None, types: list[str] | None,
            report: CatchUpReport) -> Iterator[dict]:
    """The events after the cursor; when Stripe no longer has the cursor event, the events
    created since its time instead (the overlap is deduplicated by the inbox)."""
    if last_id is None:
        yield from stripe.events_since(None, initial_since, types=types)
        return
    listed = stripe.events_since(last_id, anchor_created, types=types)
    try:
        first = next(listed, None)
    except ConnectorError as exc:
        # An anchor older than Stripe's retention is "No such event": resume from its time.
        if exc.failure is Failure.RETRIABLE or anchor_created is None:
            raise
        log.warning("Stripe no longer lists the catch-up cursor event %s (%s); resuming from "
                    "its creation time", last_id, exc)
        report.anchor_lost = True
        for event in stripe.events_since(None, anchor_created, types=types):
            if event.get("id") != last_id:
                yield event
        return
    if first is None:
        return
    yield first
    yield from listed


def _take(store: CursorStore, event: dict[str, Any], event_types: set[str] | None,
          cursor: str, metrics: Metrics | None, report: CatchUpReport) -> None:
    event_id = event.get("id")
    event_type = event.get("type")
    created = event.get("created")
    if not isinstance(event_id, str) or not event_id or not isinstance(event_type, str) \
            or isinstance(created, bool) or not isinstance(created, int):
        # Stripe never sends this; refuse rather than move the cursor onto nonsense.
        raise ConnectorError(
            f"Stripe listed an event without id, type or integer created: {event_id!r}",
            failure=Failure.FATAL,
        )
    if event_types is not None and event_type not in event_types:
        report.ignored += 1
        if metrics is not None:
            metrics.ignored(event_type)
    elif store.add_event(event, source=SOURCE):  # commits before returning
        report.inserted += 1
        if metrics is not None:
            metrics.event_received(SOURCE, created=created)
    else:
        report.duplicates += 1
        if metrics is not None:
            metrics.duplicate(SOURCE)
    # Id first: a crash between the two leaves the new id with the previous event's time,
    # which makes the cursor look older than it is (an earlier warning, a lost-anchor resume
    # that overlaps by an event the inbox deduplicates), never younger.
    store.cursor_set(cursor, event_id)
    store.cursor_set(created_cursor(cursor), str(created))
    report.last_event_id = event_id
