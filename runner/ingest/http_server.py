"""uvicorn in a thread of the runner process: the connection model of the webhook server.

One event loop, in a thread of its own, accepts and parses every connection (httptools);
the blocking work of a request (signature, JSON, the state store's commit) runs in a small
pool of worker threads (:mod:`runner.ingest.http_app`). A burst of a thousand deliveries
costs a thousand sockets, not a thousand threads.

uvicorn bounds a request's body and the idle time between keep-alive requests, but not the
time a client may take to send its request line and headers (a "slowloris" holds a socket
for ever), nor their size. :class:`_Protocol` adds both: a client gets
:data:`HttpLimits.header_timeout` seconds from connecting (or from the first byte of its
next request) to the end of its headers, and at most ``max_header_bytes`` of them; the
answer is one JSON sentence and the connection is closed. uvicorn's own plain-text 400 for a
request it cannot parse becomes JSON too, so that every answer of the server is JSON.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from runner.errors import ConfigError

log = logging.getLogger(__name__)

# How long start() waits for the loop to be serving, and stop() for it to end.
START_TIMEOUT = 10.0
JOIN_TIMEOUT = 5.0


@dataclass(frozen=True)
class HttpLimits:
    """The bounds of the connection model (the docs' "limits" section lists them).

    ``max_connections``: open connections at once; a request arriving on a connection beyond
    it is answered 503 (``Retry-After: 1``) and the connection closed. Idle connections count,
    so the header and keep-alive timeouts are what frees them.
    ``backlog``: connections the kernel queues before the loop accepts them (capped by
    ``net.core.somaxconn``). A burst larger than the backlog gets TCP resets, which is what
    the old ``http.server`` (a backlog of 128) did at 1000 simultaneous deliveries.
    ``header_timeout``: seconds from connecting, or from the first byte of a keep-alive
    connection's next request, to the end of the request's headers.
    ``body_timeout``: seconds to receive the whole body once the headers are in.
    ``handler_timeout``: seconds for the store's commit (in a worker thread) before the
    delivery is answered 503 so that Stripe sends it again.
    ``keep_alive``: seconds an idle keep-alive connection stays open between requests.
    ``max_header_bytes``: bytes of request line and headers.
    ``workers``: threads that store deliveries, a group per commit (the event loop
    verifies and parses them), and read health and metrics. SQLite takes one writer at a time; PostgreSQL's pool takes a few.
    ``shutdown_grace``: seconds ``stop()`` lets requests in flight finish.

    The timeouts are checked together a few times a second (:attr:`sweep_interval`), not
    by a timer each: a deadline is met up to a quarter of the shortest timeout late, and at
    most half a second late.
    """

    max_connections: int = 2048
    backlog: int = 2048
    header_timeout: float = 10.0
    body_timeout: float = 10.0
    handler_timeout: float = 30.0
    keep_alive: int = 15
    max_header_bytes: int = 65_536
    workers: int = 8
    shutdown_grace: float = 1.0

    @property
    def sweep_interval(self) -> float:
        """How often the deadlines are checked (:class:`Sweep`): each is met at most a
        quarter late, and at most half a second."""
        return min(0.5, self.header_timeout / 4, self.body_timeout / 4,
                   self.handler_timeout / 4, self.keep_alive / 4)

    def __post_init__(self) -> None:
        for name in ("max_connections", "backlog", "max_header_bytes", "workers"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("header_timeout", "body_timeout", "handler_timeout", "keep_alive",
                     "shutdown_grace"):
            value = getattr(self, name)
            if not value > 0 or value == float("inf"):
                raise ConfigError(f"{name} must be a positive number of seconds, got {value}")


class Expiring(Protocol):
    """Something with a deadline in a :class:`Sweep`."""

    def expire(self) -> None: ...


class Sweep:
    """Deadlines checked together, every ``interval`` seconds, by one timer of the event
    loop: each is met up to ``interval`` late. It replaces a timer armed and cancelled per
    request for each of the header deadline, keep-alive, the body and the commit timeouts
    (four a delivery, and ``asyncio.wait_for`` a task of its own besides), which was about
    a tenth of the loop thread's time under a burst. Use it from one event loop only."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._due: dict[Expiring, float] = {}
        self._timer: asyncio.TimerHandle | None = None

    def watch(self, item: Expiring, when: float) -> None:
        """Call ``item.expire()`` once the loop's clock passes ``when`` (replacing any
        deadline ``item`` had)."""
        self._due[item] = when
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.interval, self._run)

    def unwatch(self, item: Expiring) -> None:
        self._due.pop(item, None)

    def _run(self) -> None:
        loop = asyncio.get_running_loop()
        self._timer = None
        now = loop.time()
        try:
            for item in [item for item, when in self._due.items() if when <= now]:
                del self._due[item]
                item.expire()
        finally:
            if self._due and self._timer is None:
                self._timer = loop.call_later(self.interval, self._run)


