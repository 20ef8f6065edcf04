"""A micro-batch's state in one transaction (settle_batch) and the batch methods, on SQLite
and on PostgreSQL (the ``store`` fixture runs both)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import event as sa_event

from runner.state import StateStore
from runner.state import settlement as settlement_module
from runner.state.settlement import Settlement
from tests.runner.state.helpers import make_event


def commits_during(store: StateStore):
    """A counter of the commits the store's engine makes."""
    counted = {"n": 0}

    def on_commit(_conn) -> None:
        counted["n"] += 1

    sa_event.listen(store.db.engine, "commit", on_commit)
    return counted


def test_a_whole_batch_settles_in_one_commit(store, clock):
    store.add_events([make_event(i, object_id=f"ch_{i}") for i in range(5)], source="webhook")
    claimed = store.claim_events("w1", limit=5)
    batch = Settlement()
    for ev in claimed[:4]:
        batch.xref("Payment__c", ev.object_id, f"a01{ev.object_id}", "charge-to-payment")
        batch.own_write("salesforce", f"a01{ev.object_id}", "fieldbridge:processor")
        batch.version(ev.object_id, ev.created, ev.event_id)
        batch.done(ev.event_id, worker="w1")
    batch.dead_letter(flow="charge-to-payment", event_id="evt_4", source_id="ch_4",
                      payload=make_event(4), record={"Amount__c": 1.0},
                      error="STRING_TOO_LONG: Description", error_code="STRING_TOO_LONG")
    batch.done("evt_4", outcome="dead_lettered", worker="w1")
    commits = commits_during(store)

    result = store.settle_batch(batch)

    assert commits["n"] == 1
    assert result.lost == frozenset()
    assert len(result.dead_letter_ids) == 1
    assert store.dlq_get(result.dead_letter_ids[0]).error_code == "STRING_TOO_LONG"
    assert store.xref_get_many("Payment__c", [f"ch_{i}" for i in range(5)]) == {
        f"ch_{i}": f"a01ch_{i}" for i in range(4)}
    assert store.is_own_write("salesforce", "a01ch_2", "fieldbridge:processor")
    assert store.object_versions(["ch_0", "ch_3", "ch_9"]) == {
        "ch_0": (1_700_000_000, "evt_0"), "ch_3": (1_700_000_000, "evt_3")}
    assert [store.get_event(f"evt_{i}").outcome for i in range(5)] == [
        "done", "done", "done", "done", "dead_lettered"]
    assert store.counts()["processing"] == 0


def test_retries_reviews_and_skips_settle_with_the_batch(store, clock):
    store.add_events([make_event(i, object_id=f"cus_{i}") for i in range(3)], source="webhook")
    store.claim_events("w1", limit=3)
    retry_at = datetime(2025, 3, 1, 12, 5, tzinfo=UTC)
    batch = Settlement()
    batch.retry("evt_0", "UNABLE_TO_LOCK_ROW", retry_at, worker="w1")
    batch.review(flow="customer-contact", source_id="cus_1", record={"Email": "a@b.c"},
                 candidates=[{"Id": "003A"}, {"Id": "003B"}], payload=make_event(1))
    batch.done("evt_1", outcome="review", worker="w1")
    batch.done("evt_2", outcome="ignored", worker="w1")
    result = store.settle_batch(batch)
    assert result.lost == frozenset()
    retried = store.get_event("evt_0")
    assert (retried.status, retried.last_error, retried.retry_at) == (
        "retry", "UNABLE_TO_LOCK_ROW", retry_at)
    assert [item.id for item in store.review_list()] == list(result.review_ids)
    assert store.get_event("evt_1").outcome == "review"
    assert store.get_event("evt_2").status == "skipped"


def test_events_another_worker_took_over_are_reported_lost_not_marked(store, clock):
    store.add_events([make_event(i, object_id=f"ch_{i}") for i in range(3)], source="webhook")
    store.claim_events("w1", limit=3, lease_seconds=30)
    clock.advance(31)  # w1's lease ran out; w2 takes all three over
    assert len(store.claim_events("w2", limit=3)) == 3
    batch = Settlement()
    batch.done("evt_0", worker="w1")
    batch.retry("evt_1", "timeout", datetime(2025, 3, 1, 13, 0, tzinfo=UTC), worker="w1")
    batch.xref("Payment__c", "ch_0", "a01X", "charge-to-payment")
    result = store.settle_batch(batch)
    assert result.lost == {"evt_0", "evt_1"}
    assert {store.get_event(f"evt_{i}").worker for i in range(3)} == {"w2"}
    # The cross reference is true whoever finishes the event: it is kept.
    assert store.xref_get("Payment__c", "ch_0") == "a01X"


