"""Each sink a secret could leak into, on its own: logs (tracebacks included), the state
database's dead letters and review items, bundles, and the studio's connections file.
The end-to-end audit is tests/runner/e2e/test_secrets_e2e.py."""

from __future__ import annotations

import io
import json
import logging
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import stripe

from runner.secrets import configure_logging

API_KEY = "sk_live_" + secrets.token_hex(16)
PASSWORD = "Pw-" + secrets.token_hex(6)  # no credential shape: only known-value masking works


@pytest.fixture
def captured_log() -> Iterator[io.StringIO]:
    yield io.StringIO()
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_fieldbridge", False)]:
        root.removeHandler(handler)


def _raise_stripe_error() -> None:
    try:
        raise stripe.AuthenticationError(f"Invalid API Key provided: {API_KEY}",
                                         http_status=401)
    except stripe.StripeError as exc:
        # The chained cause's message (the password) is printed in the traceback too.
        raise RuntimeError(f"login failed with password={PASSWORD!r} "
                           f"and {API_KEY}") from exc


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_tracebacks_with_a_stripe_key_and_a_known_password_are_redacted(fmt, captured_log):
    stream = captured_log
    redactor = configure_logging(fmt, "DEBUG", stream=stream)
    redactor.add(PASSWORD)
    log = logging.getLogger("fieldbridge.audit")
    try:
        _raise_stripe_error()
    except RuntimeError:
        log.exception("Stripe call failed")
    out = stream.getvalue()
    assert "Stripe call failed" in out and "AuthenticationError" in out  # it was logged
    assert "Traceback" in out and "direct cause" in out  # with the chained traceback
    assert API_KEY not in out and API_KEY[8:] not in out
    assert PASSWORD not in out
    assert "[REDACTED]" in out


def test_a_secret_in_extra_fields_and_args_is_redacted(captured_log):
    stream = captured_log
    configure_logging("json", "DEBUG", secrets=[PASSWORD], stream=stream)
    logging.getLogger("fieldbridge.audit").warning("auth with %s", PASSWORD,
                                                   extra={"key": API_KEY})
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert PASSWORD not in json.dumps(line) and API_KEY not in json.dumps(line)
    assert line["message"] == "auth with [REDACTED]"


@pytest.mark.parametrize("field", ["payload", "record", "error"])
def test_dead_letters_refuse_secret_looking_values_without_echoing_them(tmp_path, field):
    from runner.state.store import StateStore

    values = {"payload": {"id": "evt_1", "data": {"note": API_KEY}},
              "record": {"Name": "x", "Token__c": API_KEY}, "error": f"bad key {API_KEY}"}
    with StateStore.open(f"sqlite:///{tmp_path / 's.sqlite'}") as store:
        kwargs = {"payload": {"id": "evt_1"}, "record": None, "error": "boom"}
        kwargs[field] = values[field]
        with pytest.raises(ValueError, match=f"refusing to store {field}") as caught:
            store.dlq_add(flow="f", event_id="evt_1", source_id="ch_1", error_code=None,
                          **kwargs)
        assert API_KEY not in str(caught.value)
        with pytest.raises(ValueError, match="refusing to store candidates") as caught:
            store.review_add(flow="f", source_id="cus_1", record={"Name": "x"},
                             candidates=[{"Id": "001", "Note__c": API_KEY}],
                             payload={"id": "evt_1"})
        assert API_KEY not in str(caught.value)
        assert store.counts()["dlq_open"] == 0


def test_bundle_build_refuses_a_secret_and_does_not_echo_it(tmp_path: Path):
    from mappings.bundle import build_bundle
    from mappings.document.yamlio import loads_document
    from mappings.errors import BundleError
    from tests.runner.e2e.helpers import TEMPLATES

    text = (TEMPLATES / "charges-payments.yaml").read_text()
    leaky = text.replace("description: Stripe charges become",
                         f"description: key {API_KEY}. Stripe charges become", 1)
    assert leaky != text
    doc = loads_document(leaky, source_name="leaky.yaml")
    out = tmp_path / "leaky.fbz"
    with pytest.raises(BundleError, match="looks like a Stripe secret key") as caught:
        build_bundle([doc], out)
    assert API_KEY not in str(caught.value)
    assert not out.exists()


def test_connection_store_keeps_secrets_out_of_its_json(tmp_path: Path, memory_keyring):
    from app.services.connections import (
        ConnectionStore,
        SalesforceConnection,
        StripeConnection,
    )

    path = tmp_path / "connections.json"
    store = ConnectionStore(path)
    store.add(StripeConnection("live").with_key(API_KEY))
    token, client_secret = secrets.token_hex(12), secrets.token_hex(20)
    store.add(SalesforceConnection("org", "password", "https://test.salesforce.com",
                                   "u@example.com", "3MVG9key", password=PASSWORD,
                                   security_token=token, client_secret=client_secret))
    text = path.read_text()
    for value in (API_KEY, PASSWORD, token, client_secret):
        assert value in memory_keyring.entries.values()
        assert value not in text
    assert "u@example.com" in text  # the settings themselves were written
    reopened = ConnectionStore(path)
    assert reopened.secret(reopened.get("stripe", "live"), "api_key") == API_KEY
