"""Several claimers on one inbox: every event is claimed exactly once, and a crashed
worker's claims are taken over after the lease."""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter

import pytest

from runner.state import StateStore
from runner.state.claim import claim_due
from tests.runner.state.helpers import make_event
from tests.runner.state.workers import claim_and_crash, claim_until_empty


@pytest.mark.postgres
def test_skip_locked_hands_a_second_claimer_other_rows(pg_url, clock):
    store = StateStore.open(pg_url, clock=clock)
    try:
        store.add_events([make_event(i, created=1000 + i) for i in range(10)], source="webhook")
        # Hold the first claimer's transaction open: its rows stay locked meanwhile.
        with store.db.writer.begin() as conn:
            held = claim_due(conn, "a", 4, 60, clock.now)
            other = store.claim_events("b", limit=4)
        assert [row["event_id"] for row in held] == [f"evt_{i}" for i in range(4)]
        assert [e.event_id for e in other] == [f"evt_{i}" for i in range(4, 8)]
        assert {e.event_id: e.worker for e in store.list_events(status="processing")} == {
            **{f"evt_{i}": "a" for i in range(4)}, **{f"evt_{i}": "b" for i in range(4, 8)}}
    finally:
        store.close()


@pytest.mark.slow
@pytest.mark.postgres
def test_three_processes_share_one_inbox_exactly_once(pg_url):
    total, crashed_count = 300, 20
    store = StateStore.open(pg_url)
    try:
        store.add_events(
            [make_event(i, created=1_700_000_000 + i // 7, object_id=f"cus_{i % 13}")
             for i in range(total)],
            source="webhook",
        )
        ctx = multiprocessing.get_context("spawn")
        results = ctx.Queue()

        crasher = ctx.Process(target=claim_and_crash,
                              args=(pg_url, "crasher", crashed_count, results))
        crasher.start()
        name, crashed = results.get(timeout=60)
        crasher.join(timeout=60)
        assert (name, crasher.exitcode, len(crashed)) == ("crasher", 9, crashed_count)

        barrier = ctx.Barrier(3)
        workers = [
            ctx.Process(target=claim_until_empty,
                        args=(pg_url, f"w{i}", 120.0, 5, barrier, results))
            for i in range(3)
        ]
        for worker in workers:
            worker.start()
        reports = dict(results.get(timeout=120) for _ in workers)
        for worker in workers:
            worker.join(timeout=60)
            assert worker.exitcode == 0

        claims = Counter(event_id for ids in reports.values() for event_id in ids)
        assert set(claims) == {f"evt_{i}" for i in range(total)}  # none lost
        assert [e for e, n in claims.items() if n > 1] == []  # none claimed twice
        assert set(crashed) <= set(claims)  # the crashed claims were taken over
        counts = store.counts()
        assert (counts["done"], counts["pending"], counts["processing"]) == (total, 0, 0)
        assert {store.get_event(e).attempts for e in crashed} == {2}
    finally:
        store.close()


def test_sqlite_threads_with_their_own_stores_claim_exactly_once(sqlite_url):
    seed = StateStore.open(sqlite_url)
    seed.add_events([make_event(i) for i in range(150)], source="webhook")
    seed.close()
    reports: dict[str, list[str]] = {}
    start = threading.Barrier(3)

    def work(name: str) -> None:
        store = StateStore.open(sqlite_url)
        claimed: list[str] = []
        start.wait(timeout=30)
        while events := store.claim_events(name, limit=5):
            for event in events:
                claimed.append(event.event_id)
                store.mark_done(event.event_id, worker=name)
        reports[name] = claimed
        store.close()

    threads = [threading.Thread(target=work, args=(f"t{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    claims = Counter(e for ids in reports.values() for e in ids)
    assert len(reports) == 3
    assert set(claims) == {f"evt_{i}" for i in range(150)}
    assert max(claims.values()) == 1
