"""runner.state.testing: the shared in-memory store is the real store, migrated, private."""

from __future__ import annotations

import threading
import time

from runner.state import EventStatus, StateStore, migrate
from runner.state.testing import memory_store
from tests.runner.state.helpers import FakeClock, make_event


def test_the_memory_store_is_the_real_store_at_the_newest_schema(memory_store):
    assert type(memory_store) is StateStore
    assert memory_store.db.memory
    assert migrate.current_revision(memory_store.db.engine) == migrate.head_revision()
    # The real rules, not a copy: a malformed event is refused the same way.
    assert memory_store.add_event(make_event(1), source="webhook") is True
    assert memory_store.add_event(make_event(1), source="webhook") is False
    memory_store.mark_done("evt_1", outcome="stale")
    assert memory_store.get_event("evt_1").status is EventStatus.SKIPPED


def test_each_memory_store_is_private_and_takes_a_clock():
    clock = FakeClock()
    first, second = memory_store(clock=clock), memory_store()
    try:
        first.add_event(make_event(1), source="webhook")
        assert first.get_event("evt_1").received_at == clock.now
        assert second.counts()["pending"] == 0
    finally:
        first.close()
        second.close()


def test_threads_share_one_memory_store(memory_store):
    """One connection for all threads: reads queue behind writes instead of rolling back a
    write in flight."""
    def add(start: int) -> None:
        for n in range(start, start + 25):
            memory_store.add_event(make_event(n), source="webhook")
            memory_store.counts()

    threads = [threading.Thread(target=add, args=(i * 100,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert memory_store.counts()["pending"] == 100


def test_a_memory_store_is_quick_to_make():
    memory_store().close()  # the first one migrates the template
    started = time.perf_counter()
    for _ in range(20):
        memory_store().close()
    # Milliseconds each (an Alembic upgrade per store took ~130 ms); generous for slow CI.
    assert (time.perf_counter() - started) / 20 < 0.1
