"""The runner's durable state, as one object: :class:`StateStore`.

Shaped like procrastinate's App / Manager / Connector:

- :mod:`runner.state.database` is the connector: URL, engine, SQLite/PostgreSQL
  differences, read and write transactions, the clock;
- one module per table family holds that family's rules and SQL (the managers):
  :mod:`~runner.state.inbox` (events, claims, leases, ledger), :mod:`~runner.state.versions`
  (object ordering), :mod:`~runner.state.xrefs`, :mod:`~runner.state.dead_letters`,
  :mod:`~runner.state.reviews`, :mod:`~runner.state.cursors` (watermarks),
  :mod:`~runner.state.own_writes` (echo suppression), :mod:`~runner.state.snapshots`,
  :mod:`~runner.state.runs`, :mod:`~runner.state.queues` (counts across them) and
  :mod:`~runner.state.settlement` (a micro-batch in one transaction);
- :class:`StateStore` is the facade: it inherits every family over one shared
  :class:`~runner.state.database.Database`, so callers keep one object with the same method
  names. :mod:`runner.state.testing` gives the same class on an in-memory database.

Every write commits before the method returns: the webhook answers 2xx only after
``add_event``.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from runner.state.audit import AuditLog
from runner.state.cursors import Cursors
from runner.state.database import Clock, Database, default_url
from runner.state.dead_letters import DeadLetters
from runner.state.inbox import Inbox
from runner.state.own_writes import OwnWrites
from runner.state.queues import Queues
from runner.state.records import DlqEntry, InboxEvent, ReviewItem, RunRecord
from runner.state.replay_ids import ReplayIds
from runner.state.reviews import ReviewItems
from runner.state.runs import Runs
from runner.state.settlement import Settlement, Settlements, SettleResult
from runner.state.snapshots import Snapshots
from runner.state.tail import EventTail
from runner.state.versions import ObjectVersions
from runner.state.xrefs import CrossReferences

__all__ = ["DlqEntry", "InboxEvent", "ReviewItem", "RunRecord", "SettleResult", "Settlement",
           "StateStore", "default_url"]


class StateStore(Inbox, ObjectVersions, CrossReferences, DeadLetters, ReviewItems, Cursors,
                 OwnWrites, Snapshots, Runs, Queues, Settlements, ReplayIds, AuditLog,
                 EventTail):
    """The state database. Construct with ``open`` (which migrates) unless you know better."""

    def __init__(self, url: str, *, clock: Clock | None = None) -> None:
        super().__init__(Database(url, clock=clock))
        self.url = self.db.url
        self.dialect = self.db.dialect

    @classmethod
    def open(cls, url: str | None = None, *, clock: Clock | None = None) -> StateStore:
        """Open (creating if needed) and migrate to the newest schema."""
        store = cls(url or default_url(), clock=clock)
        try:
            store.db.migrate()
        except BaseException:
            store.close()
            raise
        return store

    def describe(self) -> str:
        """The URL with any password hidden, for messages and logs."""
        return self.db.describe()

    def batch(self) -> AbstractContextManager[None]:
        """Everything this thread writes in the block in one commit (:meth:`Database.batch`):
        for state work only, never around a network call."""
        return self.db.batch()

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
