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
delivery the store refuses fails alone and the others in its group are still stored
(:func:`store_group`, the one rule both coordinators below follow).

:class:`GroupCommit` serves callers on threads (each blocks until its group committed).
:class:`LoopGroupCommit` serves the HTTP server's event loop: each delivery awaits a future,
and only the groups' stores run on a worker thread, one job storing group after group while
deliveries keep coming. Profiled at ~140 deliveries/s, handing every delivery to a thread
and waking it again cost about as much CPU as the inserts.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor
from typing import Protocol

from runner.stripe_event import CheckedEvent


class BatchInbox(Protocol):
    """The part of :class:`runner.state.store.StateStore` a group commit needs."""

    def add_events_reporting_new(self, events: Iterable[CheckedEvent], *,
                                 source: str) -> list[bool]: ...


def store_group(store: BatchInbox, events: Sequence[CheckedEvent], source: str
                ) -> list[bool | Exception]:
    """Store ``events`` in one transaction; per event, whether it was new or what the store
    raised. A failed group is tried again one event per transaction, so a delivery the store
    refuses fails alone."""
    try:
        return list(store.add_events_reporting_new(events, source=source))
    except Exception as exc:
        if len(events) == 1:
            return [exc]
        return [store_group(store, [event], source)[0] for event in events]


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
        results = store_group(self.store, [d.event for d in group], self.source)
        self.commits += 1
        for delivery, result in zip(group, results, strict=True):
            if isinstance(result, Exception):
                delivery.error = result
            else:
                delivery.new = result


class LoopGroupCommit:
    """:class:`GroupCommit` for callers on one asyncio event loop (see the module): the
    deliveries that arrive while a group's transaction runs form the next group. Use
    :meth:`add` from that loop only.

    One job on ``executor`` stores group after group for as long as deliveries keep coming
    and hands each group's results back to the loop in one call; the loop only queues a
    delivery (and starts the job when none runs). A job submitted and its result awaited
    per group cost the loop thread about a tenth of its time under a burst."""

    def __init__(self, store: BatchInbox, *, source: str, executor: Executor) -> None:
        self.store = store
        self.source = source
        self.executor = executor
        self._lock = threading.Lock()
        self._waiting: list[tuple[CheckedEvent, asyncio.Future[bool]]] = []
        self._running = False  # a job is storing groups (under _lock)
        self._closed = False
        self.commits = 0  # groups stored (a figure for tests and benchmarks)

    async def add(self, event: CheckedEvent) -> bool:
        """Store ``event``; True if it was new. Returns once its transaction committed;
        raises what the store raised if it did not. A caller that stops waiting (a timeout)
        leaves its event to be stored with its group all the same."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        with self._lock:
            self._waiting.append((event, future))
            start = not self._running
            self._running = True
        if start:
            try:
                self.executor.submit(self._store_groups, loop)
            except RuntimeError as exc:  # the executor is shutting down
                with self._lock:
                    waiting, self._waiting, self._running = self._waiting, [], False
                for _, waiter in waiting:
                    if not waiter.done():
                        waiter.set_exception(exc)
        return await future

    def close(self) -> None:
        """Store no further group (the server stops); the one being stored finishes and
        its callers, like those still waiting, are not answered."""
        self._closed = True

    def _store_groups(self, loop: asyncio.AbstractEventLoop) -> None:
        # On a worker thread: until no delivery waits.
        while True:
            with self._lock:
                group, self._waiting = self._waiting, []
                if not group or self._closed:
                    self._running = False
                    return
            try:
                results = store_group(self.store, [e for e, _ in group], self.source)
                self.commits += 1
            except Exception as exc:  # not the store's refusal (store_group keeps that)
                results = [exc] * len(group)
            try:
                loop.call_soon_threadsafe(_answer, group, results)
            except RuntimeError:  # the loop closed (the server stopped): nobody to answer
                with self._lock:
                    self._running = False
                return


def _answer(group: Sequence[tuple[CheckedEvent, asyncio.Future[bool]]],
            results: Sequence[bool | Exception]) -> None:
    for (_, future), result in zip(group, results, strict=True):
        if future.done():  # its caller gave up waiting
            continue
        if isinstance(result, Exception):
            future.set_exception(result)
        else:
            future.set_result(result)
