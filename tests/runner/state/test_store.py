"""Every StateStore method, on SQLite and on PostgreSQL (the ``store`` fixture runs both)."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest

from runner.classify import Failure
from runner.retry import DEFAULT_POLICY, decide
from runner.state import NotFoundError, StateError, StateStore
from runner.state.settlement import Settlement
from tests.runner.state.helpers import make_event

# ---------------------------------------------------------------- inbox


def test_add_event_deduplicates_by_id_and_is_committed(store, url, clock):
    assert store.add_event(make_event(1), source="webhook") is True
    assert store.add_event(make_event(1), source="catchup") is False
    # A second store on the same database sees the row: add_event committed.
    other = StateStore.open(url, clock=clock)
    try:
        seen = other.get_event("evt_1")
    finally:
        other.close()
    assert (seen.type, seen.object_id, seen.source, seen.status) == (
        "customer.updated", "cus_1", "webhook", "pending")
    assert seen.payload == make_event(1)
    assert seen.attempts == 0


def test_add_events_counts_only_new_ones(store):
    store.add_event(make_event(1), source="webhook")
    added = store.add_events([make_event(i) for i in range(4)], source="catchup")
    assert added == 3
    assert store.counts()["pending"] == 4


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (["not", "an", "object"], "must be a JSON object"),
        ({"type": "customer.created", "created": 1}, "has no 'id'"),
        ({"id": "", "type": "customer.created", "created": 1}, "has no 'id'"),
        ({"id": "evt_x", "created": 1}, "evt_x has no 'type'"),
        ({"id": "evt_x", "type": "customer.created"}, "evt_x has no 'created'"),
        ({"id": "evt_x", "type": "customer.created", "created": "1"}, "has no 'created'"),
        ({"id": "evt_x", "type": "customer.created", "created": True}, "has no 'created'"),
    ],
)
def test_add_event_refuses_malformed_events(store, event, message):
    with pytest.raises(ValueError, match=message):
        store.add_event(event, source="webhook")
    assert store.counts()["pending"] == 0


def test_add_event_needs_a_source(store):
    with pytest.raises(ValueError, match="source must name"):
        store.add_event(make_event(1), source="")


def test_event_without_object_id_is_kept(store):
    store.add_event(make_event("noobj", object_id=None), source="webhook")
    assert store.get_event("evt_noobj").object_id is None


def test_claim_orders_by_created_then_received_and_respects_limit(store, clock):
    store.add_event(make_event("late", created=300), source="webhook")
    store.add_event(make_event("b", created=100), source="webhook")
    store.add_event(make_event("a", created=100), source="webhook")
    store.add_event(make_event("early", created=50), source="webhook")
    claimed = store.claim_events("w1", limit=3, lease_seconds=30)
    assert [e.event_id for e in claimed] == ["evt_early", "evt_b", "evt_a"]
    for event in claimed:
        assert event.status == "processing"
        assert event.worker == "w1"
        assert event.attempts == 1
        assert event.lease_until == clock.now + timedelta(seconds=30)
    rest = store.claim_events("w1", limit=3)
    assert [e.event_id for e in rest] == ["evt_late"]
    assert store.claim_events("w1") == []
    assert store.get_event("evt_b").status == "processing"


def test_claim_with_gather_waits_for_the_earliest_received_or_a_full_batch(store, clock):
    store.add_event(make_event("first"), source="webhook")
    clock.advance(0.1)
    store.add_event(make_event("second"), source="webhook")
    assert store.claim_events("w1", limit=3, gather=0.2) == []  # gathering: 0.1 s old
    clock.advance(0.1)  # the first has waited 0.2 s: both go, the second with it
    assert [e.event_id for e in store.claim_events("w1", limit=3, gather=0.2)] == [
        "evt_first", "evt_second"]
    for name in ("a", "b", "c"):
        store.add_event(make_event(name), source="webhook")
    # A full batch goes at once, however young.
    assert len(store.claim_events("w2", limit=2, gather=5)) == 2
    assert store.claim_events("w2", limit=2, gather=5) == []
    with pytest.raises(ValueError, match="gather must be 0 or more"):
        store.claim_events("w2", gather=-1)


def test_claim_skips_finished_and_not_yet_due_events(store, clock):
    for name in ("done", "dead", "retry", "held"):
        store.add_event(make_event(name), source="webhook")
    store.claim_events("w1")
    store.mark_done("evt_done")
    store.mark_dead("evt_dead", "validation failed")
    store.mark_retry("evt_retry", "503", clock.now + timedelta(seconds=10))
    assert store.claim_events("w2") == []  # "held" is still leased to w1
    clock.advance(10)
    assert [e.event_id for e in store.claim_events("w2")] == ["evt_retry"]


def test_retry_keeps_error_and_counts_attempts(store, clock):
    store.add_event(make_event(1), source="webhook")
    store.claim_events("w1")
    assert store.mark_retry("evt_1", "HTTP 503", clock.now + timedelta(seconds=5), worker="w1")
    event = store.get_event("evt_1")
    assert (event.status, event.last_error, event.worker) == ("retry", "HTTP 503", None)
    assert event.retry_at == clock.now + timedelta(seconds=5)
    clock.advance(5)
    (again,) = store.claim_events("w2")
    assert again.attempts == 2


def test_mark_retry_refuses_naive_time(store, clock):
    store.add_event(make_event(1), source="webhook")
    with pytest.raises(ValueError, match="timezone-aware"):
        store.mark_retry("evt_1", "x", clock.now.replace(tzinfo=None))


def test_crashed_workers_claims_are_taken_over_after_the_lease(store, clock):
    for i in range(3):
        store.add_event(make_event(i), source="webhook")
    crashed = store.claim_events("crashed", lease_seconds=60)
    assert len(crashed) == 3
    clock.advance(59)
    assert store.claim_events("survivor", lease_seconds=60) == []
    clock.advance(1)
    taken = store.claim_events("survivor", lease_seconds=60)
    assert [e.event_id for e in taken] == [e.event_id for e in crashed]
    assert {e.attempts for e in taken} == {2}
    # The crashed worker, should it wake up, no longer owns the events.
    assert store.mark_done("evt_0", worker="crashed") is False
    assert store.mark_done("evt_0", worker="survivor") is True
    assert store.get_event("evt_0").status == "done"


def test_mark_done_outcomes_form_the_ledger(store, clock):
    for name in ("a", "b", "c"):
        store.add_event(make_event(name), source="webhook")
    store.claim_events("w1")
    clock.advance(2)
    store.mark_done("evt_a")
    store.mark_done("evt_b", outcome="ignored")
    store.mark_dead("evt_c", "REQUIRED_FIELD_MISSING: Name")
    a, b, c = (store.get_event(f"evt_{n}") for n in "abc")
    assert (a.status, a.outcome, a.processed_at) == ("done", "done", clock.now)
    assert (b.status, b.outcome) == ("skipped", "ignored")
    assert (c.status, c.outcome, c.last_error) == ("dead", "dead", "REQUIRED_FIELD_MISSING: Name")
    # Finished events still deduplicate a late redelivery.
    assert store.add_event(make_event("a"), source="catchup") is False


def test_marking_an_unknown_event_names_it(store, clock):
    with pytest.raises(NotFoundError, match="evt_nope"):
        store.mark_done("evt_nope")
    with pytest.raises(NotFoundError, match="evt_nope"):
        store.mark_retry("evt_nope", "x", clock.now)
    with pytest.raises(NotFoundError, match="evt_nope"):
        store.mark_dead("evt_nope", "x")
    with pytest.raises(NotFoundError, match="evt_nope"):
        store.get_event("evt_nope")


def test_claim_arguments_are_checked(store):
    with pytest.raises(ValueError, match="worker"):
        store.claim_events("")
    with pytest.raises(ValueError, match="limit"):
        store.claim_events("w", limit=0)
    with pytest.raises(ValueError, match="lease_seconds"):
        store.claim_events("w", lease_seconds=0)


def test_release_claims_gives_events_back_at_once(store):
    store.add_event(make_event(1), source="webhook")
    store.claim_events("stopping")
    assert store.release_claims("stopping") == 1
    (event,) = store.claim_events("next")
    assert event.attempts == 1  # a clean release does not count as an attempt


def test_a_held_then_resumed_event_keeps_its_full_retry_budget(store, clock):
    store.add_event(make_event(1), source="webhook")
    # Held by a paused flow more often than the retry budget allows.
    for _ in range(DEFAULT_POLICY.max_attempts + 3):
        (event,) = store.claim_events("w1")
        assert event.attempts == 1
        until = clock.now + timedelta(seconds=60)
        assert store.hold_events(["evt_1"], until, "held: flow f is paused", worker="w1") == 1
        held = store.get_event("evt_1")
        assert (held.status, held.attempts, held.retry_at, held.worker) == (
            "retry", 0, until, None)
        assert held.last_error == "held: flow f is paused"
        assert store.claim_events("w1") == []  # not due before the hold ends
        clock.advance(61)
    # The flow resumed: the event fails retriably until its budget runs out.
    tried = 0
    while True:
        (event,) = store.claim_events("w1")
        tried += 1
        assert event.attempts == tried
        decision = decide(Failure.RETRIABLE, event.attempts, DEFAULT_POLICY)
        if decision.action != "retry":
            break
        store.mark_retry("evt_1", "HTTP 503", clock.now + timedelta(seconds=decision.delay),
                         worker="w1")
        clock.advance(decision.delay + 1)
    assert decision.action == "dead_letter" and tried == DEFAULT_POLICY.max_attempts


def test_hold_events_only_touches_what_it_may(store, clock):
    for n in range(4):
        store.add_event(make_event(n), source="webhook")
    store.claim_events("w1", limit=2)  # evt_0, evt_1
    store.mark_done("evt_1")
    until = clock.now + timedelta(seconds=30)
    # Another worker's claim, a finished event and an unknown id are left alone.
    assert store.hold_events(["evt_0", "evt_1", "evt_nope"], until, "held", worker="w2") == 0
    assert store.get_event("evt_0").status == "processing"
    # Without a worker: any unfinished event; a pending one was never claimed (attempts 0).
    assert store.hold_events(["evt_0", "evt_1", "evt_2"], until, "held") == 2
    assert [(e.status, e.attempts) for e in map(store.get_event, ("evt_0", "evt_1", "evt_2"))
            ] == [("retry", 0), ("done", 1), ("retry", 0)]
    assert store.hold_events([], until, "held") == 0
    with pytest.raises(ValueError, match="timezone-aware"):
        store.hold_events(["evt_3"], until.replace(tzinfo=None), "held")
    with pytest.raises(ValueError, match="needs a reason"):
        store.hold_events(["evt_3"], until, " ")
    assert store.get_event("evt_3").status == "pending"


def test_last_event_list_events_and_prune(store, clock):
    assert store.last_event() is None
    store.add_event(make_event("first", created=500), source="webhook")
    store.add_event(make_event("second", created=10), source="webhook")
    assert store.last_event().event_id == "evt_second"  # received last, whatever its created
    store.claim_events("w")
    store.mark_done("evt_first")
    assert [e.event_id for e in store.list_events(status="done")] == ["evt_first"]
    clock.advance(3600)
    assert store.prune_ledger(clock.now) == 1
    assert [e.event_id for e in store.list_events()] == ["evt_second"]


def test_oldest_due_age(store, clock):
    assert store.oldest_due_age() is None
    store.add_event(make_event(1), source="webhook")
    clock.advance(42)
    assert store.oldest_due_age() == timedelta(seconds=42)


def test_last_settled_age(store, clock):
    assert store.last_settled_age() is None
    store.add_event(make_event(1), source="webhook")
    store.add_event(make_event(2), source="webhook")
    store.claim_events("w")
    store.mark_done("evt_1")
    clock.advance(30)
    store.mark_retry("evt_2", "boom", clock.now + timedelta(seconds=60))  # not settled
    clock.advance(12)
    assert store.last_settled_age() == timedelta(seconds=42)
    store.mark_dead("evt_2", "gave up")
    assert store.last_settled_age() == timedelta(0)


# ---------------------------------------------------------------- ordering


@pytest.mark.parametrize(
    ("current", "incoming", "moves"),
    [
        (None, (100, "evt_b"), True),
        ((100, "evt_b"), (101, "evt_a"), True),  # newer second wins whatever the id
        ((100, "evt_b"), (99, "evt_z"), False),  # older event never overwrites
        ((100, "evt_b"), (100, "evt_c"), True),  # same second: event id breaks the tie
        ((100, "evt_b"), (100, "evt_a"), False),
        ((100, "evt_b"), (100, "evt_b"), False),  # the same event again
    ],
)
def test_object_versions_only_move_forward(store, current, incoming, moves):
    if current is not None:
        store.record_object_version("sub_1", *current)
    assert store.record_object_version("sub_1", *incoming) is moves
    assert store.object_version("sub_1") == (incoming if moves else current)
    assert store.is_stale("sub_1", *incoming) is True  # applied or older: either way done


def test_unknown_object_has_no_version(store):
    assert store.object_version("sub_none") is None
    assert store.is_stale("sub_none", 1, "evt_1") is False


# ---------------------------------------------------------------- cross references


def test_xref_put_get_update_and_reverse(store):
    assert store.xref_get("Account", "cus_1") is None
    store.xref_put("Account", "cus_1", "001000000000001AAA", "customer-account")
    store.xref_put("Contact", "cus_1", "003000000000001AAA", "customer-contact")
    assert store.xref_get("Account", "cus_1") == "001000000000001AAA"
    assert store.xref_get("Contact", "cus_1") == "003000000000001AAA"
    assert store.xref_by_sf("001000000000001AAA") == "cus_1"
    store.xref_put("Account", "cus_1", "001000000000002AAA", "customer-account")
    assert store.xref_get("Account", "cus_1") == "001000000000002AAA"
    assert store.xref_by_sf("001000000000009AAA") is None
    assert store.xref_get_many("Account", ["cus_1", "cus_2", "cus_1"]) == {
        "cus_1": "001000000000002AAA"}


def test_xref_keeps_salesforce_ids_in_the_18_character_form(store):
    id15, id18 = "001A0000006Vm9r", "001A0000006Vm9rIAC"
    store.xref_put("Account", "cus_15", id15, "customer-account")
    assert store.xref_get("Account", "cus_15") == id18
    assert store.xref_get_many("Account", ["cus_15"]) == {"cus_15": id18}
    # Either form finds it, and so does the 18-character form typed in lower case.
    assert store.xref_by_sf(id15) == store.xref_by_sf(id18) == "cus_15"
    assert store.xref_by_sf(id18.lower()) == "cus_15"
    # Through a settled batch too.
    batch = Settlement()
    batch.xref("Contact", "cus_15", "003000000000001", "customer-contact")
    assert batch.xref_get("Contact", "cus_15") == "003000000000001AAA"
    store.settle_batch(batch)
    assert store.xref_get("Contact", "cus_15") == "003000000000001AAA"
    assert store.xref_by_sf("003000000000001") == "cus_15"


def test_xref_refuses_an_id_with_a_wrong_checksum_by_name(store):
    with pytest.raises(ValueError, match="'001A0000006Vm9rIA9' is not a valid Salesforce Id"):
        store.xref_put("Account", "cus_1", "001A0000006Vm9rIA9", "f")
    assert store.xref_get("Account", "cus_1") is None
    with pytest.raises(ValueError, match="not a valid Salesforce Id"):
        store.xref_by_sf("001A0000006Vm9rIA9")


def test_xref_put_refuses_empty_ids(store):
    with pytest.raises(ValueError, match="sf_id"):
        store.xref_put("Account", "cus_1", "", "flow")


# ---------------------------------------------------------------- dead letters


def dlq_entry(store, **overrides):
    values = dict(flow="charges-payments", event_id="evt_1", source_id="ch_1",
                  payload={"id": "ch_1", "amount": 1000}, record={"Amount__c": 10.0},
                  error="STRING_TOO_LONG: Description", error_code="STRING_TOO_LONG")
    values.update(overrides)
    return store.dlq_add(**values)


def test_dlq_add_list_get_and_status(store, clock):
    first = dlq_entry(store)
    second = dlq_entry(store, event_id=None, record=None, source_id="ch_2")
    assert [e.id for e in store.dlq_list()] == [first, second]
    entry = store.dlq_get(first)
    assert (entry.flow, entry.event_id, entry.source_id, entry.status, entry.attempts) == (
        "charges-payments", "evt_1", "ch_1", "open", 0)
    assert entry.payload == {"id": "ch_1", "amount": 1000}
    assert entry.record == {"Amount__c": 10.0}
    assert entry.error_code == "STRING_TOO_LONG"
    assert entry.created_at == clock.now
    store.dlq_record_attempt(first, "still too long")
    store.dlq_set_status(second, "discarded")
    store.dlq_record_attempt(first)
    store.dlq_set_status(first, "replayed")
    assert store.dlq_list() == []
    assert [e.id for e in store.dlq_list("discarded")] == [second]
    replayed = store.dlq_get(first)
    assert (replayed.status, replayed.attempts, replayed.error) == ("replayed", 2, "still too long")
    assert len(store.dlq_list(None)) == 2


def test_dlq_errors_name_the_problem(store):
    with pytest.raises(NotFoundError, match="no dead letter with id 99"):
        store.dlq_get(99)
    with pytest.raises(NotFoundError, match="99"):
        store.dlq_set_status(99, "discarded")
    with pytest.raises(NotFoundError, match="99"):
        store.dlq_record_attempt(99)
    entry = dlq_entry(store)
    with pytest.raises(ValueError, match="unknown dead letter status 'gone'"):
        store.dlq_set_status(entry, "gone")
    with pytest.raises(ValueError, match="unknown dead letter status"):
        store.dlq_list("gone")
    with pytest.raises(ValueError, match="payload must be a JSON object"):
        dlq_entry(store, payload=["x"])


@pytest.mark.parametrize(
    ("field", "value", "where"),
    [
        ("payload", {"id": "ch_1", "metadata": {"note": "sk_live_" + "a1B2c3D4e5F6g7H8"}},
         "payload.metadata.note"),
        ("record", {"Description": "key whsec_" + "abcdefgh12345678"}, "record.Description"),
        ("error", "token 00D000000000001!" + "A" * 30 + " expired", "error"),
    ],
)
def test_dlq_refuses_secrets_and_names_the_field(store, field, value, where):
    with pytest.raises(ValueError, match=rf"refusing to store {where}") as caught:
        dlq_entry(store, **{field: value})
    assert "sk_live_a1B2" not in str(caught.value)
    assert store.dlq_list(None) == []


# ---------------------------------------------------------------- review queue


def test_review_add_list_decide(store, clock):
    candidates = [{"Id": "001A", "Name": "Acme"}, {"Id": "001B", "Name": "ACME Inc"}]
    item_id = store.review_add(flow="customer-account", source_id="cus_1",
                               record={"Name": "Acme"}, candidates=candidates,
                               payload={"id": "cus_1", "email": "a@acme.test"})
    (item,) = store.review_list()
    assert (item.id, item.flow, item.source_id, item.status, item.chosen) == (
        item_id, "customer-account", "cus_1", "open", None)
    assert item.candidates == candidates
    clock.advance(5)
    store.review_decide(item_id, "approved", "001B")
    decided = store.review_get(item_id)
    assert (decided.status, decided.chosen, decided.decided_at) == ("approved", "001B", clock.now)
    assert store.review_list() == []
    with pytest.raises(StateError, match="already approved"):
        store.review_decide(item_id, "rejected")
    store.review_decide(item_id, "open")
    assert store.review_get(item_id).chosen is None
    store.review_decide(item_id, "rejected")
    assert [i.id for i in store.review_list("rejected")] == [item_id]


def test_review_errors_name_the_problem(store):
    with pytest.raises(NotFoundError, match="no review item with id 7"):
        store.review_get(7)
    with pytest.raises(NotFoundError, match="7"):
        store.review_decide(7, "approved")
    with pytest.raises(ValueError, match="unknown review item status 'maybe'"):
        store.review_decide(7, "maybe")
    with pytest.raises(ValueError, match="candidates must be a list"):
        store.review_add(flow="f", source_id="cus_1", record={}, candidates={}, payload={})
    with pytest.raises(ValueError, match=r"refusing to store candidates\[0\]\.Token__c"):
        store.review_add(flow="f", source_id="cus_1", record={},
                         candidates=[{"Token__c": "rk_test_" + "abcdefgh1234"}], payload={})
    assert store.review_list(None) == []


# ---------------------------------------------------------------- cursors, echo, snapshots


def test_cursors(store):
    assert store.cursor_get("stripe.last_event_id") is None
    store.cursor_set("stripe.last_event_id", "evt_1")
    store.cursor_set("stripe.last_event_id", "evt_2")
    store.cursor_set("sf.watermark.account-to-stripe-customer", "2025-03-01T12:00:00.000+0000")
    assert store.cursor_get("stripe.last_event_id") == "evt_2"
    assert store.cursor_get("sf.watermark.account-to-stripe-customer").startswith("2025-03-01")
    with pytest.raises(ValueError, match="must be a string"):
        store.cursor_set("x", 5)


def test_own_writes(store, clock):
    assert store.is_own_write("salesforce", "001A", "fp1") is False
    store.note_own_write("salesforce", "001A", "fp1")
    store.note_own_write("salesforce", "001A", "fp1")  # idempotent
    assert store.is_own_write("salesforce", "001A", "fp1") is True
    assert store.is_own_write("salesforce", "001A", "fp2") is False
    assert store.is_own_write("stripe", "001A", "fp1") is False
    clock.advance(10)
    assert store.prune_own_writes(clock.now) == 1
    assert store.is_own_write("salesforce", "001A", "fp1") is False


def test_snapshots(store):
    assert store.snapshot_get("opportunity-to-subscription", "006A") is None
    store.snapshot_put("opportunity-to-subscription", "006A", {"StageName": "Prospecting"})
    store.snapshot_put("opportunity-to-subscription", "006A", {"StageName": "Closed Won"})
    assert store.snapshot_get("opportunity-to-subscription", "006A") == {"StageName": "Closed Won"}
    with pytest.raises(ValueError, match="values must be a JSON object"):
        store.snapshot_put("f", "006A", "Closed Won")


# ---------------------------------------------------------------- runs, counts, types


def test_run_history(store, clock):
    run_id = store.run_started(host="host-a", pid=4242, version="0.1.0")
    clock.advance(60)
    store.run_stopped(run_id, {"processed": 12, "dead": 1})
    (run,) = store.runs()
    assert (run.id, run.host, run.pid, run.version) == (run_id, "host-a", 4242, "0.1.0")
    assert run.stopped_at - run.started_at == timedelta(seconds=60)
    assert run.counts == {"processed": 12, "dead": 1}
    second = store.run_started()
    assert store.runs()[0].id == second and store.runs()[0].stopped_at is None
    with pytest.raises(NotFoundError, match="no run with id 999"):
        store.run_stopped(999)


def test_counts(store, clock):
    for i in range(5):
        store.add_event(make_event(i), source="webhook")
    store.claim_events("w", limit=4)
    store.mark_done("evt_0")
    store.mark_retry("evt_1", "503", clock.now)
    store.mark_dead("evt_2", "bad")
    dlq_entry(store)
    store.review_add(flow="f", source_id="s", record={}, candidates=[], payload={})
    assert store.counts() == {"pending": 1, "processing": 1, "retry": 1, "done": 1,
                              "skipped": 0, "dead": 1, "dlq_open": 1, "review_open": 1}


def test_timestamps_are_aware_utc_and_json_round_trips(store):
    payload = make_event("ü")
    payload["data"]["object"].update(name="Zoë — ☃", amounts=[1, 2.5, None], nested={"a": True})
    store.add_event(payload, source="webhook")
    event = store.get_event("evt_ü")
    assert event.payload == payload
    assert event.received_at.tzinfo is not None
    assert event.received_at.utcoffset() == timedelta(0)
    assert event.received_at.tzinfo == UTC


def test_mark_done_many_in_one_commit(store):
    store.add_events([make_event(i) for i in range(4)], source="webhook")
    store.claim_events("w1", limit=3)
    # evt_3 is not claimed by w1, evt_x does not exist: neither is marked.
    assert store.mark_done_many(["evt_0", "evt_1", "evt_2", "evt_3", "evt_x"], worker="w1") == 3
    assert store.mark_done_many(["evt_3"], outcome="ignored") == 1
    assert store.counts()["done"] == 3
    assert store.get_event("evt_3").status == "skipped"
