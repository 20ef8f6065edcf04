"""``add_events_reporting_new``: many events in one transaction, each told new or already
stored (the webhook's group commit), on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading

import pytest

from runner.state import StateStore
from tests.runner.state.helpers import make_event


def test_each_event_is_reported_new_or_already_stored(store):
    store.add_event(make_event(1), source="webhook")
    new = store.add_events_reporting_new(
        [make_event(0), make_event(1), make_event(2), make_event(0), make_event(2)],
        source="webhook")
    # Already in the inbox, or an earlier event of the same call with the same id.
    assert new == [True, False, True, False, False]
    assert sorted(e.event_id for e in store.list_events()) == ["evt_0", "evt_1", "evt_2"]


def test_a_finished_event_still_deduplicates(store):
    store.add_event(make_event(1), source="webhook")
    store.mark_done("evt_1")
    assert store.add_events_reporting_new([make_event(1)], source="webhook") == [False]


def test_nothing_is_stored_when_one_event_is_bad(store):
    with pytest.raises(ValueError):
        store.add_events_reporting_new([make_event(1), {"id": "evt_x"}], source="webhook")
    assert store.list_events() == []


def test_an_empty_call_does_nothing(store):
    assert store.add_events_reporting_new([], source="webhook") == []


def test_concurrent_calls_with_the_same_ids_store_each_once(store, url, clock):
    """Several stores (as several runner processes) add overlapping groups at once: each id
    is reported new exactly once."""
    stores = [StateStore.open(url, clock=clock) for _ in range(4)]
    results: list[list[bool]] = [[] for _ in stores]
    gate = threading.Barrier(len(stores))

    def add(i: int) -> None:
        gate.wait()
        for start in range(0, 40, 10):
            results[i].extend(stores[i].add_events_reporting_new(
                [make_event(n) for n in range(start, start + 10)], source="webhook"))

    threads = [threading.Thread(target=add, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for opened in stores:
        opened.close()
    assert [sum(r[n] for r in results) for n in range(40)] == [1] * 40
    assert len(store.list_events(limit=100)) == 40
