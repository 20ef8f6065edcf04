"""The runner's Pub/Sub API client: one authenticated channel, schemas, a Subscribe stream.

Sessions come from a provider (the runner's Salesforce login), asked again with
``refresh=True`` when the API says the session is no longer valid. Payloads are decoded
with the schema ``GetSchema`` gives for each event's schema id, cached by id (Salesforce's
schema ids are immutable).
"""

from __future__ import annotations

import io
import json
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro
import grpc

from runner.pubsub.proto import pubsub_api_pb2 as pb
from runner.pubsub.proto import pubsub_api_pb2_grpc as pb_grpc

AUTH_ERROR = "sfdc.platform.eventbus.grpc.service.auth.error"
REPLAY_CORRUPTED = "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted"
# HTTP/2 pings keep idle streams alive through NATs and tell a dead peer within ~40 s.
KEEPALIVE_OPTIONS = (
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
)


@dataclass(frozen=True)
class Session:
    access_token: str
    instance_url: str
    tenant_id: str

    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("accesstoken", self.access_token), ("instanceurl", self.instance_url),
                ("tenantid", self.tenant_id))


@dataclass(frozen=True)
class Received:
    """One delivered event, decoded; ``replay_id`` is opaque bytes to store as they are."""

    replay_id: bytes
    schema_id: str
    payload: dict[str, Any]

    @property
    def header(self) -> dict[str, Any] | None:
        return self.payload.get("ChangeEventHeader")


def error_code(error: grpc.RpcError) -> str:
    """Salesforce's ``error-code`` trailer of a failed call ('' when there is none)."""
    trailers = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
    return str(dict(trailers or ()).get("error-code", ""))


def is_auth_error(error: grpc.RpcError) -> bool:
    return error.code() == grpc.StatusCode.UNAUTHENTICATED or error_code(error) == AUTH_ERROR


class PubSubClient:
    def __init__(self, endpoint: str, sessions: Callable[[bool], Session], *,
                 ca_file: str | Path | None = None) -> None:
        root = Path(ca_file).read_bytes() if ca_file else None
        self.channel = grpc.secure_channel(endpoint, grpc.ssl_channel_credentials(root),
                                           options=KEEPALIVE_OPTIONS)
        self.stub = pb_grpc.PubSubStub(self.channel)
        self._sessions = sessions
        self.session = sessions(False)
        self._schemas: dict[str, Any] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self.channel.close()

    def refresh_session(self) -> None:
        self.session = self._sessions(True)

    def topic(self, name: str, *, timeout: float = 30) -> pb.TopicInfo:
        return self.stub.GetTopic(pb.TopicRequest(topic_name=name),
                                  metadata=self.session.metadata(), timeout=timeout)

    def schema(self, schema_id: str) -> Any:
        with self._lock:
            cached = self._schemas.get(schema_id)
        if cached is None:
            info = self.stub.GetSchema(pb.SchemaRequest(schema_id=schema_id),
                                       metadata=self.session.metadata(), timeout=30)
            cached = fastavro.parse_schema(json.loads(info.schema_json))
            with self._lock:
                self._schemas[schema_id] = cached
        return cached

    def decode(self, event: pb.ConsumerEvent) -> Received:
        schema = self.schema(event.event.schema_id)
        payload = fastavro.schemaless_reader(io.BytesIO(event.event.payload), schema, schema)
        if not isinstance(payload, dict):
            raise ValueError(f"event of schema {event.event.schema_id} is not an Avro record")
        return Received(bytes(event.replay_id), event.event.schema_id, payload)

    def subscribe(self, topic: str, replay_id: bytes | None, batch: int) -> Stream:
        """A Subscribe stream after ``replay_id`` (CUSTOM) or from the tip (LATEST)."""
        first = pb.FetchRequest(topic_name=topic, num_requested=batch)
        if replay_id:
            first.replay_preset = pb.CUSTOM
            first.replay_id = replay_id
        else:
            first.replay_preset = pb.LATEST
        return Stream(self, first)


class Stream:
    """One Subscribe call. Iterate for batches; ``request(n)`` asks for ``n`` more events."""

    _END = object()

    def __init__(self, client: PubSubClient, first: pb.FetchRequest) -> None:
        self._requests: queue.Queue[Any] = queue.Queue()
        self._requests.put(first)
        self._client = client
        self._call = client.stub.Subscribe(self._iter_requests(),
                                           metadata=client.session.metadata())

    def _iter_requests(self) -> Iterator[pb.FetchRequest]:
        while True:
            item = self._requests.get()
            if item is self._END:
                return
            yield item

    def request(self, n: int) -> None:
        if n > 0:
            self._requests.put(pb.FetchRequest(num_requested=n))

    def batches(self) -> Iterator[tuple[list[Received], bytes]]:
        """``(events, latest replay id)`` per response; keepalives come with no events."""
        for response in self._call:
            yield ([self._client.decode(e) for e in response.events],
                   bytes(response.latest_replay_id))

    def cancel(self) -> None:
        self._requests.put(self._END)
        self._call.cancel()
