"""runner.alerts: rules, de-duplication, Slack-style webhook and SMTP, failures contained.

The channels are real: an HTTP receiver and a minimal SMTP server on 127.0.0.1.
"""

from __future__ import annotations

import base64
import email
import json
import logging
import socket
import socketserver
import threading
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from runner.alerts import Alert, Alerter, SmtpSettings
from runner.errors import ConfigError

HOOK_TOKEN = "T000/B000/XXXXsecrettoken"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class ChatReceiver:
    """Records the JSON bodies POSTed to it and answers ``status``."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.bodies: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.bodies.append(json.loads(body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/services/{HOOK_TOKEN}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SmtpSink:
    """Just enough SMTP (EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT) to receive a message."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.logins: list[tuple[str, str]] = []
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode() + b"\r\n")

            def handle(self) -> None:
                self.reply("220 sink ESMTP")
                sender, rcpts = "", []
                while line := self.rfile.readline():
                    cmd = line.decode().rstrip("\r\n")
                    verb = cmd.split(" ", 1)[0].upper()
                    if verb in ("EHLO", "HELO"):
                        self.reply("250-sink")
                        self.reply("250 AUTH PLAIN")
                    elif verb == "AUTH":
                        raw = base64.b64decode(cmd.split()[2]).decode()
                        _, user, password = raw.split("\0")
                        sink.logins.append((user, password))
                        self.reply("235 ok")
                    elif verb == "MAIL":
                        sender = cmd.split(":", 1)[1].strip("<> ")
                        self.reply("250 ok")
                    elif verb == "RCPT":
                        rcpts.append(cmd.split(":", 1)[1].strip("<> "))
                        self.reply("250 ok")
                    elif verb == "DATA":
                        self.reply("354 go on")
                        data = b""
                        while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                            data += chunk
                        sink.messages.append((sender, rcpts, data))
                        self.reply("250 queued")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("250 ok")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def chat():
    receiver = ChatReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def smtp_sink():
    sink = SmtpSink()
    yield sink
    sink.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_dlq_alert_reaches_the_chat_webhook(chat) -> None:
    alerter = Alerter(chat.url, runner_name="runner-1")
    [delivery] = alerter.check({"dlq_open": 3, "pending": 0}, None, False)
    assert delivery.alert.rule == "dlq" and delivery.channels == {"webhook": True}
    [body] = chat.bodies
    assert list(body) == ["text"]
    assert "3 record(s) in the dead-letter queue" in body["text"]
    assert "runner-1" in body["text"]


@pytest.mark.slow
def test_each_rule_alerts_once_per_interval(chat) -> None:
    clock = FakeClock()
    alerter = Alerter(chat.url, min_interval=300, clock=clock)
    assert [d.alert.rule for d in alerter.check({"dlq_open": 2})] == ["dlq"]
    clock.now += 299
    assert alerter.check({"dlq_open": 5}) == []  # same rule, inside the interval
    # Another rule is not held back by the first one.
    assert [d.alert.rule for d in alerter.check({"dlq_open": 5}, None, "Salesforce")] == [
        "auth"]
    clock.now += 1
    assert [d.alert.rule for d in alerter.check({"dlq_open": 5})] == ["dlq"]
    assert len(chat.bodies) == 3
    assert "5 record(s)" in chat.bodies[-1]["text"]


@pytest.mark.parametrize(("budget", "alerts"), [
    ((14_000, 15_000), True),   # 6.7 % left
    ((13_500, 15_000), False),  # exactly 10 % left is not under 10 %
    ((1_000, 15_000), False),
    ((16_000, 15_000), True),   # overdrawn
    (None, False),
    ((0, 0), False),            # no allowance reported
])
@pytest.mark.slow
def test_api_budget_rule(chat, budget, alerts) -> None:
    alerter = Alerter(chat.url, budget_percent=10)
    sent = alerter.check({"dlq_open": 0}, budget, False)
    assert [d.alert.rule for d in sent] == (["api_budget"] if alerts else [])
    if alerts:
        assert "Salesforce API budget low" in chat.bodies[0]["text"]


@pytest.mark.slow
def test_dlq_threshold(chat) -> None:
    alerter = Alerter(chat.url, dlq_threshold=10)
    assert alerter.check({"dlq_open": 9}) == []
    assert [d.alert.rule for d in alerter.check({"dlq_open": 10})] == ["dlq"]


@pytest.mark.slow
def test_auth_alert_names_the_system_and_hides_secrets(chat) -> None:
    token = "00Dxx0000001gPL!AQ4AQFakeSessionToken"
    alerter = Alerter(chat.url, redact=[token])
    alerter.check({}, None, f"Salesforce (invalid_grant for session {token})")
    text = chat.bodies[0]["text"]
    assert "Salesforce (invalid_grant for session ***)" in text
    assert token not in text


