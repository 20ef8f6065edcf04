"""The emulator's HTTPS server: routing, sessions, API limits, faults and admin calls.

A ``ThreadingHTTPServer`` wrapped in TLS with the state directory's own CA; it runs in a
background thread so tests and the runner can embed it, and ``python -m
runner.sandbox.salesforce`` serves it on its own.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from runner.errors import SandboxError
from runner.sandbox.salesforce import ids
from runner.sandbox.salesforce.auth import ORG_ID, Auth, OAuthError, User
from runner.sandbox.salesforce.bulk import BulkIngest
from runner.sandbox.salesforce.bulk_common import JobIds
from runner.sandbox.salesforce.bulk_query import BulkQuery
from runner.sandbox.salesforce.calls import Call, Reply
from runner.sandbox.salesforce.composite import Composite
from runner.sandbox.salesforce.errors import ApiError, RecordError, api_error
from runner.sandbox.salesforce.faults import FaultInjector, FaultSpec, FaultSpecError
from runner.sandbox.salesforce.metadata import load_metadata
from runner.sandbox.salesforce.org import Org
from runner.sandbox.salesforce.pubsub.bus import EventBus
from runner.sandbox.salesforce.pubsub.producer import EventProducer
from runner.sandbox.salesforce.pubsub.service import (
    PubSubConfig,
    PubSubServer,
    PubSubService,
    start_pubsub,
)
from runner.sandbox.salesforce.rest import (
    MAX_VERSION,
    MIN_VERSION,
    DataApi,
    record_error_reply,
    versions,
)
from runner.sandbox.salesforce.standard_objects import (
    organization_record,
    record_type_record,
    standard_overlay,
    standard_price_book_record,
)
from runner.sandbox.salesforce.store import OrgStore
from runner.sandbox.salesforce.tls import ensure_tls
from runner.sandbox.salesforce.web_login import ERROR_PAGE, Page, error_page

log = logging.getLogger(__name__)

API_VERSION = f"{MAX_VERSION}.0"
DEFAULT_MAX_BODY = 50 * 1024 * 1024  # REST API request size limit
BULK_MAX_BODY = 150 * 1024 * 1024  # Bulk 2.0 upload limit
_WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})


class ApiUsage:
    """The org's daily API request counter (``DailyApiRequests``)."""

    def __init__(self, store: OrgStore, default_max: int) -> None:
        saved = store.get_setting("api_usage")
        if not isinstance(saved, dict):
            saved = {}
        today = datetime.now(UTC).date().isoformat()
        self.store = store
        self.lock = threading.Lock()
        self.max = int(default_max)
        self.used = int(saved.get("used", 0)) if saved.get("day") == today else 0
        self.day = today

    def take(self) -> tuple[bool, int, int]:
        """Count one call; ``(allowed, used, max)``. A refused call is not counted."""
        with self.lock:
            today = datetime.now(UTC).date().isoformat()
            if today != self.day:
                self.day, self.used = today, 0
            if self.used >= self.max:
                return False, self.used, self.max
            self.used += 1
            return True, self.used, self.max

    def set(self, maximum: int, used: int | None = None) -> None:
        with self.lock:
            self.max = int(maximum)
            if used is not None:
                self.used = int(used)

    def save(self) -> None:
        with self.lock:
            state = {"day": self.day, "used": self.used}
        self.store.set_setting("api_usage", state)


