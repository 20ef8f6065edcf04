"""OAuth grants over raw HTTPS, and what an expired or unknown session gets."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
import requests
from simple_salesforce.exceptions import SalesforceExpiredSession

from runner.sandbox.salesforce import salesforce_client, start_emulator

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def handle(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    h = start_emulator(tmp_path_factory.mktemp("sf-oauth"), reset=True)
    yield h
    h.stop()


@pytest.fixture(scope="module")
def http(handle) -> requests.Session:  # noqa: ANN001
    session = requests.Session()
    session.trust_env = False
    session.verify = handle.ca_file
    return session


def token(http, handle, **form) -> requests.Response:  # noqa: ANN001
    return http.post(f"{handle.login_url}/services/oauth2/token", data=form)


def assertion(handle, **overrides) -> str:  # noqa: ANN001
    claims = {"iss": handle.consumer_key, "sub": handle.username, "aud": handle.login_url,
              "exp": int(time.time()) + 120}
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    key = Path(handle.private_key_file).read_bytes()
    return jwt.encode(claims, key, algorithm="RS256")


JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def works(http, handle, access_token: str) -> bool:  # noqa: ANN001
    response = http.get(f"{handle.instance_url}/services/data/v62.0/limits",
                        headers={"Authorization": f"Bearer {access_token}"})
    return response.status_code == 200


@pytest.mark.parametrize("aud", [None, "https://login.salesforce.com",
                                 "https://test.salesforce.com"])
def test_jwt_bearer_grant(http, handle, aud) -> None:  # noqa: ANN001
    claims = {} if aud is None else {"aud": aud}
    response = token(http, handle, grant_type=JWT_GRANT, assertion=assertion(handle, **claims))
    assert response.status_code == 200, response.text
    body = response.json()
    assert {"access_token", "instance_url", "id", "token_type", "issued_at", "signature",
            "scope"} <= set(body)
    assert body["token_type"] == "Bearer" and body["instance_url"] == handle.instance_url
    assert body["id"].endswith(handle.user_id) and "refresh_token" not in body
    assert works(http, handle, body["access_token"])


def test_jwt_exp_as_a_numeric_string_and_within_skew(http, handle) -> None:  # noqa: ANN001
    as_text = assertion(handle, exp=str(int(time.time()) + 60))
    assert token(http, handle, grant_type=JWT_GRANT, assertion=as_text).status_code == 200
    skewed = assertion(handle, exp=int(time.time()) - 60)  # within the 3 minutes of skew
    assert token(http, handle, grant_type=JWT_GRANT, assertion=skewed).status_code == 200


def _wrong_key_assertion(handle) -> str:  # noqa: ANN001
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
    return jwt.encode({"iss": handle.consumer_key, "sub": handle.username,
                       "aud": handle.login_url, "exp": int(time.time()) + 60}, pem,
                      algorithm="RS256")


@pytest.mark.parametrize(
    ("make", "error", "description"),
    [
        (lambda h: assertion(h, exp=int(time.time()) - 600), "invalid_grant",
         "expired authorization code"),
        (lambda h: assertion(h, aud="https://evil.example"), "invalid_grant",
         "audience is invalid"),
        (lambda h: assertion(h, sub="nobody@example.com"), "invalid_grant",
         "user hasn't approved this consumer"),
        (lambda h: assertion(h, iss="not-our-app"), "invalid_client_id",
         "client identifier invalid"),
        (lambda h: assertion(h, exp=None), "invalid_grant", "invalid assertion"),
        (_wrong_key_assertion, "invalid_grant", "invalid assertion"),
        (lambda h: "not.a.jwt", "invalid_grant", "invalid assertion"),
    ],
)
def test_jwt_failures(http, handle, make, error, description) -> None:  # noqa: ANN001
    response = token(http, handle, grant_type=JWT_GRANT, assertion=make(handle))
    assert response.status_code == 400
    assert response.json() == {"error": error, "error_description": description}


def test_password_then_refresh_grant(http, handle) -> None:  # noqa: ANN001
    response = token(http, handle, grant_type="password", client_id=handle.consumer_key,
                     client_secret=handle.consumer_secret, username=handle.username,
                     password=handle.password + handle.security_token)
    assert response.status_code == 200, response.text
    body = response.json()
    assert works(http, handle, body["access_token"])
    refreshed = token(http, handle, grant_type="refresh_token", client_id=handle.consumer_key,
                      client_secret=handle.consumer_secret, refresh_token=body["refresh_token"])
    assert refreshed.status_code == 200
    assert refreshed.json()["access_token"] != body["access_token"]
    assert works(http, handle, refreshed.json()["access_token"])


@pytest.mark.parametrize(
    ("form", "error", "description"),
    [
        ({"grant_type": "password", "password": "wrong"}, "invalid_grant",
         "authentication failure"),
        ({"grant_type": "password", "client_secret": "nope"}, "invalid_client",
         "invalid client credentials"),
        ({"grant_type": "password", "client_id": "nope"}, "invalid_client_id",
         "client identifier invalid"),
        ({"grant_type": "refresh_token", "refresh_token": "5Aep861bogus"}, "invalid_grant",
         "expired access/refresh token"),
        # authorization_code is served now (test_sf_web_login.py); without a code it is
        # refused as Salesforce does.
        ({"grant_type": "authorization_code"}, "invalid_grant",
         "invalid authorization code"),
        ({"grant_type": "urn:example:not-a-grant"}, "unsupported_grant_type",
         "grant type not supported"),
        ({"grant_type": ""}, "invalid_request", "grant type not specified"),
    ],
)
def test_grant_failures(http, handle, form, error, description) -> None:  # noqa: ANN001
    full = {"client_id": handle.consumer_key, "client_secret": handle.consumer_secret,
            "username": handle.username, "password": handle.password + handle.security_token}
    full.update(form)
    response = token(http, handle, **full)
    assert response.status_code == 400
    assert response.json() == {"error": error, "error_description": description}


def test_unknown_token_gets_401_with_a_list_body(http, handle) -> None:  # noqa: ANN001
    response = http.get(f"{handle.instance_url}/services/data/v62.0/sobjects",
                        headers={"Authorization": "Bearer 00Dbogus"})
    assert response.status_code == 401
    assert response.json() == [{"message": "Session expired or invalid",
                                "errorCode": "INVALID_SESSION_ID"}]


def test_expired_session_raises_in_simple_salesforce(handle) -> None:  # noqa: ANN001
    sf = salesforce_client(handle, access_token=handle.new_token())
    assert sf.Account.describe()["name"] == "Account"
    handle.expire_sessions()
    with pytest.raises(SalesforceExpiredSession) as exc:
        sf.Account.describe()
    assert exc.value.content[0]["errorCode"] == "INVALID_SESSION_ID"


def test_tokens_expire_after_their_ttl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    short = start_emulator(tmp_path / "ttl", session_ttl=60)
    try:
        sf = salesforce_client(short)
        assert sf.limits()["DailyApiRequests"]["Max"] == 15000
        # A minute later by the emulator's clock (no sleeping: the machine may be slow).
        later = time.time() + 61
        monkeypatch.setattr("runner.sandbox.salesforce.auth.time.time", lambda: later)
        with pytest.raises(SalesforceExpiredSession):
            sf.limits()
    finally:
        short.stop()


def test_admin_endpoints_need_the_admin_token(http, handle) -> None:  # noqa: ANN001
    target = f"{handle.instance_url}/__admin/expire-sessions"
    assert http.post(target).status_code == 401
    assert http.post(target, headers={"Authorization": "Bearer wrong"}).status_code == 401