@pytest.mark.slow
def test_email_alert_through_smtp(smtp_sink, caplog) -> None:
    password = "smtp-pa55word"
    smtp = SmtpSettings(host="127.0.0.1", port=smtp_sink.port, sender="runner@example.com",
                        to=["ops@example.com", "oncall@example.com"], starttls=False,
                        username="runner", password=password)
    assert password not in repr(smtp)
    alerter = Alerter(smtp=smtp, redact=["sk_live_abc"])
    with caplog.at_level(logging.DEBUG):
        [delivery] = alerter.check({}, None, f"Stripe (key sk_live_abc, {password})")
    assert delivery.channels == {"email": True}
    [(sender, rcpts, data)] = smtp_sink.messages
    assert sender == "runner@example.com"
    assert rcpts == ["ops@example.com", "oncall@example.com"]
    msg = email.message_from_bytes(data, policy=policy.default)
    assert msg["Subject"] == "[fieldbridge] authentication failed"
    body = msg.get_content()
    assert "Stripe (key ***, ***)" in body
    assert smtp_sink.logins == [("runner", password)]
    assert password not in data.decode() and "sk_live_abc" not in data.decode()
    assert password not in caplog.text and "sk_live_abc" not in caplog.text


@pytest.mark.slow
def test_both_channels(chat, smtp_sink) -> None:
    smtp = SmtpSettings(host="127.0.0.1", port=smtp_sink.port, to="ops@example.com",
                        starttls=False)
    [delivery] = Alerter(chat.url, smtp).check({"dlq_open": 1})
    assert delivery.channels == {"webhook": True, "email": True}
    assert len(chat.bodies) == 1 and len(smtp_sink.messages) == 1


@pytest.mark.slow
def test_failing_channels_are_logged_not_raised(caplog) -> None:
    failing = ChatReceiver(status=500)
    try:
        dead_port = free_port()
        smtp = SmtpSettings(host="127.0.0.1", port=dead_port, to=["ops@example.com"],
                            starttls=False, timeout=5)
        alerter = Alerter(failing.url, smtp)
        with caplog.at_level(logging.ERROR, logger="runner.alerts"):
            [delivery] = alerter.check({"dlq_open": 4})
        assert delivery.channels == {"webhook": False, "email": False}
        assert "answered HTTP 500" in caplog.text
        assert f"could not send the alert e-mail via 127.0.0.1:{dead_port}" in caplog.text
        assert HOOK_TOKEN not in caplog.text
    finally:
        failing.close()


@pytest.mark.slow
def test_unreachable_webhook_does_not_leak_its_url(caplog) -> None:
    url = f"http://127.0.0.1:{free_port()}/services/{HOOK_TOKEN}"
    with caplog.at_level(logging.DEBUG, logger="runner.alerts"):
        [delivery] = Alerter(url, timeout=5).check({"dlq_open": 1})
    assert delivery.channels == {"webhook": False}
    assert "ConnectionError" in caplog.text
    assert HOOK_TOKEN not in caplog.text


@pytest.mark.slow
def test_starttls_refused_by_the_server_is_contained(smtp_sink, caplog) -> None:
    smtp = SmtpSettings(host="127.0.0.1", port=smtp_sink.port, to=["ops@example.com"],
                        starttls=True)
    with caplog.at_level(logging.ERROR, logger="runner.alerts"):
        [delivery] = Alerter(smtp=smtp).check({"dlq_open": 1})
    assert delivery.channels == {"email": False}
    assert "STARTTLS" in caplog.text
    assert smtp_sink.messages == []


def test_no_channel_only_logs(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="runner.alerts"):
        [delivery] = Alerter().check({"dlq_open": 2})
    assert delivery.channels == {}
    assert "alert: [fieldbridge] 2 record(s) in the dead-letter queue" in caplog.text


@pytest.mark.slow
def test_raise_alert_directly(chat) -> None:
    alerter = Alerter(chat.url)
    assert alerter.raise_alert(Alert("custom", "Title", "Detail")) is not None
    assert chat.bodies == [{"text": "[fieldbridge] Title\nDetail"}]


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"webhook_url": f"ftp://hooks/{HOOK_TOKEN}"}, "must start with http"),
    ({"min_interval": -1}, "min_interval"),
    ({"dlq_threshold": 0}, "dlq_threshold"),
    ({"budget_percent": 0}, "budget_percent"),
    ({"budget_percent": 100}, "budget_percent"),
])
def test_bad_alerter_settings(kwargs, fragment) -> None:
    with pytest.raises(ConfigError, match=fragment) as info:
        Alerter(**kwargs)
    assert HOOK_TOKEN not in str(info.value)


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"host": "", "to": ["a@b.c"]}, "need a host"),
    ({"host": "mail", "to": []}, "recipient"),
    ({"host": "mail", "to": ["nobody"]}, "recipient"),
    ({"host": "mail", "to": ["a@b.c"], "port": 0}, "port"),
    ({"host": "mail", "to": ["a@b.c"], "sender": "runner"}, "sender"),
    ({"host": "mail", "to": ["a@b.c"], "password": "x"}, "without a username"),
])
def test_bad_smtp_settings(kwargs, fragment) -> None:
    with pytest.raises(ConfigError, match=fragment):
        SmtpSettings(**kwargs)
