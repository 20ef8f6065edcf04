"""runner.ingest.webhook_server: signature first, then JSON, then the inbox; health, metrics.

The handler logic is tested directly through ``WebhookServer.handle_webhook`` (fast); the
HTTP behaviour (status codes, size limit, routes, the real StateStore) through a server on
127.0.0.1 (marked slow).
"""

from __future__ import annotations

import json
import logging
import socket
import time

import pytest
import requests

from runner import stripe_event, stripe_signature
from runner.errors import ConfigError
from runner.ingest.health import store_health
from runner.ingest.webhook_server import WebhookServer, describe_error, parse_event
from runner.sandbox.stripe_events import make_event, signed_delivery
from runner.state.errors import StateError
from runner.stripe_signature import sign_payload
from tests.runner.ingest.helpers import FakeInbox

SECRET = "whsec_test_current"
OLD_SECRET = "whsec_test_previous"


def rejected(server: WebhookServer) -> dict[str, float]:
    return {labels[0][1]: v for (name, labels), v in _samples(server).items()
            if name == "fieldbridge_webhook_rejected_total"}


def _samples(server: WebhookServer) -> dict:
    from prometheus_client.parser import text_string_to_metric_families

    out = {}
    for family in text_string_to_metric_families(server.metrics.render().decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


@pytest.fixture
def inbox() -> FakeInbox:
    return FakeInbox()


@pytest.fixture
def server(inbox) -> WebhookServer:
    return WebhookServer(inbox, [SECRET])


# -- the handler, without HTTP ------------------------------------------------------------

def test_valid_delivery_is_stored_once(server, inbox) -> None:
    event = make_event("customer.created")
    body, headers = signed_delivery(event, SECRET)
    assert server.handle_webhook(body, headers["Stripe-Signature"]) == (
        200, {"received": True, "duplicate": False})
    assert server.handle_webhook(body, headers["Stripe-Signature"]) == (
        200, {"received": True, "duplicate": True})
    assert list(inbox.events) == [event["id"]]
    assert inbox.events[event["id"]] == (event, "webhook")
    s = _samples(server)
    assert s[("fieldbridge_events_received_total", (("source", "webhook"),))] == 1
    assert s[("fieldbridge_events_duplicate_total", (("source", "webhook"),))] == 1
    assert s[("fieldbridge_last_event_timestamp_seconds", ())] == event["created"]


def test_forged_signature_is_refused_and_nothing_stored(server, inbox) -> None:
    body, _ = signed_delivery(make_event("customer.created"), SECRET)
    forged = sign_payload(body, "whsec_attacker")
    status, answer = server.handle_webhook(body, forged)
    assert status == 400
    assert "no signature" in answer["error"] and "matches" in answer["error"]
    assert inbox.calls == 0
    assert rejected(server) == {"invalid_signature": 1}


def test_body_changed_after_signing_is_refused(server, inbox) -> None:
    event = make_event("customer.created")
    body, headers = signed_delivery(event, SECRET)
    tampered = body.replace(event["id"].encode(), b"evt_tampered000000000000000")
    status, _ = server.handle_webhook(tampered, headers["Stripe-Signature"])
    assert status == 400 and inbox.calls == 0


def test_missing_signature(server, inbox) -> None:
    body, _ = signed_delivery(make_event("customer.created"), SECRET)
    status, answer = server.handle_webhook(body, None)
    assert status == 400
    assert "no Stripe-Signature header" in answer["error"]
    assert inbox.calls == 0
    assert rejected(server) == {"missing_signature": 1}


def test_malformed_signature_header(server, inbox) -> None:
    body, _ = signed_delivery(make_event("customer.created"), SECRET)
    status, answer = server.handle_webhook(body, "garbage")
    assert status == 400 and "malformed" in answer["error"]
    assert rejected(server) == {"malformed_signature": 1}
    assert inbox.calls == 0


def test_stale_timestamp_is_refused(server, inbox) -> None:
    stale = int(time.time()) - 301 - 60
    body, headers = signed_delivery(make_event("customer.created"), SECRET, timestamp=stale)
    status, answer = server.handle_webhook(body, headers["Stripe-Signature"])
    assert status == 400
    assert "old" in answer["error"] and "tolerance of 300 s" in answer["error"]
    assert inbox.calls == 0
    assert rejected(server) == {"stale_signature": 1}


def test_tolerance_is_configurable(inbox) -> None:
    server = WebhookServer(inbox, [SECRET], tolerance=3600)
    body, headers = signed_delivery(make_event("customer.created"), SECRET,
                                    timestamp=int(time.time()) - 1800)
    assert server.handle_webhook(body, headers["Stripe-Signature"])[0] == 200


def test_rotation_accepts_either_secret(inbox) -> None:
    server = WebhookServer(inbox, [SECRET, OLD_SECRET])
    for secret in (OLD_SECRET, SECRET):
        body, headers = signed_delivery(make_event("customer.created"), secret)
        assert server.handle_webhook(body, headers["Stripe-Signature"])[0] == 200
    assert len(inbox.events) == 2


def test_secrets_can_be_replaced_while_running(server, inbox) -> None:
    body, headers = signed_delivery(make_event("customer.created"), OLD_SECRET)
    assert server.handle_webhook(body, headers["Stripe-Signature"])[0] == 400
    server.secrets = [SECRET, OLD_SECRET]
    assert server.handle_webhook(body, headers["Stripe-Signature"])[0] == 200


@pytest.mark.parametrize(("body", "fragment", "reason"), [
    (b"{not json", "malformed JSON", "malformed_json"),
    (b"\xff\xfe{}", "not UTF-8", "malformed_json"),
    (b"[1, 2]", "must be a JSON object, not a JSON list", "not_an_event"),
    (b'{"object": "customer", "id": "cus_1"}', "not an event", "not_an_event"),
    (b'{"type": "customer.created", "created": 1, "data": {"object": {}}}', "has no 'id'", "no_id"),
    (b'{"id": "evt_1", "created": 1, "data": {"object": {}}}', "evt_1 has no 'type'", "no_type"),
    (b'{"id": "evt_1", "type": "customer.created", "created": 1}', "no data.object",
     "not_an_event"),
    (b'{"id": "evt_1", "type": "customer.created", "created": "yesterday",'
     b' "data": {"object": {}}}', "has no 'created'", "not_an_event"),
])
def test_bad_json_with_a_valid_signature(server, inbox, body, fragment, reason) -> None:
    status, answer = server.handle_webhook(body, sign_payload(body, SECRET))
    assert status == 400
    assert fragment in answer["error"]
    assert inbox.calls == 0
    assert rejected(server) == {reason: 1}


def test_signature_and_event_are_each_checked_once(server, inbox, monkeypatch) -> None:
    """One signature check labels the metric too; the inbox stores the event the handler
    checked without checking it again."""
    verified: list[int] = []
    checked: list[str] = []

    def verify(*args, **kwargs) -> None:
        verified.append(1)
        return stripe_signature.verify_signature(*args, **kwargs)

    def check(event):
        checked.append(event.get("id"))
        return stripe_event.check_event(event)

    monkeypatch.setattr("runner.ingest.webhook_server.verify_signature", verify)
    monkeypatch.setattr("runner.ingest.webhook_server.check_event", check)
    monkeypatch.setattr("runner.state.inbox.check_event", check)
    event = make_event("customer.created")
    body, headers = signed_delivery(event, SECRET)
    assert server.handle_webhook(body, headers["Stripe-Signature"])[0] == 200
    assert (len(verified), checked) == (1, [event["id"]])
    stale = int(time.time()) - 400
    body, headers = signed_delivery(make_event("customer.created"), SECRET, timestamp=stale)
    assert server.handle_webhook(body, headers["Stripe-Signature"])[0] == 400
    assert len(verified) == 2 and rejected(server) == {"stale_signature": 1}


def test_unknown_event_types_are_counted_not_stored(inbox) -> None:
    server = WebhookServer(inbox, [SECRET], event_types={"customer.created"})
    ignored = make_event("product.created")
    body, headers = signed_delivery(ignored, SECRET)
    assert server.handle_webhook(body, headers["Stripe-Signature"]) == (
        200, {"received": True, "ignored": True})
    body, headers = signed_delivery(make_event("customer.created"), SECRET)
    assert server.handle_webhook(body, headers["Stripe-Signature"])[0] == 200
    assert [e["type"] for e, _ in inbox.events.values()] == ["customer.created"]
    assert _samples(server)[
        ("fieldbridge_events_ignored_total", (("type", "product.created"),))] == 1


def test_store_failure_answers_500_and_logs_no_payload(server, inbox, caplog) -> None:
    event = make_event("customer.created", overrides={"email": "jenny@example.com"})
    inbox.fail_with = StateError(
        "state database write failed: database is locked\n"
        f"[SQL: INSERT ...]\n[parameters: ('{json.dumps(event)}',)]"
    )
    body, headers = signed_delivery(event, SECRET)
    with caplog.at_level(logging.DEBUG, logger="runner.ingest"):
        status, answer = server.handle_webhook(body, headers["Stripe-Signature"])
    assert status == 500 and "deliver it again" in answer["error"]
    assert event["id"] in caplog.text and "database is locked" in caplog.text
    assert "jenny@example.com" not in caplog.text
    assert "Stripe-Signature" not in caplog.text and "v1=" not in caplog.text


def test_on_event_called_for_new_events_and_its_failure_is_contained(inbox) -> None:
    seen: list[str] = []

    def wake(event: dict) -> None:
        seen.append(event["id"])
        raise RuntimeError("processor gone")

    server = WebhookServer(inbox, [SECRET], on_event=wake)
    event = make_event("customer.created")
    body, headers = signed_delivery(event, SECRET)
    for _ in range(2):
        assert server.handle_webhook(body, headers["Stripe-Signature"])[0] == 200
    assert seen == [event["id"]]


def test_health_states(inbox) -> None:
    assert WebhookServer(inbox, [SECRET]).handle_health() == (200, {"status": "ok"})
    ok = WebhookServer(inbox, [SECRET], health=lambda: {"status": "ok", "queue": 3})
    assert ok.handle_health() == (200, {"status": "ok", "queue": 3})
    bad = WebhookServer(inbox, [SECRET], health=lambda: {"status": "degraded", "dlq": 9})
    assert bad.handle_health() == (503, {"status": "degraded", "dlq": 9})

    def broken() -> dict:
        raise StateError("state database read failed: disk I/O error")

    status, answer = WebhookServer(inbox, [SECRET], health=broken).handle_health()
    assert status == 503 and answer["status"] == "error" and "disk I/O" in answer["error"]


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"secrets": []}, "at least one Stripe signing secret"),
    ({"secrets": [""]}, "at least one Stripe signing secret"),
    ({"secrets": [SECRET], "max_body": 0}, "max_body"),
    ({"secrets": [SECRET], "port": 70000}, "port"),
])
def test_bad_configuration_is_refused(inbox, kwargs, fragment) -> None:
    with pytest.raises(ConfigError, match=fragment):
        WebhookServer(inbox, **kwargs)


