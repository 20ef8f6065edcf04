"""A client written against Salesforce's published pubsub_api.proto, not our stubs.

The stubs are generated here, in the test, from the proto file (grpcio-tools), imported
under their own module names, and used as Salesforce's own Python example uses them:
session metadata, GetTopic, Subscribe with a FetchRequest, GetSchema, fastavro decoding.
"""

from __future__ import annotations

import importlib
import io
import json
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fastavro
import grpc
import pytest
from grpc_tools import protoc

from runner.sandbox.salesforce.auth import ORG_ID
from runner.sandbox.salesforce.server import EmulatorHandle, start_emulator

PROTO = Path(__file__).resolve().parents[3] / "runner" / "pubsub" / "proto" / "pubsub_api.proto"


@pytest.fixture(scope="module")
def handle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorHandle]:
    h = start_emulator(tmp_path_factory.mktemp("sf"))
    try:
        yield h
    finally:
        h.stop()


@pytest.fixture(scope="module")
def stubs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    out = tmp_path_factory.mktemp("stubs")
    (out / "pubsub_api.proto").write_bytes(PROTO.read_bytes())
    code = protoc.main(["protoc", f"-I{out}", f"--python_out={out}", f"--grpc_python_out={out}",
                        str(out / "pubsub_api.proto")])
    assert code == 0
    sys.path.insert(0, str(out))
    try:
        pb2 = importlib.import_module("pubsub_api_pb2")
        pb2_grpc = importlib.import_module("pubsub_api_pb2_grpc")
    finally:
        sys.path.remove(str(out))
    assert not pb2.__name__.startswith("runner.")
    return pb2, pb2_grpc


def _channel(handle: EmulatorHandle) -> grpc.Channel:
    credentials = grpc.ssl_channel_credentials(Path(handle.ca_file).read_bytes())
    return grpc.secure_channel(handle.pubsub_endpoint, credentials)


def _metadata(handle: EmulatorHandle) -> tuple[tuple[str, str], ...]:
    return (("accesstoken", handle.access_token), ("instanceurl", handle.instance_url),
            ("tenantid", ORG_ID))


def test_subscribe_to_account_change_events_and_decode_with_get_schema(
    handle: EmulatorHandle, sf: Any, stubs: tuple[Any, Any]
) -> None:
    pb2, pb2_grpc = stubs
    with _channel(handle) as channel:
        stub = pb2_grpc.PubSubStub(channel)
        topic = stub.GetTopic(pb2.TopicRequest(topic_name="/data/AccountChangeEvent"),
                              metadata=_metadata(handle))
        assert topic.can_subscribe and topic.schema_id

        go = threading.Event()

        def requests() -> Iterator[Any]:
            yield pb2.FetchRequest(topic_name="/data/AccountChangeEvent",
                                   replay_preset=pb2.ReplayPreset.LATEST, num_requested=1)
            go.wait(10)

        stream = stub.Subscribe(requests(), metadata=_metadata(handle))
        created: dict = {}

        def write() -> None:
            # After the subscription is set up: LATEST starts at the tip.
            threading.Event().wait(0.5)
            created.update(sf.Account.create({"Name": "Published Proto Ltd", "Phone": "1"}))

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        response = next(r for r in stream if r.events)
        writer.join(10)
        go.set()
        stream.cancel()
        event = response.events[0]
        assert event.replay_id
        schema = stub.GetSchema(pb2.SchemaRequest(schema_id=event.event.schema_id),
                                metadata=_metadata(handle))
        parsed = fastavro.parse_schema(json.loads(schema.schema_json))
        record = fastavro.schemaless_reader(io.BytesIO(event.event.payload), parsed, parsed)
        header = record["ChangeEventHeader"]
        assert header["entityName"] == "Account"
        assert header["changeType"] == "CREATE"
        assert header["recordIds"] == [created["id"]]
        assert record["Name"] == "Published Proto Ltd"


def test_a_wrong_session_is_unauthenticated_with_salesforces_error_code(
    handle: EmulatorHandle, stubs: tuple[Any, Any]
) -> None:
    pb2, pb2_grpc = stubs
    with _channel(handle) as channel:
        stub = pb2_grpc.PubSubStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.GetTopic(pb2.TopicRequest(topic_name="/data/AccountChangeEvent"),
                          metadata=(("accesstoken", "nope"),
                                    ("instanceurl", handle.instance_url), ("tenantid", ORG_ID)))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    trailers = dict(caught.value.trailing_metadata() or ())
    assert trailers["error-code"] == "sfdc.platform.eventbus.grpc.service.auth.error"