def test_bad_input_in_a_settlement_changes_nothing(store):
    store.add_event(make_event(1), source="webhook")
    batch = Settlement()
    batch.xref("Account", "cus_1", "001A", "f")
    batch.done("evt_1")
    batch.dead_letter(flow="f", event_id="evt_1", source_id=None, payload={"api_key":
                      "sk_live_0123456789abcdefghijklmn"}, record=None, error="e",
                      error_code=None)
    with pytest.raises(ValueError, match="secret"):
        store.settle_batch(batch)
    assert store.xref_get("Account", "cus_1") is None
    assert store.get_event("evt_1").status == "pending"
    with pytest.raises(ValueError, match="sf_id"):
        Settlement().xref("Account", "cus_1", "", "f")
    with pytest.raises(ValueError, match="timezone-aware"):
        Settlement().retry("evt_1", "e", datetime(2025, 1, 1))


def test_a_failed_batch_leaves_none_of_its_rows(store, monkeypatch):
    """All or none: a failure in the middle of the transaction rolls back what came first."""
    store.add_event(make_event(1, object_id="ch_1"), source="webhook")
    batch = Settlement()
    batch.xref("Payment__c", "ch_1", "a01A", "charge-to-payment")
    batch.version("ch_1", 1_700_000_000, "evt_1")
    batch.done("evt_1")

    def broken(*_args, **_kwargs):
        raise RuntimeError("disk gone")

    monkeypatch.setattr(settlement_module, "mark_done_in", broken)
    with pytest.raises(RuntimeError, match="disk gone"):
        store.settle_batch(batch)
    assert store.xref_get("Payment__c", "ch_1") is None
    assert store.object_version("ch_1") is None
    assert store.get_event("evt_1").status == "pending"


def test_versions_only_move_forward_in_a_batch_too(store):
    store.record_object_version("sub_1", 100, "evt_b")
    store.record_object_versions([("sub_1", 99, "evt_z"), ("sub_2", 5, "evt_a"),
                                  ("sub_2", 7, "evt_c"), ("sub_2", 6, "evt_d")])
    assert store.object_versions(["sub_1", "sub_2"]) == {
        "sub_1": (100, "evt_b"), "sub_2": (7, "evt_c")}
    batch = Settlement()
    batch.version("sub_1", 100, "evt_a")  # same second, smaller id: older
    batch.version("sub_3", 1, "evt_x")
    batch.version("sub_3", 1, "evt_w")  # older than the one just added: ignored
    store.settle_batch(batch)
    assert store.object_versions(["sub_1", "sub_3"]) == {
        "sub_1": (100, "evt_b"), "sub_3": (1, "evt_x")}
    with pytest.raises(ValueError, match="object version needs"):
        store.record_object_versions([("sub_1", "100", "evt_b")])


def test_xref_and_own_write_batches(store):
    store.xref_put_many([("Account", "cus_1", "001A", "f"), ("Account", "cus_2", "001B", "f"),
                         ("Account", "cus_1", "001C", "g")])  # the last one of a key wins
    assert store.xref_get_many("Account", ["cus_1", "cus_2"]) == {"cus_1": "001C",
                                                                 "cus_2": "001B"}
    store.note_own_writes([("salesforce", "001A", "fp:1"), ("salesforce", "001A", "fp:1"),
                           ("stripe", "cus_1", "created")])
    assert store.is_own_write("salesforce", "001A", "fp:1")
    assert store.is_own_write("stripe", "cus_1", "created")
    with pytest.raises(ValueError, match="own write needs"):
        store.note_own_writes([("salesforce", "", "fp")])
    # Empty batches are no-ops, not errors.
    store.xref_put_many([])
    store.note_own_writes([])
    store.record_object_versions([])
    assert store.settle_batch(Settlement()).lost == frozenset()


def test_many_threads_write_one_sqlite_file_without_busy_errors(tmp_path):
    """The process-wide SQLite writer queue: webhook threads and a batch settling at once."""
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    with StateStore.open(url) as store, StateStore.open(url) as second:
        errors: list[BaseException] = []

        def webhooks(start: int) -> None:
            try:
                for i in range(start, start + 40):
                    (store if i % 2 else second).add_event(make_event(i), source="webhook")
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=webhooks, args=(n * 40,)) for n in range(6)]
        for thread in threads:
            thread.start()
        settled = 0
        while any(t.is_alive() for t in threads) or store.counts()["pending"]:
            claimed = store.claim_events("w1", limit=50)
            batch = Settlement()
            for ev in claimed:
                batch.done(ev.event_id, worker="w1")
            settled += len(claimed)
            store.settle_batch(batch)
        for thread in threads:
            thread.join()
        assert errors == []
        assert settled == 240
        assert store.counts()["done"] == 240
