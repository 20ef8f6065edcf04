"""The runner's durable state (SQLAlchemy 2 + Alembic): SQLite by default, PostgreSQL when
several runner processes share one inbox."""

from __future__ import annotations

from runner.state.errors import NotFoundError, StateError
from runner.state.guard import check_no_secret
from runner.state.records import DlqEntry, InboxEvent, ReviewItem, RunRecord
from runner.state.store import StateStore, default_url

__all__ = [
    "DlqEntry",
    "InboxEvent",
    "NotFoundError",
    "ReviewItem",
    "RunRecord",
    "StateError",
    "StateStore",
    "check_no_secret",
    "default_url",
]
