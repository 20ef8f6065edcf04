"""Group commit of webhook deliveries: several per transaction, each acknowledged after its
own commit, exactly once per event id (in the same group and across groups)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import pytest

from runner.ingest.group_commit import GroupCommit, LoopGroupCommit
from runner.ingest.webhook_server import WebhookServer
from runner.sandbox.stripe_events import make_event, signed_delivery
from runner.state.errors import StateError
from runner.state.store import StateStore
from runner.state.testing import memory_store
from runner.stripe_event import CheckedEvent, check_event
from tests.runner.state.conftest import pg_admin, pg_url  # noqa: F401 - fixtures

SECRET = "whsec_group"


class SlowInbox:
    """The real store, with each transaction held open a little (so that deliveries pile up
    behind it, as under a burst) and every group recorded."""

    def __init__(self, store: StateStore, delay: float = 0.05) -> None:
        self.store = store
        self.delay = delay
        self.groups: list[list[str]] = []
        self.refuse: set[str] = set()

    def add_events_reporting_new(self, events: Iterable[CheckedEvent], *,
                                 source: str) -> list[bool]:
        events = list(events)
        self.groups.append([e.event_id for e in events])
        if self.refuse & {e.event_id for e in events}:
            raise StateError("state database write failed: refused")
        time.sleep(self.delay)
        return self.store.add_events_reporting_new(events, source=source)


@pytest.fixture
def store() -> StateStore:
    return memory_store()


def _checked(n: int) -> CheckedEvent:
    event = make_event("customer.created")
    event["id"] = f"evt_group_{n}"
    return check_event(event)


def test_concurrent_deliveries_share_transactions_and_each_gets_its_answer(store) -> None:
    inbox = SlowInbox(store)
    commit = GroupCommit(inbox, source="webhook")
    events = [_checked(n) for n in range(40)]
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(commit.add, events))
    assert answers == [True] * 40
    assert len(inbox.groups) < 40  # grouped: fewer transactions than deliveries
    assert sorted(i for g in inbox.groups for i in g) == sorted(e.event_id for e in events)
    assert len(store.list_events(limit=100)) == 40


def test_duplicates_in_one_group_and_across_groups_are_stored_once(store) -> None:
    inbox = SlowInbox(store)
    commit = GroupCommit(inbox, source="webhook")
    # Each of 10 events delivered 6 times at once, by 30 threads.
    events = [_checked(n % 10) for n in range(60)]
    with ThreadPoolExecutor(30) as pool:
        answers = list(pool.map(commit.add, events))
    new_per_id: dict[str, int] = {}
    for event, new in zip(events, answers, strict=True):
        new_per_id[event.event_id] = new_per_id.get(event.event_id, 0) + new
    assert new_per_id == {f"evt_group_{n}": 1 for n in range(10)}
    assert len(store.list_events(limit=100)) == 10
    in_one_group = any(len(g) != len(set(g)) for g in inbox.groups)
    across_groups = len({i for g in inbox.groups for i in g}) < sum(map(len, inbox.groups))
    assert in_one_group and across_groups  # both cases happened


def test_an_answer_waits_for_its_own_commit(store) -> None:
    inbox = SlowInbox(store, delay=0.2)
    commit = GroupCommit(inbox, source="webhook")
    first = threading.Thread(target=commit.add, args=(_checked(1),))
    first.start()
    time.sleep(0.05)  # the first transaction is in flight
    t0 = time.monotonic()
    assert commit.add(_checked(2)) is True
    # Queued behind the first commit, then committed in its own: two delays.
    assert time.monotonic() - t0 >= 0.3
    assert store.get_event("evt_group_2").event_id == "evt_group_2"
    first.join()
    assert inbox.groups == [["evt_group_1"], ["evt_group_2"]]


def test_a_refused_delivery_fails_alone(store) -> None:
    inbox = SlowInbox(store)
    inbox.refuse = {"evt_group_3"}
    commit = GroupCommit(inbox, source="webhook")
    results: dict[int, object] = {}

    def add(n: int) -> None:
        try:
            results[n] = commit.add(_checked(n))
        except StateError as exc:
            results[n] = exc

    with ThreadPoolExecutor(10) as pool:
        list(pool.map(add, range(10)))
    assert isinstance(results.pop(3), StateError)
    assert results == {n: True for n in range(10) if n != 3}
    assert len(store.list_events(limit=100)) == 9


def _on_loop(inbox: SlowInbox, deliver) -> object:
    """Run ``deliver(commit)`` on an event loop with a LoopGroupCommit over ``inbox``."""
    with ThreadPoolExecutor(2) as executor:
        commit = LoopGroupCommit(inbox, source="webhook", executor=executor)
        return asyncio.run(deliver(commit))


def test_on_the_loop_deliveries_arriving_during_a_commit_form_the_next_group(store) -> None:
    inbox = SlowInbox(store)
    events = [_checked(n % 25) for n in range(50)]  # each id delivered twice

    async def deliver(commit: LoopGroupCommit) -> list[bool]:
        tasks = []
        for event in events:
            tasks.append(asyncio.create_task(commit.add(event)))
            await asyncio.sleep(0.002)  # arriving over ~0.1 s, two commits' time
        return list(await asyncio.gather(*tasks))

    answers = _on_loop(inbox, deliver)
    assert answers == [True] * 25 + [False] * 25  # each event new once
    assert 1 < len(inbox.groups) < 50  # grouped, in more than one transaction
    assert [i for g in inbox.groups for i in g] == [e.event_id for e in events]  # in order
    assert len(store.list_events(limit=100)) == 25


def test_on_the_loop_a_refused_delivery_fails_alone(store) -> None:
    inbox = SlowInbox(store)
    inbox.refuse = {"evt_group_3"}

    async def deliver(commit: LoopGroupCommit) -> list[object]:
        return list(await asyncio.gather(*(commit.add(_checked(n)) for n in range(10)),
                                         return_exceptions=True))

    results = _on_loop(inbox, deliver)
    assert isinstance(results[3], StateError)
    assert results[:3] + results[4:] == [True] * 9
    assert len(store.list_events(limit=100)) == 9


def test_on_the_loop_a_caller_that_stops_waiting_leaves_its_event_stored(store) -> None:
    inbox = SlowInbox(store, delay=0.3)

    async def deliver(commit: LoopGroupCommit) -> bool:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(commit.add(_checked(1)), 0.05)
        return await commit.add(_checked(2))  # the next group, after the first commit

    assert _on_loop(inbox, deliver) is True
    assert inbox.groups == [["evt_group_1"], ["evt_group_2"]]
    assert store.get_event("evt_group_1").event_id == "evt_group_1"


class CountingExecutor(ThreadPoolExecutor):
    def __init__(self) -> None:
        super().__init__(2)
        self.jobs = 0

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def, override]
        self.jobs += 1
        return super().submit(fn, *args, **kwargs)


def test_on_the_loop_one_job_stores_group_after_group(store) -> None:
    """The loop hands a burst to the worker thread once, not once per group."""
    inbox = SlowInbox(store)

    async def deliver(commit: LoopGroupCommit) -> list[bool]:
        tasks = []
        for n in range(30):
            tasks.append(asyncio.create_task(commit.add(_checked(n))))
            await asyncio.sleep(0.005)  # arriving while the groups before are stored
        return list(await asyncio.gather(*tasks))

    with CountingExecutor() as executor:
        commit = LoopGroupCommit(inbox, source="webhook", executor=executor)
        assert asyncio.run(deliver(commit)) == [True] * 30
    assert len(inbox.groups) > 1 and commit.commits == len(inbox.groups)
    assert executor.jobs == 1


def test_on_the_loop_a_delivery_after_the_executor_stopped_fails(store) -> None:
    executor = ThreadPoolExecutor(1)
    commit = LoopGroupCommit(SlowInbox(store), source="webhook", executor=executor)
    executor.shutdown()
    with pytest.raises(RuntimeError, match="cannot schedule new futures after shutdown"):
        asyncio.run(commit.add(_checked(1)))
    assert store.list_events(limit=10) == []


def test_on_the_loop_nothing_more_is_stored_once_closed(store) -> None:
    inbox = SlowInbox(store, delay=0.2)

    async def deliver(commit: LoopGroupCommit) -> None:
        first = asyncio.create_task(commit.add(_checked(1)))
        await asyncio.sleep(0.05)  # the first group's transaction is running
        second = asyncio.create_task(commit.add(_checked(2)))
        await asyncio.sleep(0)
        commit.close()
        assert await first is True
        await asyncio.sleep(0.3)
        assert not second.done()  # never answered: the server is stopping
        second.cancel()

    _on_loop(inbox, deliver)
    assert inbox.groups == [["evt_group_1"]]


@pytest.mark.postgres
def test_concurrent_duplicate_deliveries_to_two_servers_on_postgresql(request) -> None:
    """Two servers (two runner processes) on one PostgreSQL inbox, the same deliveries sent
    to both at once: every delivery answered 200, each event stored and reported new once."""
    url = request.getfixturevalue("pg_url")
    stores = [StateStore.open(url) for _ in range(2)]
    servers = [WebhookServer(s, [SECRET]) for s in stores]
    deliveries = []
    for n in range(30):
        event = make_event("customer.created")
        event["id"] = f"evt_pg_{n}"
        deliveries.append(signed_delivery(event, SECRET))
    jobs = [(servers[k % 2], deliveries[k % 30]) for k in range(120)]
    try:
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(
                lambda job: job[0].handle_webhook(job[1][0], job[1][1]["Stripe-Signature"]),
                jobs))
        assert {status for status, _ in answers} == {200}
        assert sum(not a["duplicate"] for _, a in answers) == 30
        assert len(stores[0].list_events(limit=1000)) == 30
    finally:
        for s in stores:
            s.close()
