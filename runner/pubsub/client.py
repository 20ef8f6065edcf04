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
from collections.abc import Callable, Iterator, Sequence
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
    # A change event's changed fields by name (its changedFields bitmap read with the
    # schema's field order); None for a platform event.
    changed: frozenset[str] | None = None

    @property
    def header(self) -> dict[str, Any] | None:
        return self.payload.get("ChangeEventHeader")


def changed_fields(bitmaps: Sequence[str], field_names: Sequence[str]) -> frozenset[str]:
    """The names a ``changedFields`` bitmap sets: bit n is the schema's top-level field n
    (the header is field 0). A nested entry (``"3-0x02"``, a compound field's parts) counts
    as its parent field; a bit past the schema's fields is kept as ``"#<n>"`` so that an
    unknown change never looks like no change."""
    names: set[str] = set()
    for entry in bitmaps:
        parent, sep, rest = str(entry).partition("-")
        if sep:
            position = int(parent) if parent.isdigit() else -1
            names.add(field_names[position] if 0 <= position < len(field_names)
                      else f"#{parent}")
            continue
        bits = int(parent, 16) if parent.lower().startswith("0x") else 0
        position = 0
        while bits:
            if bits & 1:
                names.add(field_names[position] if position < len(field_names)
                          else f"#{position}")
            bits >>= 1
            position += 1
    return frozenset(names)


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
        header = payload.get("ChangeEventHeader")
        changed = None
        if isinstance(header, dict):
            names = [str(f.get("name")) for f in schema.get("fields", ())]
            changed = changed_fields(header.get("changedFields") or (), names)
        return Received(bytes(event.replay_id), event.event.schema_id, payload, changed)

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
    """One Subscribe call. Iterate for batches; ``request(n)`` asks for ``n`` more events.

    The server sends events as they are published, often one per response. A reader thread
    takes the responses off the wire as they come, and each batch is every response that
    arrived while the previous batch was handled: a runner behind by N events handles them
    in one batch (one query, one writeback call) instead of N.
    """

    _END = object()

    def __init__(self, client: PubSubClient, first: pb.FetchRequest) -> None:
        self._requests: queue.Queue[Any] = queue.Queue()
        self._requests.put(first)
        self._client = client
        self._call = client.stub.Subscribe(self._iter_requests(),
                                           metadata=client.session.metadata())
        self._responses: queue.Queue[Any] = queue.Queue()
        threading.Thread(target=self._read, name="pubsub-read", daemon=True).start()

    def _read(self) -> None:
        try:
            for response in self._call:
                self._responses.put(response)
        except Exception as exc:  # noqa: BLE001 - handed to the consumer, raised there
            self._responses.put(exc)
            return
        self._responses.put(self._END)

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
        """``(events, latest replay id)`` of the responses that have arrived (at least one);
        keepalives come with no events."""
        while True:
            items = [self._responses.get()]
            while True:
                try:
                    items.append(self._responses.get_nowait())
                except queue.Empty:
                    break
            events: list[Received] = []
            latest = b""
            for item in items:
                if item is self._END or isinstance(item, BaseException):
                    break
                events += [self._client.decode(e) for e in item.events]
                latest = bytes(item.latest_replay_id) or latest
            else:
                yield events, latest
                continue
            if events or latest:
                yield events, latest
            if isinstance(item, BaseException):
                raise item
            return

    def cancel(self) -> None:
        self._requests.put(self._END)
        self._call.cancel()
