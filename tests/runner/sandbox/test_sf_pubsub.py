"""The emulator's Pub/Sub API: events from every write path, platform events, replay."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from runner.pubsub.client import REPLAY_CORRUPTED, PubSubClient, Received, Session, error_code
from runner.sandbox.salesforce.auth import ORG_ID
from runner.sandbox.salesforce.pubsub.bus import encode_replay
from runner.sandbox.salesforce.server import EmulatorHandle, start_emulator


@pytest.fixture(scope="module")
def handle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorHandle]:
    h = start_emulator(tmp_path_factory.mktemp("sf"))
    try:
        yield h
    finally:
        h.stop()


@pytest.fixture
def client(handle: EmulatorHandle) -> Iterator[PubSubClient]:
    c = PubSubClient(handle.pubsub_endpoint,
                     lambda _refresh: Session(handle.new_token(), handle.instance_url, ORG_ID),
                     ca_file=handle.ca_file)
    try:
        yield c
    finally:
        c.close()


def _after(client: PubSubClient, topic: str, replay: bytes | None, n: int) -> list[Received]:
    """The next ``n`` events of ``topic`` after ``replay`` (EARLIEST when None)."""
    stream = client.subscribe(topic, replay or encode_replay(0), 100)
    got: list[Received] = []
    try:
        for events, _ in stream.batches():
            got += events
            if len(got) >= n:
                return got
    finally:
        stream.cancel()
    return got


def _latest(handle: EmulatorHandle) -> bytes:
    return encode_replay(handle._server.emulator.bus.latest)


def test_every_write_path_produces_change_events(handle: EmulatorHandle, sf: Any,
                                                  http: Any, client: PubSubClient) -> None:
    start = _latest(handle)
    created = sf.Account.create({"Name": "Rest"})["id"]
    sf.Account.update(created, {"Phone": "555"})
    sf.Account.upsert("Id/" + created, {"Website": "example.com"})
    base = f"{handle.instance_url}/services/data/v{handle.api_version}"
    collection = http.post(f"{base}/composite/sobjects", json={"allOrNone": True, "records": [
        {"attributes": {"type": "Account"}, "Name": "Collection"}]}).json()
    composite = http.post(f"{base}/composite", json={"compositeRequest": [
        {"method": "POST", "url": f"/services/data/v{handle.api_version}/sobjects/Account",
         "referenceId": "a", "body": {"Name": "Composite"}}]})
    assert composite.status_code == 200
    sf.Account.delete(created)
    events = _after(client, "/data/AccountChangeEvent", start, 6)
    kinds = [(e.header["changeType"], e.payload.get("Name")) for e in events]  # type: ignore[index]
    assert kinds == [("CREATE", "Rest"), ("UPDATE", None), ("UPDATE", None),
                     ("CREATE", "Collection"), ("CREATE", "Composite"), ("DELETE", None)]
    update = events[1]
    assert update.payload["Phone"] == "555"
    header = update.header
    assert header is not None and header["recordIds"] == [created]
    assert header["changedFields"] and header["changedFields"][0].startswith("0x")
    assert collection[0]["success"]
    assert len({e.header["commitNumber"] for e in events}) == 6  # type: ignore[index]


def test_closed_won_publishes_the_platform_event(handle: EmulatorHandle, sf: Any,
                                                 client: PubSubClient) -> None:
    start = _latest(handle)
    account = sf.Account.create({"Name": "Buyer"})["id"]
    opp = sf.Opportunity.create({"Name": "Deal", "StageName": "Prospecting", "Amount": 120,
                                 "CloseDate": "2026-01-31", "AccountId": account})["id"]
    sf.Opportunity.update(opp, {"StageName": "Closed Won"})
    sf.Opportunity.update(opp, {"Description": "still won"})  # no second event
    published = sf.restful("sobjects/Opportunity_Closed_Won__e", method="POST",
                           data='{"OpportunityId__c": "manual"}')
    assert published["success"] and published["id"].startswith("e00")
    events = _after(client, "/event/Opportunity_Closed_Won__e", start, 2)
    assert [e.payload["OpportunityId__c"] for e in events] == [opp, "manual"]
    assert events[0].payload["AccountId__c"] == account
    assert events[0].payload["Amount__c"] == 120.0


def test_an_expired_replay_id_is_refused_as_salesforce_refuses_it(
    handle: EmulatorHandle, sf: Any, client: PubSubClient
) -> None:
    sf.Account.create({"Name": "Soon gone"})
    old = _latest(handle)
    handle._server.emulator.bus.purge()
    with pytest.raises(grpc.RpcError) as caught:
        _after(client, "/data/AccountChangeEvent", old, 1)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_code(caught.value) == REPLAY_CORRUPTED
