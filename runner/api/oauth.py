"""Light: "Log in with Salesforce" (the OAuth web server flow with PKCE and a loopback
redirect), refresh and revocation. Imports authlib and requests, not the connectors or the
pipeline; the studio imports it when the user first logs in."""

from __future__ import annotations

from runner.oauth_login import (
    CALLBACK_PATH,
    DEFAULT_SCOPE,
    DEFAULT_TIMEOUT_SECONDS,
    BrowserLogin,
    LoginCancelled,
    LoginError,
    LoginResult,
    refresh_access_token,
    revoke_token,
    start_login,
)

__all__ = [
    "CALLBACK_PATH",
    "DEFAULT_SCOPE",
    "DEFAULT_TIMEOUT_SECONDS",
    "BrowserLogin",
    "LoginCancelled",
    "LoginError",
    "LoginResult",
    "refresh_access_token",
    "revoke_token",
    "start_login",
]
