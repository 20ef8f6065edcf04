"""The ``eventbus.v1.PubSub`` gRPC service over TLS with the emulator's CA.

Every call carries the session metadata Salesforce asks for (``accesstoken``,
``instanceurl``, ``tenantid``); a missing or expired session is ``UNAUTHENTICATED`` with
Salesforce's ``error-code`` trailer, so a client refreshes its session as it would against
a real org. ``Subscribe`` is pull-based: events flow only while the client has
``num_requested`` outstanding, and an empty ``FetchResponse`` with the latest replay id is
the keepalive when nothing arrives for ``keepalive_seconds``.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass

import grpc

from runner.errors import SandboxError
from runner.pubsub.proto import pubsub_api_pb2 as pb
from runner.pubsub.proto import pubsub_api_pb2_grpc as pb_grpc
from runner.sandbox.salesforce import ids
from runner.sandbox.salesforce.auth import ORG_ID, Auth
from runner.sandbox.salesforce.pubsub.bus import EventBus, ReplayIdInvalid, encode_replay
from runner.sandbox.salesforce.pubsub.producer import EventProducer
from runner.sandbox.salesforce.tls import TlsFiles

log = logging.getLogger(__name__)

AUTH_ERROR = "sfdc.platform.eventbus.grpc.service.auth.error"
REPLAY_CORRUPTED = "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted"
TOPIC_NOT_FOUND = "sfdc.platform.eventbus.grpc.topic.not.found"
SCHEMA_NOT_FOUND = "sfdc.platform.eventbus.grpc.schema.not.found"
BAD_REQUEST = "sfdc.platform.eventbus.grpc.service.bad.request"
MAX_BATCH = 100  # events in one FetchResponse, whatever the client asked for


@dataclass
class PubSubConfig:
    keepalive_seconds: float = 270.0  # Salesforce's empty-response interval


class PubSubService(pb_grpc.PubSubServicer):
    def __init__(self, bus: EventBus, producer: EventProducer, auth: Auth,
                 instance_url: Callable[[], str], config: PubSubConfig) -> None:
        self.bus = bus
        self.producer = producer
        self.auth = auth
        self.instance_url = instance_url
        self.config = config
        self._stopping = threading.Event()

    # -- auth ----------------------------------------------------------------------------
    def _authenticate(self, context: grpc.ServicerContext) -> str:
        """The session's user id, or abort with Salesforce's auth error."""
        metadata = {k.lower(): v for k, v in context.invocation_metadata()}
        token = str(metadata.get("accesstoken", ""))
        user = self.auth.user_for_token(token) if token else None
        tenant = str(metadata.get("tenantid", ""))
        try:
            tenant_ok = ids.to_18(tenant) == ORG_ID
        except ids.MalformedIdError:
            tenant_ok = False
        url_ok = str(metadata.get("instanceurl", "")).rstrip("/") == self.instance_url()
        if user is None or not tenant_ok or not url_ok:
            _abort(context, grpc.StatusCode.UNAUTHENTICATED, AUTH_ERROR,
                   "An error occurred while trying to authenticate. Verify your credentials "
                   "and try again.")
        assert user is not None
        return user.id

    # -- topics and schemas --------------------------------------------------------------
    def GetTopic(self, request: pb.TopicRequest, context: grpc.ServicerContext) -> pb.TopicInfo:
        self._authenticate(context)
        if request.topic_name not in self.producer.topics:
            _topic_missing(context, request.topic_name)
        schema = self.producer.topics[request.topic_name]
        return pb.TopicInfo(topic_name=request.topic_name, tenant_guid=ORG_ID,
                            can_publish=request.topic_name.startswith("/event/"),
                            can_subscribe=True, schema_id=schema.id if schema else "",
                            rpc_id=_rpc_id())

    def GetSchema(self, request: pb.SchemaRequest,
                  context: grpc.ServicerContext) -> pb.SchemaInfo:
        self._authenticate(context)
        schema = self.producer.schemas.get(request.schema_id)
        if schema is None:
            _abort(context, grpc.StatusCode.NOT_FOUND, SCHEMA_NOT_FOUND,
                   f"The schema ID {request.schema_id} isn't valid.")
        assert schema is not None
        return pb.SchemaInfo(schema_json=schema.json, schema_id=schema.id, rpc_id=_rpc_id())

    # -- publish -------------------------------------------------------------------------
    def Publish(self, request: pb.PublishRequest,
                context: grpc.ServicerContext) -> pb.PublishResponse:
        self._authenticate(context)
        return self._publish(request, context)

    def PublishStream(self, request_iterator: Iterator[pb.PublishRequest],
                      context: grpc.ServicerContext) -> Iterator[pb.PublishResponse]:
        self._authenticate(context)
        for request in request_iterator:
            yield self._publish(request, context)

    def _publish(self, request: pb.PublishRequest,
                 context: grpc.ServicerContext) -> pb.PublishResponse:
        schema = self.producer.topics.get(request.topic_name)
        if schema is None or not request.topic_name.startswith("/event/"):
            _topic_missing(context, request.topic_name)
        assert schema is not None
        results = []
        for event in request.events:
            if event.schema_id != schema.id:
                results.append(pb.PublishResult(
                    error=pb.Error(code=pb.PUBLISH, msg=f"Schema ID {event.schema_id} does "
                                   f"not match the topic's schema {schema.id}"),
                    correlation_key=event.id))
                continue
            try:
                schema.decode(event.payload)
            except Exception as exc:  # noqa: BLE001 - any Avro decoding failure is the client's
                results.append(pb.PublishResult(
                    error=pb.Error(code=pb.PUBLISH, msg=f"The payload is not valid Avro for "
                                   f"the schema: {exc}"), correlation_key=event.id))
                continue
            published = self.producer.publish_encoded(request.topic_name, schema.id,
                                                      event.payload)
            results.append(pb.PublishResult(replay_id=published.replay_id,
                                             correlation_key=event.id))
        return pb.PublishResponse(results=results, schema_id=schema.id, rpc_id=_rpc_id())

    # -- subscribe -----------------------------------------------------------------------
    def Subscribe(self, request_iterator: Iterator[pb.FetchRequest],
                  context: grpc.ServicerContext) -> Iterator[pb.FetchResponse]:
        self._authenticate(context)
        first = next(request_iterator, None)
        if first is None:
            return
        topic = first.topic_name
        if topic not in self.producer.topics:
            _topic_missing(context, topic)
        if first.num_requested < 0 or first.num_requested > MAX_BATCH:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, BAD_REQUEST,
                   f"num_requested must be between 1 and {MAX_BATCH}.")
        if first.replay_preset == pb.CUSTOM:
            try:
                position = self.bus.start_after(first.replay_id)
            except ReplayIdInvalid:
                _abort(context, grpc.StatusCode.INVALID_ARGUMENT, REPLAY_CORRUPTED,
                       "The Replay ID validation failed. Ensure that the Replay ID is valid.")
        elif first.replay_preset == pb.EARLIEST:
            position = self.bus.earliest()
        else:
            position = self.bus.latest
        flow = _Demand(first.num_requested)
        reader = threading.Thread(target=flow.read, args=(request_iterator, self.bus),
                                  name="pubsub-fetch", daemon=True)
        reader.start()
        context.add_callback(lambda: flow.close(self.bus))
        rpc_id = _rpc_id()
        while context.is_active() and not flow.closed and not self._stopping.is_set():
            keepalive = None
            with self.bus.changed:
                wanted = flow.pending
                events, scanned = self.bus.after(position, topic, min(wanted, MAX_BATCH)) \
                    if wanted else ([], position)
                position = scanned
                if events:
                    flow.pending -= len(events)
                elif self.bus.changed.wait(self.config.keepalive_seconds) or flow.closed:
                    continue
                else:
                    # Nothing for a while: the keepalive, with the newest position.
                    keepalive = pb.FetchResponse(latest_replay_id=encode_replay(self.bus.latest),
                                                 rpc_id=rpc_id, pending_num_requested=wanted)
            # Yielded outside the bus lock: a slow client must not hold up publishers.
            if keepalive is not None:
                yield keepalive
                continue
            yield pb.FetchResponse(
                events=[pb.ConsumerEvent(event=pb.ProducerEvent(
                    id=e.event_id, schema_id=e.schema_id, payload=e.payload),
                    replay_id=e.replay_id) for e in events],
                latest_replay_id=encode_replay(scanned), rpc_id=rpc_id,
                pending_num_requested=flow.pending)

    def stop(self) -> None:
        self._stopping.set()
        with self.bus.changed:
            self.bus.changed.notify_all()


class _Demand:
    """The client's outstanding ``num_requested``, raised by each further FetchRequest."""

    def __init__(self, first: int) -> None:
        self.pending = first
        self.closed = False

    def read(self, requests: Iterator[pb.FetchRequest], bus: EventBus) -> None:
        try:
            for request in requests:
                with bus.changed:
                    self.pending = min(self.pending + max(request.num_requested, 0), MAX_BATCH)
                    bus.changed.notify_all()
        except Exception:  # noqa: BLE001 - the stream ending any way ends the demand
            pass
        self.close(bus)

    def close(self, bus: EventBus) -> None:
        with bus.changed:
            self.closed = True
            bus.changed.notify_all()


