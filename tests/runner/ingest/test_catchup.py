"""runner.ingest.catchup: events after the cursor into the inbox, cursor after each commit."""

from __future__ import annotations

import logging

import pytest

from runner.classify import Failure
from runner.connectors.errors import ConnectorError
from runner.ingest.catchup import (
    DEFAULT_CURSOR,
    catch_up,
    catch_up_report,
    created_cursor,
    cursor_age_days,
)
from runner.metrics import Metrics
from runner.sandbox.stripe_events import make_event
from tests.runner.ingest.helpers import FakeInbox, FakeStripe

T0 = 1_760_000_000
DAY = 86_400


def history(*types: str, start: int = T0) -> list[dict]:
    """Events of these types, one second apart, oldest first."""
    return [make_event(t, created=start + i, event_id=f"evt_{i:04d}")
            for i, t in enumerate(types)]


@pytest.fixture
def inbox() -> FakeInbox:
    return FakeInbox()


def test_first_run_takes_everything_and_sets_the_cursor(inbox) -> None:
    events = history("customer.created", "customer.updated", "invoice.paid")
    assert catch_up(inbox, FakeStripe(events), now=T0 + 10) == 3
    assert [(e["id"], src) for e, src in inbox.events.values()] == [
        (e["id"], "catchup") for e in events]
    assert inbox.cursors[DEFAULT_CURSOR] == "evt_0002"
    assert inbox.cursors[created_cursor(DEFAULT_CURSOR)] == str(T0 + 2)


def test_initial_since_bounds_the_first_run(inbox) -> None:
    events = history("customer.created", "customer.updated", "invoice.paid")
    assert catch_up(inbox, FakeStripe(events), initial_since=T0 + 1) == 2
    assert set(inbox.events) == {"evt_0001", "evt_0002"}


def test_next_run_resumes_after_the_cursor(inbox) -> None:
    events = history("customer.created", "customer.updated")
    stripe = FakeStripe(events)
    assert catch_up(inbox, stripe) == 2
    events += history("invoice.paid", "invoice.paid", start=T0 + 100)
    events[-2]["id"], events[-1]["id"] = "evt_0100", "evt_0101"
    assert catch_up(inbox, stripe) == 2
    assert stripe.calls[-1][:2] == ("evt_0001", T0 + 1)
    assert catch_up(inbox, stripe) == 0  # nothing new
    assert inbox.cursors[DEFAULT_CURSOR] == "evt_0101"


def test_events_already_received_by_webhook_are_duplicates(inbox) -> None:
    events = history("customer.created", "customer.updated", "customer.deleted")
    inbox.add_event(events[1], source="webhook")
    metrics = Metrics()
    report = catch_up_report(inbox, FakeStripe(events), metrics=metrics)
    assert (report.inserted, report.duplicates, report.ignored) == (2, 1, 0)
    assert inbox.events["evt_0001"][1] == "webhook"  # the first copy wins
    assert report.last_event_id == "evt_0002"
    text = metrics.render().decode()
    assert 'fieldbridge_events_received_total{source="catchup"} 2.0' in text
    assert 'fieldbridge_events_duplicate_total{source="catchup"} 1.0' in text


def test_types_no_flow_handles_are_ignored_but_pass_the_cursor(inbox) -> None:
    events = history("customer.created", "product.created", "plan.created")
    stripe = FakeStripe(events)
    metrics = Metrics()
    report = catch_up_report(inbox, stripe, event_types={"customer.created", "plan.created"},
                             metrics=metrics)
    assert (report.inserted, report.ignored) == (2, 0)  # Stripe filtered by types
    assert stripe.calls[0][2] == ["customer.created", "plan.created"]
    assert set(inbox.events) == {"evt_0000", "evt_0002"}
    assert inbox.cursors[DEFAULT_CURSOR] == "evt_0002"


def test_many_types_are_filtered_here(inbox) -> None:
    # Stripe's types filter takes at most 20; beyond that we list all and filter ourselves.
    wanted = {f"x{i}.created" for i in range(25)} | {"customer.created"}
    events = history("customer.created", "product.created")
    stripe = FakeStripe(events)
    metrics = Metrics()
    report = catch_up_report(inbox, stripe, event_types=wanted, metrics=metrics)
    assert stripe.calls[0][2] is None
    assert (report.inserted, report.ignored) == (1, 1)
    assert inbox.cursors[DEFAULT_CURSOR] == "evt_0001"
    assert 'fieldbridge_events_ignored_total{type="product.created"} 1.0' in \
        metrics.render().decode()


def test_limit_stops_and_the_next_run_goes_on(inbox) -> None:
    events = history(*["customer.updated"] * 5)
    stripe = FakeStripe(events)
    first = catch_up_report(inbox, stripe, limit=2)
    assert first.inserted == 2 and first.truncated
    assert inbox.cursors[DEFAULT_CURSOR] == "evt_0001"
    second = catch_up_report(inbox, stripe, limit=10)
    assert second.inserted == 3 and not second.truncated
    assert len(inbox.events) == 5


def test_cursor_moves_only_after_a_committed_insert(inbox) -> None:
    events = history(*["customer.updated"] * 4)
    inbox.fail_with, inbox.fail_after = RuntimeError("disk full"), 2
    with pytest.raises(RuntimeError, match="disk full"):
        catch_up(inbox, FakeStripe(events))
    assert inbox.cursors[DEFAULT_CURSOR] == "evt_0001"  # the last one stored
    inbox.fail_with = None
    assert catch_up(inbox, FakeStripe(events)) == 2
    assert sorted(inbox.events) == [e["id"] for e in events]


