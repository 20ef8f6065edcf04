"""Group commit: webhook deliveries that arrive together are stored in one transaction.

Each delivery's thread calls :meth:`GroupCommit.add` and blocks until the transaction
holding ITS event has committed (the webhook answers 2xx only then). The first caller
finding no commit in flight becomes the leader: it takes every delivery waiting so far and
stores them with one ``add_events_reporting_new`` call. Deliveries arriving while that
commit runs queue up; when it ends, the leader hands the lead to the oldest of them, which
stores the whole queue in the next transaction. Under a burst a commit therefore carries
every delivery that came in during the previous one; a lone delivery is committed at once,
with no added wait.

Whether an event is new is the store's one rule (its id already in the inbox, or an earlier
event of the same group): a redelivery in the same group or in another is a duplicate.

If a group's transaction fails, its events are tried again one transaction each, so a
delivery the store refuses fails alone and the others in its group are still stored.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Protocol

from runner.stripe_event import CheckedEvent


class BatchInbox(Protocol):
    """The part of :class:`runner.state.store.StateStore` a group commit needs."""

    def add_events_reporting_new(self, events: Iterable[CheckedEvent], *,
                                 source: str) -> list[bool]: ...


class _Delivery:
    __slots__ = ("error", "event", "lead", "new", "ready")

    def __init__(self, event: CheckedEvent) -> None:
        self.event = event
        self.ready = threading.Event()  # committed (or failed), or handed the lead
        self.lead = False
        self.new = False
        self.error: BaseException | None = None


class GroupCommit:
    """Stores events for concurrent callers, several per transaction (see the module)."""

    def __init__(self, store: BatchInbox, *, source: str) -> None:
        self.store = store
        self.source = source
        self._lock = threading.Lock()
        self._waiting: list[_Delivery] = []
        self._committing = False
        self.commits = 0  # transactions run (a figure for tests and benchmarks)

    def add(self, event: CheckedEvent) -> bool:
        """Store ``event``; True if it was new. Returns once its transaction committed;
        raises what the store raised if it did not."""
        delivery = _Delivery(event)
        with self._lock:
            self._waiting.append(delivery)
            lead = not self._committing
            self._committing = True
        if not lead:
            delivery.ready.wait()
            lead = delivery.lead
        if lead:
            self._commit_waiting()
        if delivery.error is not None:
            raise delivery.error
        return delivery.new

    def _commit_waiting(self) -> None:
        with self._lock:
            group, self._waiting = self._waiting, []
        try:
            self._store(group)
        finally:
            with self._lock:
                if self._waiting:
                    successor = self._waiting[0]
                    successor.lead = True
                    successor.ready.set()
                else:
                    self._committing = False
            for delivery in group:
                delivery.ready.set()

    def _store(self, group: Sequence[_Delivery]) -> None:
        try:
            news = self.store.add_events_reporting_new([d.event for d in group],
                                                       source=self.source)
            self.commits += 1
        except Exception as exc:
            if len(group) == 1:
                group[0].error = exc
                return
            for delivery in group:  # so that one refused delivery fails alone
                self._store([delivery])
            return
        for delivery, new in zip(group, news, strict=True):
            delivery.new = new
