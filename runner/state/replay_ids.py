"""Pub/Sub API subscription positions: the replay id each topic resumes after."""

from __future__ import annotations

from sqlalchemy import delete, select

from runner.state.database import Repository
from runner.state.models import replay_ids as t


class ReplayIds(Repository):
    def replay_get(self, topic: str) -> bytes | None:
        with self.db.read() as conn:
            value = conn.execute(select(t.c.replay_id).where(t.c.topic == topic)).scalar()
        return None if value is None else bytes.fromhex(value)

    def replay_set(self, topic: str, replay_id: bytes) -> None:
        """Call only once every event up to ``replay_id`` is settled (resume point)."""
        stmt = self.db.insert(t).values(topic=topic, replay_id=replay_id.hex(),
                                        updated_at=self.now())
        stmt = stmt.on_conflict_do_update(
            index_elements=["topic"],
            set_={"replay_id": stmt.excluded.replay_id, "updated_at": stmt.excluded.updated_at},
        )
        with self.db.write() as conn:
            conn.execute(stmt)

    def replay_clear(self, topic: str) -> None:
        """Forget the position (an expired replay id): the next subscription starts afresh."""
        with self.db.write() as conn:
            conn.execute(delete(t).where(t.c.topic == topic))