def _abort(context: grpc.ServicerContext, code: grpc.StatusCode, error_code: str,
           message: str) -> None:
    rpc_id = _rpc_id()
    context.set_trailing_metadata((("error-code", error_code), ("rpc-id", rpc_id)))
    context.abort(code, f"{message} rpcId: {rpc_id}")


def _topic_missing(context: grpc.ServicerContext, topic: str) -> None:
    _abort(context, grpc.StatusCode.NOT_FOUND, TOPIC_NOT_FOUND,
           f"The topic {topic} doesn't exist or you don't have access to it.")


def _rpc_id() -> str:
    return str(uuid.uuid4())


@dataclass
class PubSubServer:
    endpoint: str
    service: PubSubService
    server: grpc.Server

    def stop(self) -> None:
        self.service.stop()
        self.server.stop(grace=1).wait(2)


def start_pubsub(service: PubSubService, tls: TlsFiles, host: str, port: int = 0) -> PubSubServer:
    """Serve ``service`` on ``host:port`` (0: any free port) over TLS; returns once bound."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=64, thread_name_prefix="pubsub"))
    pb_grpc.add_PubSubServicer_to_server(service, server)
    credentials = grpc.ssl_server_credentials(
        [(tls.key_file.read_bytes(), tls.cert_file.read_bytes())])
    try:
        bound = server.add_secure_port(f"{host}:{port}", credentials)
    except RuntimeError as exc:
        raise SandboxError(f"cannot start the Pub/Sub API on {host}:{port}: {exc}") from exc
    if not bound:
        raise SandboxError(f"cannot start the Pub/Sub API on {host}:{port}")
    server.start()
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    return PubSubServer(f"{shown}:{bound}", service, server)
