"""Snapshots: a record's previous trigger-field values, for conditions like "StageName
becomes X"."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select

from runner.state.database import Database, Repository, json_object
from runner.state.models import snapshots as t


def snapshot_select(_db: Database) -> Any:
    return select(t.c["values"]).where(t.c.flow == bindparam("flow"),
                                       t.c.record_id == bindparam("record_id"))


def snapshot_upsert(db: Database) -> Any:
    """Insert a snapshot, or replace the record's one (built once: ``Database.prepared``)."""
    stmt = db.insert(t)
    return stmt.on_conflict_do_update(
        index_elements=["flow", "record_id"],
        set_={"values": stmt.excluded["values"], "updated_at": stmt.excluded.updated_at},
    )


class Snapshots(Repository):
    def snapshot_get(self, flow: str, record_id: str) -> dict[str, Any] | None:
        with self.db.read() as conn:
            return conn.execute(self.db.prepared(snapshot_select),
                                {"flow": flow, "record_id": record_id}).scalar()

    def snapshot_put(self, flow: str, record_id: str, values: dict[str, Any]) -> None:
        json_object(values, "values")
        row = {"flow": flow, "record_id": record_id, "values": values, "updated_at": self.now()}
        with self.db.write() as conn:
            conn.execute(self.db.prepared(snapshot_upsert), [row])
