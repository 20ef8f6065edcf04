"""The inbox and its ledger: events in, claims (leases) out, and how each event finished.

One table holds both: a finished event keeps its row (done / skipped / dead), and that row
is what deduplicates a late redelivery of the same id. The webhook answers 2xx only after
``add_event`` has committed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    Connection,
    Update,
    and_,
    bindparam,
    case,
    delete,
    select,
    update,
)

from runner.state.claim import claim_due, decode_payloads
from runner.state.database import Database, Repository, chunks
from runner.state.errors import NotFoundError
from runner.state.models import inbox_events as t
from runner.state.records import InboxEvent
from runner.state.statuses import PRUNABLE, UNFINISHED, EventStatus, finished_status
from runner.stripe_event import CheckedEvent, check_event


def event_row(ev: Any, source: str, now: datetime) -> dict[str, Any]:
    """The inbox row of a new event, or a ValueError saying what the event lacks. The event
    is checked once: a :class:`CheckedEvent` (the webhook checked it) is taken as it is,
    anything else goes through :func:`runner.stripe_event.check_event`."""
    if not isinstance(source, str) or not source:
        raise ValueError("source must name where the event came from, e.g. 'webhook'")
    checked = ev if isinstance(ev, CheckedEvent) else check_event(ev)
    return {
        "event_id": checked.event_id,
        "type": checked.type,
        "object_id": checked.object_id,
        "created": checked.created,
        "payload": checked.payload,
        "source": source,
        "status": EventStatus.PENDING,
        "attempts": 0,
        "received_at": now,
    }


def event_insert(db: Database) -> Any:
    """Insert new events; an id already in the inbox is left as it is. Returns the ids
    inserted."""
    return (db.insert(t).on_conflict_do_nothing(index_elements=["event_id"])
            .returning(t.c.event_id))


def done_values(outcome: str, now: datetime) -> dict[str, Any]:
    """The columns of an event finished with ``outcome`` (done, or skipped when nothing was
    written): the one place a done/skip ledger entry is built."""
    return {"status": finished_status(outcome), "outcome": outcome, "processed_at": now,
            "worker": None, "lease_until": None, "retry_at": None}


def retry_values(error: str | None, retry_at: datetime) -> dict[str, Any]:
    """The columns of an event that comes again at ``retry_at``."""
    if retry_at.tzinfo is None:
        raise ValueError("retry_at must be timezone-aware (UTC)")
    return {"status": EventStatus.RETRY, "last_error": error, "retry_at": retry_at,
            "worker": None, "lease_until": None}


def held_by(worker: str | BindParameter[Any]) -> Any:
    """Rows ``worker`` still holds (claimed, lease not taken over by another worker)."""
    return and_(t.c.worker == worker, t.c.status == EventStatus.PROCESSING)


@cache
def _finish_many(columns: tuple[str, ...], held: bool) -> Update:
    """Set ``columns`` of the events ``ids`` (with ``held``: only those the worker
    ``holder`` still holds, returning their ids), built once per shape: every batch
    finishes its events with it. The new values are the parameters ``set_<column>``."""
    stmt = update(t).where(t.c.event_id.in_(bindparam("ids", expanding=True)))
    if held:
        stmt = stmt.where(held_by(bindparam("holder"))).returning(t.c.event_id)
    return stmt.values({name: bindparam(f"set_{name}") for name in columns})


def to_event(row: Mapping[Any, Any]) -> InboxEvent:
    return InboxEvent(**{**row, "status": EventStatus(row["status"])})


def mark_done_in(conn: Connection, event_ids: Iterable[str], outcome: str,
                 worker: str | None, now: datetime) -> tuple[int, set[str]]:
    """Mark events done inside ``conn``'s transaction. Returns how many were marked and,
    with ``worker``, those not marked because that worker no longer holds them."""
    ids = list(dict.fromkeys(event_ids))
    values = done_values(outcome, now)
    stmt = _finish_many(tuple(values), worker is not None)
    params: dict[str, Any] = {f"set_{name}": value for name, value in values.items()}
    marked = 0
    lost: set[str] = set()
    for chunk in chunks(ids):
        params["ids"] = list(chunk)
        if worker is None:
            marked += conn.execute(stmt, params).rowcount
            continue
        held = conn.execute(stmt, {**params, "holder": worker}).scalars().all()
        marked += len(held)
        lost.update(set(chunk) - set(held))
    return marked, lost


def mark_retry_in(conn: Connection, event_id: str, error: str | None, retry_at: datetime,
                  worker: str | None) -> bool:
    """Reschedule one event inside ``conn``'s transaction; False if ``worker`` lost it (or
    there is no such event)."""
    where = t.c.event_id == event_id
    if worker is not None:
        where = and_(where, held_by(worker))
    return bool(conn.execute(update(t).where(where).values(retry_values(error, retry_at)))
                .rowcount)


class Inbox(Repository):
    """Events in, claims out, and each event's ledger entry."""

    def add_event(self, event: dict[str, Any] | CheckedEvent, *, source: str) -> bool:
        """Put an event in the inbox; False if its id was seen before. Committed on return."""
        return self.add_events_reporting_new([event], source=source)[0]

    def add_events(self, events: Iterable[dict[str, Any] | CheckedEvent], *,
                   source: str) -> int:
        """Several events in one transaction (catch-up pages); returns how many were new."""
        return sum(self.add_events_reporting_new(events, source=source))

    def add_events_reporting_new(self, events: Iterable[dict[str, Any] | CheckedEvent], *,
                                 source: str) -> list[bool]:
        """Several events in ONE transaction, committed on return; for each event (in
        order) whether it was new. The one rule for "already stored": an event whose id is
        in the inbox (any status: a finished event's row is its ledger entry), or an earlier
        event of the same call with the same id. Every event is checked before the
        transaction opens: a bad one stores nothing (ValueError)."""
        now = self.now()
        rows = [event_row(ev, source, now) for ev in events]
        first: dict[str, dict[str, Any]] = {}
        for row in rows:
            first.setdefault(row["event_id"], row)
        if not first:
            return []
        with self.db.write() as conn:
            # In id order: two transactions inserting overlapping ids (two runner processes
            # on PostgreSQL) take the row locks in the same order and cannot deadlock.
            new = self._insert_new(conn, [first[i] for i in sorted(first)])
        return [row["event_id"] in new and first[row["event_id"]] is row for row in rows]

    def _insert_new(self, conn: Connection, rows: list[dict[str, Any]]) -> set[str]:
        """Insert rows of distinct ids; the ids that were not in the inbox yet.

        RETURNING rather than rowcount: psycopg reports -1 for an INSERT that returns the
        generated key, and an executemany's rowcount does not say which rows went in. One
        statement built once (``Database.prepared``) and given the rows as parameters
        (SQLAlchemy sends them as one multi-row INSERT)."""
        return set(conn.execute(self.db.prepared(event_insert), rows).scalars().all())

    def claim_events(self, worker: str, limit: int = 200, lease_seconds: int = 60, *,
                     gather: float = 0.0) -> list[InboxEvent]:
        """Take up to ``limit`` due events (pending, retry due, or lease expired), oldest
        event first, and mark them processing by ``worker`` until the lease runs out.
        ``gather``: take fewer than ``limit`` only once the earliest received of them has
        waited that many seconds (see :func:`runner.state.claim.claim_due`)."""
        if not worker:
            raise ValueError("worker must name the claiming worker")
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        if lease_seconds <= 0:
            raise ValueError(f"lease_seconds must be positive, got {lease_seconds}")
        if gather < 0:
            raise ValueError(f"gather must be 0 or more seconds, got {gather}")
        with self.db.write() as conn:
            rows = claim_due(conn, worker, limit, lease_seconds, self.now(), gather)
        return [to_event(row) for row in decode_payloads(rows)]

    def _finish(self, event_id: str, worker: str | None, values: dict[str, Any]) -> bool:
        where = t.c.event_id == event_id
        if worker is not None:
            where = and_(where, held_by(worker))
        with self.db.write() as conn:
            if conn.execute(update(t).where(where).values(values)).rowcount:
                return True
            if conn.execute(select(t.c.seq).where(t.c.event_id == event_id)).first() is None:
                raise NotFoundError(f"no event {event_id!r} in the inbox")
        return False

    def mark_done(self, event_id: str, *, outcome: str = "done",
                  worker: str | None = None) -> bool:
        """The event is finished; its row stays as the ledger entry.

        With ``worker``, only if that worker still holds the claim (False when the lease
        expired and someone else took the event over).
        """
        return self._finish(event_id, worker, done_values(outcome, self.now()))

    def mark_done_many(self, event_ids: Iterable[str], *, outcome: str = "done",
                       worker: str | None = None) -> int:
        """``mark_done`` for a whole micro-batch in one commit; returns how many were marked
        (with ``worker``: only those it still holds). Unknown ids are not an error here."""
        with self.db.write() as conn:
            marked, _lost = mark_done_in(conn, event_ids, outcome, worker, self.now())
        return marked

    def mark_retry(self, event_id: str, error: str, retry_at: datetime, *,
                   worker: str | None = None) -> bool:
        return self._finish(event_id, worker, retry_values(error, retry_at))

    def hold_events(self, event_ids: Iterable[str], until: datetime, reason: str, *,
                    worker: str | None = None) -> int:
        """Put events back in the inbox until ``until`` WITHOUT counting an attempt: nothing
        was tried (a flow paused by contract drift holds its events). A claimed event's
        claim is given back uncounted, so when the flow resumes the event still has its whole
        retry budget; ``mark_retry`` would let every hold eat one attempt.

        With ``worker``, only the events that worker still holds; without, any event not
        finished yet (finished events keep their ledger entry). Unknown ids are not an error.
        Returns how many events were held.
        """
        if until.tzinfo is None:
            raise ValueError("until must be timezone-aware (UTC)")
        if not isinstance(reason, str) or not reason.strip():
            raise ValueError("a hold needs a reason (it is shown as the event's last error)")
        ids = list(dict.fromkeys(event_ids))
        claimed = and_(t.c.status == EventStatus.PROCESSING, t.c.attempts > 0)
        values = {**retry_values(reason, until),
                  "attempts": case((claimed, t.c.attempts - 1), else_=t.c.attempts)}
        held = 0
        with self.db.write() as conn:
            for chunk in chunks(ids):
                where = and_(t.c.event_id.in_(chunk),
                             t.c.status.in_(UNFINISHED) if worker is None else held_by(worker))
                held += conn.execute(update(t).where(where).values(values)).rowcount
        return held

    def mark_dead(self, event_id: str, error: str, *, worker: str | None = None) -> bool:
        return self._finish(event_id, worker, {
            "status": EventStatus.DEAD, "outcome": "dead", "last_error": error,
            "processed_at": self.now(), "worker": None, "lease_until": None, "retry_at": None,
        })

    def release_claims(self, worker: str) -> int:
        """Give back a stopping worker's unfinished claims at once (not after the lease)."""
        with self.db.write() as conn:
            return conn.execute(
                update(t)
                .where(held_by(worker))
                .values(status=EventStatus.PENDING, worker=None, lease_until=None,
                        attempts=t.c.attempts - 1)
            ).rowcount

    def get_event(self, event_id: str) -> InboxEvent:
        with self.db.read() as conn:
            row = conn.execute(select(t).where(t.c.event_id == event_id)).first()
        if row is None:
            raise NotFoundError(f"no event {event_id!r} in the inbox")
        return to_event(row._mapping)

    def list_events(self, status: str | None = None, limit: int = 100) -> list[InboxEvent]:
        query = select(t).order_by(t.c.seq.desc()).limit(limit)
        if status is not None:
            query = query.where(t.c.status == status)
        with self.db.read() as conn:
            return [to_event(row._mapping) for row in conn.execute(query)]

    def last_event(self) -> InboxEvent | None:
        """The event received last."""
        events = self.list_events(limit=1)
        return events[0] if events else None

    def prune_ledger(self, before: datetime) -> int:
        """Forget finished events processed before ``before`` (their ids stop deduplicating)."""
        with self.db.write() as conn:
            return conn.execute(
                delete(t).where(t.c.status.in_(PRUNABLE), t.c.processed_at < before)
            ).rowcount
