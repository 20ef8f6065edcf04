"""The webhook server's HTTP limits (issue 11, findings 3 and 4): every method and path gets
JSON, a slow or oversized client is cut off by a deadline or a size, a burst of connections
costs sockets rather than threads, and a 100,000-deep body is one sentence, a log line and
a metric.

Each test starts a server on 127.0.0.1 with short limits, so these are marked slow like the
other HTTP tests, though each takes well under a second.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from runner.errors import ConfigError
from runner.ingest.http_server import HttpLimits, Sweep, SweptTimeout
from runner.ingest.webhook_server import MAX_DEPTH, WebhookServer
from runner.sandbox.stripe_events import make_event, signed_delivery
from runner.stripe_signature import sign_payload
from tests.runner.ingest.helpers import FakeInbox

pytestmark = pytest.mark.slow

SECRET = "whsec_test_limits"
LIMITS = HttpLimits(header_timeout=0.5, body_timeout=0.5, keep_alive=1, max_connections=50,
                    max_header_bytes=4096, shutdown_grace=0.5)


def rejected(server: WebhookServer) -> dict[str, float]:
    from prometheus_client.parser import text_string_to_metric_families

    out = {}
    for family in text_string_to_metric_families(server.metrics.render().decode()):
        for s in family.samples:
            if s.name == "fieldbridge_webhook_rejected_total":
                out[s.labels["reason"]] = s.value
    return out


@pytest.fixture
def inbox() -> FakeInbox:
    return FakeInbox()


@pytest.fixture
def server(inbox: FakeInbox) -> Iterator[WebhookServer]:
    with WebhookServer(inbox, [SECRET], limits=LIMITS, max_body=300_000) as running:
        yield running


def raw(server: WebhookServer, data: bytes, *, wait: float = 5.0) -> bytes:
    """Send ``data`` on a fresh connection; everything the server answers until it closes."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=wait) as sock:
        sock.sendall(data)
        reply = b""
        try:
            while chunk := sock.recv(65536):
                reply += chunk
        except ConnectionResetError:
            pass
    return reply


def answer(sock: socket.socket) -> bytes:
    """One whole answer read from a keep-alive connection (headers and body may arrive in
    separate segments)."""
    reply = b""
    while b"\r\n\r\n" not in reply:
        reply += sock.recv(65536)
    length = int(split(reply)[1].get("content-length", "0"))
    while len(reply.partition(b"\r\n\r\n")[2]) < length:
        reply += sock.recv(65536)
    return reply


