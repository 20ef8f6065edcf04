"""Claiming due inbox events for one worker.

On PostgreSQL several runner processes share one inbox: ``SELECT ... FOR UPDATE SKIP
LOCKED`` lets each take rows nobody else is taking right now, without waiting. On SQLite
the caller's transaction began with BEGIN IMMEDIATE, so claims are one writer at a time.
A claim is a lease: if the worker dies, its rows become due again once the lease expires.

The payloads leave the claim as their stored JSON text, decoded by :func:`decode_payloads`
once the transaction has committed: on SQLite the claim holds the one write lock that
webhook commits wait for, and decoding a batch's payloads there cost about half the claim's
time (profiled at ~140 events/s).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    Integer,
    Select,
    Text,
    Update,
    and_,
    bindparam,
    cast,
    func,
    or_,
    select,
    update,
)

from runner.state.models import inbox_events as t
from runner.state.statuses import EventStatus


def due(now: datetime | BindParameter[Any]) -> ColumnElement[bool]:
    """Rows a worker may take at ``now``."""
    return or_(
        t.c.status == EventStatus.PENDING,
        and_(t.c.status == EventStatus.RETRY, t.c.retry_at <= now),
        and_(t.c.status == EventStatus.PROCESSING, t.c.lease_until <= now),
    )


# The claim's statements, built once (a worker claims every few milliseconds while events
# arrive, and building them cost more than running them): the moment, the batch size, the
# worker and the rows are their parameters.
_NOW: BindParameter[Any] = bindparam("now")
_LIMIT = bindparam("limit", type_=Integer)
_DUE: Select[Any] = (
    select(*[c for c in t.c if c.name != "payload"], cast(t.c.payload, Text).label("payload"))
    .where(due(_NOW)).order_by(t.c.created, t.c.seq).limit(_LIMIT))
# PostgreSQL: rows another worker is claiming right now are skipped, not waited for.
_DUE_SKIP_LOCKED = _DUE.with_for_update(skip_locked=True)
_TAKE: Update = (
    update(t).where(t.c.seq.in_(bindparam("seqs", expanding=True)))
    .values(status=EventStatus.PROCESSING, worker=bindparam("claim_worker"),
            lease_until=bindparam("claim_lease_until"), attempts=t.c.attempts + 1))
_SOME_DUE = select(t.c.received_at).where(due(_NOW)).limit(_LIMIT).subquery()
_GATHERED = select(func.count(), func.min(_SOME_DUE.c.received_at))


def claim_due(conn: Connection, worker: str, limit: int, lease_seconds: float,
              now: datetime, gather: float = 0.0) -> list[dict[str, Any]]:
    """Mark up to ``limit`` due events as processing by ``worker``; return them as dicts
    (after the update), oldest event first, each ``payload`` still its JSON text (see
    :func:`decode_payloads`). Runs inside the caller's transaction.

    With ``gather`` (seconds), fewer than ``limit`` due events are claimed only once the
    earliest received of them has waited that long; until then none are. The age is the
    inbox's, not a worker's: several runners sharing an inbox take a trickle in batches of
    what arrived over ``gather`` seconds, instead of each taking a slice of it."""
    if gather > 0 and not _gathered(conn, limit, now, gather):
        return []
    query = _DUE_SKIP_LOCKED if conn.dialect.name == "postgresql" else _DUE
    result = conn.execute(query, {"now": now, "limit": limit})
    keys = list(result.keys())
    rows = [dict(zip(keys, row, strict=True)) for row in result]
    if not rows:
        return []
    if gather > 0 and len(rows) < limit and (
            min(row["received_at"] for row in rows) > now - timedelta(seconds=gather)):
        # Another worker took the gathered events between the check and this select (on
        # PostgreSQL the rows it locked are skipped): what is left is still gathering.
        return []
    lease_until = now + timedelta(seconds=lease_seconds)
    conn.execute(_TAKE, {"seqs": [row["seq"] for row in rows], "claim_worker": worker,
                         "claim_lease_until": lease_until})
    for row in rows:
        row.update(status=EventStatus.PROCESSING, worker=worker, lease_until=lease_until,
                   attempts=row["attempts"] + 1)
    return rows


def _gathered(conn: Connection, limit: int, now: datetime, gather: float) -> bool:
    """Whether a claim with ``gather`` takes anything now: a full batch is due, or the
    earliest received due event has waited ``gather`` seconds. One aggregate over at most
    ``limit`` rows' receipt times: a worker asks often while events gather."""
    count, earliest = conn.execute(_GATHERED, {"now": now, "limit": limit}).one()
    if not count:
        return False
    return bool(count >= limit or earliest <= now - timedelta(seconds=gather))


def decode_payloads(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The claimed rows with their payloads decoded (``claim_due`` leaves them as text),
    outside the claim's transaction."""
    for row in rows:
        row["payload"] = json.loads(row["payload"])
    return rows
