"""Services: sample sources, the on-demand sandbox, key modes and failure classification."""

from __future__ import annotations

import json
import socket
import ssl

import pytest
import requests
import stripe

from app.document.document import StudioDocument, default_catalogs
from app.services import LOCAL_SANDBOX, SOURCE_FIXTURES, SOURCE_STRIPE, Services
from app.services.connections import (
    ConnectionsError,
    classify_failure,
    keyring_username,
    stripe_key_mode,
)
from app.services.samples import SampleError, file_samples, fixture_samples
from runner.classify import Failure
from runner.connectors.errors import ConnectorError


@pytest.fixture(scope="module")
def document():
    doc = StudioDocument(catalogs=default_catalogs())
    doc.open_template("customer-account")
    return doc


@pytest.mark.parametrize(
    ("key", "mode"),
    [("sk_test_abc", "test"), ("rk_test_abc", "test"), ("sk_live_abc", "live"),
     ("rk_live_abc", "live")],
)
def test_stripe_key_mode_from_the_prefix(key, mode):
    assert stripe_key_mode(key) == mode


@pytest.mark.parametrize("key", ["pk_test_abc", "sk_abc", "whsec_abc", ""])
def test_other_keys_are_refused(key):
    with pytest.raises(ConnectionsError):
        stripe_key_mode(key)


def test_keyring_usernames_agree_with_the_runner():
    from runner.secrets import keyring_username as runner_username

    for system, name, field in [("stripe", "EU", "api_key"), ("salesforce", "Org", "password")]:
        assert keyring_username(system, name, field) == runner_username(system, name, field)


# -- samples ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "ids"),
    [
        ({"id": "cus_1", "object": "customer"}, ["cus_1"]),
        ([{"id": "cus_1"}, {"id": "cus_2"}], ["cus_1", "cus_2"]),
        ({"object": "list", "data": [{"id": "cus_3"}], "has_more": False}, ["cus_3"]),
        ({"object": "event", "type": "customer.created", "id": "evt_1",
          "data": {"object": {"id": "cus_4"}}}, ["evt_1"]),
    ],
)
def test_file_samples_shapes(tmp_path, content, ids):
    path = tmp_path / "samples.json"
    path.write_text(json.dumps(content))
    assert [s["id"] for s in file_samples(path)] == ids


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{nope", "is not valid JSON"),
        ("[]", "holds an empty list"),
        ('"just a string"', "the file is a str, not a JSON object"),
        ('[{"id": 1}, 5]', "item 2 is a int"),
    ],
)
def test_bad_sample_files_are_named(tmp_path, text, message):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(SampleError, match=message) as info:
        file_samples(path)
    assert "bad.json" in str(info.value)


def test_fixture_samples_are_copies(document):
    flow = document.flow("customer-to-account")
    samples = fixture_samples(flow)
    samples[0]["data"]["object"]["name"] = "changed"
    assert flow.fixtures[0].input["data"]["object"].get("name") != "changed"


def test_unknown_source_and_bad_limit(tmp_path, document):
    services = Services(config_path=tmp_path / "c.json", sandbox_dir=tmp_path / "sandbox")
    flow = document.flow("customer-to-account")
    with pytest.raises(SampleError, match="unknown sample source 'ftp'"):
        services.load_samples(flow, "ftp")
    assert services.samples_for(flow) == fixture_samples(flow)  # nothing published yet
    assert services.load_samples(flow, SOURCE_FIXTURES) == fixture_samples(flow)
    assert not services.sandbox.running  # fixtures never start the sandboxes


# -- classification -----------------------------------------------------------------------


def _chained(outer: BaseException, inner: BaseException) -> BaseException:
    try:
        try:
            raise inner
        except BaseException as exc:
            raise outer from exc
    except BaseException as caught:
        return caught


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (stripe.AuthenticationError("Invalid API Key provided"), "bad_key"),
        (stripe.PermissionError("restricted"), "permission"),
        (_chained(stripe.APIConnectionError("x"), requests.exceptions.SSLError("bad cert")),
         "certificate"),
        (_chained(ConnectorError("login", failure=Failure.FATAL), ssl.SSLError(1, "verify")),
         "certificate"),
        (_chained(stripe.APIConnectionError("x"), socket.gaierror(-2, "Name or service not "
                                                                  "known")), "dns"),
        (_chained(ConnectorError("login", failure=Failure.RETRIABLE),
                  requests.Timeout("read timed out")), "timeout"),
        (_chained(ConnectorError("login", failure=Failure.RETRIABLE),
                  ConnectionRefusedError(111, "Connection refused")), "network"),
        (ConnectorError("login failed", failure=Failure.FATAL, status=400,
                        error_code="invalid_grant"), "login"),
        (ConnectorError("login failed", failure=Failure.FATAL, status=400,
                        error_code="invalid_client_id"), "wrong_org"),
        (ConnectionsError("no API key in the keyring"), "config"),
        (ValueError("something else"), "error"),
    ],
)
def test_classify_failure(exc, reason):
    result = classify_failure(exc, "Test")
    assert (result.ok, result.reason) == (False, reason)
    assert result.message.startswith("Test: ")
    assert type(exc).__name__ in result.detail


# -- the sandbox, on demand ---------------------------------------------------------------------


@pytest.mark.slow
def test_sandbox_starts_once_and_serves_newest_samples(tmp_path, document):
    services = Services(config_path=tmp_path / "c.json", sandbox_dir=tmp_path / "sandbox")
    try:
        flow = document.flow("customer-to-account")
        assert not services.sandbox.running
        samples = services.load_samples(flow, SOURCE_STRIPE, connection=LOCAL_SANDBOX, limit=3)
        assert services.sandbox.running
        session = services.sandbox.ensure_up()
        assert services.sandbox.ensure_up() is session  # once per studio session
        assert len(samples) == 3 and all(s["object"] == "customer" for s in samples)
        everything = services.load_samples(flow, SOURCE_STRIPE, limit=100)
        assert len(everything) >= 6  # the demo seed
        created = [s["created"] for s in everything]
        assert created == sorted(created, reverse=True)  # newest first
        assert [s["id"] for s in samples] == [s["id"] for s in everything[:3]]
        with pytest.raises(SampleError, match="between 1 and 1000"):
            services.load_samples(flow, SOURCE_STRIPE, limit=0)
    finally:
        services.close()
    assert not services.sandbox.running
    with pytest.raises(requests.ConnectionError):
        requests.get(session.stripe.api_base + "/v1/customers", timeout=2)
