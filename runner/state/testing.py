"""An in-memory state store for tests (the counterpart of procrastinate's ``testing.py``).

Why the real :class:`~runner.state.store.StateStore` on an in-memory SQLite database, and
not a second, hand-written implementation of its methods: a dict-based double would be a
second copy of every state rule (event validation, done versus skipped, leases, versions
that only move forward, secret refusal, the 18-character Salesforce Id form ...), and the
copies would drift, which is how per-test-file fakes went wrong before. Here the rules run
once, in the SQL modules, and the tests exercise exactly what production runs.

It is fast: the migrations run once per process into a template database, and each new
store is a page copy of that template (SQLite's backup API), about a millisecond instead of
an Alembic upgrade per store. Each store is private (its own connection, StaticPool), so
tests cannot see each other's rows. A test that needs two store objects on ONE database, or
PostgreSQL, uses a URL instead (``tests/runner/state/conftest.py``).
"""

from __future__ import annotations

import sqlite3
import threading

from runner.state.database import Clock
from runner.state.store import StateStore

MEMORY_URL = "sqlite://"

_template: sqlite3.Connection | None = None
_template_lock = threading.Lock()


def _migrated_template() -> sqlite3.Connection:
    """A private in-memory database at the newest schema (migrated once per process)."""
    global _template
    if _template is None:
        store = StateStore.open(MEMORY_URL)
        try:
            with store.db.engine.connect() as conn:
                copy = sqlite3.connect(":memory:", check_same_thread=False)
                conn.connection.dbapi_connection.backup(copy)  # type: ignore[union-attr]
        finally:
            store.close()
        _template = copy
    return _template


def memory_store(*, clock: Clock | None = None) -> StateStore:
    """A new, empty, fully migrated state store in memory; ``close()`` it when done."""
    store = StateStore(MEMORY_URL, clock=clock)
    with _template_lock:
        template = _migrated_template()
        with store.db.engine.connect() as conn:
            template.backup(conn.connection.dbapi_connection)  # type: ignore[arg-type]
    return store
