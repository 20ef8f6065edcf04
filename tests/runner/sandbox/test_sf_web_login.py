"""The emulator's OAuth 2.0 web server flow, driven as a browser would with form posts.

Salesforce's behaviour we follow:
- the flow and its parameters: https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_web_server_flow.htm
  and https://developer.salesforce.com/docs/atlas.en-us.222.0.api_rest.meta/api/intro_understanding_web_server_oauth_flow.htm
- PKCE (code_challenge = base64url(sha256(code_verifier))):
  https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_pkce.htm
- revocation (200; 400 with unsupported_token_type or invalid_token; a refresh token takes
  its access tokens with it):
  https://developer.salesforce.com/docs/atlas.en-us.mobile_sdk.meta/mobile_sdk/oauth_revoking_tokens.htm
  and https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_revoke_token.htm
- the token endpoint's refusals of a code are invalid_grant ("invalid authorization code",
  "expired authorization code", "invalid code verifier"), and redirect_uri_mismatch.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from runner.errors import SandboxError
from runner.sandbox.salesforce import start_emulator
from tests.runner.oauth_browser import FormBrowser, forms

pytestmark = pytest.mark.slow

STUDIO_KEY = "3MVG9StudioConnectedAppKey"
STUDIO_CALLBACK = "https://studio.example.com/oauth/callback"
LOOPBACK = "http://127.0.0.1:53682/callback"


@pytest.fixture(scope="module")
def handle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    app = {"fullName": "Studio_Web", "label": "Studio Web",
           "oauthConfig": {"consumerKey": STUDIO_KEY, "callbackUrl": STUDIO_CALLBACK,
                           "scopes": ["Api", "RefreshToken"]}}
    h = start_emulator(tmp_path_factory.mktemp("sf-web-login"), reset=True,
                       connected_apps=[app])
    yield h
    h.stop()


@pytest.fixture
def browser(handle: Any) -> FormBrowser:
    return FormBrowser(handle.ca_file)


@pytest.fixture(scope="module")
def http(handle: Any) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.verify = handle.ca_file
    return session


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def authorize_url(handle: Any, *, client_id: str | None = None, redirect_uri: str = LOOPBACK,
                  challenge: str | None = None, **extra: str) -> str:
    params = {"response_type": "code", "client_id": client_id or handle.consumer_key,
              "redirect_uri": redirect_uri, "state": "st-123", **extra}
    if challenge:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    return f"{handle.login_url}/services/oauth2/authorize?{urlencode(params)}"


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def code_for(browser: FormBrowser, handle: Any, challenge: str | None,
             **kw: Any) -> str:
    back = browser.log_in(authorize_url(handle, challenge=challenge, **kw), handle.username,
                          handle.password)
    answer = query(back)
    assert answer["state"] == "st-123"
    return answer["code"]


def exchange(http: requests.Session, handle: Any, code: str, verifier: str | None,
             redirect_uri: str = LOOPBACK, client_id: str | None = None) -> requests.Response:
    form = {"grant_type": "authorization_code", "code": code,
            "client_id": client_id or handle.consumer_key, "redirect_uri": redirect_uri}
    if verifier is not None:
        form["code_verifier"] = verifier
    return http.post(f"{handle.login_url}/services/oauth2/token", data=form)


def rest_status(http: requests.Session, handle: Any, token: str) -> tuple[int, Any]:
    r = http.get(f"{handle.instance_url}/services/data/v62.0/limits",
                 headers={"Authorization": f"Bearer {token}"})
    return r.status_code, r.json()


def test_login_consent_code_and_pkce_exchange(browser: FormBrowser, http, handle) -> None:  # noqa: ANN001
    verifier, challenge = pkce()
    login = browser.open(authorize_url(handle, challenge=challenge, scope="api refresh_token"))
    assert login.status_code == 200 and "Log In" in login.text
    (form,) = forms(login.text)
    assert form.method == "POST" and form.fields["code_challenge"] == challenge
    wrong = browser.submit(login, {"username": handle.username, "pw": "not-it"})
    assert wrong.status_code == 200 and "check your username and password" in wrong.text
    consent = browser.submit(wrong, {"username": handle.username, "pw": handle.password})
    assert "Allow Access?" in consent.text and handle.username in consent.text
    back = browser.submit(consent, {}, button="oaapprove")
    assert back.status_code == 302
    location = back.headers["Location"]
    assert location.startswith(LOOPBACK + "?")
    answer = query(location)
    assert answer["state"] == "st-123" and answer["code"]

    r = exchange(http, handle, answer["code"], verifier)
    assert r.status_code == 200, r.text
    body = r.json()
    assert {"access_token", "refresh_token", "instance_url", "id", "issued_at",
            "signature"} <= set(body)
    assert body["scope"] == "api refresh_token"
    assert body["id"].endswith(f"/{handle.user_id}")
    assert rest_status(http, handle, body["access_token"])[0] == 200
    who = http.get(f"{handle.login_url}/services/oauth2/userinfo",
                   headers={"Authorization": f"Bearer {body['access_token']}"})
    assert who.json()["preferred_username"] == handle.username


def test_any_loopback_port_is_accepted_for_the_sandbox_app(browser, http, handle) -> None:  # noqa: ANN001
    verifier, challenge = pkce()
    redirect = "http://127.0.0.1:61999/callback"
    code = code_for(browser, handle, challenge, redirect_uri=redirect)
    assert exchange(http, handle, code, verifier, redirect_uri=redirect).status_code == 200


@pytest.mark.parametrize("verifier", ["wrong-" + "x" * 50, None])
def test_a_wrong_or_missing_verifier_is_invalid_grant(browser, http, handle, verifier) -> None:  # noqa: ANN001
    _, challenge = pkce()
    code = code_for(browser, handle, challenge)
    r = exchange(http, handle, code, verifier)
    assert r.status_code == 400
    assert r.json() == {"error": "invalid_grant", "error_description": "invalid code verifier"}


def test_a_code_is_single_use(browser, http, handle) -> None:  # noqa: ANN001
    verifier, challenge = pkce()
    code = code_for(browser, handle, challenge)
    assert exchange(http, handle, code, verifier).status_code == 200
    again = exchange(http, handle, code, verifier)
    assert again.status_code == 400
    assert again.json() == {"error": "invalid_grant",
                            "error_description": "invalid authorization code"}


def test_an_expired_code_is_invalid_grant(browser, http, handle) -> None:  # noqa: ANN001
    verifier, challenge = pkce()
    code = code_for(browser, handle, challenge)
    handle.expire_authorization_codes()  # Salesforce: 15 minutes
    r = exchange(http, handle, code, verifier)
    assert r.status_code == 400
    assert r.json() == {"error": "invalid_grant",
                        "error_description": "expired authorization code"}


def test_the_token_request_must_repeat_the_redirect_uri(browser, http, handle) -> None:  # noqa: ANN001
    verifier, challenge = pkce()
    code = code_for(browser, handle, challenge)
    r = exchange(http, handle, code, verifier, redirect_uri="http://127.0.0.1:1/other")
    assert r.status_code == 400
    assert r.json()["error"] == "redirect_uri_mismatch"


def test_an_unknown_client_is_refused(browser, http, handle) -> None:  # noqa: ANN001
    page = browser.open(authorize_url(handle, client_id="3MVG9nobody"))
    assert page.status_code == 302
    assert query(page.headers["Location"])["error"] == "invalid_client_id"
    r = exchange(http, handle, "aPrxwhatever", "v", client_id="3MVG9nobody")
    assert r.status_code == 400 and r.json()["error"] == "invalid_client_id"


def test_deny_sends_access_denied_back(browser, handle) -> None:  # noqa: ANN001
    back = browser.log_in(authorize_url(handle), handle.username, handle.password,
                          button="oadeny")
    answer = query(back)
    assert back.startswith(LOOPBACK)
    assert answer["error"] == "access_denied" and answer["state"] == "st-123"


def test_a_declared_app_keeps_to_its_callback_allow_list(browser, http, handle) -> None:  # noqa: ANN001
    # Not a native app: a loopback redirect is refused, on Salesforce's own error page
    # (never sent to the unlisted address).
    page = browser.open(authorize_url(handle, client_id=STUDIO_KEY))
    assert page.status_code == 302
    location = page.headers["Location"]
    assert location.startswith("/setup/secur/RemoteAccessErrorPage.apexp?")
    assert query(location)["error"] == "redirect_uri_mismatch"
    shown = browser.open(f"{handle.login_url}{location}")
    assert shown.status_code == 200 and "redirect_uri_mismatch" in shown.text

    # A scope the app was not given goes back to the (listed) callback as invalid_scope.
    page = browser.open(authorize_url(handle, client_id=STUDIO_KEY,
                                      redirect_uri=STUDIO_CALLBACK, scope="api full"))
    assert page.status_code == 302
    assert query(page.headers["Location"])["error"] == "invalid_scope"

    verifier, challenge = pkce()
    code = code_for(browser, handle, challenge, client_id=STUDIO_KEY,
                    redirect_uri=STUDIO_CALLBACK)
    r = exchange(http, handle, code, verifier, redirect_uri=STUDIO_CALLBACK,
                 client_id=STUDIO_KEY)
    # No scope asked: every scope the app was given ("RefreshToken" is both names).
    assert r.status_code == 200
    assert set(r.json()["scope"].split()) == {"api", "refresh_token", "offline_access"}


def test_refresh_then_revoke(browser, http, handle) -> None:  # noqa: ANN001
    verifier, challenge = pkce()
    body = exchange(http, handle, code_for(browser, handle, challenge), verifier).json()
    refresh = body["refresh_token"]
    token_url = f"{handle.login_url}/services/oauth2/token"
    refreshed = http.post(token_url, data={"grant_type": "refresh_token",
                                           "refresh_token": refresh,
                                           "client_id": handle.consumer_key})
    assert refreshed.status_code == 200, refreshed.text
    second = refreshed.json()["access_token"]
    assert "refresh_token" not in refreshed.json()
    assert rest_status(http, handle, second)[0] == 200

    revoke_url = f"{handle.login_url}/services/oauth2/revoke"
    assert http.post(revoke_url, data={"token": refresh}).status_code == 200
    # The refresh token and every access token issued from it no longer work.
    for access in (body["access_token"], second):
        status, errors = rest_status(http, handle, access)
        assert status == 401 and errors[0]["errorCode"] == "INVALID_SESSION_ID"
    again = http.post(token_url, data={"grant_type": "refresh_token", "refresh_token": refresh,
                                       "client_id": handle.consumer_key})
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    gone = http.post(revoke_url, data={"token": refresh})
    assert gone.status_code == 400 and gone.json()["error"] == "invalid_token"
    missing = http.post(revoke_url, data={})
    assert missing.status_code == 400 and missing.json()["error"] == "unsupported_token_type"


def test_revoking_an_access_token_keeps_its_refresh_token(browser, http, handle) -> None:  # noqa: ANN001
    verifier, challenge = pkce()
    body = exchange(http, handle, code_for(browser, handle, challenge), verifier).json()
    revoke_url = f"{handle.login_url}/services/oauth2/revoke"
    # The "blind GET" form Salesforce also accepts.
    assert http.get(revoke_url, params={"token": body["access_token"]}).status_code == 200
    assert rest_status(http, handle, body["access_token"])[0] == 401
    refreshed = http.post(f"{handle.login_url}/services/oauth2/token",
                          data={"grant_type": "refresh_token",
                                "refresh_token": body["refresh_token"],
                                "client_id": handle.consumer_key})
    assert refreshed.status_code == 200


def test_a_connected_app_without_a_consumer_key_is_refused_clearly(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(SandboxError, match="needs oauthConfig.consumerKey"):
        start_emulator(tmp_path, reset=True, connected_apps=[{"fullName": "Nameless"}])


def test_revocation_reaches_access_tokens_issued_before_a_restart(tmp_path) -> None:  # noqa: ANN001
    first = start_emulator(tmp_path, reset=True)
    http = requests.Session()
    http.trust_env = False
    http.verify = first.ca_file
    try:
        token_url = f"{first.login_url}/services/oauth2/token"
        refresh = http.post(token_url, data={
            "grant_type": "password", "client_id": first.consumer_key,
            "client_secret": first.consumer_secret, "username": first.username,
            "password": first.password + first.security_token}).json()["refresh_token"]
        child = http.post(token_url, data={
            "grant_type": "refresh_token", "refresh_token": refresh,
            "client_id": first.consumer_key}).json()["access_token"]
    finally:
        first.stop()
    again = start_emulator(tmp_path)
    try:
        assert rest_status(http, again, child)[0] == 200
        revoke = http.post(f"{again.login_url}/services/oauth2/revoke", data={"token": refresh})
        assert revoke.status_code == 200
        assert rest_status(http, again, child)[0] == 401
    finally:
        again.stop()
