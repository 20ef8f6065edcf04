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
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Any, Protocol, TypeVar

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from runner.ingest.http_server import HttpLimits
from runner.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from runner.metrics import Metrics

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/stripe"
HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"
# The methods each path answers (GET also answers HEAD), for 405's Allow header.
ALLOWED = {WEBHOOK_PATH: "POST", HEALTH_PATH: "GET, HEAD", METRICS_PATH: "GET, HEAD"}

T = TypeVar("T")


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


def content_length(request: Request, max_body: int) -> int:
    """The announced body size, or :class:`Rejected` (chunked, missing, bad, too large)."""
    encoding = request.headers.get("transfer-encoding", "").strip().lower()
    if encoding not in ("", "identity"):
        raise Rejected(411, "chunked bodies are not accepted; send Content-Length",
                       "no_length", close=True)
    raw = request.headers.get("content-length")
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


async def read_body(request: Request, length: int, timeout: float) -> bytes:
    """The whole body (``length`` bytes), or :class:`Rejected` when it does not arrive in
    ``timeout`` seconds or ends early."""
    chunks: list[bytes] = []
    received = 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                received += len(chunk)
                if received > length:  # the parser frames by Content-Length; never trust it
                    break
                chunks.append(chunk)
    except TimeoutError:
        raise Rejected(408, f"the body did not arrive within {timeout:g} s "
                            f"({received} of {length} bytes)", "body_timeout",
                       close=True) from None
    except ClientDisconnect:
        raise Rejected(400, f"body ended after {received} of {length} bytes",
                       "short_body", close=True) from None
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

    async def in_thread(fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(loop.run_in_executor(executor, fn, *args),
                                      limits.handler_timeout)

    async def webhook(request: Request) -> Response:
        try:
            length = content_length(request, owner.max_body)
            body = await read_body(request, length, limits.body_timeout)
        except Rejected as exc:
            owner.metrics.rejected(exc.reason)
            return error(exc.status, str(exc), close=exc.close)
        try:
            status, answer = await asyncio.wait_for(
                owner.receive_webhook(body, request.headers.get("stripe-signature")),
                limits.handler_timeout)
        except TimeoutError:
            log.error("a webhook delivery was not stored within %g s; answered 503",
                      limits.handler_timeout)
            owner.metrics.rejected("store_timeout")
            return error(503, "the event could not be stored in time; deliver it again",
                         headers={"Retry-After": "1"})
        return JSONResponse(answer, status_code=status)

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

    async def server_error(request: Request, exc: Exception) -> Response:
        # A bug, not bad input: uvicorn logs the traceback (Starlette raises the exception
        # on after this answer); the client gets one sentence.
        log.error("the webhook server failed on %s %s: %s", request.method,
                  request.url.path[:200], type(exc).__name__)
        return error(500, "internal error; deliver the request again", close=True)

    app = Starlette(
        routes=[Route(WEBHOOK_PATH, webhook, methods=["POST"]),
                Route(HEALTH_PATH, health, methods=["GET"]),
                Route(METRICS_PATH, metrics, methods=["GET"]), *extra_routes],
        exception_handlers={HTTPException: http_error, Exception: server_error},
    )
    # "/healthz/" is not "/healthz": a 404 in JSON, not a redirect with no body.
    app.router.redirect_slashes = False

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and connections() > limits.max_connections:
            owner.metrics.rejected("overloaded")
            response = error(503, f"the server has over {limits.max_connections} open "
                                  "connections; try again shortly", close=True,
                             headers={"Retry-After": "1"})
            await response(scope, receive, send)
            return
        await app(scope, receive, send)

    return guarded