class Emulator:
    """Everything one running org holds; the request handler reaches it via the server."""

    def __init__(self, state_dir: Path, *, reset: bool, faults: FaultSpec | str | None,
                 metadata: Sequence[Path | dict], daily_api_limit: int, session_ttl: float,
                 max_body_bytes: int, record_types: Sequence[Mapping[str, Any]] = (),
                 connected_apps: Sequence[Mapping[str, Any]] = ()) -> None:
        self.state_dir = state_dir
        self.store = OrgStore(state_dir / "org.sqlite", reset=reset)
        self.org = Org(self.store, load_metadata([standard_overlay(), *metadata]))
        self.auth = Auth(self.store, state_dir, session_ttl=session_ttl,
                         connected_apps=connected_apps)
        self._ensure_users()
        self._ensure_standard_records(record_types)
        self.usage = ApiUsage(self.store, daily_api_limit)
        self.faults = FaultInjector(faults)
        self.max_body_bytes = max_body_bytes
        self.api = DataApi(self.org)
        self.api.composite = Composite(self.org, self.api.handle)
        job_ids = JobIds(self.store)
        self.api.bulk = BulkIngest(self.org, job_ids)
        self.api.bulk_query = BulkQuery(self.api.queries, job_ids)
        self.api.bulk.load()
        self.api.bulk_query.load()
        self.api.limits = self.limits_body
        self.login_url = ""
        self.instance_url = ""
        # The Pub/Sub API: change events from every commit from here on, platform events.
        self.bus = EventBus()
        self.events = EventProducer(self.bus, self.org.meta)
        self.org.on_commit.append(self.events.committed)
        self.api.publish_event = self.events.publish
        self.pubsub = PubSubService(self.bus, self.events, self.auth,
                                    lambda: self.instance_url, PubSubConfig())

    def _ensure_users(self) -> None:
        """The org's User records, so OwnerId / CreatedById references resolve."""
        meta = self.org.meta.find("User")
        if meta is None:
            return
        with self.org.transaction():
            for user in self.auth.users:
                if user.id in self.org.records:
                    continue
                now = self.org.now()
                record = {"Id": user.id, "IsDeleted": False, "Username": user.username,
                          "FirstName": user.first_name, "LastName": user.last_name,
                          "Name": f"{user.first_name} {user.last_name}",
                          "Email": user.username, "IsActive": True, "CreatedDate": now,
                          "CreatedById": user.id, "LastModifiedDate": now,
                          "LastModifiedById": user.id, "SystemModstamp": now}
                self.org._put(meta, {k: v for k, v in record.items()
                                     if meta.field(k) is not None})

    def _ensure_standard_records(self, record_types: Sequence[Mapping[str, Any]]) -> None:
        """The Organization record, the standard price book and the given RecordTypes (the API
        cannot create them)."""
        owner = self.auth.integration_user.id
        organization = self.org.meta.find("Organization")
        record_type = self.org.meta.find("RecordType")
        with self.org.transaction():
            now = self.org.now()
            if organization is not None and ORG_ID not in self.org.records:
                self.org._put(organization, organization_record(ORG_ID, owner, now))
            price_book = self.org.meta.find("Pricebook2")
            if price_book is not None:
                standard = standard_price_book_record(owner, now)
                if standard["Id"] not in self.org.records:
                    self.org._put(price_book, standard)
            if record_type is None:
                return
            for number, spec in enumerate(record_types, start=1):
                record = record_type_record(number, spec, owner, now)
                if record["Id"] not in self.org.records:
                    self.org._put(record_type, record)

    def limits_body(self) -> dict:
        with self.usage.lock:
            used, maximum = self.usage.used, self.usage.max
        return {
            "DailyApiRequests": {"Max": maximum, "Remaining": max(0, maximum - used)},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
            "DailyBulkV2QueryFileStorageMB": {"Max": 1048576, "Remaining": 1048576},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
            "DataStorageMB": {"Max": 5, "Remaining": 5},
            "FileStorageMB": {"Max": 20, "Remaining": 20},
            "HourlyTimeBasedWorkflow": {"Max": 50, "Remaining": 50},
        }

    def close(self) -> None:
        # Bulk workers stop at a chunk boundary first, so their last commit is whole.
        for jobs in (self.api.bulk, self.api.bulk_query):
            if jobs is not None:
                jobs.close()
        self.usage.save()
        self.store.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    emulator: Emulator
    ssl_context: ssl.SSLContext

    def get_request(self):  # noqa: ANN201 - (socket, address)
        sock, address = super().get_request()
        # The TLS handshake runs in the request thread (see Handler.setup), so one slow
        # client cannot stall the accept loop.
        return self.ssl_context.wrap_socket(sock, server_side=True,
                                            do_handshake_on_connect=False), address


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SFDC"
    sys_version = ""
    timeout = 30
    server: _Server

    def setup(self) -> None:
        self.request.settimeout(self.timeout)
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self.request.do_handshake()
        except (OSError, ssl.SSLError):
            self._handshake_failed = True
        else:
            self._handshake_failed = False
        super().setup()

    def handle(self) -> None:
        if self._handshake_failed:
            return
        with contextlib.suppress(ConnectionError, ssl.SSLError, TimeoutError):
            super().handle()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = do_GET

    # -- plumbing ----------------------------------------------------------------------
    def _serve(self) -> None:
        emulator = self.server.emulator
        extra: dict[str, str] = {}
        try:
            url = urlsplit(self.path)
            path = url.path
            query = parse_qs(url.query, keep_blank_values=True)
            limit = BULK_MAX_BODY if "/jobs/ingest/" in path else emulator.max_body_bytes
            body = self._read_body(limit)
            if path.startswith("/services/data"):
                reply = self._data(emulator, path, query, body, extra)
                if reply is None:
                    return  # the connection was dropped on purpose
            elif path.rstrip("/") == "/services/oauth2/token":
                reply = self._token(emulator, body)
            elif path.rstrip("/") == "/services/oauth2/authorize":
                reply = self._authorize(emulator, query, body)
            elif path.rstrip("/") == "/services/oauth2/revoke":
                reply = self._revoke(emulator, query, body)
            elif path == ERROR_PAGE:
                reply = Reply(200, error_page(_first(query)), content_type=_HTML)
            elif path.rstrip("/") == "/services/oauth2/userinfo" or path.startswith("/id/"):
                reply = self._identity(emulator, path)
            elif path.startswith("/__admin/"):
                reply = self._admin(emulator, path, body)
            else:
                reply = Reply(404, [api_error(404, "NOT_FOUND", "The requested resource does "
                                              "not exist").errors[0].rest()])
        except ApiError as exc:
            reply = Reply(exc.status, exc.response_body())
        except RecordError as exc:
            reply = record_error_reply(exc)
        except Exception:  # the emulator must never leak a traceback to a client
            error_id = str(uuid.uuid4())
            log.exception("unexpected emulator error %s on %s %s", error_id, self.command,
                          self.path.split("?")[0])
            reply = Reply(500, [{"message": "An unexpected error occurred. Please include "
                                 f"this ErrorId if you contact support: {error_id}",
                                 "errorCode": "UNKNOWN_EXCEPTION"}])
        reply.headers.update(extra)
        self._send(reply)

    def _read_body(self, limit: int) -> bytes:
        length_text = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.close_connection = True
            raise api_error(411, "LENGTH_REQUIRED", "Chunked request bodies are not supported")
        if not length_text:
            return b""
        try:
            length = int(length_text)
        except ValueError:
            raise api_error(400, "INVALID_HEADER", "Content-Length is not a number") from None
        if length > limit:
            self._discard(length)
            raise api_error(413, "REQUEST_ENTITY_TOO_LARGE",
                            f"Request body of {length} bytes exceeds the limit of {limit} bytes")
        return self.rfile.read(length)

    def _discard(self, length: int) -> None:
        """Read and drop an oversized body, so the client gets to read our answer."""
        remaining = length
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1 << 20))
            if not chunk:
                break
            remaining -= len(chunk)

    def _send(self, reply: Reply) -> None:
        payload = reply.encoded()
        self.send_response(reply.status)
        if payload or reply.status not in (204,):
            self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        # Headers and body in one write: two small writes meet Nagle and delayed ACKs and
        # cost ~40 ms per request on loopback.
        # _headers_buffer is BaseHTTPRequestHandler's own (undeclared in its stubs).
        self._headers_buffer.append(  # type: ignore[attr-defined]
            b"\r\n" + (payload if self.command != "HEAD" else b"")
        )
        self.flush_headers()

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.request.shutdown(socket.SHUT_RDWR)

    def _bearer(self) -> str:
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        return token.strip() if scheme.lower() in ("bearer", "oauth") else ""

    # -- the data API ------------------------------------------------------------------
    def _data(self, emulator: Emulator, path: str, query: dict, body: bytes,
              extra: dict[str, str]) -> Reply | None:
        rest = path[len("/services/data"):]
        if rest in ("", "/"):
            return Reply(200, versions())
        segments = rest.strip("/").split("/")
        version_text = segments[0]
        if not (version_text.startswith("v") and version_text.endswith(".0")
                and version_text[1:-2].isdigit()
                and MIN_VERSION <= int(version_text[1:-2]) <= MAX_VERSION):
            raise api_error(404, "NOT_FOUND", "The requested resource does not exist")
        latency = emulator.faults.latency_seconds
        if latency:
            time.sleep(latency)
        fault = emulator.faults.draw()
        if fault == "drop":
            self._drop()
            return None
        if fault == "error503":
            return Reply(503, [{"message": "Server is temporarily unavailable. Please try "
                                "again later.", "errorCode": "SERVER_UNAVAILABLE"}])
        if fault == "lock" and self.command in _WRITE_METHODS:
            locked = _first_id(segments[1:]) or "001" + "Fb0" + "000000001AAA"
            return Reply(400, [{"message": "unable to obtain exclusive access to this record "
                                f"or 1 records: {locked}", "errorCode": "UNABLE_TO_LOCK_ROW",
                                "fields": []}])
        user = emulator.auth.user_for_token(self._bearer())
        if user is None:
            return Reply(401, [{"message": "Session expired or invalid",
                                "errorCode": "INVALID_SESSION_ID"}])
        allowed, used, maximum = emulator.usage.take()
        extra["Sforce-Limit-Info"] = f"api-usage={used}/{maximum}"
        if not allowed:
            return Reply(403, [{"message": "TotalRequests Limit exceeded.",
                                "errorCode": "REQUEST_LIMIT_EXCEEDED"}])
        call = Call(self.command, version_text[1:], [unquote(s) for s in segments[1:]], query,
                    user.id, body, self.headers.get("Content-Type", ""),
                    {k.lower(): v for k, v in self.headers.items()})
        return emulator.api.handle(call)

    def _token(self, emulator: Emulator, body: bytes) -> Reply:
        if self.command != "POST":
            return Reply(405, {"error": "invalid_request", "error_description": "must use HTTP POST"})
        form = _form(body)
        try:
            return Reply(200, emulator.auth.token_response(
                form, login_url=emulator.login_url, instance_url=emulator.instance_url))
        except OAuthError as exc:
            return Reply(exc.status, exc.body)

    def _authorize(self, emulator: Emulator, query: dict, body: bytes) -> Reply:
        """The web server flow's login and consent pages (:mod:`.web_login`)."""
        params = _first(query) if self.command == "GET" else _form(body)
        page: Page = emulator.auth.web.authorize(params, emulator.auth.users)
        headers = {"Cache-Control": "no-cache,must-revalidate,max-age=0,no-store,private"}
        if page.location is not None:
            headers["Location"] = page.location
        return Reply(page.status, page.html, content_type=_HTML, headers=headers)

    def _revoke(self, emulator: Emulator, query: dict, body: bytes) -> Reply:
        """``/services/oauth2/revoke``: POST ``token=…`` (or a "blind" GET ``?token=…``)."""
        params = _first(query) if self.command == "GET" else _form(body)
        try:
            emulator.auth.revoke(params.get("token", ""))
        except OAuthError as exc:
            return Reply(exc.status, exc.body)
        return Reply(200, b"")

    def _identity(self, emulator: Emulator, path: str) -> Reply:
        """The identity URL of the token response, and OpenID Connect userinfo."""
        user = emulator.auth.user_for_token(self._bearer())
        if user is None:
            return Reply(403, "Bad_OAuth_Token", content_type="text/plain")
        urls = {"login_url": emulator.login_url, "instance_url": emulator.instance_url}
        if path.startswith("/id/"):
            if path.rstrip("/") != f"/id/{ORG_ID}/{user.id}":
                return Reply(403, "Bad_Id", content_type="text/plain")
            return Reply(200, emulator.auth.identity(user, **urls))
        return Reply(200, emulator.auth.userinfo(user, **urls))

    def _admin(self, emulator: Emulator, path: str, body: bytes) -> Reply:
        if self._bearer() != emulator.auth.admin_token:
            return Reply(401, [{"message": "admin token required", "errorCode": "INVALID_AUTH"}])
        if self.command != "POST":
            return Reply(405, [{"message": "use POST", "errorCode": "METHOD_NOT_ALLOWED"}])
        data = _admin_json(body)
        action = path[len("/__admin/"):].strip("/")
        if action == "faults":
            try:
                emulator.faults.set(FaultSpec.from_json(data if data is not None else ""))
            except FaultSpecError as exc:
                return Reply(400, [{"message": str(exc), "errorCode": "INVALID_FAULT_SPEC"}])
            return Reply(200, emulator.faults.spec.as_dict())
        if action == "expire-sessions":
            emulator.auth.expire_sessions()
            return Reply(200, {"expired": True})
        if action == "limit":
            if not isinstance(data, dict) or not isinstance(data.get("max"), int):
                return Reply(400, [{"message": 'body must be {"max": N, "used": M?}',
                                    "errorCode": "INVALID_INPUT"}])
            used = data.get("used")
            emulator.usage.set(data["max"], used if isinstance(used, int) else None)
            return Reply(200, emulator.limits_body()["DailyApiRequests"])
        return Reply(404, [{"message": f"unknown admin action {action!r}",
                            "errorCode": "NOT_FOUND"}])


