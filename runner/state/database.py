"""The state database connection: URL, engine, SQLite/PostgreSQL differences, transactions.

This is the connector under the table families (procrastinate's Connector): every family
module reads and writes through one :class:`Database`, and nothing above it knows which
backend it runs on. SQLite (WAL, one writer at a time) is the default for a single runner;
PostgreSQL lets several runner processes share one inbox. Every write commits when its
``write()`` block ends.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import platformdirs
from sqlalchemy import Connection, Engine, Table, create_engine, event, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.pool import StaticPool

from runner.private_files import FILE_MODE, check_private, own_private_dir, private_dir
from runner.state import migrate
from runner.state.errors import StateError
from runner.state.models import utcnow

Clock = Callable[[], datetime]

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

T = TypeVar("T")


def default_url() -> str:
    """The SQLite file in the user data directory, whose folder is ours alone (0700)."""
    folder = own_private_dir(Path(platformdirs.user_data_dir("fieldbridge")))
    return f"sqlite:///{folder / 'state.sqlite'}"


def sqlite_file(url: str | URL) -> Path | None:
    """The file of a SQLite state URL; None for PostgreSQL or an in-memory database."""
    parsed = normalize_url(url) if isinstance(url, str) else url
    if parsed.get_backend_name() != "sqlite" or _is_memory(parsed.database):
        return None
    return Path(str(parsed.database)).expanduser()


def _private_sqlite_file(path: Path) -> None:
    """Create the database file 0600 (in missing folders created 0700) before SQLite opens
    it, and refuse one that the group or others may read, as the secrets file is refused:
    it holds event payloads with customer e-mails. SQLite gives its -wal and -shm files the
    database file's mode; they are checked too when present."""
    private_dir(path.parent)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.exists():
            check_private(file, "state database file")


def normalize_url(url: str) -> URL:
    """``url`` parsed, with the PostgreSQL driver we ship; a StateError for anything else."""
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


def _is_memory(database: str | None) -> bool:
    return database in (None, "", ":memory:")


def _sqlite_write_lock(database: str | None) -> threading.RLock:
    if database is None or _is_memory(database):
        return threading.RLock()  # one store, one connection (StaticPool)
    key = str(Path(database).expanduser().resolve())
    with _SQLITE_WRITE_LOCKS_GUARD:
        return _SQLITE_WRITE_LOCKS.setdefault(key, threading.RLock())


def _sqlite_engine(url: URL) -> Engine:
    database = url.database
    memory = _is_memory(database)
    if database and not memory:
        _private_sqlite_file(Path(database).expanduser())
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