def test_a_single_secret_string_is_one_secret(inbox) -> None:
    assert WebhookServer(inbox, SECRET).secrets == [SECRET]


def test_on_scrape_refreshes_gauges_and_its_failure_is_contained(inbox) -> None:
    counts = {"pending": 4, "dlq_open": 2}
    server = WebhookServer(inbox, [SECRET], on_scrape=lambda m: m.queue(counts))
    text = server.render_metrics().decode()
    assert 'fieldbridge_queue_depth{status="pending"} 4.0' in text
    assert "fieldbridge_dlq_size 2.0" in text

    def broken(metrics) -> None:
        raise StateError("state database read failed: locked")

    failing = WebhookServer(inbox, [SECRET], on_scrape=broken)
    assert b"fieldbridge_events_received_total" in failing.render_metrics()


def test_store_health_reports_an_unreadable_store(inbox) -> None:
    class Broken:
        def counts(self) -> dict:
            raise StateError("state database read failed: unable to open database file")

        def last_event(self) -> None:
            return None

    server = WebhookServer(inbox, [SECRET], health=lambda: store_health(Broken()))
    status, answer = server.handle_health()
    assert status == 503 and "unable to open database file" in answer["error"]


def test_parse_event_accepts_a_stripe_event() -> None:
    event = make_event("invoice.paid")
    checked = parse_event(json.dumps(event).encode())
    assert checked.payload == event
    assert (checked.event_id, checked.type, checked.created) == (
        event["id"], "invoice.paid", event["created"])


