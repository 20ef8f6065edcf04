"""The runner's durable state: inbox and ledger, ordering, cross references, dead letters,
review queue, cursors, echo suppression, snapshots and run history.

One class over SQLAlchemy Core. SQLite (WAL, one writer at a time) is the default for a
single runner; PostgreSQL lets several runner processes share one inbox. Every write
commits before the method returns: the webhook answers 2xx only after ``add_event``.

Salesforce Ids in the cross references are kept in the 18-character case-safe form
(normalised on write and on lookup; migration 0002 normalised the rows written before), so
the 15- and 18-character forms of one record match.

A micro-batch's state goes in one transaction (:meth:`StateStore.settle_batch` with a
:class:`~runner.state.settlement.Settlement`), not one commit per row.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import platformdirs
from sqlalchemy import (
    Connection,
    Engine,
    and_,
    case,
    create_engine,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.pool import StaticPool

from runner.salesforce_ids import canonical_id
from runner.state import migrate
from runner.state.claim import claim_due
from runner.state.errors import NotFoundError, StateError
from runner.state.guard import check_no_secret
from runner.state.models import (
    cursors,
    dead_letters,
    inbox_events,
    object_versions,
    own_writes,
    review_items,
    runs,
    snapshots,
    utcnow,
    xref,
)
from runner.state.records import DlqEntry, InboxEvent, ReviewItem, RunRecord
from runner.state.settlement import Finish, Settlement, SettleResult

__all__ = ["DlqEntry", "InboxEvent", "ReviewItem", "RunRecord", "SettleResult", "Settlement",
           "StateStore", "default_url"]

DLQ_STATUSES = ("open", "replayed", "discarded")
REVIEW_STATUSES = ("open", "approved", "rejected")
# Outcomes of mark_done that mean "nothing was written" rather than "synced".
SKIP_OUTCOMES = frozenset({"skipped", "ignored", "stale"})
SQLITE_BUSY_TIMEOUT_MS = 10_000
# Rows per IN (...) list: well under SQLite's bound-parameter limit.
IN_CHUNK = 500

# One lock per SQLite database file for the writers of this process. SQLite lets one writer
# in at a time; the others wait in its busy handler, which polls with sleeps of up to 100 ms.
# Under a burst (eight webhook threads and the worker) that polling, not the work, was most
# of the time; a lock queues them and wakes the next writer at once. Other processes on the
# same file still meet the busy handler.
_SQLITE_WRITE_LOCKS: dict[str, threading.RLock] = {}
_SQLITE_WRITE_LOCKS_GUARD = threading.Lock()


def _sqlite_write_lock(database: str | None) -> threading.RLock:
    if database in (None, "", ":memory:"):
        return threading.RLock()  # one store, one connection (StaticPool)
    key = str(Path(database).expanduser().resolve())
    with _SQLITE_WRITE_LOCKS_GUARD:
        return _SQLITE_WRITE_LOCKS.setdefault(key, threading.RLock())

Clock = Callable[[], datetime]


def default_url() -> str:
    """The SQLite file in the user data directory, created if missing."""
    folder = Path(platformdirs.user_data_dir("fieldbridge"))
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'state.sqlite'}"


def _normalize_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        scheme = url.split(":", 1)[0] if ":" in url else "(none)"
        raise StateError(
            f"the state URL could not be read (scheme {scheme!r}); expected sqlite:///PATH or "
            "postgresql://USER@HOST:PORT/DATABASE"
        ) from exc
    backend, _, driver = parsed.drivername.partition("+")
    if backend in ("postgres", "postgresql"):
        # psycopg (3) is the driver we ship; a bare postgresql:// would ask for psycopg2.
        no_psycopg2 = driver == "psycopg2" and importlib.util.find_spec("psycopg2") is None
        if backend == "postgres" or driver == "" or no_psycopg2:
            parsed = parsed.set(drivername="postgresql+psycopg")
        return parsed
    if backend == "sqlite":
        return parsed
    raise StateError(
        f"unsupported state database {backend!r}: use sqlite:///PATH or postgresql://..."
    )


def _sqlite_engine(url: URL) -> Engine:
    database = url.database
    memory = database in (None, "", ":memory:")
    if database and not memory:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        # One shared connection is the only way an in-memory database outlives a checkout.
        **({"poolclass": StaticPool} if memory else {}),
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite so that "begin" below decides it.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints, safe in WAL
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the write lock up front: a deferred transaction that reads and then
        # writes can fail with SQLITE_BUSY at once, busy_timeout or not.
        immediate = conn.get_execution_options().get("fieldbridge_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _json(value: Any, what: str) -> Any:
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be a JSON object (dict), got {type(value).__name__}")
    return value


class StateStore:
    """The state database. Construct with ``open`` (which migrates) unless you know better."""

    def __init__(self, url: str, *, clock: Clock | None = None) -> None:
        self.url = _normalize_url(url)
        self.dialect: str = self.url.get_backend_name()
        self._clock: Clock = clock or utcnow
        if self.dialect == "sqlite":
            self._engine = _sqlite_engine(self.url)
        else:
            self._engine = create_engine(self.url, pool_pre_ping=True)
        self._writer = self._engine.execution_options(fieldbridge_write=True)
        self._insert = sqlite.insert if self.dialect == "sqlite" else postgresql.insert
        self._event_insert: Any = None
        # PostgreSQL writers lock rows, not the database: no process-wide queue there.
        self._write_lock: threading.RLock | None = (
            _sqlite_write_lock(self.url.database) if self.dialect == "sqlite" else None)

    @classmethod
    def open(cls, url: str | None = None, *, clock: Clock | None = None) -> StateStore:
        """Open (creating if needed) and migrate to the newest schema."""
        store = cls(url or default_url(), clock=clock)
        try:
            migrate.upgrade(store._writer)
        except DBAPIError as exc:
            store.close()
            raise StateError(
                f"cannot open the state database {store.describe()}: {exc.orig}"
            ) from exc
        return store

    def describe(self) -> str:
        """The URL with any password hidden, for messages and logs."""
        return self.url.render_as_string(hide_password=True)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def now(self) -> datetime:
        return self._clock()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        lock = self._write_lock
        if lock is not None:
            lock.acquire()
        try:
            with self._writer.begin() as conn:
                yield conn
        except DBAPIError as exc:
            raise StateError(f"state database write failed: {exc.orig}") from exc
        finally:
            if lock is not None:
                lock.release()

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        try:
            with self._engine.connect() as conn:
                yield conn
        except DBAPIError as exc:
            raise StateError(f"state database read failed: {exc.orig}") from exc

    # ----------------------------------------------------------------- inbox and ledger

    def _event_row(self, ev: Any, source: str, now: datetime) -> dict[str, Any]:
        if not isinstance(ev, dict):
            raise ValueError(f"an event must be a JSON object, got {type(ev).__name__}")
        event_id = ev.get("id")
        if not isinstance(event_id, str) or not event_id:
            raise ValueError("the event has no 'id' (a non-empty string)")
        kind = ev.get("type")
        if not isinstance(kind, str) or not kind:
            raise ValueError(f"event {event_id} has no 'type' (a non-empty string)")
        created = ev.get("created")
        if isinstance(created, bool) or not isinstance(created, int):
            raise ValueError(f"event {event_id} has no 'created' (Unix seconds, an integer)")
        if not isinstance(source, str) or not source:
            raise ValueError("source must name where the event came from, e.g. 'webhook'")
        data = ev.get("data")
        obj = data.get("object") if isinstance(data, dict) else None
        object_id = obj.get("id") if isinstance(obj, dict) else None
        return {
            "event_id": event_id,
            "type": kind,
            "object_id": object_id if isinstance(object_id, str) else None,
            "created": created,
            "payload": ev,
            "source": source,
            "status": "pending",
            "attempts": 0,
            "received_at": now,
        }

    def add_event(self, event: dict[str, Any], *, source: str) -> bool:
        """Put an event in the inbox; False if its id was seen before. Committed on return."""
        row = self._event_row(event, source, self.now())
        with self._write() as conn:
            return self._insert_event(conn, row)

    def add_events(self, events: Iterable[dict[str, Any]], *, source: str) -> int:
        """Several events in one transaction (catch-up pages); returns how many were new."""
        now = self.now()
        rows = [self._event_row(ev, source, now) for ev in events]
        added = 0
        with self._write() as conn:
            for row in rows:
                added += self._insert_event(conn, row)
        return added

    def _insert_event(self, conn: Connection, row: dict[str, Any]) -> bool:
        # RETURNING rather than rowcount: psycopg reports -1 for an INSERT that returns the
        # generated key, which SQLAlchemy asks for on PostgreSQL. One statement built once
        # and given the row as parameters: every webhook runs it, and building (and cache-
        # keying) a statement with the values inlined cost more than the insert itself.
        if self._event_insert is None:
            self._event_insert = (
                self._insert(inbox_events)
                .on_conflict_do_nothing(index_elements=["event_id"])
                .returning(inbox_events.c.seq)
            )
        return conn.execute(self._event_insert, row).first() is not None

    def claim_events(self, worker: str, limit: int = 200,
                     lease_seconds: int = 60) -> list[InboxEvent]:
        """Take up to ``limit`` due events (pending, retry due, or lease expired), oldest
        event first, and mark them processing by ``worker`` until the lease runs out."""
        if not worker:
            raise ValueError("worker must name the claiming worker")
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        if lease_seconds <= 0:
            raise ValueError(f"lease_seconds must be positive, got {lease_seconds}")
        with self._write() as conn:
            rows = claim_due(conn, worker, limit, lease_seconds, self.now())
        return [InboxEvent(**row) for row in rows]

    def _finish(self, event_id: str, worker: str | None, values: dict[str, Any]) -> bool:
        t = inbox_events
        where = t.c.event_id == event_id
        if worker is not None:
            where = and_(where, t.c.worker == worker, t.c.status == "processing")
        with self._write() as conn:
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
        status = "skipped" if outcome in SKIP_OUTCOMES else "done"
        return self._finish(event_id, worker, {
            "status": status, "outcome": outcome, "processed_at": self.now(),
            "worker": None, "lease_until": None, "retry_at": None,
        })

    def mark_done_many(self, event_ids: Iterable[str], *, outcome: str = "done",
                       worker: str | None = None) -> int:
        """``mark_done`` for a whole micro-batch in one commit; returns how many were marked
        (with ``worker``: only those it still holds). Unknown ids are not an error here."""
        ids = list(dict.fromkeys(event_ids))
        if worker is None:
            t = inbox_events
            values = {
                "status": "skipped" if outcome in SKIP_OUTCOMES else "done",
                "outcome": outcome, "processed_at": self.now(), "worker": None,
                "lease_until": None, "retry_at": None,
            }
            marked = 0
            with self._write() as conn:
                for start in range(0, len(ids), IN_CHUNK):
                    marked += conn.execute(update(t).where(
                        t.c.event_id.in_(ids[start:start + IN_CHUNK])).values(values)).rowcount
            return marked
        with self._write() as conn:
            lost = self._mark_done_in(conn, ids, outcome, worker, self.now())
        return len(ids) - len(lost)

    def mark_retry(self, event_id: str, error: str, retry_at: datetime, *,
                   worker: str | None = None) -> bool:
        if retry_at.tzinfo is None:
            raise ValueError("retry_at must be timezone-aware (UTC)")
        return self._finish(event_id, worker, {
            "status": "retry", "last_error": error, "retry_at": retry_at,
            "worker": None, "lease_until": None,
        })

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
        t = inbox_events
        claimed = and_(t.c.status == "processing", t.c.attempts > 0)
        values = {"status": "retry", "retry_at": until, "last_error": reason, "worker": None,
                  "lease_until": None,
                  "attempts": case((claimed, t.c.attempts - 1), else_=t.c.attempts)}
        held = 0
        with self._write() as conn:
            for start in range(0, len(ids), IN_CHUNK):
                chunk = t.c.event_id.in_(ids[start:start + IN_CHUNK])
                if worker is None:
                    where = and_(chunk, t.c.status.in_(("pending", "retry", "processing")))
                else:
                    where = and_(chunk, t.c.worker == worker, t.c.status == "processing")
                held += conn.execute(update(t).where(where).values(values)).rowcount
        return held

    def mark_dead(self, event_id: str, error: str, *, worker: str | None = None) -> bool:
        return self._finish(event_id, worker, {
            "status": "dead", "outcome": "dead", "last_error": error,
            "processed_at": self.now(), "worker": None, "lease_until": None, "retry_at": None,
        })

    def settle_batch(self, settlement: Settlement) -> SettleResult:
        """Commit a micro-batch's state in ONE transaction: cross references, own writes,
        object versions, dead letters, review items, then each event's ledger entry.

        Events finished with a worker are marked only while that worker still holds the
        claim; the others (the lease expired and another worker took them over) are in
        ``lost``. Everything is validated before the transaction opens: bad input changes
        nothing.
        """
        xref_rows = self._xref_rows((obj, stripe_id, sf_id, flow) for (obj, stripe_id), (
            sf_id, flow) in settlement.xrefs.items())
        own_rows = self._own_write_rows(settlement.own_writes)
        version_rows = self._version_rows(
            (object_id, created, event_id)
            for object_id, (created, event_id) in settlement.versions.items())
        dlq_rows = [self._dlq_row(**entry) for entry in settlement.dead_letters]
        review_rows = [self._review_row(**item) for item in settlement.reviews]
        now = self.now()
        done: dict[tuple[str, str | None], list[str]] = {}
        retries: list[Finish] = []
        for finish in settlement.finishes:
            if not finish.event_id:
                raise ValueError("a finished event needs its event id")
            if finish.retry_at is not None:
                if finish.retry_at.tzinfo is None:
                    raise ValueError("retry_at must be timezone-aware (UTC)")
                retries.append(finish)
            else:
                done.setdefault((finish.outcome, finish.worker), []).append(finish.event_id)

        lost: set[str] = set()
        dlq_ids: list[int] = []
        review_ids: list[int] = []
        with self._write() as conn:
            if xref_rows:
                conn.execute(self._xref_upsert(), xref_rows)
            if own_rows:
                conn.execute(self._own_write_insert(), own_rows)
            if version_rows:
                conn.execute(self._version_upsert(), version_rows)
            dlq_ids = [self._insert_returning_id(conn, dead_letters, row) for row in dlq_rows]
            review_ids = [self._insert_returning_id(conn, review_items, row)
                          for row in review_rows]
            for (outcome, worker), ids in done.items():
                lost.update(self._mark_done_in(conn, ids, outcome, worker, now))
            for finish in retries:
                if not self._mark_retry_in(conn, finish):
                    lost.add(finish.event_id)
        return SettleResult(frozenset(lost), tuple(dlq_ids), tuple(review_ids))

    def _mark_done_in(self, conn: Connection, event_ids: list[str], outcome: str,
                      worker: str | None, now: datetime) -> set[str]:
        """Mark events done inside ``conn``'s transaction; those not marked because
        ``worker`` no longer holds them."""
        t = inbox_events
        ids = list(dict.fromkeys(event_ids))
        values = {
            "status": "skipped" if outcome in SKIP_OUTCOMES else "done", "outcome": outcome,
            "processed_at": now, "worker": None, "lease_until": None, "retry_at": None,
        }
        lost: set[str] = set()
        for start in range(0, len(ids), IN_CHUNK):
            chunk = ids[start:start + IN_CHUNK]
            where = t.c.event_id.in_(chunk)
            if worker is None:
                conn.execute(update(t).where(where).values(values))
                continue
            held = conn.execute(
                update(t).where(where, t.c.worker == worker, t.c.status == "processing")
                .values(values).returning(t.c.event_id)
            ).scalars().all()
            lost.update(set(chunk) - set(held))
        return lost

    def _mark_retry_in(self, conn: Connection, finish: Finish) -> bool:
        t = inbox_events
        where = t.c.event_id == finish.event_id
        if finish.worker is not None:
            where = and_(where, t.c.worker == finish.worker, t.c.status == "processing")
        return bool(conn.execute(update(t).where(where).values(
            status="retry", last_error=finish.error, retry_at=finish.retry_at,
            worker=None, lease_until=None)).rowcount)

    def release_claims(self, worker: str) -> int:
        """Give back a stopping worker's unfinished claims at once (not after the lease)."""
        t = inbox_events
        with self._write() as conn:
            return conn.execute(
                update(t)
                .where(t.c.worker == worker, t.c.status == "processing")
                .values(status="pending", worker=None, lease_until=None,
                        attempts=t.c.attempts - 1)
            ).rowcount

    def get_event(self, event_id: str) -> InboxEvent:
        with self._read() as conn:
            row = conn.execute(
                select(inbox_events).where(inbox_events.c.event_id == event_id)
            ).first()
        if row is None:
            raise NotFoundError(f"no event {event_id!r} in the inbox")
        return InboxEvent(**row._mapping)

    def list_events(self, status: str | None = None, limit: int = 100) -> list[InboxEvent]:
        t = inbox_events
        query = select(t).order_by(t.c.seq.desc()).limit(limit)
        if status is not None:
            query = query.where(t.c.status == status)
        with self._read() as conn:
            return [InboxEvent(**row._mapping) for row in conn.execute(query)]

    def last_event(self) -> InboxEvent | None:
        """The event received last."""
        events = self.list_events(limit=1)
        return events[0] if events else None

    def prune_ledger(self, before: datetime) -> int:
        """Forget finished events processed before ``before`` (their ids stop deduplicating)."""
        t = inbox_events
        with self._write() as conn:
            return conn.execute(
                delete(t).where(t.c.status.in_(("done", "skipped")), t.c.processed_at < before)
            ).rowcount

    # ----------------------------------------------------------------- object ordering

    def object_version(self, object_id: str) -> tuple[int, str] | None:
        """(event created, event id) of the last event applied to this Stripe object."""
        t = object_versions
        with self._read() as conn:
            row = conn.execute(
                select(t.c.created, t.c.event_id).where(t.c.object_id == object_id)
            ).first()
        return None if row is None else (row.created, row.event_id)

    def object_versions(self, object_ids: Iterable[str]) -> dict[str, tuple[int, str]]:
        """``object_version`` of many objects in one read; unknown objects are left out."""
        ids = list(dict.fromkeys(object_ids))
        t = object_versions
        found: dict[str, tuple[int, str]] = {}
        with self._read() as conn:
            for start in range(0, len(ids), IN_CHUNK):
                rows = conn.execute(select(t.c.object_id, t.c.created, t.c.event_id)
                                    .where(t.c.object_id.in_(ids[start:start + IN_CHUNK])))
                found.update({row.object_id: (row.created, row.event_id) for row in rows})
        return found

    def is_stale(self, object_id: str, created: int, event_id: str) -> bool:
        """True if a newer (or the same) event was already applied to this object."""
        current = self.object_version(object_id)
        return current is not None and current >= (created, event_id)

    def record_object_version(self, object_id: str, created: int, event_id: str) -> bool:
        """Remember the event applied to the object, only ever moving forward in
        (created, event id) order; True if it moved."""
        stmt = self._version_upsert().values(
            object_id=object_id, created=created, event_id=event_id, updated_at=self.now()
        ).returning(object_versions.c.object_id)
        with self._write() as conn:
            return conn.execute(stmt).first() is not None

    def record_object_versions(self, versions: Iterable[tuple[str, int, str]]) -> None:
        """``record_object_version`` for many ``(object id, created, event id)`` in one
        commit (each still only moves forward)."""
        rows = self._version_rows(versions)
        if rows:
            with self._write() as conn:
                conn.execute(self._version_upsert(), rows)

    def _version_rows(self, versions: Iterable[tuple[str, int, str]]) -> list[dict[str, Any]]:
        now = self.now()
        rows = []
        for object_id, created, event_id in versions:
            if not (object_id and event_id) or isinstance(created, bool) \
                    or not isinstance(created, int):
                raise ValueError("an object version needs an object id, created (Unix "
                                 f"seconds) and an event id; got {(object_id, created, event_id)}")
            rows.append({"object_id": object_id, "created": created, "event_id": event_id,
                         "updated_at": now})
        return rows

    def _version_upsert(self) -> Any:
        t = object_versions
        stmt = self._insert(t)
        new = stmt.excluded
        return stmt.on_conflict_do_update(
            index_elements=["object_id"],
            set_={"created": new.created, "event_id": new.event_id, "updated_at": new.updated_at},
            where=or_(t.c.created < new.created,
                      and_(t.c.created == new.created, t.c.event_id < new.event_id)),
        )

    # ----------------------------------------------------------------- cross references

    def xref_get(self, sf_object: str, stripe_id: str) -> str | None:
        with self._read() as conn:
            return conn.execute(
                select(xref.c.sf_id).where(xref.c.sf_object == sf_object,
                                           xref.c.stripe_id == stripe_id)
            ).scalar()

    def xref_get_many(self, sf_object: str, stripe_ids: Iterable[str]) -> dict[str, str]:
        """Stripe id -> Salesforce Id for those already known (one query per 500 ids)."""
        ids = list(dict.fromkeys(stripe_ids))
        found: dict[str, str] = {}
        with self._read() as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                rows = conn.execute(
                    select(xref.c.stripe_id, xref.c.sf_id).where(
                        xref.c.sf_object == sf_object, xref.c.stripe_id.in_(chunk))
                )
                found.update({row.stripe_id: row.sf_id for row in rows})
        return found

    def xref_put(self, sf_object: str, stripe_id: str, sf_id: str, flow: str) -> None:
        self.xref_put_many([(sf_object, stripe_id, sf_id, flow)])

    def xref_put_many(self, rows: Iterable[tuple[str, str, str, str]]) -> None:
        """Many ``(sf_object, stripe_id, sf_id, flow)`` in one commit; the last one of a
        key wins."""
        values = self._xref_rows(rows)
        if values:
            with self._write() as conn:
                conn.execute(self._xref_upsert(), values)

    def _xref_rows(self, rows: Iterable[tuple[str, str, str, str]]) -> list[dict[str, Any]]:
        now = self.now()
        out = []
        for sf_object, stripe_id, sf_id, flow in rows:
            if not (sf_object and stripe_id and sf_id):
                raise ValueError("xref_put needs sf_object, stripe_id and sf_id (non-empty)")
            out.append({"sf_object": sf_object, "stripe_id": stripe_id,
                        "sf_id": canonical_id(sf_id),
                        "flow": flow, "updated_at": now})
        return out

    def _xref_upsert(self) -> Any:
        stmt = self._insert(xref)
        return stmt.on_conflict_do_update(
            index_elements=["sf_object", "stripe_id"],
            set_={"sf_id": stmt.excluded.sf_id, "flow": stmt.excluded.flow,
                  "updated_at": stmt.excluded.updated_at},
        )

    def xref_by_sf(self, sf_id: str) -> str | None:
        """The Stripe id cross-referenced with this Salesforce Id (its 15- or 18-character
        form, in any case the 18-character form's suffix allows)."""
        with self._read() as conn:
            return conn.execute(
                select(xref.c.stripe_id).where(xref.c.sf_id == canonical_id(sf_id))
                .order_by(xref.c.updated_at.desc()).limit(1)
            ).scalar()

    # ----------------------------------------------------------------- dead letters

    def dlq_add(self, *, flow: str, event_id: str | None, source_id: str | None,
                payload: dict[str, Any], record: dict[str, Any] | None, error: str,
                error_code: str | None) -> int:
        row = self._dlq_row(flow=flow, event_id=event_id, source_id=source_id,
                            payload=payload, record=record, error=error, error_code=error_code)
        with self._write() as conn:
            return self._insert_returning_id(conn, dead_letters, row)

    def _dlq_row(self, *, flow: str, event_id: str | None, source_id: str | None,
                 payload: dict[str, Any], record: dict[str, Any] | None, error: str,
                 error_code: str | None) -> dict[str, Any]:
        _json(payload, "payload")
        if record is not None:
            _json(record, "record")
        check_no_secret(payload, "payload")
        check_no_secret(record, "record")
        check_no_secret(error, "error")
        now = self.now()
        return {"flow": flow, "event_id": event_id, "source_id": source_id,
                "payload": payload, "record": record, "error": error,
                "error_code": error_code, "status": "open", "attempts": 0,
                "created_at": now, "updated_at": now}

    @staticmethod
    def _insert_returning_id(conn: Connection, table: Any, row: dict[str, Any]) -> int:
        return conn.execute(insert(table).values(row).returning(table.c.id)).scalar_one()

    def dlq_list(self, status: str | None = "open") -> list[DlqEntry]:
        """Dead letters with that status (None: all), oldest first."""
        if status is not None:
            _check_status(status, DLQ_STATUSES, "dead letter")
        query = select(dead_letters).order_by(dead_letters.c.id)
        if status is not None:
            query = query.where(dead_letters.c.status == status)
        with self._read() as conn:
            return [DlqEntry(**row._mapping) for row in conn.execute(query)]

    def dlq_get(self, id: int) -> DlqEntry:
        with self._read() as conn:
            row = conn.execute(select(dead_letters).where(dead_letters.c.id == id)).first()
        if row is None:
            raise NotFoundError(f"no dead letter with id {id}")
        return DlqEntry(**row._mapping)

    def dlq_set_status(self, id: int, status: str) -> None:
        _check_status(status, DLQ_STATUSES, "dead letter")
        with self._write() as conn:
            done = conn.execute(
                update(dead_letters).where(dead_letters.c.id == id)
                .values(status=status, updated_at=self.now())
            ).rowcount
        if not done:
            raise NotFoundError(f"no dead letter with id {id}")

    def dlq_record_attempt(self, id: int, error: str | None = None) -> None:
        """A replay was tried; with ``error`` it failed again and the entry stays open."""
        values: dict[str, Any] = {"attempts": dead_letters.c.attempts + 1,
                                  "updated_at": self.now()}
        if error is not None:
            check_no_secret(error, "error")
            values["error"] = error
        with self._write() as conn:
            if not conn.execute(
                update(dead_letters).where(dead_letters.c.id == id).values(values)
            ).rowcount:
                raise NotFoundError(f"no dead letter with id {id}")

    # ----------------------------------------------------------------- review queue

    def review_add(self, *, flow: str, source_id: str, record: dict[str, Any],
                   candidates: list[dict[str, Any]], payload: dict[str, Any]) -> int:
        row = self._review_row(flow=flow, source_id=source_id, record=record,
                               candidates=candidates, payload=payload)
        with self._write() as conn:
            return self._insert_returning_id(conn, review_items, row)

    def _review_row(self, *, flow: str, source_id: str, record: dict[str, Any],
                    candidates: list[dict[str, Any]], payload: dict[str, Any]) -> dict[str, Any]:
        _json(record, "record")
        _json(payload, "payload")
        if not isinstance(candidates, list):
            raise ValueError(f"candidates must be a list, got {type(candidates).__name__}")
        check_no_secret(record, "record")
        check_no_secret(candidates, "candidates")
        check_no_secret(payload, "payload")
        return {"flow": flow, "source_id": source_id, "record": record,
                "candidates": candidates, "payload": payload, "status": "open",
                "chosen": None, "created_at": self.now()}

    def review_list(self, status: str | None = "open") -> list[ReviewItem]:
        if status is not None:
            _check_status(status, REVIEW_STATUSES, "review item")
        query = select(review_items).order_by(review_items.c.id)
        if status is not None:
            query = query.where(review_items.c.status == status)
        with self._read() as conn:
            return [ReviewItem(**row._mapping) for row in conn.execute(query)]

    def review_get(self, id: int) -> ReviewItem:
        with self._read() as conn:
            row = conn.execute(select(review_items).where(review_items.c.id == id)).first()
        if row is None:
            raise NotFoundError(f"no review item with id {id}")
        return ReviewItem(**row._mapping)

    def review_decide(self, id: int, status: str, chosen: str | None = None) -> None:
        """Approve (``chosen``: the matching Salesforce Id, or None to create a new record),
        reject, or reopen ("open") a review item. A decided item is not decided again."""
        _check_status(status, REVIEW_STATUSES, "review item")
        t = review_items
        with self._write() as conn:
            current = conn.execute(select(t.c.status).where(t.c.id == id)).scalar()
            if current is None:
                raise NotFoundError(f"no review item with id {id}")
            if status != "open" and current != "open":
                raise StateError(f"review item {id} is already {current}")
            conn.execute(update(t).where(t.c.id == id).values(
                status=status, chosen=chosen if status != "open" else None,
                decided_at=self.now() if status != "open" else None,
            ))

    # ----------------------------------------------------------------- cursors

    def cursor_get(self, name: str) -> str | None:
        with self._read() as conn:
            return conn.execute(select(cursors.c.value).where(cursors.c.name == name)).scalar()

    def cursor_set(self, name: str, value: str) -> None:
        if not isinstance(value, str):
            raise ValueError(f"cursor {name!r} value must be a string, got {type(value).__name__}")
        stmt = self._insert(cursors).values(name=name, value=value, updated_at=self.now())
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"],
            set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at},
        )
        with self._write() as conn:
            conn.execute(stmt)

    # ----------------------------------------------------------------- echo suppression

    def note_own_write(self, system: str, object_id: str, fingerprint: str) -> None:
        self.note_own_writes([(system, object_id, fingerprint)])

    def note_own_writes(self, rows: Iterable[tuple[str, str, str]]) -> None:
        """Many ``(system, object id, fingerprint)`` in one commit."""
        values = self._own_write_rows(rows)
        if values:
            with self._write() as conn:
                conn.execute(self._own_write_insert(), values)

    def _own_write_rows(self, rows: Iterable[tuple[str, str, str]]) -> list[dict[str, Any]]:
        now = self.now()
        out = []
        for system, object_id, fingerprint in rows:
            if not (system and object_id and fingerprint):
                raise ValueError("an own write needs system, object id and fingerprint "
                                 "(non-empty)")
            out.append({"system": system, "object_id": object_id,
                        "fingerprint": fingerprint, "created_at": now})
        return out

    def _own_write_insert(self) -> Any:
        return self._insert(own_writes).on_conflict_do_nothing(
            index_elements=["system", "object_id", "fingerprint"])

    def is_own_write(self, system: str, object_id: str, fingerprint: str) -> bool:
        t = own_writes
        with self._read() as conn:
            return conn.execute(
                select(t.c.object_id).where(t.c.system == system, t.c.object_id == object_id,
                                            t.c.fingerprint == fingerprint)
            ).first() is not None

    def prune_own_writes(self, before: datetime) -> int:
        with self._write() as conn:
            return conn.execute(delete(own_writes).where(own_writes.c.created_at < before)).rowcount

    # ----------------------------------------------------------------- snapshots

    def snapshot_get(self, flow: str, record_id: str) -> dict[str, Any] | None:
        with self._read() as conn:
            return conn.execute(
                select(snapshots.c["values"]).where(snapshots.c.flow == flow,
                                                    snapshots.c.record_id == record_id)
            ).scalar()

    def snapshot_put(self, flow: str, record_id: str, values: dict[str, Any]) -> None:
        _json(values, "values")
        stmt = self._insert(snapshots).values(
            {"flow": flow, "record_id": record_id, "values": values, "updated_at": self.now()}
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["flow", "record_id"],
            set_={"values": stmt.excluded["values"], "updated_at": stmt.excluded.updated_at},
        )
        with self._write() as conn:
            conn.execute(stmt)

    # ----------------------------------------------------------------- runs and counts

    def run_started(self, *, host: str | None = None, pid: int | None = None,
                    version: str | None = None) -> int:
        if version is None:
            from mappings import __version__ as version
        with self._write() as conn:
            return conn.execute(
                insert(runs).values(
                    started_at=self.now(), host=host or socket.gethostname(),
                    pid=os.getpid() if pid is None else pid, version=version,
                ).returning(runs.c.id)
            ).scalar_one()

    def run_stopped(self, run_id: int, counts: dict[str, Any] | None = None) -> None:
        with self._write() as conn:
            if not conn.execute(
                update(runs).where(runs.c.id == run_id)
                .values(stopped_at=self.now(), counts=counts)
            ).rowcount:
                raise NotFoundError(f"no run with id {run_id}")

    def runs(self, limit: int = 20) -> list[RunRecord]:
        """The latest runs, newest first."""
        with self._read() as conn:
            return [RunRecord(**row._mapping) for row in conn.execute(
                select(runs).order_by(runs.c.id.desc()).limit(limit))]

    def counts(self) -> dict[str, int]:
        """Queue depths: inbox rows per status, open dead letters and open review items."""
        result = dict.fromkeys(
            ("pending", "processing", "retry", "done", "skipped", "dead", "dlq_open",
             "review_open"), 0)
        with self._read() as conn:
            for status, n in conn.execute(
                select(inbox_events.c.status, func.count()).group_by(inbox_events.c.status)
            ):
                result[status] = n
            result["dlq_open"] = conn.execute(
                select(func.count()).where(dead_letters.c.status == "open")).scalar_one()
            result["review_open"] = conn.execute(
                select(func.count()).where(review_items.c.status == "open")).scalar_one()
        return result

    def oldest_due_age(self) -> timedelta | None:
        """How long the oldest pending event has waited (None when nothing is pending)."""
        t = inbox_events
        with self._read() as conn:
            received = conn.execute(
                select(t.c.received_at).where(t.c.status == "pending")
                .order_by(t.c.received_at).limit(1)
            ).scalar()
        return None if received is None else self.now() - received

def _check_status(status: str, allowed: tuple[str, ...], what: str) -> None:
    if status not in allowed:
        raise ValueError(f"unknown {what} status {status!r}; expected one of {', '.join(allowed)}")
