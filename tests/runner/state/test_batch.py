"""StateStore.batch(): one transaction for a thread's state work, on both backends."""

from __future__ import annotations

import threading

import pytest

from runner.state import StateStore
from runner.state.errors import StateError


def _seen_elsewhere(store: StateStore, name: str) -> str | None:
    """The cursor as another thread reads it (outside the batch)."""
    found: list[str | None] = []
    reader = threading.Thread(target=lambda: found.append(store.cursor_get(name)))
    reader.start()
    reader.join(30)
    return found[0]


def test_writes_commit_together_and_the_batch_reads_its_own(store: StateStore) -> None:
    with store.batch():
        store.cursor_set("a", "1")
        store.note_own_writes([("stripe", "cus_1", "key")])
        store.snapshot_put("flow", "001A", {"x": 1})
        assert store.cursor_get("a") == "1"  # its own write, before the commit
        assert store.is_own_write("stripe", "cus_1", "key")
        if store.dialect == "postgresql":  # SQLite's other threads wait for the writer
            assert _seen_elsewhere(store, "a") is None
    assert _seen_elsewhere(store, "a") == "1"
    assert store.snapshot_get("flow", "001A") == {"x": 1}


def test_an_error_that_is_not_the_databases_keeps_the_writes_before_it(
        store: StateStore) -> None:
    with pytest.raises(RuntimeError, match="stripe is down"), store.batch():
        store.cursor_set("a", "1")
        raise RuntimeError("stripe is down")
    assert store.cursor_get("a") == "1"  # as a commit per write would have kept it


def test_a_write_that_fails_midway_undoes_the_whole_batch_even_if_caught(
        store: StateStore) -> None:
    with pytest.raises(StateError, match="none of the batch's writes"), store.batch():
        store.cursor_set("a", "1")
        with pytest.raises(ValueError, match="half"), store.db.write():
            store.cursor_set("b", "2")
            raise ValueError("half a write")
        store.cursor_set("c", "3")
    assert [store.cursor_get(n) for n in "abc"] == [None, None, None]


def test_a_database_error_rolls_the_batch_back(store: StateStore) -> None:
    with pytest.raises(StateError), store.batch():
        store.cursor_set("a", "1")
        with store.db.write() as conn:
            conn.exec_driver_sql("SELECT * FROM no_such_table")
    assert store.cursor_get("a") is None


def test_nested_batches_join_the_outer_one(store: StateStore) -> None:
    with store.batch():
        with store.batch():
            store.cursor_set("a", "1")
        store.cursor_set("b", "2")
        if store.dialect == "postgresql":
            assert _seen_elsewhere(store, "a") is None  # the inner end did not commit
    assert (store.cursor_get("a"), store.cursor_get("b")) == ("1", "2")


def test_other_threads_write_after_the_batch(store: StateStore) -> None:
    """No lost update: a writer on another thread waits (SQLite) or works beside it."""
    done = threading.Event()

    def other() -> None:
        store.cursor_set("other", "x")
        done.set()

    with store.batch():
        store.cursor_set("mine", "y")
        writer = threading.Thread(target=other)
        writer.start()
        if store.dialect == "sqlite":
            assert not done.wait(0.3)  # queued behind this process's one writer
    writer.join(30)
    assert store.cursor_get("other") == "x"
    assert store.cursor_get("mine") == "y"