def test_describe_error_drops_sql_and_parameters() -> None:
    exc = StateError("write failed: disk full\n[SQL: INSERT]\n[parameters: ('secret',)]")
    assert describe_error(exc) == "StateError: write failed: disk full"


# -- over HTTP ----------------------------------------------------------------------------

@pytest.fixture
def running(inbox):
    server = WebhookServer(inbox, [SECRET], max_body=4096,
                           health=lambda: {"status": "ok", "queue": len(inbox.events)})
    with server:
        yield server


def post(server: WebhookServer, body: bytes, headers: dict[str, str]) -> requests.Response:
    return requests.post(server.webhook_url, data=body, headers=headers, timeout=10)


@pytest.mark.slow
def test_http_delivery_duplicate_and_forgery(running, inbox) -> None:
    event = make_event("customer.created")
    body, headers = signed_delivery(event, SECRET)
    first = post(running, body, headers)
    assert first.status_code == 200 and first.json() == {"received": True, "duplicate": False}
    again = post(running, body, headers)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    forged = post(running, body, {**headers, "Stripe-Signature": sign_payload(body, "nope")})
    assert forged.status_code == 400 and "error" in forged.json()
    assert forged.headers["Content-Type"] == "application/json"
    assert len(inbox.events) == 1


@pytest.mark.slow
def test_http_malformed_json_with_valid_signature(running, inbox) -> None:
    body = b'{"id": "evt_1", "type": '
    resp = post(running, body, {"Stripe-Signature": sign_payload(body, SECRET)})
    assert resp.status_code == 400 and "malformed JSON" in resp.json()["error"]
    assert inbox.calls == 0


