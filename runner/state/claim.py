"""Claiming due inbox events for one worker.

On PostgreSQL several runner processes share one inbox: ``SELECT ... FOR UPDATE SKIP
LOCKED`` lets each take rows nobody else is taking right now, without waiting. On SQLite
the caller's transaction began with BEGIN IMMEDIATE, so claims are one writer at a time.
A claim is a lease: if the worker dies, its rows become due again once the lease expires.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, or_, select, update

from runner.state.models import inbox_events as t
from runner.state.statuses import EventStatus


def due(now: datetime) -> ColumnElement[bool]:
    """Rows a worker may take at ``now``."""
    return or_(
        t.c.status == EventStatus.PENDING,
        and_(t.c.status == EventStatus.RETRY, t.c.retry_at <= now),
        and_(t.c.status == EventStatus.PROCESSING, t.c.lease_until <= now),
    )


def claim_due(conn: Connection, worker: str, limit: int, lease_seconds: float,
              now: datetime) -> list[dict[str, Any]]:
    """Mark up to ``limit`` due events as processing by ``worker``; return them as dicts
    (after the update), oldest event first. Runs inside the caller's transaction."""
    query = select(t).where(due(now)).order_by(t.c.created, t.c.seq).limit(limit)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = [dict(row._mapping) for row in conn.execute(query)]
    if not rows:
        return []
    lease_until = now + timedelta(seconds=lease_seconds)
    conn.execute(
        update(t)
        .where(t.c.seq.in_([row["seq"] for row in rows]))
        .values(status=EventStatus.PROCESSING, worker=worker, lease_until=lease_until,
                attempts=t.c.attempts + 1)
    )
    for row in rows:
        row.update(status=EventStatus.PROCESSING, worker=worker, lease_until=lease_until,
                   attempts=row["attempts"] + 1)
    return rows