_HTML = "text/html;charset=UTF-8"


def _first(query: dict[str, list[str]]) -> dict[str, str]:
    return {k: v[0] for k, v in query.items()}


def _form(body: bytes) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body, first value of each name."""
    return _first(parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True))


def _admin_json(body: bytes) -> Any:
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except json.JSONDecodeError:
        raise api_error(400, "JSON_PARSER_ERROR", "the admin request body is not JSON") from None


def _first_id(segments: list[str]) -> str | None:
    for segment in segments:
        if ids.is_valid(segment):
            return ids.to_18(segment)
    return None


@dataclass
class EmulatorHandle:
    instance_url: str
    login_url: str
    access_token: str
    ca_file: str
    username: str
    password: str
    security_token: str
    consumer_key: str
    private_key_file: str
    api_version: str = API_VERSION
    consumer_secret: str = field(default="", repr=False)
    admin_token: str = field(default="", repr=False)
    user_id: str = ""
    users: list[dict] = field(default_factory=list, repr=False)
    state_dir: str = ""
    pubsub_endpoint: str = ""  # host:port of the Pub/Sub API (gRPC over TLS, same CA)
    _server: Any = field(default=None, repr=False, compare=False)
    _pubsub: Any = field(default=None, repr=False, compare=False)
    _thread: Any = field(default=None, repr=False, compare=False)

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            pubsub.stop()
        server.shutdown()
        server.server_close()
        server.emulator.close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def set_faults(self, spec: FaultSpec | str | None) -> None:
        self._require().faults.set(spec)

    def set_api_limit(self, n: int, used: int | None = None) -> None:
        self._require().usage.set(n, used)

    def expire_sessions(self) -> None:
        self._require().auth.expire_sessions()

    def expire_authorization_codes(self) -> None:
        """Age every outstanding authorization code past its 15 minutes."""
        self._require().auth.web.expire_codes()

    def new_token(self, username: str | None = None) -> str:
        """A fresh access token for ``username`` (default: the integration user)."""
        emulator = self._require()
        user: User | None = emulator.auth.user_by_name(username or self.username)
        if user is None:
            raise SandboxError(f"the emulator has no user {username!r}")
        return emulator.auth.issue(user)

    def as_json(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)
                if not f.name.startswith("_")}

    def _require(self) -> Emulator:
        if self._server is None:
            raise SandboxError("the Salesforce emulator is not running")
        return self._server.emulator


def start_emulator(
    state_dir: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    reset: bool = False,
    faults: FaultSpec | str | None = None,
    metadata: Sequence[Path | dict] = (),
    daily_api_limit: int = 15000,
    session_ttl: float = 7200.0,
    max_body_bytes: int = DEFAULT_MAX_BODY,
    record_types: Sequence[Mapping[str, Any]] = (),
    pubsub_port: int = 0,
    connected_apps: Sequence[Mapping[str, Any]] = (),
) -> EmulatorHandle:
    """Start the org emulator in a background thread; returns once it is serving.

    ``record_types`` seeds RecordType rows (``{"SobjectType": "Account", "DeveloperName":
    "Partner"}``), which a real org's admin creates in Setup and the API cannot.
    ``connected_apps`` declares further connected apps in Salesforce's ``ConnectedApp``
    metadata shape (callback URL allow-list and scopes); the sandbox's own app (the
    handle's ``consumer_key``) is always there and accepts any loopback redirect.
    """
    state_dir = Path(state_dir)
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        if isinstance(faults, str):
            faults = FaultSpec.parse(faults)
        tls = ensure_tls(state_dir)
        emulator = Emulator(state_dir, reset=reset, faults=faults, metadata=metadata,
                            daily_api_limit=daily_api_limit, session_ttl=session_ttl,
                            max_body_bytes=max_body_bytes, record_types=record_types,
                            connected_apps=connected_apps)
        server = _Server((host, port), Handler)
    except FaultSpecError:
        raise
    except OSError as exc:
        raise SandboxError(f"cannot start the Salesforce emulator on {host}:{port}: {exc}") \
            from exc
    server.ssl_context = tls.server_context()
    server.emulator = emulator
    bound_port = server.server_address[1]
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "") else host
    base = f"https://{shown_host}:{bound_port}"
    emulator.instance_url = emulator.login_url = base
    pubsub: PubSubServer = start_pubsub(emulator.pubsub, tls, host, pubsub_port)
    thread = threading.Thread(target=server.serve_forever, name="sf-emulator", daemon=True)
    thread.start()
    user = emulator.auth.integration_user
    return EmulatorHandle(
        instance_url=base, login_url=base, access_token=emulator.auth.issue(user),
        ca_file=str(tls.ca_file), username=user.username, password=user.password,
        security_token=user.security_token, consumer_key=emulator.auth.app.consumer_key,
        private_key_file=str(emulator.auth.app.private_key_file), api_version=API_VERSION,
        consumer_secret=emulator.auth.app.consumer_secret,
        admin_token=emulator.auth.admin_token, user_id=user.id,
        users=[u.as_dict() for u in emulator.auth.users], state_dir=str(state_dir),
        pubsub_endpoint=pubsub.endpoint, _server=server, _thread=thread, _pubsub=pubsub,
    )


def salesforce_client(handle: EmulatorHandle, *, access_token: str | None = None):  # noqa: ANN201
    """An unmodified ``simple_salesforce.Salesforce`` bound to the emulator."""
    # Lazy: requests and simple-salesforce add most of a second to starting the emulator
    # (python -X importtime), and only tests and tools that talk to it need them.
    import requests
    from simple_salesforce import Salesforce

    session = requests.Session()
    session.verify = handle.ca_file
    # Otherwise REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE in the environment override
    # session.verify (a long-standing requests behaviour) and our CA is ignored; it also
    # keeps proxy variables away from loopback.
    session.trust_env = False
    return Salesforce(instance_url=handle.instance_url,
                      session_id=access_token or handle.access_token,
                      session=session, version=handle.api_version)
