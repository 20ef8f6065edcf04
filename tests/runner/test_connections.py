"""The connection rules the runner and the studio share, and the diagnosis of a failed one."""

from __future__ import annotations

import socket

import pytest
import requests
import stripe

from runner.classify import Failure
from runner.connections import (
    PRODUCTION_LOGIN,
    SANDBOX_LOGIN,
    is_sandbox_login,
    stripe_key_mode,
)
from runner.connectors.diagnosis import diagnose
from runner.connectors.errors import ConnectorError
from runner.errors import ConfigError


@pytest.mark.parametrize(("key", "mode"), [("sk_test_1", "test"), ("rk_live_1", "live")])
def test_stripe_key_mode(key, mode):
    assert stripe_key_mode(key) == mode


@pytest.mark.parametrize("key", ["pk_live_1", "whsec_1", ""])
def test_other_stripe_keys_are_config_errors(key):
    with pytest.raises(ConfigError, match="Stripe"):
        stripe_key_mode(key)


@pytest.mark.parametrize(
    ("url", "sandbox"),
    [(SANDBOX_LOGIN, True), (SANDBOX_LOGIN + "/", True), (PRODUCTION_LOGIN, False),
     ("https://acme--qa.sandbox.my.salesforce.com", True),
     ("https://acme.my.salesforce.com", False)],
)
def test_sandbox_logins(url, sandbox):
    assert is_sandbox_login(url) is sandbox


def _raised_from(outer: BaseException, inner: BaseException) -> BaseException:
    try:
        try:
            raise inner
        except BaseException as exc:
            raise outer from exc
    except BaseException as caught:
        return caught


class _StoreError(Exception):
    """A caller's own "the settings are wrong" error."""


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (_raised_from(ConnectorError("list customer", failure=Failure.FATAL, status=401),
                      stripe.AuthenticationError("Invalid API Key")), "bad_key"),
        (_raised_from(ConnectorError("login", failure=Failure.RETRIABLE),
                      requests.ConnectionError("x")), "network"),
        (_raised_from(ConnectorError("login", failure=Failure.RETRIABLE),
                      socket.gaierror(-2, "Name or service not known")), "dns"),
        (ConnectorError("login", failure=Failure.FATAL, status=400,
                        error_code="invalid_client"), "wrong_org"),
        (ConfigError("no API key"), "config"),
        # A settings error read from a file is a settings problem, not a network one.
        (_raised_from(ConfigError("cannot read the file"), OSError("gone")), "config"),
        (_StoreError("no key in the keyring"), "error"),
    ],
)
def test_diagnose(exc, reason):
    result = diagnose(exc, "Here")
    assert (result.ok, result.reason) == (False, reason)
    assert result.message.startswith("Here: ")


def test_callers_name_their_own_settings_errors():
    result = diagnose(_StoreError("no key in the keyring"), "Here", settings_errors=(_StoreError,))
    assert result.reason == "config" and "no key in the keyring" in result.message
