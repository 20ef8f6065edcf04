"""The runner's durable state (SQLAlchemy 2 + Alembic): SQLite by default, PostgreSQL when
several runner processes share one inbox."""

from __future__ import annotations

from runner.state.database import default_url
from runner.state.errors import NotFoundError, StateError
from runner.state.guard import check_no_secret
from runner.state.records import DlqEntry, InboxEvent, ReviewItem, RunRecord
from runner.state.statuses import DeadLetterStatus, EventStatus, ReviewStatus
from runner.state.store import StateStore

__all__ = [
    "DeadLetterStatus",
    "DlqEntry",
    "EventStatus",
    "InboxEvent",
    "NotFoundError",
    "ReviewItem",
    "ReviewStatus",
    "RunRecord",
    "StateError",
    "StateStore",
    "check_no_secret",
    "default_url",
]
