"""runner.ingest.health: /healthz says "degraded" when events wait and none settles
(issue 11, finding 1: a stuck worker kept /healthz "ok" while it processed nothing)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from runner.ingest.health import store_health
from runner.ingest.webhook_server import WebhookServer
from runner.state.store import StateStore
from runner.state.testing import memory_store
from tests.runner.state.helpers import FakeClock, make_event

STALL = 60.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> Iterator[StateStore]:
    opened = memory_store(clock=clock)
    yield opened
    opened.close()


def test_an_empty_or_moving_inbox_is_ok(store, clock) -> None:
    assert store_health(store, stall_after=STALL)["status"] == "ok"
    store.add_event(make_event(1), source="webhook")
    clock.advance(STALL / 2)
    assert store_health(store, stall_after=STALL)["status"] == "ok"  # not waited long enough


def test_events_waiting_while_none_settles_is_degraded(store, clock) -> None:
    store.add_event(make_event(1), source="webhook")
    store.add_event(make_event(2), source="webhook")
    clock.advance(STALL + 5)
    report = store_health(store, stall_after=STALL, worker="w1")
    assert report["status"] == "degraded"
    assert report["reason"] == ("stalled: 2 events are waiting, the oldest for 65 s, and no "
                                "event has settled yet (runner.stall_after is 60 s)")
    assert report["queue"]["pending"] == 2 and report["worker"] == "w1"
    assert store_health(store, stall_after=None)["status"] == "ok"  # the check turned off


def test_a_backlog_being_worked_through_is_ok(store, clock) -> None:
    for n in range(3):
        store.add_event(make_event(n), source="webhook")
    clock.advance(STALL + 30)
    store.claim_events("w", limit=1)
    store.mark_done("evt_0")
    assert store_health(store, stall_after=STALL)["status"] == "ok"  # old, but moving
    clock.advance(STALL + 1)
    report = store_health(store, stall_after=STALL)
    assert report["status"] == "degraded"
    assert "the last event settled 61 s ago" in report["reason"]


def test_degraded_is_503_over_http(store, clock) -> None:
    store.add_event(make_event(1), source="webhook")
    clock.advance(STALL * 2)
    with WebhookServer(store, ["whsec_x"],
                       health=lambda: store_health(store, stall_after=STALL)) as server:
        resp = requests.get(server.url + "/healthz", timeout=10)
    assert resp.status_code == 503
    assert resp.json()["status"] == "degraded" and resp.json()["reason"].startswith("stalled")
