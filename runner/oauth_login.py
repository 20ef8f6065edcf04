"""Log in with Salesforce in the browser: the OAuth 2.0 web server flow with PKCE.

The client half of what the studio's "Log in with Salesforce" does, built on authlib (its
``OAuth2Session`` makes the S256 code challenge, checks ``state`` and talks to the token
and revocation endpoints):

1. :func:`start_login` opens a one-shot listener on ``http://127.0.0.1:<free port>/callback``
   (a loopback redirect, RFC 8252 section 7.3) and returns a :class:`BrowserLogin` whose
   ``authorize_url`` the caller opens in the system browser;
2. :meth:`BrowserLogin.wait` blocks until the browser comes back (a callback whose ``state``
   is not ours is refused and the login keeps waiting), the time limit passes, or
   :meth:`BrowserLogin.cancel` is called from another thread; then it exchanges the code with
   its ``code_verifier`` and returns the :class:`LoginResult` (the refresh token is what a
   connection keeps, in the keyring);
3. :func:`revoke_token` is **Remove connection**: ``POST /services/oauth2/revoke``.

Salesforce's documentation of the flow:
https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_web_server_flow.htm,
https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_pkce.htm and
https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_revoke_token.htm.
"""

from __future__ import annotations

import html
import logging
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc6749.errors import MismatchingStateException, MissingCodeException
from authlib.oauth2.rfc6749.parameters import parse_authorization_code_response

from runner.errors import RunnerError

log = logging.getLogger(__name__)

DEFAULT_SCOPE = "api refresh_token"
DEFAULT_TIMEOUT_SECONDS = 300.0  # how long the browser has to come back
CALLBACK_PATH = "/callback"
_VERIFIER_LENGTH = 64  # RFC 7636: 43 to 128 characters


class LoginError(RunnerError):
    """The browser login did not give a token; the message says why, for a person."""


class LoginCancelled(LoginError):
    """The user cancelled the login before the browser came back."""


@dataclass(frozen=True)
class LoginResult:
    """What the token endpoint answered. Tokens are never shown in ``repr``."""

    instance_url: str
    identity_url: str
    scope: str
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)

    @property
    def user_id(self) -> str:
        return self.identity_url.rstrip("/").rsplit("/", 1)[-1]

    @property
    def org_id(self) -> str:
        return self.identity_url.rstrip("/").rsplit("/", 2)[-2]


def _oauth_session(client_id: str, *, ca_file: str | None, timeout: float,
                   client_secret: str | None = None, redirect_uri: str | None = None,
                   scope: str | None = None, state: str | None = None) -> OAuth2Session:
    session = OAuth2Session(
        client_id, client_secret,
        # A native app holds no secret: client_id goes in the body, as Salesforce expects.
        token_endpoint_auth_method="client_secret_post" if client_secret else "none",
        revocation_endpoint_auth_method="none",
        redirect_uri=redirect_uri, scope=scope, state=state, code_challenge_method="S256",
        default_timeout=timeout)
    session.verify = ca_file or True
    session.trust_env = False  # no proxy or CA bundle from the environment on a login
    return session


def _endpoint(login_url: str, name: str) -> str:
    return login_url.rstrip("/") + f"/services/oauth2/{name}"


