"""Snapshots: a record's previous trigger-field values, for conditions like "StageName
becomes X"."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from runner.state.database import Repository, json_object
from runner.state.models import snapshots as t


class Snapshots(Repository):
    def snapshot_get(self, flow: str, record_id: str) -> dict[str, Any] | None:
        with self.db.read() as conn:
            return conn.execute(
                select(t.c["values"]).where(t.c.flow == flow, t.c.record_id == record_id)
            ).scalar()

    def snapshot_put(self, flow: str, record_id: str, values: dict[str, Any]) -> None:
        json_object(values, "values")
        stmt = self.db.insert(t).values(
            {"flow": flow, "record_id": record_id, "values": values, "updated_at": self.now()}
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["flow", "record_id"],
            set_={"values": stmt.excluded["values"], "updated_at": stmt.excluded.updated_at},
        )
        with self.db.write() as conn:
            conn.execute(stmt)