def split(reply: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in
               (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


# -- a deeply nested body (finding 4) ------------------------------------------------------

def test_a_100000_deep_body_is_refused_with_one_sentence(inbox, caplog) -> None:
    """The old server let the parser's RecursionError escape: the connection closed with no
    answer, no log line and no metric."""
    server = WebhookServer(inbox, [SECRET])
    deep = b"[" * 100_000 + b"]" * 100_000
    with caplog.at_level(logging.WARNING, logger="runner.ingest"):
        status, answer = server.handle_webhook(deep, sign_payload(deep, SECRET))
    assert status == 400
    assert answer == {"error": f"the event is nested deeper than {MAX_DEPTH} levels"}
    assert rejected(server) == {"too_deep": 1}
    assert f"nested deeper than {MAX_DEPTH} levels" in caplog.text
    assert inbox.calls == 0


def test_a_deep_body_over_http_gets_its_400(server, inbox) -> None:
    event = make_event("customer.created")
    nested: dict = {}
    inner = nested
    for _ in range(MAX_DEPTH + 5):
        inner["x"] = {}
        inner = inner["x"]
    event["data"]["object"]["metadata"] = nested
    body, headers = signed_delivery(event, SECRET)
    resp = requests.post(server.webhook_url, data=body, headers=headers, timeout=10)
    assert resp.status_code == 400 and "nested deeper than" in resp.json()["error"]
    deep = b"{\"a\":" * 40_000 + b"1" + b"}" * 40_000
    resp = requests.post(server.webhook_url, data=deep,
                         headers={"Stripe-Signature": sign_payload(deep, SECRET)}, timeout=10)
    assert resp.status_code == 400 and "nested deeper than" in resp.json()["error"]
    assert rejected(server) == {"too_deep": 2} and inbox.calls == 0


# -- every method and path answers JSON (finding 3) ---------------------------------------

@pytest.mark.parametrize(("method", "path", "status", "allow"), [
    ("HEAD", "/webhooks/stripe", 405, "POST"),
    ("OPTIONS", "/webhooks/stripe", 405, "POST"),
    ("OPTIONS", "/healthz", 405, "GET, HEAD"),
    ("PATCH", "/metrics", 405, "GET, HEAD"),
    ("POST", "/healthz", 405, "GET, HEAD"),
    ("OPTIONS", "/nowhere", 404, None),
    ("HEAD", "/nowhere", 404, None),
    ("GET", "/healthz/", 404, None),
])
def test_every_method_and_path_gets_a_json_answer(server, method, path, status, allow) -> None:
    """The old server answered HEAD 501 with an empty body and OPTIONS a 501 HTML page."""
    resp = requests.request(method, server.url + path, timeout=10)
    assert resp.status_code == status
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.headers.get("Allow") == allow
    if method != "HEAD":  # HEAD has no body by definition; its length is the GET's
        assert set(resp.json()) == {"error"}


def test_head_of_health_and_metrics(server) -> None:
    for path in ("/healthz", "/metrics"):
        resp = requests.head(server.url + path, timeout=10)
        assert resp.status_code == 200 and resp.content == b""


def test_a_request_that_is_not_http_gets_json(server) -> None:
    status, headers, body = split(raw(server, b"NOT HTTP AT ALL\r\n\r\n"))
    assert status == 400 and headers["connection"] == "close"
    assert json.loads(body) == {"error": "the request is not valid HTTP/1.1"}


# -- deadlines and sizes -------------------------------------------------------------------

def test_headers_that_never_finish_get_408_after_the_header_timeout(server) -> None:
    started = time.monotonic()
    reply = raw(server, b"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\n")
    elapsed = time.monotonic() - started
    status, headers, body = split(reply)
    assert status == 408 and "did not arrive within 0.5 s" in json.loads(body)["error"]
    assert 0.4 < elapsed < 3


def test_an_idle_connection_is_closed_after_the_header_timeout(server) -> None:
    started = time.monotonic()
    status, _, _ = split(raw(server, b""))
    assert status == 408 and time.monotonic() - started < 3


def test_a_body_that_stops_coming_gets_408_after_the_body_timeout(server, inbox) -> None:
    body, headers = signed_delivery(make_event("customer.created"), SECRET)
    head = (f"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
            f"Stripe-Signature: {headers['Stripe-Signature']}\r\n\r\n").encode()
    started = time.monotonic()
    status, headers_out, answer = split(raw(server, head + body[:10]))
    assert status == 408 and headers_out["connection"] == "close"
    assert "did not arrive within 0.5 s (10 of" in json.loads(answer)["error"]
    assert time.monotonic() - started < 3
    assert inbox.calls == 0 and rejected(server) == {"body_timeout": 1}


def test_a_body_that_never_starts_gets_408_after_the_body_timeout(server, inbox) -> None:
    head = (b"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n"
            b"Stripe-Signature: t=1,v1=00\r\n\r\n")
    status, headers_out, answer = split(raw(server, head))
    assert status == 408 and headers_out["connection"] == "close"
    assert "did not arrive within 0.5 s (0 of 50 bytes)" in json.loads(answer)["error"]
    assert inbox.calls == 0 and rejected(server) == {"body_timeout": 1}


def test_a_commit_over_the_handler_timeout_is_answered_503(inbox, caplog) -> None:
    """The event may still be stored when the commit ends; Stripe's redelivery is then a
    duplicate."""
    release = threading.Event()
    store = inbox.add_events_reporting_new

    def slow(events, *, source):
        release.wait(10)
        return store(events, source=source)

    inbox.add_events_reporting_new = slow  # type: ignore[method-assign]
    limits = HttpLimits(handler_timeout=0.3, shutdown_grace=0.5)
    try:
        with WebhookServer(inbox, [SECRET], limits=limits) as server, \
                caplog.at_level(logging.ERROR, logger="runner.ingest"):
            body, headers = signed_delivery(make_event("customer.created"), SECRET)
            resp = requests.post(server.webhook_url, data=body, headers=headers, timeout=10)
            assert resp.status_code == 503 and resp.headers["Retry-After"] == "1"
            assert resp.json() == {
                "error": "the event could not be stored in time; deliver it again"}
            assert "connection" not in {k.lower() for k in resp.headers}  # body was read
            assert rejected(server) == {"store_timeout": 1}
            assert "was not stored within 0.3 s" in caplog.text
    finally:
        release.set()


def test_an_idle_keep_alive_connection_is_closed_after_keep_alive(server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert split(answer(sock))[0] == 200
        started = time.monotonic()
        assert sock.recv(100) == b""  # closed without an answer (not a 408)
        assert time.monotonic() - started < 4


def test_keep_alive_requests_each_get_the_header_deadline(server) -> None:
    """The deadline starts again with the first byte of each request on a connection."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        for _ in range(3):
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert split(answer(sock))[0] == 200
            time.sleep(0.3)  # within keep_alive (1 s), more than half the header timeout
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        status, _, body = split(answer(sock))
        assert status == 408 and "did not arrive within 0.5 s" in json.loads(body)["error"]


def test_headers_over_the_size_limit_get_431(server) -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 10_000 + b"\r\n\r\n"
    status, _, body = split(raw(server, request))
    assert status == 431 and "over the limit of 4096 bytes" in json.loads(body)["error"]


def test_keep_alive_connection_after_a_404_with_a_body(server, inbox) -> None:
    """An error answer that leaves a body unread closes the connection, so the body is
    never read as the next request."""
    with requests.Session() as session:
        resp = session.post(server.url + "/elsewhere", data=b"GET /healthz HTTP/1.1\r\n\r\n",
                            timeout=10)
        assert resp.status_code == 404 and resp.headers["Connection"] == "close"
        body, headers = signed_delivery(make_event("customer.created"), SECRET)
        assert session.post(server.webhook_url, data=body, headers=headers,
                            timeout=10).status_code == 200
    assert inbox.calls == 1


def test_accepted_connections_send_without_nagle_delay(server) -> None:
    """TCP_NODELAY on every accepted connection: without it the answer's body waited behind
    its headers for the client's delayed ACK (40 ms a request on Linux)."""
    with requests.Session() as session:
        session.trust_env = False
        assert session.get(server.url + "/healthz", timeout=10).status_code == 200
        assert server._http is not None
        connections = list(server._http._server.server_state.connections)  # type: ignore
        assert connections
        for connection in connections:
            sock = connection.transport.get_extra_info("socket")
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


# -- connections: bounded, and cheap --------------------------------------------------------

def test_idle_connections_cost_no_threads_and_do_not_block_deliveries(inbox) -> None:
    """The old server started a thread per connection (2,007 under a slow-client test)."""
    limits = HttpLimits(header_timeout=5.0)
    with WebhookServer(inbox, [SECRET], limits=limits) as server:
        before = threading.active_count()
        idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(200)]
        try:
            for sock in idle:
                sock.sendall(b"POST /webhooks/stripe HTTP/1.1\r\n")  # and never more
            time.sleep(0.3)
            assert threading.active_count() - before < 10
            body, headers = signed_delivery(make_event("customer.created"), SECRET)
            resp = requests.post(server.webhook_url, data=body, headers=headers, timeout=10)
            assert resp.status_code == 200 and inbox.calls == 1
        finally:
            for sock in idle:
                sock.close()


def test_beyond_max_connections_a_request_gets_503(inbox) -> None:
    limits = HttpLimits(max_connections=5, header_timeout=5.0)
    with WebhookServer(inbox, [SECRET], limits=limits) as server:
        idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(6)]
        try:
            time.sleep(0.2)
            resp = requests.get(server.url + "/healthz", timeout=10)
            assert resp.status_code == 503 and resp.headers["Retry-After"] == "1"
            assert "over 5 open connections" in resp.json()["error"]
            assert rejected(server) == {"overloaded": 1}
        finally:
            for sock in idle:
                sock.close()
        time.sleep(0.2)
        assert requests.get(server.url + "/healthz", timeout=10).status_code == 200


def test_a_burst_of_simultaneous_deliveries_is_all_acknowledged(inbox) -> None:
    """300 connections at once, each one signed delivery: every one answered 200 and stored
    once (the benchmark, tests/benchmarks/bench_ingress.py, does 1000 against a runner)."""
    with WebhookServer(inbox, [SECRET]) as server:
        deliveries = [signed_delivery(make_event("customer.created"), SECRET)
                      for _ in range(300)]
        gate = threading.Barrier(len(deliveries))
        answers: list[int] = []

        def send(body: bytes, headers: dict[str, str]) -> None:
            request = (f"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\n"
                       f"Content-Length: {len(body)}\r\nConnection: close\r\n"
                       f"Stripe-Signature: {headers['Stripe-Signature']}\r\n\r\n").encode()
            gate.wait()
            try:
                answers.append(split(raw(server, request + body, wait=30))[0])
            except OSError:
                answers.append(0)

        threads = [threading.Thread(target=send, args=d) for d in deliveries]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert answers.count(200) == len(deliveries)
    assert len(inbox.events) == len(deliveries)


def test_a_swept_timeout_raises_like_asyncio_timeout() -> None:
    """The body and commit timeouts: TimeoutError from its own deadline only; a block that
    ends in time, or a cancellation from elsewhere, is left as it is."""
    async def main() -> list[str]:
        sweep = Sweep(0.01)
        seen = []
        try:
            async with SweptTimeout(sweep, 0.02):
                await asyncio.sleep(5)
        except TimeoutError:
            seen.append("timed out")
        async with SweptTimeout(sweep, 5):
            await asyncio.sleep(0)
        seen.append("in time")

        async def waits() -> None:
            async with SweptTimeout(sweep, 5):
                await asyncio.sleep(5)

        task = asyncio.create_task(waits())
        await asyncio.sleep(0.05)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            seen.append("cancelled")
        return seen

    assert asyncio.run(main()) == ["timed out", "in time", "cancelled"]


# -- lifecycle -------------------------------------------------------------------------------

def test_stop_is_quick_with_connections_open(inbox) -> None:
    with WebhookServer(inbox, [SECRET], limits=HttpLimits(header_timeout=30)) as server:
        idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(20)]
        with requests.Session() as session:  # and one keep-alive connection between requests
            assert session.get(server.url + "/healthz", timeout=10).status_code == 200
            started = time.monotonic()
            server.stop()
            assert time.monotonic() - started < 2
        for sock in idle:
            sock.settimeout(2)
            assert sock.recv(100) == b""  # closed by the server
            sock.close()
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url + "/healthz", timeout=2)


def test_a_server_can_be_started_again_after_stop(inbox) -> None:
    server = WebhookServer(inbox, [SECRET])
    for _ in range(2):
        with server:
            assert requests.get(server.url + "/healthz", timeout=10).status_code == 200


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"max_connections": 0}, "max_connections must be at least 1"),
    ({"header_timeout": 0}, "header_timeout must be a positive number"),
    ({"body_timeout": float("nan")}, "body_timeout must be a positive number"),
    ({"handler_timeout": float("inf")}, "handler_timeout must be a positive number"),
])
def test_limits_are_checked(kwargs, fragment) -> None:
    with pytest.raises(ConfigError, match=fragment):
        HttpLimits(**kwargs)
