"""runner.oauth_login (through runner.api.oauth, as the studio calls it) against the emulator.

The browser is played by form posts (tests/runner/oauth_browser.py): it opens the authorize
URL, logs in, approves, and is sent to the loopback listener. Salesforce's flow:
https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_web_server_flow.htm
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from runner.api.oauth import (
    LoginCancelled,
    LoginError,
    refresh_access_token,
    revoke_token,
    start_login,
)
from runner.sandbox.salesforce import start_emulator
from tests.runner.oauth_browser import FormBrowser

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def handle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    h = start_emulator(tmp_path_factory.mktemp("sf-oauth-login"), reset=True)
    yield h
    h.stop()


def loopback() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


def rest_status(handle: Any, token: str) -> int:
    session = loopback()
    session.verify = handle.ca_file
    return session.get(f"{handle.instance_url}/services/data/v62.0/limits",
                       headers={"Authorization": f"Bearer {token}"}).status_code


def test_browser_login_refresh_and_revoke(handle: Any) -> None:
    login = start_login(handle.login_url, handle.consumer_key, ca_file=handle.ca_file,
                        timeout=30)
    asked = {k: v[0] for k, v in parse_qs(urlsplit(login.authorize_url).query).items()}
    assert asked["response_type"] == "code" and asked["client_id"] == handle.consumer_key
    assert asked["code_challenge_method"] == "S256" and len(asked["code_challenge"]) == 43
    assert asked["state"] == login.state
    assert login.redirect_uri.startswith("http://127.0.0.1:")
    assert asked["redirect_uri"] == login.redirect_uri and asked["scope"] == "api refresh_token"

    back = FormBrowser(handle.ca_file).log_in(login.authorize_url, handle.username,
                                              handle.password)
    assert back.startswith(login.redirect_uri)
    # An answer with another state (a forged redirect) is refused; the login keeps waiting.
    forged = back.replace(f"state={login.state}", "state=forged")
    refused = loopback().get(forged)
    assert refused.status_code == 400 and "state mismatch" in refused.text
    taken = loopback().get(back)
    assert taken.status_code == 200 and "close this window" in taken.text

    result = login.wait()
    assert result.refresh_token and result.access_token
    assert result.user_id == handle.user_id and result.instance_url == handle.instance_url
    assert result.access_token not in repr(result) and result.refresh_token not in repr(result)
    assert rest_status(handle, result.access_token) == 200

    refreshed = refresh_access_token(handle.login_url, handle.consumer_key,
                                     result.refresh_token, ca_file=handle.ca_file)
    assert refreshed.access_token != result.access_token
    assert rest_status(handle, refreshed.access_token) == 200

    revoke_token(handle.login_url, result.refresh_token, ca_file=handle.ca_file)
    assert rest_status(handle, refreshed.access_token) == 401
    assert rest_status(handle, result.access_token) == 401
    with pytest.raises(LoginError, match="invalid_grant"):
        refresh_access_token(handle.login_url, handle.consumer_key, result.refresh_token,
                             ca_file=handle.ca_file)
    with pytest.raises(LoginError, match="invalid_token"):
        revoke_token(handle.login_url, result.refresh_token, ca_file=handle.ca_file)


def test_deny_is_a_clear_error(handle: Any) -> None:
    login = start_login(handle.login_url, handle.consumer_key, ca_file=handle.ca_file)
    back = FormBrowser(handle.ca_file).log_in(login.authorize_url, handle.username,
                                              handle.password, button="oadeny")
    assert loopback().get(back).status_code == 200
    with pytest.raises(LoginError, match="access was not allowed"):
        login.wait()


def test_the_time_limit_ends_the_login_and_closes_the_listener(handle: Any) -> None:
    login = start_login(handle.login_url, handle.consumer_key, ca_file=handle.ca_file,
                        timeout=0.2)
    with pytest.raises(LoginError, match="within 0.2 seconds"):
        login.wait()
    with pytest.raises(requests.ConnectionError):
        loopback().get(login.redirect_uri, timeout=2)


def test_cancel_from_another_thread(handle: Any) -> None:
    login = start_login(handle.login_url, handle.consumer_key, ca_file=handle.ca_file,
                        timeout=30)
    threading.Timer(0.1, login.cancel).start()
    with pytest.raises(LoginCancelled):
        login.wait()


def test_a_code_from_another_login_is_refused_by_the_token_endpoint(handle: Any) -> None:
    # The state matches but the code was issued for another login's verifier: Salesforce
    # answers invalid_grant, which the login reports.
    first = start_login(handle.login_url, handle.consumer_key, ca_file=handle.ca_file)
    second = start_login(handle.login_url, handle.consumer_key, ca_file=handle.ca_file)
    back = FormBrowser(handle.ca_file).log_in(first.authorize_url, handle.username,
                                              handle.password)
    code = parse_qs(urlsplit(back).query)["code"][0]
    first.cancel()
    first.close()
    stolen = f"{second.redirect_uri}?code={code}&state={second.state}"
    assert loopback().get(stolen).status_code == 200
    with pytest.raises(LoginError, match="invalid_grant|redirect_uri_mismatch"):
        second.wait()
