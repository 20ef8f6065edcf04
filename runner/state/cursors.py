"""Named positions (watermarks): "stripe.last_event_id", "sf.watermark.<flow>", backfill
progress ..."""

from __future__ import annotations

from sqlalchemy import select

from runner.state.database import Repository
from runner.state.models import cursors as t


class Cursors(Repository):
    def cursor_get(self, name: str) -> str | None:
        with self.db.read() as conn:
            return conn.execute(select(t.c.value).where(t.c.name == name)).scalar()

    def cursor_set(self, name: str, value: str) -> None:
        if not isinstance(value, str):
            raise ValueError(f"cursor {name!r} value must be a string, got {type(value).__name__}")
        stmt = self.db.insert(t).values(name=name, value=value, updated_at=self.now())
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"],
            set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at},
        )
        with self.db.write() as conn:
            conn.execute(stmt)