def test_stale_cursor_warns(inbox, caplog) -> None:
    events = history("customer.created")
    catch_up(inbox, FakeStripe(events))
    assert cursor_age_days(inbox, now=T0 + DAY // 2) == pytest.approx(0.5)
    fresh = catch_up_report(inbox, FakeStripe(events), now=T0 + 3 * DAY)
    assert not fresh.stale and fresh.cursor_age_days == pytest.approx(3.0)
    with caplog.at_level(logging.WARNING, logger="runner.ingest.catchup"):
        old = catch_up_report(inbox, FakeStripe(events), now=T0 + 28 * DAY)
    assert old.stale and old.cursor_age_days == pytest.approx(28.0)
    assert "28.0 days old" in caplog.text and "backfill" in caplog.text


def test_no_cursor_has_no_age(inbox) -> None:
    assert cursor_age_days(inbox) is None
    inbox.cursor_set(created_cursor(DEFAULT_CURSOR), "not a time")
    assert cursor_age_days(inbox) is None


def test_lost_anchor_resumes_from_its_creation_time(inbox, caplog) -> None:
    events = history("customer.created", "customer.updated", "customer.updated")
    catch_up(inbox, FakeStripe(events[:2]))
    assert inbox.cursors[DEFAULT_CURSOR] == "evt_0001"
    # Stripe no longer has evt_0001 as an anchor (older than 30 days).
    stripe = FakeStripe(events, retention={"evt_0002"})
    with caplog.at_level(logging.WARNING):
        report = catch_up_report(inbox, stripe)
    assert report.anchor_lost and report.inserted == 1
    assert stripe.calls[-1][:2] == (None, T0 + 1)
    assert "no longer lists" in caplog.text
    assert inbox.cursors[DEFAULT_CURSOR] == "evt_0002"


def test_retriable_errors_propagate(inbox) -> None:
    class Down(FakeStripe):
        def events_since(self, *args, **kwargs):
            raise ConnectorError("Stripe did not answer", failure=Failure.RETRIABLE)
            yield  # a generator, like the connector's

    inbox.cursor_set(DEFAULT_CURSOR, "evt_0000")
    inbox.cursor_set(created_cursor(DEFAULT_CURSOR), str(T0))
    with pytest.raises(ConnectorError, match="did not answer"):
        catch_up(inbox, Down([]))
    assert inbox.cursors[DEFAULT_CURSOR] == "evt_0000"


def test_an_event_without_id_is_refused_and_the_cursor_stays(inbox) -> None:
    events = history("customer.created", "customer.updated")
    events[1] = dict(events[1], id=None)
    with pytest.raises(ConnectorError, match="without id"):
        catch_up(inbox, FakeStripe(events))
    assert inbox.cursors[DEFAULT_CURSOR] == "evt_0000"


def test_bad_limit_is_refused(inbox) -> None:
    with pytest.raises(ValueError, match="limit must be a positive"):
        catch_up(inbox, FakeStripe([]), limit=0)


def test_real_state_store_on_sqlite(tmp_path) -> None:
    from runner.state import StateStore

    store = StateStore.open(f"sqlite:///{tmp_path / 'state.sqlite'}")
    try:
        events = history("customer.created", "customer.updated", "invoice.paid")
        assert store.add_event(events[0], source="webhook")
        report = catch_up_report(store, FakeStripe(events))
        assert (report.inserted, report.duplicates) == (2, 1)
        assert store.cursor_get(DEFAULT_CURSOR) == "evt_0002"
        assert store.get_event("evt_0000").source == "webhook"
        assert store.get_event("evt_0002").source == "catchup"
        assert store.counts()["pending"] == 3
        assert catch_up(store, FakeStripe(events)) == 0
    finally:
        store.close()


# -- against localstripe, through the real StripeConnector ---------------------------------

@pytest.fixture(scope="module")
def sandbox():
    from runner.sandbox.stripe_sandbox import start_stripe_sandbox

    with start_stripe_sandbox() as running:
        yield running


@pytest.mark.slow
def test_localstripe_events_through_the_connector(sandbox, tmp_path) -> None:
    from runner.connectors.stripe import StripeConnector, StripeSettings
    from runner.state import StateStore

    connector = StripeConnector(StripeSettings(api_key=sandbox.api_key,
                                               api_base=sandbox.api_base,
                                               flavor="localstripe"))
    client = sandbox.client()
    store = StateStore.open(f"sqlite:///{tmp_path / 'state.sqlite'}")
    try:
        wanted = {"customer.created", "customer.updated"}
        created = [client.v1.customers.create(params={"email": f"c{i}@example.com"})
                   for i in range(3)]
        first = catch_up_report(store, connector, event_types=wanted)
        ids = {store.get_event(e).object_id for e in _ids(store)}
        assert {c.id for c in created} <= ids
        assert first.inserted == len(_ids(store)) >= 3

        client.v1.customers.update(created[0].id, params={"name": "Renamed"})
        client.v1.products.create(params={"name": "Not synced"})  # product.created: not wanted
        second = catch_up_report(store, connector, event_types=wanted)
        assert second.inserted == 1 and second.duplicates == 0
        newest = store.get_event(second.last_event_id)
        assert newest.type == "customer.updated" and newest.object_id == created[0].id
        assert catch_up(store, connector, event_types=wanted) == 0
    finally:
        store.close()


def _ids(store) -> list[str]:
    return [e.event_id for e in store.list_events(limit=1000)]
