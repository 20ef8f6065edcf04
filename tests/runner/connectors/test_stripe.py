"""StripeConnector against localstripe (2017 shapes) and a small Stripe-ordered fake."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from runner.classify import Failure
from runner.connectors import stripe as stripe_module
from runner.connectors.errors import ConnectorError
from runner.connectors.stripe import StripeConnector, StripeSettings, object_path

pytestmark = pytest.mark.slow  # HTTP servers: the fake below and localstripe


# -- a fake with Stripe's own list order (newest first) and paging ----------------------------
class FakeStripe(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _FakeHandler)
        # Newest first, as Stripe lists: evt_0030 ... evt_0001; several share a second.
        self.events = [{"id": f"evt_{n:04d}", "object": "event", "type":
                        "customer.created" if n % 3 else "charge.succeeded",
                        "created": 1_700_000_000 + n // 2} for n in range(30, 0, -1)]
        self.requests: list[tuple[str, str, dict, dict]] = []
        self.customers: dict[str, dict] = {}

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _FakeHandler(BaseHTTPRequestHandler):
    server: FakeStripe

    def log_message(self, *args: object) -> None:
        pass

    def _reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.server.requests.append(("GET", url.path, query, dict(self.headers)))
        if url.path.startswith("/v1/rate_limited"):
            self._reply(429, {"error": {"type": "rate_limit_error", "message": "Too many"}})
            return
        if url.path.startswith("/v1/broken"):
            self._reply(500, {"error": {"type": "api_error", "message": "Internal"}})
            return
        if url.path != "/v1/events":
            self._reply(404, {"error": {"type": "invalid_request_error",
                                        "code": "resource_missing", "message": "No such"}})
            return
        events = self.server.events
        types = {v for k, v in query.items() if k.startswith("types[")}
        gte = int(query.get("created[gte]", 0))

        def keep(part: list[dict]) -> list[dict]:
            return [e for e in part if (not types or e["type"] in types) and e["created"] >= gte]

        limit = int(query.get("limit", 10))
        ids = [e["id"] for e in events]  # a cursor is a position, whatever the filters
        if "ending_before" in query:
            before = keep(events[:ids.index(query["ending_before"])])
            page, more = before[-limit:], len(before) > limit
        else:
            start = ids.index(query["starting_after"]) + 1 if "starting_after" in query else 0
            rest = keep(events[start:])
            page, more = rest[:limit], len(rest) > limit
        self._reply(200, {"object": "list", "data": page, "has_more": more,
                          "url": "/v1/events"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        self.server.requests.append(("POST", self.path, form, dict(self.headers)))
        key = self.headers.get("Idempotency-Key")
        if key not in self.server.customers:
            self.server.customers[key] = {"id": f"cus_{len(self.server.customers)}",
                                          "object": "customer", "email": form.get("email")}
        self._reply(200, self.server.customers[key])


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    server = FakeStripe()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stripe_module, "PAGE_SIZE", 4)


def fake_connector(fake: FakeStripe) -> StripeConnector:
    return StripeConnector(StripeSettings(api_key="sk_test_fake", api_base=fake.api_base,
                                          timeout=5))


def test_events_since_walks_forward_oldest_first(fake: FakeStripe, small_pages: None) -> None:
    connector = fake_connector(fake)
    got = [e["id"] for e in connector.events_since("evt_0011")]
    assert got == [f"evt_{n:04d}" for n in range(12, 31)]
    cursors = [r[2].get("ending_before") for r in fake.requests]
    assert len(cursors) == 5 and all(cursors)  # pages of 4, towards newer events
    assert list(connector.events_since("evt_0030")) == []


def test_events_since_a_date_and_types(fake: FakeStripe, small_pages: None) -> None:
    connector = fake_connector(fake)
    got = list(connector.events_since(None, created_gte=1_700_000_010))
    assert [e["id"] for e in got] == [f"evt_{n:04d}" for n in range(20, 31)]
    charges = list(connector.events_since("evt_0002", types=["charge.succeeded"]))
    assert [e["id"] for e in charges] == ["evt_0003", "evt_0006", "evt_0009", "evt_0012",
                                          "evt_0015", "evt_0018", "evt_0021", "evt_0024",
                                          "evt_0027", "evt_0030"]


def test_writes_send_the_idempotency_key(fake: FakeStripe) -> None:
    first = fake_connector(fake).create("customer", {"email": "a@x.test"}, "flow|001|ts")
    # A second process (no local memory of the key) gets Stripe's stored answer.
    second = fake_connector(fake).create("customer", {"email": "a@x.test"}, "flow|001|ts")
    assert first["id"] == second["id"]
    posts = [r for r in fake.requests if r[0] == "POST"]
    assert [r[3].get("Idempotency-Key") for r in posts] == ["flow|001|ts", "flow|001|ts"]
    assert all(r[3].get("Authorization") == "Bearer sk_test_fake" for r in posts)
    with pytest.raises(ConnectorError, match="idempotency key is required"):
        fake_connector(fake).create("customer", {}, "")


def test_rate_limit_and_server_errors_are_retriable(fake: FakeStripe) -> None:
    connector = fake_connector(fake)
    with pytest.raises(ConnectorError) as info:
        connector.retrieve("rate_limited", "x")
    assert info.value.failure is Failure.RETRIABLE and info.value.status == 429
    with pytest.raises(ConnectorError) as info:
        connector.retrieve("broken", "x")
    assert info.value.failure is Failure.RETRIABLE and info.value.status == 500
    assert sum(1 for r in fake.requests if r[1].startswith("/v1/broken")) == 1  # no SDK retries


def test_connection_refused_is_retriable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    connector = StripeConnector(StripeSettings(api_key="sk_test_x",
                                               api_base=f"http://127.0.0.1:{port}", timeout=2))
    with pytest.raises(ConnectorError) as info:
        connector.retrieve("customer", "cus_1")
    assert info.value.failure is Failure.RETRIABLE and info.value.status is None


@pytest.mark.parametrize(
    ("object_type", "path"),
    [("customer", "customers"), ("balance_transaction", "balance_transactions"),
     ("radar.early_fraud_warning", "radar/early_fraud_warnings"), ("coupon", "coupons")],
)
def test_object_paths(object_type: str, path: str) -> None:
    assert object_path(object_type) == path


def test_bad_names_and_ids_are_refused() -> None:
    with pytest.raises(ConnectorError, match="unknown Stripe object type"):
        object_path("../admin")
    connector = StripeConnector(StripeSettings(api_key="sk_test_x", api_base="http://127.0.0.1:1"))
    with pytest.raises(ConnectorError, match="invalid Stripe id") as info:
        connector.retrieve("customer", "cus_1/../../x")
    assert info.value.failure is Failure.SKIPPABLE
    with pytest.raises(ConnectorError, match="has no API key"):
        StripeConnector(StripeSettings(api_key=""))
    with pytest.raises(ConnectorError, match="sandbox only"):
        StripeConnector(StripeSettings(api_key="sk_test_x")).register_webhook("http://x/")


# -- localstripe -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sandbox():
    from runner.sandbox.stripe_sandbox import start_stripe_sandbox

    with start_stripe_sandbox() as running:
        yield running


def sandbox_connector(sandbox, **changes) -> StripeConnector:
    settings = StripeSettings(api_key=sandbox.api_key, api_base=sandbox.api_base,
                              webhook_secrets=[sandbox.webhook_secret], flavor="localstripe",
                              timeout=10)
    for key, value in changes.items():
        setattr(settings, key, value)
    return StripeConnector(settings)


def test_sandbox_create_twice_with_one_key_gives_one_customer(sandbox) -> None:
    connector = sandbox_connector(sandbox)
    first = connector.create("customer", {"email": "idem@x.test", "metadata": {"a": "1"}},
                             "idem-key-1")
    second = connector.create("customer", {"email": "idem@x.test", "metadata": {"a": "1"}},
                              "idem-key-1")
    other = connector.create("customer", {"email": "idem@x.test"}, "idem-key-2")
    assert first["id"] == second["id"] != other["id"]
    assert connector.retrieve("customer", first["id"])["metadata"] == {"a": "1"}
    updated = connector.update("customer", first["id"], {"metadata": {"b": "2"}}, "upd-1")
    assert updated["metadata"] == {"a": "1", "b": "2"}


def test_sandbox_events_oldest_first_with_paging(sandbox, small_pages: None) -> None:
    connector = sandbox_connector(sandbox)
    start = list(connector.events_since(None))
    made = [connector.create("customer", {"email": f"ev{i}@x.test"}, f"ev-key-{i}")["id"]
            for i in range(9)]
    everything = list(connector.events_since(None))
    ids = [e["id"] for e in everything]
    assert len(ids) == len(set(ids)) == len(start) + 9
    created = [e["created"] for e in everything]
    assert created == sorted(created)
    new = list(connector.events_since(start[-1]["id"]) if start else everything)
    assert [e["data"]["object"]["id"] for e in new] == made
    middle = new[4]["id"]
    assert [e["id"] for e in connector.events_since(middle)] == [e["id"] for e in new[5:]]
    assert [e["id"] for e in connector.events_since(new[-1]["id"])] == []
    only = list(connector.events_since(middle, types=["customer.created"]))
    assert [e["id"] for e in only] == [e["id"] for e in new[5:]]


def test_sandbox_list_objects_resumes_and_filters_by_date(sandbox, small_pages: None) -> None:
    connector = sandbox_connector(sandbox)
    for i in range(6):
        connector.create("customer", {"email": f"list{i}@x.test"}, f"list-key-{i}")
    all_ids = [c["id"] for c in connector.list_objects("customer")]
    assert len(all_ids) == len(set(all_ids)) >= 6
    resumed = [c["id"] for c in connector.list_objects("customer", starting_after=all_ids[2])]
    assert resumed == all_ids[3:]
    assert list(connector.list_objects("customer", created_gte=4_000_000_000)) == []


def test_sandbox_errors(sandbox) -> None:
    wrong = sandbox_connector(sandbox, api_key="not_a_stripe_key")
    with pytest.raises(ConnectorError, match="HTTP 401") as info:
        wrong.retrieve("customer", "cus_whatever")
    assert info.value.failure is Failure.FATAL
    with pytest.raises(ConnectorError) as info:
        sandbox_connector(sandbox).retrieve("customer", "cus_missing123")
    assert info.value.failure is Failure.SKIPPABLE and info.value.status == 404
    with pytest.raises(ConnectorError) as info:
        sandbox_connector(sandbox).create("customer", {"no_such_param": 1}, "bad-param")
    assert info.value.failure is Failure.SKIPPABLE and info.value.status == 400


def test_sandbox_register_webhook(sandbox) -> None:
    connector = sandbox_connector(sandbox)
    assert connector.register_webhook("http://127.0.0.1:9/hooks", ["customer.created"]) == \
        sandbox.webhook_secret
    no_secret = sandbox_connector(sandbox, webhook_secrets=[])
    with pytest.raises(ConnectorError, match="no webhook secret"):
        no_secret.register_webhook("http://127.0.0.1:9/hooks")
