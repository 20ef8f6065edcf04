"""The OAuth 2.0 web server flow's browser half: ``/services/oauth2/authorize``.

As Salesforce does it (https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_web_server_flow.htm
and, for PKCE, ...id=xcloud.remoteaccess_pkce.htm): the authorize request is checked against
the connected app (client id, callback URL allow-list, scopes), the user signs in on a login
page, approves the app on a consent page, and the browser is sent back to ``redirect_uri``
with ``code`` and ``state`` (or ``error=access_denied``). A bad client id or redirect URI
never goes back to the caller: the browser is sent to Salesforce's own error page.

The codes are single-use and live 15 minutes; :meth:`WebLogin.redeem` hands the token
endpoint what one was issued for. Everything here is in memory: a code outlives no restart.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

from runner.errors import SandboxError
from runner.sandbox.salesforce.errors import OAuthError

if TYPE_CHECKING:
    from runner.sandbox.salesforce.auth import User

CODE_TTL_SECONDS = 15 * 60  # Salesforce: an authorization code is valid for 15 minutes
TICKET_TTL_SECONDS = 15 * 60  # between the login page and the consent decision
ERROR_PAGE = "/setup/secur/RemoteAccessErrorPage.apexp"
# Salesforce's scope names (connected app "Selected OAuth Scopes").
KNOWN_SCOPES = frozenset({"api", "web", "full", "refresh_token", "offline_access", "id",
                          "openid", "profile", "email", "address", "phone"})
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "[::1]", "localhost"})


@dataclass(frozen=True)
class ConnectedAppPolicy:
    """What a connected app allows: its callback URLs and scopes.

    ``loopback`` marks a native app (RFC 8252 section 7.3): any ``http://127.0.0.1:<port>/…``
    redirect is accepted whatever the port, as the sandbox's own app does.
    """

    name: str
    consumer_key: str
    consumer_secret: str = ""
    callback_urls: tuple[str, ...] = ()
    scopes: frozenset[str] = frozenset({"api", "refresh_token"})
    loopback: bool = False

    @classmethod
    def from_metadata(cls, data: Mapping) -> ConnectedAppPolicy:
        """A connected app in Salesforce's metadata shape (``ConnectedApp.oauthConfig``):
        ``{"fullName": ..., "oauthConfig": {"consumerKey": ..., "callbackUrl": "a\\nb",
        "scopes": ["Api", "RefreshToken"]}}``."""
        config = data.get("oauthConfig") if isinstance(data, Mapping) else None
        if not isinstance(config, Mapping) or not config.get("consumerKey"):
            raise SandboxError("a connected app needs oauthConfig.consumerKey (Salesforce's "
                               "ConnectedApp metadata shape)")
        callbacks = str(config.get("callbackUrl") or "").replace(",", "\n").split()
        scopes = {name for scope in config.get("scopes") or ("Api", "RefreshToken")
                  for name in _scope_names(scope)}
        return cls(name=str(data.get("fullName") or data.get("label") or "Connected App"),
                   consumer_key=str(config["consumerKey"]),
                   consumer_secret=str(config.get("consumerSecret") or ""),
                   callback_urls=tuple(callbacks), scopes=frozenset(scopes),
                   loopback=bool(config.get("isLoopbackAllowed", False)))

    def allows_redirect(self, redirect_uri: str) -> bool:
        if redirect_uri in self.callback_urls:
            return True
        if not self.loopback:
            return False
        parts = urlsplit(redirect_uri)
        return parts.scheme == "http" and (parts.hostname or "") in {
            h.strip("[]") for h in _LOOPBACK_HOSTS} and not parts.fragment


# ConnectedApp metadata scope names -> the OAuth ``scope`` parameter's values.
_METADATA_SCOPES = {"Api": ("api",), "Web": ("web",), "Full": ("full",),
                    "RefreshToken": ("refresh_token", "offline_access"), "Basic": ("id",),
                    "OpenID": ("openid",), "Profile": ("profile",), "Email": ("email",),
                    "Address": ("address",), "Phone": ("phone",)}


def _scope_names(metadata_scope: str) -> tuple[str, ...]:
    return _METADATA_SCOPES.get(str(metadata_scope), (str(metadata_scope).lower(),))


@dataclass(frozen=True)
class AuthorizeRequest:
    client_id: str
    redirect_uri: str
    state: str | None
    scope: tuple[str, ...]
    code_challenge: str | None


@dataclass
class _Grant:
    request: AuthorizeRequest
    user_id: str
    expires_at: float


@dataclass(frozen=True)
class Page:
    """What the authorize endpoint answers: an HTML page, or a redirect."""

    status: int
    html: str = ""
    location: str | None = None


class WebLogin:
    def __init__(self, apps: Sequence[ConnectedAppPolicy]) -> None:
        self.apps = {app.consumer_key: app for app in apps}
        self._lock = threading.Lock()
        self._tickets: dict[str, _Grant] = {}  # consent page -> decision
        self._codes: dict[str, _Grant] = {}

    def app(self, client_id: str) -> ConnectedAppPolicy | None:
        return self.apps.get(client_id)

    # -- the browser's side ---------------------------------------------------------------
    def authorize(self, params: Mapping[str, str], users: Sequence[User]) -> Page:
        """One step of ``/services/oauth2/authorize``: GET shows the login page; the login
        form's POST shows the consent page; the consent form's POST redirects back."""
        if "ticket" in params:
            return self._decide(params)
        request, problem = self._check(params)
        if problem is not None:
            return problem
        assert request is not None
        if "username" not in params:
            return Page(200, _login_page(params, None))
        user = next((u for u in users
                     if u.username.lower() == params.get("username", "").lower()), None)
        if user is None or not hmac.compare_digest(params.get("pw", ""), user.password):
            return Page(200, _login_page(params, "Please check your username and password. "
                                         "If you still can't log in, contact your "
                                         "Salesforce administrator."))
        ticket = secrets.token_urlsafe(24)
        with self._lock:
            self._tickets[ticket] = _Grant(request, user.id, time.time() + TICKET_TTL_SECONDS)
        app = self.apps[request.client_id]
        return Page(200, _consent_page(app, request, user, ticket))

    def _check(self, params: Mapping[str, str]) -> tuple[AuthorizeRequest | None, Page | None]:
        app = self.apps.get(params.get("client_id", ""))
        if app is None:
            return None, _error_page("invalid_client_id", "client identifier invalid")
        redirect_uri = params.get("redirect_uri", "")
        if not app.allows_redirect(redirect_uri):
            return None, _error_page("redirect_uri_mismatch",
                                     "redirect_uri must match configuration")
        state = params.get("state")
        if params.get("response_type") != "code":
            return None, _back(redirect_uri, state, "unsupported_response_type",
                               "response type not supported")
        scope = tuple(params.get("scope", "").split()) or tuple(sorted(app.scopes))
        if not set(scope) <= app.scopes:
            return None, _back(redirect_uri, state, "invalid_scope",
                               "the requested scope is not allowed")
        challenge = params.get("code_challenge") or None
        method = params.get("code_challenge_method") or "S256"
        if challenge is not None and method != "S256":
            return None, _back(redirect_uri, state, "invalid_request",
                               "invalid code_challenge_method")
        return AuthorizeRequest(app.consumer_key, redirect_uri, state, scope, challenge), None

    def _decide(self, params: Mapping[str, str]) -> Page:
        with self._lock:
            grant = self._tickets.pop(params.get("ticket", ""), None)
        if grant is None or grant.expires_at <= time.time():
            return _error_page("invalid_request", "the approval page has expired; start again")
        request = grant.request
        if params.get("decision") != "Allow":
            return _back(request.redirect_uri, request.state, "access_denied",
                         "end-user denied authorization")
        code = "aPrx" + secrets.token_urlsafe(48)
        with self._lock:
            self._codes[code] = _Grant(request, grant.user_id, time.time() + CODE_TTL_SECONDS)
        answer = {"code": code}
        if request.state is not None:
            answer["state"] = request.state
        return Page(302, location=_with_query(request.redirect_uri, answer))

    # -- the token endpoint's side ----------------------------------------------------------
    def redeem(self, form: Mapping[str, str]) -> tuple[str, AuthorizeRequest]:
        """``(user id, authorize request)`` for an authorization-code grant, or the
        :class:`OAuthError` Salesforce answers. The code is spent by the first attempt."""
        app = self.apps.get(form.get("client_id", ""))
        if app is None:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        secret = form.get("client_secret")
        if secret is not None and not hmac.compare_digest(secret, app.consumer_secret):
            raise OAuthError("invalid_client", "invalid client credentials")
        with self._lock:
            grant = self._codes.pop(form.get("code", ""), None)
        if grant is None or grant.request.client_id != app.consumer_key:
            raise OAuthError("invalid_grant", "invalid authorization code")
        if grant.expires_at <= time.time():
            raise OAuthError("invalid_grant", "expired authorization code")
        request = grant.request
        if form.get("redirect_uri", "") != request.redirect_uri:
            raise OAuthError("redirect_uri_mismatch", "redirect_uri must match configuration")
        if request.code_challenge is not None:
            verifier = form.get("code_verifier", "")
            if not verifier or not hmac.compare_digest(_s256(verifier), request.code_challenge):
                raise OAuthError("invalid_grant", "invalid code verifier")
        elif not (secret and app.consumer_secret):
            # Without PKCE the web server flow needs the consumer secret.
            raise OAuthError("invalid_client", "invalid client credentials")
        return grant.user_id, request

    def expire_codes(self) -> None:
        """Age every outstanding code past its lifetime (tests of the 15-minute limit)."""
        with self._lock:
            for grant in self._codes.values():
                grant.expires_at = 0.0


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _with_query(url: str, values: Mapping[str, str]) -> str:
    return url + ("&" if urlsplit(url).query else "?") + urlencode(values)


def _back(redirect_uri: str, state: str | None, error: str, description: str) -> Page:
    values = {"error": error, "error_description": description}
    if state is not None:
        values["state"] = state
    return Page(302, location=_with_query(redirect_uri, values))


def _error_page(error: str, description: str) -> Page:
    return Page(302, location=_with_query(ERROR_PAGE, {"error": error,
                                                       "error_description": description}))


def error_page(params: Mapping[str, str]) -> str:
    error = html.escape(params.get("error", "error"))
    description = html.escape(params.get("error_description", ""))
    return _document("Error", f"<h1>Remote Access Error</h1><p id='error'>error={error}</p>"
                              f"<p id='error_description'>{description}</p>")


_CARRIED = ("response_type", "client_id", "redirect_uri", "state", "scope", "code_challenge",
            "code_challenge_method")


def _hidden(params: Mapping[str, str]) -> str:
    return "".join(f'<input type="hidden" name="{k}" value="{html.escape(params[k])}">'
                   for k in _CARRIED if k in params)


def _login_page(params: Mapping[str, str], error: str | None) -> str:
    shown = f'<div id="error" role="alert">{html.escape(error)}</div>' if error else ""
    return _document("Login | Salesforce", f"""
<h1>Log In</h1>{shown}
<form id="login_form" method="post" action="/services/oauth2/authorize">
{_hidden(params)}
<label for="username">Username</label><input id="username" name="username" type="email">
<label for="password">Password</label><input id="password" name="pw" type="password">
<input id="Login" type="submit" name="Login" value="Log In">
</form>""")


def _consent_page(app: ConnectedAppPolicy, request: AuthorizeRequest, user: User,
                  ticket: str) -> str:
    scopes = "".join(f"<li>{html.escape(s)}</li>" for s in request.scope)
    return _document("Allow Access? | Salesforce", f"""
<h1>Allow Access?</h1>
<p><b id="app">{html.escape(app.name)}</b> is asking to access your Salesforce data as
<b id="user">{html.escape(user.username)}</b>:</p><ul id="scopes">{scopes}</ul>
<form id="consent_form" method="post" action="/services/oauth2/authorize">
<input type="hidden" name="ticket" value="{ticket}">
<button id="oaapprove" type="submit" name="decision" value="Allow">Allow</button>
<button id="oadeny" type="submit" name="decision" value="Deny">Deny</button>
</form>""")


def _document(title: str, body: str) -> str:
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title></head>"
            f"<body>{body}</body></html>")
