"""Why a connection failed, in words a person can act on, and the one cheap call that tests it.

:mod:`runner.classify` decides what a failure means for the sync (retry, dead-letter, stop);
this module names its cause for whoever set the connection up: ``bad_key``, ``permission``,
``login``, ``wrong_org``, ``network``, ``dns``, ``timeout``, ``certificate``, ``config`` or
``error``. It reads the :class:`~runner.connectors.errors.ConnectorError` the connectors raise
(its HTTP status and the service's error code) and the exceptions along its cause chain.
"""

from __future__ import annotations

import socket
import ssl

import requests
import stripe
from urllib3.exceptions import NameResolutionError

from runner.connections import ConnectionCheck, stripe_key_mode
from runner.connectors.errors import ConnectorError
from runner.connectors.salesforce import SalesforceConnector, SalesforceSettings
from runner.connectors.stripe import StripeConnector, StripeSettings
from runner.errors import ConfigError

# The OAuth error codes of a login that reached the org: the app is not this org's, or the
# user's credentials were refused.
_WRONG_ORG_CODES = frozenset({"invalid_client_id", "invalid_client"})
_LOGIN_CODES = frozenset({"invalid_grant"})


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _detail(exc: BaseException) -> str:
    return " <- ".join(f"{type(e).__name__}: {e}" for e in _chain(exc))[:2000]


def diagnose(
    exc: BaseException,
    where: str,
    *,
    settings_errors: tuple[type[BaseException], ...] = (),
) -> ConnectionCheck:
    """Why a call to ``where`` failed, from the exception types along the cause chain.

    A :class:`~runner.errors.ConfigError` (or one of ``settings_errors``, the caller's own
    "the settings are wrong" errors) is reported as ``config``.
    """
    chain = _chain(exc)
    detail = _detail(exc)
    config_errors: tuple[type[BaseException], ...] = (ConfigError, *settings_errors)

    def has(*types: type[BaseException]) -> bool:
        return any(isinstance(e, types) for e in chain)

    def fail(reason: str, message: str) -> ConnectionCheck:
        return ConnectionCheck(False, message, detail, reason)

    if has(stripe.AuthenticationError):
        return fail("bad_key", f"{where}: the API key was refused (wrong, revoked or mistyped)")
    if has(stripe.PermissionError):
        return fail("permission", f"{where}: this restricted key may not read that resource")
    if has(requests.exceptions.SSLError, ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in detail:
        return fail("certificate", f"{where}: the server's TLS certificate is not trusted "
                    "(wrong CA file, or something intercepts the connection)")
    if has(NameResolutionError, socket.gaierror) or "Name or service not known" in detail:
        return fail("dns", f"{where}: the host name could not be resolved (check the URL)")
    if has(requests.Timeout, socket.timeout, TimeoutError) or "timed out" in detail:
        return fail("timeout", f"{where}: no answer in time (network or firewall)")
    if has(ConnectionRefusedError) or "Connection refused" in detail:
        return fail("network", f"{where}: the connection was refused (nothing listens there)")
    if has(requests.ConnectionError, stripe.APIConnectionError, OSError) and not has(
        *config_errors
    ):
        return fail("network", f"{where}: cannot connect (network)")
    for e in chain:
        if isinstance(e, ConnectorError) and e.error_code:
            code = str(e.error_code)
            if code in _WRONG_ORG_CODES:
                return fail("wrong_org", f"{where}: the consumer key is not known to this org "
                            "(wrong org or connected app)")
            if code in _LOGIN_CODES:
                return fail("login", f"{where}: login refused: wrong username, password or "
                            "security token, a user not in this org, or an app not approved "
                            f"for the user ({e})")
            if e.status in (401, 403):
                return fail("login", f"{where}: the session was refused ({code})")
    if has(*config_errors):
        cause = next(e for e in chain if isinstance(e, config_errors))
        return fail("config", f"{where}: {cause}")
    return fail("error", f"{where}: {type(exc).__name__}: {exc}")


def check_stripe(settings: StripeSettings, where: str | None = None) -> ConnectionCheck:
    """One authenticated read (a page of customers) with the runner's Stripe connector.

    Blocking, with the settings' timeout; never raises: a failure is its diagnosis.
    """
    where = where or f"Stripe {settings.name!r}"
    try:
        mode = stripe_key_mode(settings.api_key)
        next(iter(StripeConnector(settings).list_objects("customer")), None)
    except Exception as exc:  # every failure becomes its reason
        return diagnose(exc, where)
    return ConnectionCheck(True, f"{where}: connected ({mode} mode)", settings.api_base or "",
                           "ok")


def check_salesforce(settings: SalesforceSettings, where: str | None = None) -> ConnectionCheck:
    """Log in and read the org's limits with the runner's Salesforce connector.

    Blocking, with the settings' timeout; never raises: a failure is its diagnosis.
    """
    where = where or f"Salesforce {settings.name!r}"
    try:
        connector = SalesforceConnector(settings)
        connector.connect()
        connector.limits()
    except Exception as exc:  # every failure becomes its reason
        return diagnose(exc, where)
    return ConnectionCheck(True, f"{where}: logged in to {connector.instance_url}",
                           f"user id {connector.user_id or '?'}", "ok")