@pytest.mark.slow
def test_http_oversized_body_is_refused_before_it_is_read(running, inbox) -> None:
    # Announce 10 MB and send none of it: the answer must come from the header alone.
    with socket.create_connection(("127.0.0.1", running.port), timeout=10) as sock:
        sock.sendall(
            b"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Stripe-Signature: t=1,v1=00\r\nContent-Length: 10485760\r\n\r\n"
        )
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
    head, _, payload = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert b"connection: close" in head.lower()  # header names are case-insensitive
    assert "over the limit of 4096 bytes" in json.loads(payload)["error"]
    assert inbox.calls == 0
    assert rejected(running) == {"too_large": 1}


@pytest.mark.slow
def test_http_expect_100_continue_is_refused_for_an_oversized_body(running, inbox) -> None:
    with socket.create_connection(("127.0.0.1", running.port), timeout=10) as sock:
        sock.sendall(
            b"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
            b"Content-Length: 5000\r\n\r\n"
        )
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 413") and b"100 Continue" not in reply
    assert "over the limit" in reply.partition(b"\r\n\r\n")[2].decode()
    assert inbox.calls == 0


@pytest.mark.slow
def test_http_expect_100_continue_within_the_limit(running, inbox) -> None:
    body, headers = signed_delivery(make_event("customer.created"), SECRET)
    assert len(body) <= running.max_body
    resp = post(running, body, {**headers, "Expect": "100-continue"})
    assert resp.status_code == 200 and len(inbox.events) == 1


@pytest.mark.slow
def test_http_body_just_over_the_limit(running, inbox) -> None:
    body = b" " * 4097
    resp = post(running, body, {"Stripe-Signature": sign_payload(body, SECRET)})
    assert resp.status_code == 413
    assert inbox.calls == 0


