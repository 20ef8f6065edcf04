"""Queue depths across the tables, for ``status``, the health check and the metrics."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from runner.state.database import Repository
from runner.state.models import dead_letters, inbox_events, review_items
from runner.state.statuses import DeadLetterStatus, EventStatus, ReviewStatus


class Queues(Repository):
    def counts(self) -> dict[str, int]:
        """Queue depths: inbox rows per status, open dead letters and open review items."""
        result = dict.fromkeys([*(s.value for s in EventStatus), "dlq_open", "review_open"], 0)
        with self.db.read() as conn:
            for status, n in conn.execute(
                select(inbox_events.c.status, func.count()).group_by(inbox_events.c.status)
            ):
                result[status] = n
            result["dlq_open"] = conn.execute(select(func.count()).where(
                dead_letters.c.status == DeadLetterStatus.OPEN)).scalar_one()
            result["review_open"] = conn.execute(select(func.count()).where(
                review_items.c.status == ReviewStatus.OPEN)).scalar_one()
        return result

    def oldest_due_age(self) -> timedelta | None:
        """How long the oldest pending event has waited (None when nothing is pending)."""
        t = inbox_events
        with self.db.read() as conn:
            received = conn.execute(
                select(t.c.received_at).where(t.c.status == EventStatus.PENDING)
                .order_by(t.c.received_at).limit(1)
            ).scalar()
        return None if received is None else self.now() - received

    def last_settled_age(self) -> timedelta | None:
        """How long ago an inbox event last finished (done, skipped, ignored or dead), by any
        worker; None when none ever has (or the ledger was pruned empty)."""
        t = inbox_events
        with self.db.read() as conn:
            settled = conn.execute(select(func.max(t.c.processed_at))).scalar()
        return None if settled is None else self.now() - settled
