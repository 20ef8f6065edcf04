"""The inbox read as a live tail: events received after a position (``seq``), for the admin
API's ``GET /api/v1/events?since=``. Only what a console shows: no payloads."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from runner.state.database import Repository
from runner.state.models import inbox_events as t

TAIL_COLUMNS = (t.c.seq, t.c.event_id, t.c.type, t.c.object_id, t.c.created, t.c.source,
                t.c.status, t.c.attempts, t.c.outcome, t.c.last_error, t.c.received_at,
                t.c.processed_at)


class EventTail(Repository):
    def events_after(self, seq: int, limit: int = 200) -> list[dict[str, Any]]:
        """Inbox rows with ``seq`` above ``seq``, in received order, at most ``limit``."""
        query = (select(*TAIL_COLUMNS).where(t.c.seq > seq).order_by(t.c.seq)
                 .limit(max(1, min(limit, 1000))))
        with self.db.read() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]
