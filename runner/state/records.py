"""What the state store hands out: plain, immutable records, no SQLAlchemy rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from runner.state.statuses import DeadLetterStatus, EventStatus, ReviewStatus


@dataclass(frozen=True)
class InboxEvent:
    """A Stripe event (or other source event) in the inbox.

    ``attempts`` counts the claims of this event, the current one included: 1 on its first
    processing, 2 after one retry or one crashed worker, and so on.
    """

    event_id: str
    type: str
    object_id: str | None
    created: int
    payload: dict[str, Any]
    attempts: int
    status: EventStatus
    source: str
    seq: int = 0  # received order
    worker: str | None = None
    lease_until: datetime | None = None
    retry_at: datetime | None = None
    last_error: str | None = None
    outcome: str | None = None
    received_at: datetime | None = None
    processed_at: datetime | None = None


@dataclass(frozen=True)
class DlqEntry:
    id: int
    flow: str
    event_id: str | None
    source_id: str | None
    payload: dict[str, Any]
    record: dict[str, Any] | None
    error: str
    error_code: str | None
    status: DeadLetterStatus
    created_at: datetime
    attempts: int  # replays tried
    updated_at: datetime | None = None


@dataclass(frozen=True)
class ReviewItem:
    id: int
    flow: str
    source_id: str
    record: dict[str, Any]
    candidates: list[dict[str, Any]]
    payload: dict[str, Any]
    status: ReviewStatus
    chosen: str | None
    created_at: datetime
    decided_at: datetime | None = None


@dataclass(frozen=True)
class RunRecord:
    id: int
    started_at: datetime
    stopped_at: datetime | None
    host: str
    pid: int
    version: str
    counts: dict[str, Any] | None = field(default=None)
