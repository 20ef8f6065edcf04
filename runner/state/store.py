"""The runner's durable state: inbox and ledger, ordering, cross references, dead letters,
review queue, cursors, echo suppression, snapshots and run history.

One class over SQLAlchemy Core. SQLite (WAL, one writer at a time) is the default for a
single runner; PostgreSQL lets several runner processes share one inbox. Every write
commits before the method returns: the webhook answers 2xx only after ``add_event``.
"""

from __future__ import annotations

import importlib.util
import os
import socket
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

__all__ = ["DlqEntry", "InboxEvent", "ReviewItem", "RunRecord", "StateStore", "default_url"]

DLQ_STATUSES = ("open", "replayed", "discarded")
REVIEW_STATUSES = ("open", "approved", "rejected")
# Outcomes of mark_done that mean "nothing was written" rather than "synced".
SKIP_OUTCOMES = frozenset({"skipped", "ignored", "stale"})
SQLITE_BUSY_TIMEOUT_MS = 10_000

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
    if not memory:
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
        try:
            with self._writer.begin() as conn:
                yield conn
        except DBAPIError as exc:
            raise StateError(f"state database write failed: {exc.orig}") from exc

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
        # generated key, which SQLAlchemy asks for on PostgreSQL.
        stmt = (
            self._insert(inbox_events).values(row)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(inbox_events.c.seq)
        )
        return conn.execute(stmt).first() is not None

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
        t = inbox_events
        values = {
            "status": "skipped" if outcome in SKIP_OUTCOMES else "done", "outcome": outcome,
            "processed_at": self.now(), "worker": None, "lease_until": None, "retry_at": None,
        }
        marked = 0
        with self._write() as conn:
            for start in range(0, len(ids), 500):
                where = t.c.event_id.in_(ids[start:start + 500])
                if worker is not None:
                    where = and_(where, t.c.worker == worker, t.c.status == "processing")
                marked += conn.execute(update(t).where(where).values(values)).rowcount
        return marked

    def mark_retry(self, event_id: str, error: str, retry_at: datetime, *,
                   worker: str | None = None) -> bool:
        if retry_at.tzinfo is None:
            raise ValueError("retry_at must be timezone-aware (UTC)")
        return self._finish(event_id, worker, {
            "status": "retry", "last_error": error, "retry_at": retry_at,
            "worker": None, "lease_until": None,
        })

    def mark_dead(self, event_id: str, error: str, *, worker: str | None = None) -> bool:
        return self._finish(event_id, worker, {
            "status": "dead", "outcome": "dead", "last_error": error,
            "processed_at": self.now(), "worker": None, "lease_until": None, "retry_at": None,
        })

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

    def is_stale(self, object_id: str, created: int, event_id: str) -> bool:
        """True if a newer (or the same) event was already applied to this object."""
        current = self.object_version(object_id)
        return current is not None and current >= (created, event_id)

    def record_object_version(self, object_id: str, created: int, event_id: str) -> bool:
        """Remember the event applied to the object, only ever moving forward in
        (created, event id) order; True if it moved."""
        t = object_versions
        stmt = self._insert(t).values(
            object_id=object_id, created=created, event_id=event_id, updated_at=self.now()
        )
        new = stmt.excluded
        stmt = stmt.on_conflict_do_update(
            index_elements=["object_id"],
            set_={"created": new.created, "event_id": new.event_id, "updated_at": new.updated_at},
            where=or_(t.c.created < new.created,
                      and_(t.c.created == new.created, t.c.event_id < new.event_id)),
        ).returning(t.c.object_id)
        with self._write() as conn:
            return conn.execute(stmt).first() is not None

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
        if not (sf_object and stripe_id and sf_id):
            raise ValueError("xref_put needs sf_object, stripe_id and sf_id (non-empty)")
        stmt = self._insert(xref).values(sf_object=sf_object, stripe_id=stripe_id, sf_id=sf_id,
                                         flow=flow, updated_at=self.now())
        stmt = stmt.on_conflict_do_update(
            index_elements=["sf_object", "stripe_id"],
            set_={"sf_id": stmt.excluded.sf_id, "flow": stmt.excluded.flow,
                  "updated_at": stmt.excluded.updated_at},
        )
        with self._write() as conn:
            conn.execute(stmt)

    def xref_by_sf(self, sf_id: str) -> str | None:
        """The Stripe id cross-referenced with this Salesforce Id."""
        with self._read() as conn:
            return conn.execute(
                select(xref.c.stripe_id).where(xref.c.sf_id == sf_id)
                .order_by(xref.c.updated_at.desc()).limit(1)
            ).scalar()

    # ----------------------------------------------------------------- dead letters

    def dlq_add(self, *, flow: str, event_id: str | None, source_id: str | None,
                payload: dict[str, Any], record: dict[str, Any] | None, error: str,
                error_code: str | None) -> int:
        _json(payload, "payload")
        if record is not None:
            _json(record, "record")
        check_no_secret(payload, "payload")
        check_no_secret(record, "record")
        check_no_secret(error, "error")
        now = self.now()
        with self._write() as conn:
            return conn.execute(
                insert(dead_letters).values(
                    flow=flow, event_id=event_id, source_id=source_id, payload=payload,
                    record=record, error=error, error_code=error_code, status="open",
                    attempts=0, created_at=now, updated_at=now,
                ).returning(dead_letters.c.id)
            ).scalar_one()

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
        _json(record, "record")
        _json(payload, "payload")
        if not isinstance(candidates, list):
            raise ValueError(f"candidates must be a list, got {type(candidates).__name__}")
        check_no_secret(record, "record")
        check_no_secret(candidates, "candidates")
        check_no_secret(payload, "payload")
        with self._write() as conn:
            return conn.execute(
                insert(review_items).values(
                    flow=flow, source_id=source_id, record=record, candidates=candidates,
                    payload=payload, status="open", chosen=None, created_at=self.now(),
                ).returning(review_items.c.id)
            ).scalar_one()

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
        stmt = self._insert(own_writes).values(
            system=system, object_id=object_id, fingerprint=fingerprint, created_at=self.now()
        ).on_conflict_do_nothing(index_elements=["system", "object_id", "fingerprint"])
        with self._write() as conn:
            conn.execute(stmt)

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
