"""Named positions (watermarks): "stripe.last_event_id", "sf.watermark.<flow>", backfill
progress ..."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select

from runner.state.database import Database, Repository
from runner.state.models import cursors as t


def cursor_select(_db: Database) -> Any:
    return select(t.c.value).where(t.c.name == bindparam("name"))


def cursor_upsert(db: Database) -> Any:
    """Set a cursor (built once: ``Database.prepared``)."""
    stmt = db.insert(t)
    return stmt.on_conflict_do_update(
        index_elements=["name"],
        set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at},
    )


class Cursors(Repository):
    def cursor_get(self, name: str) -> str | None:
        with self.db.read() as conn:
            return conn.execute(self.db.prepared(cursor_select), {"name": name}).scalar()

    def cursor_set(self, name: str, value: str) -> None:
        if not isinstance(value, str):
            raise ValueError(f"cursor {name!r} value must be a string, got {type(value).__name__}")
        row = {"name": name, "value": value, "updated_at": self.now()}
        with self.db.write() as conn:
            conn.execute(self.db.prepared(cursor_upsert), [row])
