"""The runner's Pub/Sub subscriber against the emulator: delivery, resume, expiry, sessions."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.pubsub.client import PubSubClient, Received, Session
from runner.pubsub.subscriber import Subscriber
from runner.sandbox.salesforce import salesforce_client
from runner.sandbox.salesforce.auth import ORG_ID
from runner.sandbox.salesforce.server import EmulatorHandle, start_emulator
from runner.state.store import StateStore

TOPIC = "/data/AccountChangeEvent"


@pytest.fixture(scope="module")
def handle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorHandle]:
    h = start_emulator(tmp_path_factory.mktemp("sf"))
    try:
        yield h
    finally:
        h.stop()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    opened = StateStore.open(f"sqlite:///{tmp_path / 'state.sqlite'}")
    try:
        yield opened
    finally:
        opened.close()


def _client(handle: EmulatorHandle, refreshed: list[bool] | None = None,
            first_token: str | None = None) -> PubSubClient:
    def sessions(refresh: bool) -> Session:
        if refreshed is not None:
            refreshed.append(refresh)
        token = first_token if first_token and not refresh else handle.new_token()
        return Session(token, handle.instance_url, ORG_ID)

    return PubSubClient(handle.pubsub_endpoint, sessions, ca_file=handle.ca_file)


class Run:
    """A subscriber in a thread, collecting what it hands over."""

    def __init__(self, subscriber: Subscriber, got: list[Received], caught: list[str]) -> None:
        self.subscriber, self.got, self.caught = subscriber, got, caught
        self.thread = threading.Thread(target=subscriber.run, daemon=True)
        self.thread.start()
        assert subscriber.ready.wait(10)
        time.sleep(0.3)  # the server has taken the first FetchRequest

    def stop(self) -> None:
        self.subscriber.stop()
        self.thread.join(10)
        self.subscriber.client.close()


def _start(handle: EmulatorHandle, store: StateStore, **kw: Any) -> Run:
    got: list[Received] = []
    caught: list[str] = []
    subscriber = Subscriber(kw.pop("client", None) or _client(handle), TOPIC, store,
                            got.extend, caught.append, **kw)
    return Run(subscriber, got, caught)


def _wait(predicate: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _names(received: list[Received]) -> list[str]:
    return [r.payload["Name"] for r in received
            if r.header and r.header["changeType"] == "CREATE"]


def test_delivers_and_resumes_after_the_stored_replay_id(handle: EmulatorHandle,
                                                         store: StateStore) -> None:
    sf = salesforce_client(handle, access_token=handle.new_token())
    run = _start(handle, store)
    try:
        sf.Account.create({"Name": "First"})
        _wait(lambda: _names(run.got) == ["First"])
    finally:
        run.stop()
    assert store.replay_get(TOPIC) == run.got[-1].replay_id
    # Written while no one listens: the next run resumes after the stored id.
    sf.Account.create({"Name": "While down 1"})
    sf.Account.create({"Name": "While down 2"})
    again = _start(handle, store)
    try:
        _wait(lambda: _names(again.got) == ["While down 1", "While down 2"])
    finally:
        again.stop()
    assert again.caught == []


def test_an_expired_replay_id_catches_up_by_poll(handle: EmulatorHandle,
                                                  store: StateStore) -> None:
    sf = salesforce_client(handle, access_token=handle.new_token())
    run = _start(handle, store)
    try:
        sf.Account.create({"Name": "Before expiry"})
        _wait(lambda: len(run.got) == 1)
    finally:
        run.stop()
    handle._server.emulator.bus.purge()  # the retention window passes
    again = _start(handle, store)
    try:
        _wait(lambda: again.caught != [])
        sf.Account.create({"Name": "After expiry"})
        _wait(lambda: _names(again.got) == ["After expiry"])
    finally:
        again.stop()
    assert "retention window" in again.caught[0]
    assert again.subscriber.stats.catch_ups == 1


def test_an_expired_session_is_refreshed(handle: EmulatorHandle, store: StateStore) -> None:
    refreshed: list[bool] = []
    stale = handle.new_token()
    handle.expire_sessions()
    run = _start(handle, store, client=_client(handle, refreshed, stale))
    try:
        sf = salesforce_client(handle, access_token=handle.new_token())
        sf.Account.create({"Name": "After refresh"})
        _wait(lambda: _names(run.got) == ["After refresh"])
    finally:
        run.stop()
    assert refreshed == [False, True]
    assert run.subscriber.stats.session_refreshes == 1


def test_flow_control_delivers_in_batches_and_loses_nothing(handle: EmulatorHandle,
                                                            store: StateStore) -> None:
    sf = salesforce_client(handle, access_token=handle.new_token())
    run = _start(handle, store, batch=2)
    try:
        for n in range(7):
            sf.Account.create({"Name": f"Batch {n}"})
        _wait(lambda: len(_names(run.got)) == 7)
    finally:
        run.stop()
    assert _names(run.got) == [f"Batch {n}" for n in range(7)]


def test_events_that_arrive_during_a_batch_come_as_one_batch(handle: EmulatorHandle,
                                                             store: StateStore) -> None:
    sf = salesforce_client(handle, access_token=handle.new_token())
    sizes: list[int] = []
    got: list[Received] = []
    release = threading.Event()

    def slow(events: list[Received]) -> None:
        sizes.append(len(events))
        got.extend(events)
        release.wait(10)  # the first batch is slow; the next events queue meanwhile

    run = Run(Subscriber(_client(handle), TOPIC, store, slow, lambda _why: None), got, [])
    try:
        sf.Account.create({"Name": "Slow 0"})
        _wait(lambda: len(sizes) == 1)
        for n in range(1, 6):
            sf.Account.create({"Name": f"Slow {n}"})
        time.sleep(0.5)  # all five reached the runner while the first batch is handled
        release.set()
        _wait(lambda: len(_names(got)) == 6)
    finally:
        release.set()
        run.stop()
    assert sizes == [1, 5]
    assert _names(got) == [f"Slow {n}" for n in range(6)]


def test_an_update_names_its_changed_fields(handle: EmulatorHandle, store: StateStore) -> None:
    sf = salesforce_client(handle, access_token=handle.new_token())
    account = sf.Account.create({"Name": "To change"})["id"]
    run = _start(handle, store)
    try:
        sf.Account.update(account, {"Phone": "555-0100"})
        _wait(lambda: any(r.header and r.header["changeType"] == "UPDATE" for r in run.got))
    finally:
        run.stop()
    update = next(r for r in run.got if r.header and r.header["changeType"] == "UPDATE")
    assert update.changed is not None
    assert "Phone" in update.changed and "Name" not in update.changed
