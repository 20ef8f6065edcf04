"""The runner's HTTP endpoint: Stripe webhooks in, health and metrics out.

Routes:

- ``POST /webhooks/stripe``: read the body (at most ``max_body`` bytes, refused with 413 from
  ``Content-Length`` alone, without reading it), verify ``Stripe-Signature`` on the raw bytes
  *before* parsing anything, parse and check the event (once, with
  :func:`runner.stripe_event.check_event`: the inbox stores the checked event as it is),
  write it to the durable inbox and answer ``200 {"received": true, "duplicate": ...}``
  only once the store has committed. Deliveries that arrive while a commit is in flight
  are stored together in the next transaction (:mod:`runner.ingest.group_commit`). A store
  failure answers 500 so that Stripe delivers again; nothing is acknowledged that is not
  on disk. A body nested deeper than
  :data:`MAX_DEPTH` is refused with 400 (one sentence, a log line and
  ``fieldbridge_webhook_rejected_total{reason="too_deep"}``), never a traceback.
- ``GET /healthz``: ``health()`` as JSON; 200 when its ``status`` is ``"ok"``, else 503.
- ``GET /metrics``: the Prometheus text of :class:`runner.metrics.Metrics`.

Any other path is 404, another method on these paths 405 with ``Allow``; every answer is JSON
(:mod:`runner.ingest.http_app`). The server is uvicorn in a thread of the runner process,
with bounded connections, timeouts and a deep accept backlog (:mod:`runner.ingest.http_server`,
whose :class:`~runner.ingest.http_server.HttpLimits` lists the bounds).

Events of a type that no flow of the bundle handles (``event_types``) are answered 200 so
Stripe stops sending them, counted in ``fieldbridge_events_ignored_total{type}``, and not
stored: the inbox holds work, not an archive (Stripe keeps events 30 days anyway).

Plain HTTP on purpose: in production a load balancer or TLS terminator sits in front. Request
headers are never logged (proxies put credentials there), and neither are bodies.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from starlette.routing import BaseRoute

from mappings.limits import DOCUMENT_MAX_DEPTH, TooDeepError, TooLargeError, loads_json
from runner.errors import ConfigError
from runner.ingest.group_commit import GroupCommit, LoopGroupCommit
from runner.ingest.http_app import HEALTH_PATH, METRICS_PATH, WEBHOOK_PATH, build_app
from runner.ingest.http_server import HttpLimits, HttpServer
from runner.metrics import Metrics
from runner.stripe_event import CheckedEvent, MalformedEvent, check_event
from runner.stripe_signature import DEFAULT_TOLERANCE, SignatureError, verify_signature

log = logging.getLogger(__name__)

__all__ = ["HEALTH_PATH", "MAX_BODY", "MAX_DEPTH", "METRICS_PATH", "WEBHOOK_PATH", "HttpLimits",
           "WebhookServer", "describe_error", "parse_event"]

MAX_BODY = 1_048_576
# A Stripe event nests about ten deep (event, data, object, a list, its items, metadata):
# the documents' bound leaves room for any real one and stops a hostile one before anything
# walks it recursively.
MAX_DEPTH = DOCUMENT_MAX_DEPTH


class EventInbox(Protocol):
    """The part of :class:`runner.state.store.StateStore` the server needs."""

    def add_events_reporting_new(self, events: Iterable[CheckedEvent], *,
                                 source: str) -> list[bool]: ...


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
        event = loads_json(body.decode("utf-8"), MAX_DEPTH)
    except UnicodeDecodeError as exc:
        raise RequestRejected(400, f"body is not UTF-8 text: {exc.reason} at byte {exc.start}",
                              "malformed_json") from exc
    except (TooDeepError, TooLargeError) as exc:
        raise RequestRejected(400, f"the event {exc}", "too_deep") from exc
    except ValueError as exc:
        raise RequestRejected(400, f"malformed JSON: {exc}", "malformed_json") from exc
    try:
        return check_event(event)
    except MalformedEvent as exc:
        raise RequestRejected(400, str(exc), exc.reason) from exc


class WebhookServer:
    """The HTTP server for Stripe webhooks, ``/healthz`` and ``/metrics``.

    ``secrets`` are the endpoint's signing secrets (several during a rotation).
    ``event_types``, when given, are the types some flow handles; others are ignored.
    ``on_event(event)`` is called after a new event committed (to wake the processor);
    its failures are logged and do not change the answer, the event is safe either way.
    It runs before the answer is sent, so it must be quick (set a flag, wake a thread).
    ``on_scrape(metrics)`` runs before each ``GET /metrics`` to refresh gauges that are
    read rather than counted (``metrics.queue(store.counts())``, the API budget).
    ``limits`` bounds connections, timeouts and worker threads (:class:`HttpLimits`).
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
        limits: HttpLimits | None = None,
        extra_routes: Sequence[BaseRoute] = (),
    ) -> None:
        self.secrets = secrets  # validated by the setter
        if max_body <= 0:
            raise ConfigError(f"max_body must be a positive number of bytes, got {max_body}")
        if not (0 <= port <= 65535):
            raise ConfigError(f"port must be 0..65535, got {port}")
        self.store = store
        # Deliveries that arrive together are committed together (one transaction).
        self._inbox = GroupCommit(store, source="webhook")
        self.host = host
        self._requested_port = port
        self.metrics = metrics if metrics is not None else Metrics()
        self.health = health
        self.max_body = max_body
        self.tolerance = tolerance
        self.on_event = on_event
        self.event_types = frozenset(event_types) if event_types is not None else None
        self.on_scrape = on_scrape
        self.limits = limits if limits is not None else HttpLimits()
        self.extra_routes = tuple(extra_routes)  # the admin API when it shares this server
        self._http: HttpServer | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._loop_inbox: LoopGroupCommit | None = None  # the HTTP route's, while running

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
        if self._http is not None:
            raise ConfigError("the webhook server is already running")
        executor = ThreadPoolExecutor(self.limits.workers, thread_name_prefix="webhook")
        http = HttpServer(self.host, self._requested_port, self.limits)
        self._loop_inbox = LoopGroupCommit(self.store, source="webhook", executor=executor)
        try:
            http.start(build_app(self, self.limits, executor, http.connections,
                                 self.extra_routes))
        except BaseException:
            executor.shutdown(wait=False)
            self._loop_inbox = None
            raise
        self._http, self._executor = http, executor
        log.info("webhook server listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop taking requests; those in flight get ``limits.shutdown_grace`` seconds."""
        http, executor, inbox = self._http, self._executor, self._loop_inbox
        if http is None:
            return
        http.stop()
        if inbox is not None:
            inbox.close()
        if executor is not None:
            # A commit already running finishes on its own (its answer is lost, and Stripe's
            # redelivery is deduplicated); queued ones are dropped unanswered.
            executor.shutdown(wait=False, cancel_futures=True)
        self._http = None
        self._executor = None
        self._loop_inbox = None

    def __enter__(self) -> WebhookServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._http is None:
            return self._requested_port
        return self._http.port

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

    # -- request handling (called from a worker thread of the server)

    def handle_webhook(self, body: bytes, signature: str | None) -> tuple[int, dict[str, Any]]:
        """Verify, parse and store one delivery; the status and JSON answer. For callers on
        threads; the HTTP route takes :meth:`receive_webhook`, the same steps on its loop."""
        checked = self.check_delivery(body, signature)
        if not isinstance(checked, CheckedEvent):
            return checked
        try:
            added = self._inbox.add(checked)
        except Exception as exc:
            return self._store_failed(checked, exc)
        return self._stored(checked, added)

    async def receive_webhook(self, body: bytes, signature: str | None
                              ) -> tuple[int, dict[str, Any]]:
        """:meth:`handle_webhook` on the server's event loop: the checks run there (an HMAC
        and a JSON parse, well under a millisecond for a Stripe event) and only the group's
        commit goes to a worker thread, once per group rather than once per delivery."""
        checked = self.check_delivery(body, signature)
        if not isinstance(checked, CheckedEvent):
            return checked
        if self._loop_inbox is None:
            raise ConfigError("the webhook server is not running")
        try:
            added = await self._loop_inbox.add(checked)
        except Exception as exc:
            return self._store_failed(checked, exc)
        return self._stored(checked, added)

    def check_delivery(self, body: bytes, signature: str | None
                       ) -> CheckedEvent | tuple[int, dict[str, Any]]:
        """The event to store, or the answer when there is none to store (a bad signature
        or body: 4xx; a type no flow handles: 200, ignored)."""
        try:
            verify_signature(body, signature, self._secrets, tolerance=self.tolerance)
        except SignatureError as exc:
            self.metrics.rejected(exc.reason)
            return 400, {"error": str(exc)}
        try:
            event = parse_event(body)
        except RequestRejected as exc:
            if exc.reason == "too_deep":
                # Signed, so it comes from someone holding the secret: worth a line.
                log.warning("refused a signed webhook delivery: %s", exc)
            self.metrics.rejected(exc.reason)
            return exc.status, {"error": str(exc)}
        if self.event_types is not None and event.type not in self.event_types:
            self.metrics.ignored(event.type)
            return 200, {"received": True, "ignored": True}
        return event

    def _store_failed(self, event: CheckedEvent, exc: Exception) -> tuple[int, dict[str, Any]]:
        log.error("could not store webhook event %s (%s): %s",
                  event.event_id, event.type, describe_error(exc))
        self.metrics.rejected("store_failed")
        return 500, {"error": "the event could not be stored; deliver it again"}

    def _stored(self, event: CheckedEvent, added: bool) -> tuple[int, dict[str, Any]]:
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
