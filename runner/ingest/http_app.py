"""The webhook server's routes as a Starlette application: HTTP in, JSON out.

What a request means is decided by :class:`runner.ingest.webhook_server.WebhookServer`
(``receive_webhook``, ``handle_health``, ``render_metrics``); this module only turns HTTP
into those calls and their results back into HTTP:

- the body of ``POST /webhooks/stripe`` is taken only with a ``Content-Length`` within
  ``max_body`` (413 from the header alone, before a byte of the body is read or a
  ``100 Continue`` invited; 411 without one) and must arrive within ``body_timeout``
  seconds (408);
- the handlers block (the state store is synchronous SQLAlchemy), so they run in a pool of
  ``workers`` threads, and a commit that takes longer than ``handler_timeout`` is answered
  503 (Stripe delivers again; the inbox deduplicates if the commit went through after all);
- every answer is JSON, errors ``{"error": "<one sentence>"}``: an unknown path is 404, a
  known path with another method 405 with ``Allow`` (HEAD and OPTIONS included);
- beyond ``max_connections`` open connections a request is answered 503 at once.

An answer that leaves the request's body unread closes the connection, so the rest of the
body is never parsed as the next request.

``POST /webhooks/stripe``, the path a burst takes, is served straight from ASGI without
Starlette's middleware, routing and ``Request`` objects, and its two common answers are
rendered once: with its timeouts kept in a :class:`~runner.ingest.http_server.Sweep`
rather than ``asyncio.wait_for``, a third less of the event loop's CPU per delivery. Its
answers are the same, byte for byte; every other request goes through Starlette.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Any, Protocol, TypeVar

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from runner.ingest.http_server import HttpLimits, Sweep, SweptTimeout
from runner.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from runner.metrics import Metrics

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/stripe"
HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"
# The methods each path answers (GET also answers HEAD), for 405's Allow header.
ALLOWED = {WEBHOOK_PATH: "POST", HEALTH_PATH: "GET, HEAD", METRICS_PATH: "GET, HEAD"}

T = TypeVar("T")

# The answers to nearly every delivery, rendered once: a new event or a redelivery.
COMMON_ANSWERS: dict[object, tuple[dict[str, Any], JSONResponse]] = {
    duplicate: (answer, JSONResponse(answer))
    for duplicate in (False, True)
    for answer in [{"received": True, "duplicate": duplicate}]}


class Endpoints(Protocol):
    """What the routes call: :class:`runner.ingest.webhook_server.WebhookServer`."""

    max_body: int
    metrics: Metrics

    async def receive_webhook(self, body: bytes, signature: str | None
                              ) -> tuple[int, dict[str, Any]]: ...
    def handle_health(self) -> tuple[int, dict[str, Any]]: ...
    def render_metrics(self) -> bytes: ...


class Rejected(Exception):
    """A webhook request answered with an error before its handler ran; ``reason`` labels
    ``fieldbridge_webhook_rejected_total``."""

    def __init__(self, status: int, message: str, reason: str, *, close: bool = False,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.close = close
        self.headers = headers or {}


def error(status: int, message: str, *, close: bool = False,
          headers: dict[str, str] | None = None) -> JSONResponse:
    extra = dict(headers or {})
    if close:
        extra["Connection"] = "close"
    return JSONResponse({"error": message}, status_code=status, headers=extra)


def has_body(request: Request) -> bool:
    length = request.headers.get("content-length", "0").strip()
    return "transfer-encoding" in request.headers or length not in ("", "0")


def webhook_headers(scope: Scope) -> tuple[str | None, str, str | None]:
    """``Content-Length``, ``Transfer-Encoding`` ('' when absent) and ``Stripe-Signature``
    of a request, the first of each as Starlette's ``Headers.get`` takes it, read straight
    from the ASGI scope (its names are lower case)."""
    length: str | None = None
    encoding: str | None = None
    signature: str | None = None
    for name, value in scope["headers"]:
        if name == b"content-length":
            if length is None:
                length = value.decode("latin-1")
        elif name == b"stripe-signature":
            if signature is None:
                signature = value.decode("latin-1")
        elif name == b"transfer-encoding" and encoding is None:
            encoding = value.decode("latin-1")
    return length, encoding or "", signature


def content_length(raw: str | None, encoding: str, max_body: int) -> int:
    """The announced body size, or :class:`Rejected` (chunked, missing, bad, too large)."""
    if encoding.strip().lower() not in ("", "identity"):
        raise Rejected(411, "chunked bodies are not accepted; send Content-Length",
                       "no_length", close=True)
    if raw is None:
        raise Rejected(411, "Content-Length header is required", "no_length", close=True)
    try:
        length = int(raw)
    except ValueError:
        raise Rejected(400, f"Content-Length {raw[:40]!r} is not a number", "bad_length",
                       close=True) from None
    if length < 0:
        raise Rejected(400, f"Content-Length {length} is negative", "bad_length", close=True)
    if length > max_body:
        raise Rejected(413, f"body of {length} bytes is over the limit of {max_body} bytes",
                       "too_large", close=True)
    return length


async def read_body(receive: Receive, length: int, timeout: float, sweep: Sweep) -> bytes:
    """The whole body (``length`` bytes), or :class:`Rejected` when it does not arrive in
    ``timeout`` seconds (kept in ``sweep``) or ends early."""
    chunks: list[bytes] = []
    received = 0
    try:
        async with SweptTimeout(sweep, timeout):
            while True:
                message = await receive()
                if message["type"] != "http.request":  # http.disconnect
                    raise Rejected(400, f"body ended after {received} of {length} bytes",
                                   "short_body", close=True)
                chunk = message.get("body", b"")
                received += len(chunk)
                if received > length:  # the parser frames by Content-Length; never trust it
                    break
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
    except TimeoutError:
        raise Rejected(408, f"the body did not arrive within {timeout:g} s "
                            f"({received} of {length} bytes)", "body_timeout",
                       close=True) from None
    if received != length:
        raise Rejected(400, f"body ended after {received} of {length} bytes", "short_body",
                       close=True)
    return b"".join(chunks)


def build_app(owner: Endpoints, limits: HttpLimits, executor: Executor,
              connections: Callable[[], int], extra_routes: Sequence[BaseRoute] = (),
              ) -> Callable[[Scope, Receive, Send], Any]:
    """The ASGI application serving ``owner``'s endpoints within ``limits``; blocking calls
    run on ``executor``; ``connections()`` counts the server's open connections.
    ``extra_routes``: the admin API (``/api/v1``) when it shares this server."""

    sweep = Sweep(limits.sweep_interval)  # the body and commit deadlines of deliveries

    async def in_thread(fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(loop.run_in_executor(executor, fn, *args),
                                      limits.handler_timeout)

    async def answer_webhook(scope: Scope, receive: Receive) -> Response:
        length, encoding, signature = webhook_headers(scope)
        try:
            size = content_length(length, encoding, owner.max_body)
            body = await read_body(receive, size, limits.body_timeout, sweep)
        except Rejected as exc:
            owner.metrics.rejected(exc.reason)
            return error(exc.status, str(exc), close=exc.close)
        try:
            async with SweptTimeout(sweep, limits.handler_timeout):
                status, answer = await owner.receive_webhook(body, signature)
        except TimeoutError:
            log.error("a webhook delivery was not stored within %g s; answered 503",
                      limits.handler_timeout)
            owner.metrics.rejected("store_timeout")
            return error(503, "the event could not be stored in time; deliver it again",
                         headers={"Retry-After": "1"})
        if status == 200:
            common = COMMON_ANSWERS.get(answer.get("duplicate"))
            if common is not None and answer == common[0]:
                return common[1]
        return JSONResponse(answer, status_code=status)

    async def webhook(scope: Scope, receive: Receive, send: Send) -> None:
        # Straight from ASGI, without Starlette's middleware, routing and Request objects:
        # this is the one path a burst of deliveries takes (the others go through
        # Starlette). A failure is answered as Starlette's ServerErrorMiddleware would.
        try:
            response = await answer_webhook(scope, receive)
        except Exception as exc:
            await failed(scope["method"], scope["path"], exc)(scope, receive, send)
            raise
        await response(scope, receive, send)

    async def webhook_route(request: Request) -> Response:
        # POST reaches it only past ``guarded``'s direct path; the route answers 405 to
        # the other methods.
        return await answer_webhook(request.scope, request.receive)

    async def health(request: Request) -> Response:
        try:
            status, answer = await in_thread(owner.handle_health)
        except TimeoutError:
            return JSONResponse({"status": "error", "error": "the health check timed out "
                                 f"after {limits.handler_timeout:g} s"}, status_code=503)
        return JSONResponse(answer, status_code=status)

    async def metrics(request: Request) -> Response:
        try:
            text = await in_thread(owner.render_metrics)
        except TimeoutError:
            return error(503, f"the metrics did not render within {limits.handler_timeout:g} s")
        return Response(text, media_type=METRICS_CONTENT_TYPE)

    async def http_error(request: Request, exc: Exception) -> Response:
        # Starlette's routing raises 404 (no route) and 405 (route, other method).
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        path = request.url.path
        close = has_body(request)  # the body stays unread
        if status == 405 and path in ALLOWED:
            return error(405, f"{path} accepts {ALLOWED[path].replace(', ', ' and ')} only",
                         close=close, headers={"Allow": ALLOWED[path]})
        if status == 404:
            return error(404, f"no such endpoint: {path[:200]}", close=close)
        return error(status, str(getattr(exc, "detail", "")) or "request refused",
                     close=close)

    def failed(method: str, path: str, exc: Exception) -> Response:
        # A bug, not bad input: uvicorn logs the traceback (the exception is raised on
        # after this answer); the client gets one sentence.
        log.error("the webhook server failed on %s %s: %s", method, path[:200],
                  type(exc).__name__)
        return error(500, "internal error; deliver the request again", close=True)

    async def server_error(request: Request, exc: Exception) -> Response:
        return failed(request.method, request.url.path, exc)

    app = Starlette(
        routes=[Route(WEBHOOK_PATH, webhook_route, methods=["POST"]),
                Route(HEALTH_PATH, health, methods=["GET"]),
                Route(METRICS_PATH, metrics, methods=["GET"]), *extra_routes],
        exception_handlers={HTTPException: http_error, Exception: server_error},
    )
    # "/healthz/" is not "/healthz": a 404 in JSON, not a redirect with no body.
    app.router.redirect_slashes = False

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if connections() > limits.max_connections:
                owner.metrics.rejected("overloaded")
                response = error(503, f"the server has over {limits.max_connections} open "
                                      "connections; try again shortly", close=True,
                                 headers={"Retry-After": "1"})
                await response(scope, receive, send)
                return
            if scope["path"] == WEBHOOK_PATH and scope["method"] == "POST":
                await webhook(scope, receive, send)
                return
        await app(scope, receive, send)

    return guarded