@pytest.mark.slow
def test_http_missing_content_length(running) -> None:
    def chunks():
        yield b"{}"

    resp = requests.post(running.webhook_url, data=chunks(), timeout=10)  # chunked
    assert resp.status_code == 411 and "Content-Length" in resp.json()["error"]


@pytest.mark.slow
def test_http_healthz_metrics_and_unknown_routes(running, inbox) -> None:
    body, headers = signed_delivery(make_event("customer.created"), SECRET)
    assert post(running, body, headers).status_code == 200

    health = requests.get(running.url + "/healthz", timeout=10)
    assert health.status_code == 200 and health.json() == {"status": "ok", "queue": 1}

    metrics = requests.get(running.url + "/metrics", timeout=10)
    assert metrics.status_code == 200
    assert metrics.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert 'fieldbridge_events_received_total{source="webhook"} 1.0' in metrics.text
    assert "fieldbridge_end_to_end_latency_seconds_bucket" in metrics.text

    for method, path, status in [("GET", "/", 404), ("GET", "/webhooks/stripe", 405),
                                 # 405 since the uvicorn server (was 404): a known path
                                 # with another method is 405 with Allow, as for GET above.
                                 ("POST", "/webhooks/other", 404), ("DELETE", "/healthz", 405),
                                 ("PUT", "/webhooks/stripe", 405)]:
        resp = requests.request(method, running.url + path, timeout=10)
        assert resp.status_code == status, (method, path)
        assert "error" in resp.json()


@pytest.mark.slow
def test_http_unhealthy_is_503(inbox) -> None:
    with WebhookServer(inbox, [SECRET], health=lambda: {"status": "stopped"}) as server:
        resp = requests.get(server.url + "/healthz?verbose=1", timeout=10)
    assert resp.status_code == 503 and resp.json() == {"status": "stopped"}


@pytest.mark.slow
def test_http_keep_alive_connection_serves_several_deliveries(running, inbox) -> None:
    with requests.Session() as session:
        for _ in range(5):
            body, headers = signed_delivery(make_event("customer.created"), SECRET)
            resp = session.post(running.webhook_url, data=body, headers=headers, timeout=10)
            assert resp.status_code == 200
    assert len(inbox.events) == 5


@pytest.mark.slow
def test_start_twice_and_port_in_use(inbox) -> None:
    with WebhookServer(inbox, [SECRET]) as first:
        with pytest.raises(ConfigError, match="already running"):
            first.start()
        with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{first.port}"):
            WebhookServer(inbox, [SECRET], port=first.port).start()
    first.stop()  # stopping twice is harmless


@pytest.mark.slow
def test_real_state_store_on_sqlite(tmp_path) -> None:
    from runner.state import StateStore

    store = StateStore.open(f"sqlite:///{tmp_path / 'state.sqlite'}")
    try:
        with WebhookServer(store, [SECRET, OLD_SECRET],
                           health=lambda: {"status": "ok", **store.counts()}) as server:
            event = make_event("customer.created")
            body, headers = signed_delivery(event, OLD_SECRET)
            assert post(server, body, headers).json() == {"received": True, "duplicate": False}
            assert post(server, body, headers).json() == {"received": True, "duplicate": True}
            forged_event = make_event("customer.created")
            forged, fheaders = signed_delivery(forged_event, "whsec_wrong")
            assert post(server, forged, fheaders).status_code == 400
            health = requests.get(server.url + "/healthz", timeout=10).json()
        assert health["pending"] == 1
        with WebhookServer(store, [SECRET], health=lambda: store_health(store)) as server:
            report = requests.get(server.url + "/healthz", timeout=10).json()
        assert report["status"] == "ok" and report["queue"]["pending"] == 1
        assert report["dlq"] == 0
        assert report["last_event"]["id"] == event["id"]
        assert report["last_event"]["type"] == "customer.created"
        stored = store.get_event(event["id"])
        assert stored.source == "webhook" and stored.type == "customer.created"
        assert stored.payload == event
        assert [e.event_id for e in store.list_events()] == [event["id"]]
    finally:
        store.close()