class SweptTimeout:
    """``async with SweptTimeout(sweep, seconds)``: ``asyncio.timeout(seconds)`` (the
    block's task is cancelled at the deadline and ``TimeoutError`` raised from the block)
    with its deadline in ``sweep`` instead of a timer of its own."""

    __slots__ = ("_expired", "_seconds", "_sweep", "_task")

    def __init__(self, sweep: Sweep, seconds: float) -> None:
        self._sweep = sweep
        self._seconds = seconds
        self._task: asyncio.Task[Any] | None = None
        self._expired = False

    async def __aenter__(self) -> SweptTimeout:
        self._task = asyncio.current_task()
        if self._task is None:
            raise RuntimeError("SweptTimeout is used inside a task only")
        self._sweep.watch(self, asyncio.get_running_loop().time() + self._seconds)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc_val: BaseException | None, exc_tb: TracebackType | None) -> None:
        self._sweep.unwatch(self)
        if not self._expired or self._task is None:
            return
        # As asyncio.timeout: only the cancellation this deadline caused becomes the error.
        if self._task.uncancel() == 0 and exc_type is asyncio.CancelledError:
            raise TimeoutError

    def expire(self) -> None:
        if self._task is not None:
            self._expired = True
            self._task.cancel()


def json_error(status: int, reason: str, message: str) -> bytes:
    """A whole HTTP/1.1 answer with a JSON ``{"error": message}`` body that closes the
    connection: for the answers the protocol writes itself, before any application runs."""
    body = json.dumps({"error": message}).encode("utf-8")
    return (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n").encode("ascii") + body


class _Protocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline and a size limit on request headers.

    ``limits`` and ``sweep`` (where the header and keep-alive deadlines are kept) are set on
    the subclass each server makes (:func:`_protocol_for`)."""

    limits: HttpLimits = HttpLimits()
    sweep: Sweep = Sweep(HttpLimits().sweep_interval)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_bytes = 0  # bytes received since the request began
        self._parsed_bytes = 0  # bytes of request line and headers parsed
        self._too_large = False
        self._in_headers = False
        self._answered = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        set_nodelay(transport)
        self._start_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_headers()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        # uvicorn's, but the keep-alive deadline is kept in the sweep, not in a timer.
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
        elif not self._in_headers:
            self.sweep.watch(self, self.loop.time() + self.timeout_keep_alive)

    def expire(self) -> None:
        if self._in_headers:
            self._headers_too_slow()
        elif not self.transport.is_closing():  # idle between keep-alive requests
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._answered:
            return
        if not self._in_headers and (self.cycle is None or self.cycle.response_complete):
            # The first byte of a keep-alive connection's next request.
            self._start_headers()
        if self._in_headers:
            self._header_bytes += len(data)
        super().data_received(data)
        if self._in_headers and self._header_bytes > self.limits.max_header_bytes:
            # Headers still coming (httptools buffers an unfinished one without a callback).
            self._headers_too_large()

    def on_url(self, url: bytes) -> None:
        self._count_header(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_header(len(name) + len(value) + 4)
        super().on_header(name, value)

    def _count_header(self, size: int) -> None:
        # Headers that arrived whole in one read: counted as the parser hands them over.
        self._parsed_bytes += size
        if self._parsed_bytes > self.limits.max_header_bytes:
            self._too_large = True
            raise ValueError("headers too large")  # httptools stops; send_400_response runs

    def on_headers_complete(self) -> None:
        self._stop_headers()
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        if self._answered:  # we refused the request already (and closed)
            return
        if self._too_large:
            self._headers_too_large()
            return
        self._refuse(400, "Bad Request", "the request is not valid HTTP/1.1")

    def _headers_too_large(self) -> None:
        self._refuse(431, "Request Header Fields Too Large",
                     f"the request line and headers are over the limit of "
                     f"{self.limits.max_header_bytes} bytes")

    # -- the header deadline

    def _start_headers(self) -> None:
        self._in_headers = True
        self._header_bytes = 0
        self._parsed_bytes = 0
        self.sweep.watch(self, self.loop.time() + self.limits.header_timeout)

    def _stop_headers(self) -> None:
        self._in_headers = False
        self.sweep.unwatch(self)

    def _headers_too_slow(self) -> None:
        if self.cycle is not None and not self.cycle.response_complete:
            # A pipelined request stalled behind one still being answered: finish that
            # answer, then close.
            self.cycle.keep_alive = False
            return
        self._refuse(408, "Request Timeout",
                     f"the request headers did not arrive within "
                     f"{self.limits.header_timeout:g} s")

    def _refuse(self, status: int, reason: str, message: str) -> None:
        self._stop_headers()
        self._answered = True
        if not self.transport.is_closing():
            log.info("refused a connection's request: %s", message)
            self.transport.write(json_error(status, reason, message))
            self.transport.close()


def set_nodelay(transport: asyncio.BaseTransport) -> None:
    """Send each write at once (TCP_NODELAY). asyncio sets it only on sockets created with
    ``proto=IPPROTO_TCP``, and ``socket.create_server`` leaves ``proto`` 0: the answer's
    body then waited behind its headers for the client's delayed ACK, 40 ms on Linux, and
    every request took at least that long (a keep-alive client, e.g. Stripe's, sending
    deliveries one after another got at most 25 answers a second per connection)."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as exc:  # a connection already reset: nothing to speed up
            log.debug("could not set TCP_NODELAY: %s", exc)


def _protocol_for(limits: HttpLimits) -> type[_Protocol]:
    return type("WebhookProtocol", (_Protocol,),
                {"limits": limits, "sweep": Sweep(limits.sweep_interval)})


def bind(host: str, port: int, backlog: int) -> socket.socket:
    """The listening socket, or ConfigError naming the address (port in use, bad host)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family, backlog=backlog)
    except (OSError, OverflowError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise ConfigError(f"cannot listen on {host}:{port}: {reason}") from exc
    sock.setblocking(False)
    return sock


class HttpServer:
    """An ASGI app served by uvicorn from a thread with its own event loop.

    ``start(app)`` returns once the socket is bound and the loop is serving (ConfigError if it
    cannot be); ``stop()`` stops accepting, gives requests in flight
    ``limits.shutdown_grace`` seconds, closes every connection and ends the thread.
    ``connections()`` is how many connections are open (the app's overload check).
    """

    def __init__(self, host: str, port: int, limits: HttpLimits) -> None:
        self.host = host
        self.limits = limits
        self._requested_port = port
        self._sock: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._sock is None:
            return self._requested_port
        return int(self._sock.getsockname()[1])

    def connections(self) -> int:
        server = self._server
        return len(server.server_state.connections) if server is not None else 0

    def start(self, app: Callable[..., Any]) -> None:
        if self._server is not None:
            raise ConfigError("the webhook server is already running")
        sock = bind(self.host, self._requested_port, self.limits.backlog)
        config = uvicorn.Config(
            app, http=_protocol_for(self.limits), ws="none", lifespan="off",
            interface="asgi3",
            # The runner configures logging; uvicorn must not replace it. Its error logger
            # keeps warnings (requests it cannot parse); requests are never logged (their
            # headers may hold credentials put there by a proxy).
            log_config=None, log_level=logging.WARNING, access_log=False,
            proxy_headers=False, server_header=False,
            headers=[("server", "fieldbridge-runner")],
            backlog=self.limits.backlog, timeout_keep_alive=self.limits.keep_alive,
            timeout_graceful_shutdown=self.limits.shutdown_grace,  # type: ignore[arg-type]
        )
        server = uvicorn.Server(config)
        self._sock, self._server, self._failure = sock, server, None
        thread = threading.Thread(target=self._serve, args=(server, sock),
                                  name=f"webhook-server-{self.port}", daemon=True)
        self._thread = thread
        thread.start()
        waited = 0.0
        while not server.started and thread.is_alive() and waited < START_TIMEOUT:
            thread.join(0.01)
            waited += 0.01
        if not server.started:
            failure = self._failure
            self.stop()
            raise ConfigError(f"the webhook server did not start on {self.host}:"
                              f"{self.port}: {failure or 'timed out'}") from failure

    def _serve(self, server: uvicorn.Server, sock: socket.socket) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(server.serve(sockets=[sock]))
            # uvicorn cancels the requests still running after the grace period but leaves
            # their connections (and any still sending headers) open: close them.
            for connection in list(server.server_state.connections):
                connection.transport.close()
            loop.run_until_complete(asyncio.sleep(0))
        except BaseException as exc:  # noqa: BLE001 - reported by start(), logged here
            self._failure = exc
            log.error("the webhook server stopped: %s", exc, exc_info=exc)
        finally:
            loop.close()

    def stop(self) -> None:
        server, thread, sock = self._server, self._thread, self._sock
        if server is None:
            return
        server.should_exit = True
        if thread is not None:
            thread.join(JOIN_TIMEOUT)
            if thread.is_alive():
                log.warning("the webhook server did not stop within %g s", JOIN_TIMEOUT)
        if sock is not None:
            sock.close()
        self._server = None
        self._thread = None
        self._sock = None