class BrowserLogin:
    """One login in progress. Made by :func:`start_login`; ``wait()`` once, from any thread."""

    def __init__(self, login_url: str, client_id: str, *, scope: str = DEFAULT_SCOPE,
                 ca_file: str | None = None, timeout: float = DEFAULT_TIMEOUT_SECONDS,
                 client_secret: str | None = None, request_timeout: float = 30.0) -> None:
        self.login_url = login_url.rstrip("/")
        self.timeout = timeout
        self._done = threading.Event()
        self._callback: str | None = None
        self._cancelled = False
        self._server = HTTPServer(("127.0.0.1", 0), _CallbackHandler)
        self._server.login = self  # type: ignore[attr-defined]
        self.redirect_uri = f"http://127.0.0.1:{self._server.server_address[1]}{CALLBACK_PATH}"
        self._verifier = generate_token(_VERIFIER_LENGTH)
        self._session = _oauth_session(client_id, ca_file=ca_file, timeout=request_timeout,
                                       client_secret=client_secret,
                                       redirect_uri=self.redirect_uri, scope=scope)
        self.authorize_url, self.state = self._session.create_authorization_url(
            _endpoint(self.login_url, "authorize"), code_verifier=self._verifier)
        self._session.state = self.state
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="oauth-callback", daemon=True)
        self._thread.start()

    def _arrived(self, url: str) -> str | None:
        """The listener's check of one callback: ``None`` if taken, else why it was not."""
        if self._done.is_set():
            return "this login is already finished"
        try:
            parse_authorization_code_response(url, state=self.state)
        except MismatchingStateException:
            return "this answer does not belong to the login in progress (state mismatch)"
        except MissingCodeException:
            params = parse_qs(urlsplit(url).query)
            if params.get("state", [None])[0] != self.state:
                return "this answer does not belong to the login in progress (state mismatch)"
        self._callback = url
        self._done.set()
        return None

    def cancel(self) -> None:
        self._cancelled = True
        self._done.set()

    def wait(self) -> LoginResult:
        """Wait for the browser, then exchange the code. Raises :class:`LoginError` (or
        :class:`LoginCancelled`) with a sentence a person can act on."""
        try:
            if not self._done.wait(self.timeout):
                raise LoginError(f"Salesforce did not send the browser back within "
                                 f"{self.timeout:g} seconds; start the login again")
            if self._cancelled:
                raise LoginCancelled("the Salesforce login was cancelled")
            assert self._callback is not None
            params = {k: v[0] for k, v in parse_qs(urlsplit(self._callback).query).items()}
            if "error" in params:
                if params["error"] == "access_denied":
                    raise LoginError("access was not allowed in the browser "
                                     "(Deny on Salesforce's approval page)")
                raise LoginError(f"Salesforce refused the login: {params['error']}: "
                                 f"{params.get('error_description', '')}")
            try:
                token = self._session.fetch_token(
                    _endpoint(self.login_url, "token"),
                    authorization_response=self._callback, code_verifier=self._verifier)
            except OAuthError as exc:
                raise LoginError(f"Salesforce refused the authorization code: {exc.error}: "
                                 f"{exc.description}") from exc
            except requests.RequestException as exc:
                raise LoginError(f"cannot reach {self.login_url}: {exc}") from exc
            return _result(token)
        finally:
            self.close()

    def close(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
        self._session.close()


def start_login(login_url: str, client_id: str, **options: Any) -> BrowserLogin:
    """Begin a browser login against ``login_url`` (production, ``test.salesforce.com``, a
    My Domain or the emulator) for the connected app ``client_id`` (its consumer key).
    Options: ``scope``, ``ca_file``, ``timeout`` (seconds for the browser), ``client_secret``
    (only for an app that requires it)."""
    return BrowserLogin(login_url, client_id, **options)


def refresh_access_token(login_url: str, client_id: str, refresh_token: str, *,
                         ca_file: str | None = None, timeout: float = 30.0) -> LoginResult:
    """A new access token from a refresh token (the runner's connector does the same for
    a ``refresh_token`` connection)."""
    session = _oauth_session(client_id, ca_file=ca_file, timeout=timeout)
    try:
        token = session.refresh_token(_endpoint(login_url, "token"),
                                      refresh_token=refresh_token)
    except OAuthError as exc:
        raise LoginError(f"Salesforce refused the refresh token: {exc.error}: "
                         f"{exc.description}") from exc
    except requests.RequestException as exc:
        raise LoginError(f"cannot reach {login_url}: {exc}") from exc
    finally:
        session.close()
    return _result(token)


def revoke_token(login_url: str, token: str, *, client_id: str = "",
                 ca_file: str | None = None, timeout: float = 30.0) -> None:
    """Revoke a refresh token (and every access token from it) or one access token."""
    session = _oauth_session(client_id, ca_file=ca_file, timeout=timeout)
    try:
        resp = session.revoke_token(_endpoint(login_url, "revoke"), token=token)
    except requests.RequestException as exc:
        raise LoginError(f"cannot reach {login_url} to revoke the token: {exc}") from exc
    finally:
        session.close()
    if resp.status_code != 200:
        try:
            body = resp.json()
        except ValueError:
            body = {}
        error = body.get("error", f"HTTP {resp.status_code}") if isinstance(body, dict) \
            else f"HTTP {resp.status_code}"
        raise LoginError(f"Salesforce did not revoke the token: {error}")


def _result(token: dict) -> LoginResult:
    return LoginResult(instance_url=str(token.get("instance_url", "")),
                       identity_url=str(token.get("id", "")), scope=str(token.get("scope", "")),
                       access_token=str(token["access_token"]),
                       refresh_token=token.get("refresh_token"))


class _CallbackHandler(BaseHTTPRequestHandler):
    server_version = "Fieldbridge"
    sys_version = ""

    def do_GET(self) -> None:
        if urlsplit(self.path).path != CALLBACK_PATH:
            self._answer(404, "Not found.")
            return
        login: BrowserLogin = self.server.login  # type: ignore[attr-defined]
        refused = login._arrived(f"{login.redirect_uri}?{urlsplit(self.path).query}")
        if refused is not None:
            self._answer(400, f"Fieldbridge did not accept this answer: {refused}.")
        else:
            self._answer(200, "You can close this window and go back to Fieldbridge.")

    def _answer(self, status: int, text: str) -> None:
        body = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Fieldbridge</title>"
                f"</head><body><p>{html.escape(text)}</p></body></html>").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        # The query holds the authorization code: never into the log.
        log.debug("OAuth callback: %s", self.command)