def chunks(items: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    """``items`` in slices short enough for one IN (...) list."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


def json_object(value: Any, what: str) -> Any:
    """``value`` if it is a JSON object (a dict); a ValueError naming ``what`` otherwise."""
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be a JSON object (dict), got {type(value).__name__}")
    return value


def insert_returning_id(conn: Connection, table: Table, row: dict[str, Any]) -> int:
    """Insert one row and return its generated ``id``."""
    return int(conn.execute(insert(table).values(row).returning(table.c.id)).scalar_one())


@contextmanager
def _state_errors(what: str) -> Iterator[None]:
    try:
        yield
    except DBAPIError as exc:
        raise StateError(f"state database {what} failed: {exc.orig}") from exc


class Database:
    """One state database: its engine, its dialect and its clock.

    ``write()`` opens a transaction that commits on exit (BEGIN IMMEDIATE on SQLite, queued
    behind this process's other writers of the same file); ``read()`` a connection for
    queries. Driver errors leave both as :class:`StateError`. Inside ``batch()``, both
    join the block's one transaction (this thread's only).
    """

    def __init__(self, url: str, *, clock: Clock | None = None) -> None:
        self.url = normalize_url(url)
        self.dialect: str = self.url.get_backend_name()
        self.clock: Clock = clock or utcnow
        if self.dialect == "sqlite":
            self.engine = _sqlite_engine(self.url)
        else:
            self.engine = create_engine(self.url, pool_pre_ping=True)
        # Connections of this engine begin as writers (see _on_begin).
        self.writer = self.engine.execution_options(fieldbridge_write=True)
        # INSERT ... ON CONFLICT is dialect-specific in SQLAlchemy; both spell it alike.
        self.insert: Any = sqlite.insert if self.dialect == "sqlite" else postgresql.insert
        # PostgreSQL writers lock rows, not the database: no process-wide queue there.
        self._write_lock: threading.RLock | None = (
            _sqlite_write_lock(self.url.database) if self.dialect == "sqlite" else None)
        # An in-memory database is ONE connection shared by every thread (StaticPool): a
        # reader returning it would roll back a writer's open transaction, so readers queue
        # behind the same lock there.
        self.memory = self.dialect == "sqlite" and _is_memory(self.url.database)
        self._read_lock = self._write_lock if self.memory else None
        self._prepared: dict[Callable[[Database], Any], Any] = {}
        self._batch = threading.local()  # .conn: this thread's open batch(), if any

    def prepared(self, build: Callable[[Database], T]) -> T:
        """The statement ``build(self)`` makes, built once per database: every batch runs
        the same upserts, and building one (its ``excluded`` columns, its cache key) cost
        more than executing it. The statement takes its rows as parameters."""
        try:
            return self._prepared[build]  # type: ignore[no-any-return]
        except KeyError:
            statement = self._prepared[build] = build(self)
            return statement

    def migrate(self) -> None:
        """Bring the schema to the newest revision; a StateError if the database refuses."""
        try:
            migrate.upgrade(self.writer)
        except DBAPIError as exc:
            raise StateError(
                f"cannot open the state database {self.describe()}: {exc.orig}"
            ) from exc

    def describe(self) -> str:
        """The URL with any password hidden, for messages and logs."""
        return self.url.render_as_string(hide_password=True)

    def now(self) -> datetime:
        return self.clock()

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """One transaction for every ``write()`` and ``read()`` this thread makes in the
        block: one commit instead of one per write, and reads see the block's own writes.
        Other threads neither see them nor write until the block ends (SQLite), so a block
        holds state work only, never a network call. An exception raised between writes
        (the caller's own: a retry, a stop) still commits the writes before it, as separate
        commits would have kept them; one raised inside a write (the database's, or a bug
        mid-write) rolls the whole batch back, caught or not. Nested blocks join the outer
        one."""
        if getattr(self._batch, "conn", None) is not None:
            yield
            return
        raised: BaseException | None = None
        with self.write() as conn:
            self._batch.conn = conn
            self._batch.broken = False
            try:
                yield
            except BaseException as exc:
                if self._batch.broken or isinstance(exc, DBAPIError):
                    raise  # rolls the whole batch back
                raised = exc
            finally:
                self._batch.conn = None
            if self._batch.broken:  # a failed write was caught inside the block
                raise StateError("a state write in a batch failed; none of the batch's "
                                 "writes were kept")
        if raised is not None:
            raise raised

    @contextmanager
    def write(self) -> Iterator[Connection]:
        joined: Connection | None = getattr(self._batch, "conn", None)
        if joined is not None:
            try:
                with _state_errors("write"):
                    yield joined
            except BaseException:
                # Half a write cannot be undone alone (a savepoint per write cost as much
                # as the commits the batch saves): the batch keeps none of its writes.
                self._batch.broken = True
                raise
            return
        lock = self._write_lock
        if lock is not None:
            lock.acquire()
        try:
            with self.writer.begin() as conn:
                yield conn
        except DBAPIError as exc:
            raise StateError(f"state database write failed: {exc.orig}") from exc
        finally:
            if lock is not None:
                lock.release()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        joined: Connection | None = getattr(self._batch, "conn", None)
        if joined is not None:
            with _state_errors("read"):
                yield joined
            return
        lock = self._read_lock
        if lock is not None:
            lock.acquire()
        try:
            with self.engine.connect() as conn:
                yield conn
        except DBAPIError as exc:
            raise StateError(f"state database read failed: {exc.orig}") from exc
        finally:
            if lock is not None:
                lock.release()


class Repository:
    """Base of the table-family modules (procrastinate's managers): each works through
    ``self.db`` and can be used alone, or as a part of :class:`~runner.state.store.StateStore`,
    which inherits them all over one shared :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def now(self) -> datetime:
        return self.db.now()
