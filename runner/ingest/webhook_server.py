"""The runner's HTTP endpoint: Stripe webhooks in, health and metrics out.

Routes:

- ``POST /webhooks/stripe``: read the body (at most ``max_body`` bytes, refused with 413 from
  ``Content-Length`` alone, without reading it), verify ``Stripe-Signature`` on the raw bytes
  *before* parsing anything, parse and check the event (once, with
  :func:`runner.stripe_event.check_event`: the inbox stores the checked event as it is),
  write it to the durable inbox and answer ``200 {"received": true, "duplicate": ...}``
  only once the store has committed. A store failure answers 500 so that Stripe delivers
  again; nothing is acknowledged that is not on disk.
- ``GET /healthz``: ``health()`` as JSON; 200 when its ``status`` is ``"ok"``, else 503.
- ``GET /metrics``: the Prometheus text of :class:`runner.metrics.Metrics`.

Events of a type that no flow of the bundle handles (``event_types``) are answered 200 so
Stripe stops sending them, counted in ``fieldbridge_events_ignored_total{type}``, and not
stored: the inbox holds work, not an archive (Stripe keeps events 30 days anyway).

Plain HTTP on purpose: in production a load balancer or TLS terminator sits in front. Request
headers are never logged (proxies put credentials there), and neither are bodies.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import urlsplit

from runner.errors import ConfigError
from runner.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from runner.metrics import Metrics
from runner.stripe_event import CheckedEvent, MalformedEvent, check_event
from runner.stripe_signature import DEFAULT_TOLERANCE, SignatureError, verify_signature

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/stripe"
HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"
MAX_BODY = 1_048_576
# A client that stops sending mid-body must not hold a server thread forever.
SOCKET_TIMEOUT = 30.0


class EventInbox(Protocol):
    """The part of :class:`runner.state.store.StateStore` the server needs."""

    def add_event(self, event: dict | CheckedEvent, *, source: str) -> bool: ...


class RequestRejected(Exception):
    """A request we answer with an error status; ``reason`` labels the metric."""

    def __init__(self, status: int, message: str, reason: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


def describe_error(exc: BaseException, limit: int = 200) -> str:
    """A one-line description of ``exc`` safe to log: no SQL parameters, no payload.

    SQLAlchemy puts the statement and its bound parameters (the event JSON) after the first
    line of its messages; we keep only the class and the first line.
    """
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    first = first.split("[SQL:")[0].split("[parameters:")[0].strip()
    if len(first) > limit:
        first = first[:limit] + "..."
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def parse_event(body: bytes) -> CheckedEvent:
    """The checked Stripe event in a verified body, or :class:`RequestRejected` naming the
    problem."""
    try:
        event = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise RequestRejected(400, f"body is not UTF-8 text: {exc.reason} at byte {exc.start}",
                              "malformed_json") from exc
    except ValueError as exc:
        raise RequestRejected(400, f"malformed JSON: {exc}", "malformed_json") from exc
    try:
        return check_event(event)
    except MalformedEvent as exc:
        raise RequestRejected(400, str(exc), exc.reason) from exc


class WebhookServer:
    """A threaded HTTP server for Stripe webhooks, ``/healthz`` and ``/metrics``.

    ``secrets`` are the endpoint's signing secrets (several during a rotation).
    ``event_types``, when given, are the types some flow handles; others are ignored.
    ``on_event(event)`` is called after a new event committed (to wake the processor);
    its failures are logged and do not change the answer, the event is safe either way.
    It runs before the answer is sent, so it must be quick (set a flag, wake a thread).
    ``on_scrape(metrics)`` runs before each ``GET /metrics`` to refresh gauges that are
    read rather than counted (``metrics.queue(store.counts())``, the API budget).
    """

    def __init__(
        self,
        store: EventInbox,
        secrets: Sequence[str],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        metrics: Metrics | None = None,
        health: Callable[[], dict[str, Any]] | None = None,
        max_body: int = MAX_BODY,
        tolerance: int = DEFAULT_TOLERANCE,
        on_event: Callable[[dict[str, Any]], None] | None = None,
        event_types: set[str] | frozenset[str] | None = None,
        on_scrape: Callable[[Metrics], None] | None = None,
    ) -> None:
        self.secrets = secrets  # validated by the setter
        if max_body <= 0:
            raise ConfigError(f"max_body must be a positive number of bytes, got {max_body}")
        if not (0 <= port <= 65535):
            raise ConfigError(f"port must be 0..65535, got {port}")
        self.store = store
        self.host = host
        self._requested_port = port
        self.metrics = metrics if metrics is not None else Metrics()
        self.health = health
        self.max_body = max_body
        self.tolerance = tolerance
        self.on_event = on_event
        self.event_types = frozenset(event_types) if event_types is not None else None
        self.on_scrape = on_scrape
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- configuration

    @property
    def secrets(self) -> list[str]:
        return list(self._secrets)

    @secrets.setter
    def secrets(self, value: Sequence[str]) -> None:
        """Replace the signing secrets (a rotation) while the server runs."""
        if isinstance(value, str):
            value = [value]
        usable = [s for s in value if isinstance(s, str) and s]
        if not usable:
            raise ConfigError("the webhook server needs at least one Stripe signing secret")
        self._secrets = tuple(usable)  # one assignment: request threads see old or new

    # -- lifecycle

    def start(self) -> WebhookServer:
        if self._httpd is not None:
            raise ConfigError("the webhook server is already running")
        try:
            httpd = _Server((self.host, self._requested_port), _make_handler(self))
        except OSError as exc:
            raise ConfigError(
                f"cannot listen on {self.host}:{self._requested_port}: {exc.strerror or exc}"
            ) from exc
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.2},
            name=f"webhook-server-{self.port}", daemon=True,
        )
        self._thread.start()
        log.info("webhook server listening on %s", self.url)
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if thread is not None:
            thread.join(timeout=10)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> WebhookServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            return self._requested_port
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """Base URL (``http://host:port``); the webhook is at ``url + WEBHOOK_PATH``."""
        host = self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def webhook_url(self) -> str:
        return self.url + WEBHOOK_PATH

    # -- request handling (called from the handler's thread)

    def handle_webhook(self, body: bytes, signature: str | None) -> tuple[int, dict[str, Any]]:
        """Verify, parse and store one delivery; the status and JSON answer."""
        try:
            verify_signature(body, signature, self._secrets, tolerance=self.tolerance)
        except SignatureError as exc:
            self.metrics.rejected(exc.reason)
            return 400, {"error": str(exc)}
        try:
            event = parse_event(body)
        except RequestRejected as exc:
            self.metrics.rejected(exc.reason)
            return exc.status, {"error": str(exc)}
        if self.event_types is not None and event.type not in self.event_types:
            self.metrics.ignored(event.type)
            return 200, {"received": True, "ignored": True}
        try:
            added = self.store.add_event(event, source="webhook")
        except Exception as exc:
            log.error("could not store webhook event %s (%s): %s",
                      event.event_id, event.type, describe_error(exc))
            self.metrics.rejected("store_failed")
            return 500, {"error": "the event could not be stored; deliver it again"}
        if added:
            self.metrics.event_received("webhook", created=event.created)
            if self.on_event is not None:
                try:
                    self.on_event(event.payload)
                except Exception as exc:
                    log.warning("on_event callback failed for %s: %s",
                                event.event_id, describe_error(exc))
        else:
            self.metrics.duplicate("webhook")
        return 200, {"received": True, "duplicate": not added}

    def render_metrics(self) -> bytes:
        if self.on_scrape is not None:
            try:
                self.on_scrape(self.metrics)
            except Exception as exc:  # stale gauges beat no metrics at all
                log.warning("refreshing metrics failed: %s", describe_error(exc))
        return self.metrics.render()

    def handle_health(self) -> tuple[int, dict[str, Any]]:
        if self.health is None:
            return 200, {"status": "ok"}
        try:
            report = dict(self.health())
        except Exception as exc:
            log.warning("health check failed: %s", describe_error(exc))
            return 503, {"status": "error", "error": describe_error(exc)}
        return (200 if report.get("status") == "ok" else 503), report


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Bursts of deliveries (and the benchmark) open many connections at once.
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up mid-answer is normal; socketserver would print a traceback.
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


def _make_handler(server: WebhookServer) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        owner = server

    return Handler


class _Handler(BaseHTTPRequestHandler):
    owner: WebhookServer
    protocol_version = "HTTP/1.1"  # keep-alive: Stripe and load balancers reuse connections
    server_version = "fieldbridge-runner"
    sys_version = ""
    timeout = SOCKET_TIMEOUT
    # Headers and body go out in two writes; without TCP_NODELAY a keep-alive client's
    # delayed ACK stalls every answer by ~40 ms.
    disable_nagle_algorithm = True

    def do_POST(self) -> None:  # noqa: N802 - BaseHTTPRequestHandler's naming
        path = urlsplit(self.path).path
        if path != WEBHOOK_PATH:
            self._drain_or_close()
            self._not_found(path)
            return
        try:
            body = self._read_body()
        except RequestRejected as exc:
            self.owner.metrics.rejected(exc.reason)
            self.close_connection = True  # the unread body is still on the socket
            self._send_json(exc.status, {"error": str(exc)})
            return
        status, answer = self.owner.handle_webhook(body, self.headers.get("Stripe-Signature"))
        self._send_json(status, answer)

    def handle_expect_100(self) -> bool:
        # curl and others ask before sending a large body: refuse an oversized one before
        # it is sent, rather than inviting it with "100 Continue".
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        if length > self.owner.max_body:
            self.owner.metrics.rejected("too_large")
            self.close_connection = True
            self._send_json(413, {"error": f"body of {length} bytes is over the limit of "
                                           f"{self.owner.max_body} bytes"})
            return False
        return super().handle_expect_100()

    def do_GET(self) -> None:  # noqa: N802
        path = urlsplit(self.path).path
        if path == HEALTH_PATH:
            status, answer = self.owner.handle_health()
            self._send_json(status, answer)
        elif path == METRICS_PATH:
            self._send(200, self.owner.render_metrics(), METRICS_CONTENT_TYPE)
        elif path == WEBHOOK_PATH:
            self._send_json(405, {"error": f"{WEBHOOK_PATH} accepts POST only"},
                            extra={"Allow": "POST"})
        else:
            self._not_found(path)

    def do_PUT(self) -> None:  # noqa: N802
        path = urlsplit(self.path).path
        self._drain_or_close()
        if path == WEBHOOK_PATH:
            self._send_json(405, {"error": f"{WEBHOOK_PATH} accepts POST only"},
                            extra={"Allow": "POST"})
        else:
            self._not_found(path)

    do_DELETE = do_PUT
    do_PATCH = do_PUT

    # -- helpers

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").strip().lower() not in ("", "identity"):
            raise RequestRejected(411, "chunked bodies are not accepted; send Content-Length",
                                  "no_length")
        raw = self.headers.get("Content-Length")
        if raw is None:
            raise RequestRejected(411, "Content-Length header is required", "no_length")
        try:
            length = int(raw)
        except ValueError:
            raise RequestRejected(400, f"Content-Length {raw!r} is not a number",
                                  "bad_length") from None
        if length < 0:
            raise RequestRejected(400, f"Content-Length {length} is negative", "bad_length")
        limit = self.owner.max_body
        if length > limit:
            raise RequestRejected(
                413, f"body of {length} bytes is over the limit of {limit} bytes", "too_large"
            )
        body = self.rfile.read(length)
        if len(body) != length:
            raise RequestRejected(
                400, f"body ended after {len(body)} of {length} bytes", "short_body"
            )
        return body

    def _drain_or_close(self) -> None:
        """Skip a small body of a request we refuse, or drop the connection after answering."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if 0 <= length <= self.owner.max_body:
            self.rfile.read(length)
        else:
            self.close_connection = True

    def _not_found(self, path: str) -> None:
        self._send_json(404, {"error": f"no such endpoint: {path[:200]}"})

    def _send_json(self, status: int, answer: dict[str, Any],
                   extra: dict[str, str] | None = None) -> None:
        body = json.dumps(answer).encode("utf-8")
        self._send(status, body, "application/json", extra)

    def _send(self, status: int, body: bytes, content_type: str,
              extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        # Headers and body in one write (end_headers would send them in two): one system
        # call and one packet per answer, which a burst of webhooks notices.
        # (_headers_buffer is where send_header collects the header lines.)
        buffer: list[bytes] = self._headers_buffer  # type: ignore[attr-defined]
        buffer.append(b"\r\n" + body)
        self.flush_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        # Only the request line and status, at debug: never headers or bodies.
        log.debug("%s %s", self.address_string(), format % args)
