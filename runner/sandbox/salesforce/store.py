"""The org's persistent state in SQLite through SQLAlchemy.

Records are JSON blobs with indexed columns for what lookups filter on (object,
SystemModstamp, IsDeleted); external-id and unique values live in their own indexed table
so upserts stay fast. The emulator keeps a write-through copy in memory, so this module
only loads everything at start and writes the changes of each committed transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    insert,
    select,
)

from runner.private_files import create_private_file, private_dir

metadata = MetaData()

records = Table(
    "records",
    metadata,
    Column("id", String(18), primary_key=True),
    Column("object", String(80), nullable=False, index=True),
    Column("system_modstamp", String(32), nullable=False, index=True),
    Column("is_deleted", Boolean, nullable=False, index=True),
    Column("data", Text, nullable=False),
)

external_ids = Table(
    "external_ids",
    metadata,
    Column("object", String(80), nullable=False),
    Column("field", String(80), nullable=False),
    Column("value", String(255), nullable=False),
    Column("record_id", String(18), nullable=False, index=True),
    Index("ix_external_ids_lookup", "object", "field", "value"),
)

settings = Table(
    "settings",
    metadata,
    Column("key", String(80), primary_key=True),
    Column("value", Text, nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("token", String(200), primary_key=True),
    Column("kind", String(16), nullable=False),  # access | refresh
    Column("user_id", String(18), nullable=False),
    Column("expires_at", Float, nullable=True),
)

# Which refresh token an access token was issued from: revoking the refresh token revokes
# them too. Its own table, so state directories made before it gain it by create_all.
session_parents = Table(
    "session_parents",
    metadata,
    Column("token", String(200), primary_key=True),
    Column("parent", String(200), nullable=False, index=True),
)

# Bulk API 2.0 jobs: the job's own state as JSON, its upload, and its result rows appended
# chunk by chunk (successes, failures, unprocessed records or query results).
bulk_jobs = Table(
    "bulk_jobs",
    metadata,
    Column("id", String(18), primary_key=True),
    Column("kind", String(16), nullable=False),  # ingest | query
    Column("state", Text, nullable=False),
    Column("upload", LargeBinary, nullable=True),
)

bulk_results = Table(
    "bulk_results",
    metadata,
    Column("job_id", String(18), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("data", Text, nullable=False),
    Index("ix_bulk_results_job", "job_id", "seq"),
)

class OrgStore:
    def __init__(self, path: Path, *, reset: bool = False) -> None:
        private_dir(path.parent)
        if reset:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        # Passwords and tokens live here: 0600 before SQLite writes a byte (its -wal and
        # -shm files take the database file's mode).
        create_private_file(path)
        self.engine = create_engine(f"sqlite:///{path}", future=True)
        event.listen(self.engine, "connect", _sqlite_pragmas)
        metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    # -- records -------------------------------------------------------------------------
    def load_records(self) -> Iterator[tuple[str, dict]]:
        with self.engine.connect() as conn:
            for object_name, data in conn.execute(select(records.c.object, records.c.data)):
                yield object_name, json.loads(data)

    def write(
        self,
        changed: Iterable[tuple[str, dict]],
        index_rows: Iterable[dict],
        removed: Iterable[str] = (),
        settings: dict[str, object] | None = None,
        extra: Iterable[Callable[[Connection], None]] = (),
    ) -> None:
        """Replace the given records (and their index rows) in one transaction.

        ``extra`` are further writes for the same transaction (a bulk job's progress), so
        the records a chunk changed and the job's note of them commit together.
        """
        rows = [
            {
                "id": rec["Id"],
                "object": obj,
                "system_modstamp": rec.get("SystemModstamp") or "",
                "is_deleted": bool(rec.get("IsDeleted")),
                "data": json.dumps(rec, separators=(",", ":")),
            }
            for obj, rec in changed
        ]
        gone = [r["id"] for r in rows] + list(removed)
        index_rows = list(index_rows)
        with self.engine.begin() as conn:
            if gone:
                for chunk in _chunks(gone, 500):
                    conn.execute(delete(records).where(records.c.id.in_(chunk)))
                    conn.execute(delete(external_ids).where(external_ids.c.record_id.in_(chunk)))
            if rows:
                conn.execute(insert(records), rows)
            if index_rows:
                conn.execute(insert(external_ids), index_rows)
            for key, value in (settings or {}).items():
                _put_setting(conn, key, value)
            for write in extra:
                write(conn)

    # -- settings ------------------------------------------------------------------------
    def get_setting(self, key: str) -> object | None:
        with self.engine.connect() as conn:
            value = conn.execute(
                select(settings.c.value).where(settings.c.key == key)
            ).scalar_one_or_none()
        return None if value is None else json.loads(value)

    def set_setting(self, key: str, value: object) -> None:
        with self.engine.begin() as conn:
            _put_setting(conn, key, value)

    # -- sessions ------------------------------------------------------------------------
    def load_sessions(self) -> list[dict]:
        with self.engine.connect() as conn:
            parents = {row.token: row.parent for row in conn.execute(select(session_parents))}
            return [{**row._mapping, "parent": parents.get(row._mapping["token"])}
                    for row in conn.execute(select(sessions))]

    def save_session(self, token: str, kind: str, user_id: str, expires_at: float | None,
                     parent: str | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(sessions),
                {"token": token, "kind": kind, "user_id": user_id, "expires_at": expires_at},
            )
            if parent is not None:
                conn.execute(insert(session_parents), {"token": token, "parent": parent})

    def delete_sessions(self, tokens: list[str]) -> None:
        with self.engine.begin() as conn:
            for chunk in _chunks(tokens, 500):
                conn.execute(delete(sessions).where(sessions.c.token.in_(chunk)))
                conn.execute(delete(session_parents).where(session_parents.c.token.in_(chunk)))

    def expire_sessions(self, now: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                sessions.update().where(sessions.c.kind == "access").values(expires_at=now)
            )

    # -- bulk jobs -----------------------------------------------------------------------
    def load_jobs(self) -> list[tuple[str, dict, bytes | None, list[tuple[str, list]]]]:
        """Every stored job: ``(kind, state, upload, [(result kind, row), ...])``."""
        with self.engine.connect() as conn:
            jobs: dict[str, tuple[str, dict, bytes | None, list[tuple[str, list]]]] = {
                row.id: (row.kind, json.loads(row.state), row.upload, [])
                for row in conn.execute(select(bulk_jobs))
            }
            for job_id, kind, data in conn.execute(
                select(bulk_results.c.job_id, bulk_results.c.kind, bulk_results.c.data)
                .order_by(bulk_results.c.job_id, bulk_results.c.seq)
            ):
                if job_id in jobs:
                    jobs[job_id][3].append((kind, json.loads(data)))
        return list(jobs.values())

    def save_job(self, job_id: str, kind: str, state: dict, *, upload: bytes | None = None,
                 conn: Connection | None = None) -> None:
        """Insert or replace a job's state (and its upload when given)."""
        if conn is None:
            with self.engine.begin() as own:
                self.save_job(job_id, kind, state, upload=upload, conn=own)
            return
        values: dict[str, object] = {"state": json.dumps(state, separators=(",", ":"))}
        if upload is not None:
            values["upload"] = upload
        updated = conn.execute(
            bulk_jobs.update().where(bulk_jobs.c.id == job_id).values(**values)
        ).rowcount
        if not updated:
            conn.execute(insert(bulk_jobs), {"id": job_id, "kind": kind, "upload": upload,
                                             **values})

    def append_results(self, conn: Connection, job_id: str, first_seq: int,
                       rows: list[tuple[str, list]]) -> None:
        if rows:
            conn.execute(insert(bulk_results), [
                {"job_id": job_id, "seq": first_seq + n, "kind": kind,
                 "data": json.dumps(row, separators=(",", ":"))}
                for n, (kind, row) in enumerate(rows)
            ])

    def delete_job(self, job_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(bulk_results).where(bulk_results.c.job_id == job_id))
            conn.execute(delete(bulk_jobs).where(bulk_jobs.c.id == job_id))


def _put_setting(conn, key: str, value: object) -> None:  # noqa: ANN001 - a Connection
    conn.execute(delete(settings).where(settings.c.key == key))
    conn.execute(insert(settings), {"key": key, "value": json.dumps(value)})


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]

def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001 - DB-API objects
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
