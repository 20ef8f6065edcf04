"""Pub/Sub API subscription positions: the replay id each topic resumes after."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from runner.state.database import Database, Repository
from runner.state.models import replay_ids as t


def replay_upsert(db: Database) -> Any:
    """Set a topic's replay id (built once: ``Database.prepared``)."""
    stmt = db.insert(t)
    return stmt.on_conflict_do_update(
        index_elements=["topic"],
        set_={"replay_id": stmt.excluded.replay_id, "updated_at": stmt.excluded.updated_at},
    )


class ReplayIds(Repository):
    def replay_get(self, topic: str) -> bytes | None:
        with self.db.read() as conn:
            value = conn.execute(select(t.c.replay_id).where(t.c.topic == topic)).scalar()
        return None if value is None else bytes.fromhex(value)

    def replay_set(self, topic: str, replay_id: bytes) -> None:
        """Call only once every event up to ``replay_id`` is settled (resume point)."""
        row = {"topic": topic, "replay_id": replay_id.hex(), "updated_at": self.now()}
        with self.db.write() as conn:
            conn.execute(self.db.prepared(replay_upsert), [row])

    def replay_clear(self, topic: str) -> None:
        """Forget the position (an expired replay id): the next subscription starts afresh."""
        with self.db.write() as conn:
            conn.execute(delete(t).where(t.c.topic == topic))
