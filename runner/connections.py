"""What a Stripe or Salesforce connection is, the same for the runner and the studio.

The settings a connection takes are declared once in :data:`runner.config.SETTINGS`
(``[connections.<system>.<name>]``); their secrets live where :mod:`runner.secrets` says
(the keyring username ``<system>:<name>:<field>``). This module holds the rules both
sides apply to a connection's values: the two Salesforce login addresses and what counts
as a sandbox org, the mode a Stripe key's prefix gives, and what a connection test found
(:class:`ConnectionCheck`, which :mod:`runner.connectors.diagnosis` returns; here, apart from
the connectors, so the studio can show one without loading them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from runner.errors import ConfigError

PRODUCTION_LOGIN = "https://login.salesforce.com"
SANDBOX_LOGIN = "https://test.salesforce.com"
_SANDBOX_MY_DOMAIN = ".sandbox.my.salesforce.com"

StripeMode = Literal["test", "live"]
STRIPE_KEY_PREFIXES: dict[str, StripeMode] = {
    "sk_test_": "test",
    "rk_test_": "test",
    "sk_live_": "live",
    "rk_live_": "live",
}


def stripe_key_mode(api_key: str) -> StripeMode:
    """``test`` or ``live`` from a Stripe secret or restricted key's prefix; ConfigError for
    anything else (a publishable key, a webhook secret, a typo)."""
    for prefix, mode in STRIPE_KEY_PREFIXES.items():
        if api_key.startswith(prefix):
            return mode
    shown = (api_key[:8] + "…") if len(api_key) > 8 else "(too short)"
    raise ConfigError(
        f"a Stripe key starts with sk_test_, sk_live_, rk_test_ or rk_live_; this one starts "
        f"with {shown}" if api_key else "the Stripe API key is empty"
    )


def is_sandbox_login(login_url: str) -> bool:
    """A Salesforce sandbox org's login address (test.salesforce.com or a sandbox My Domain)."""
    return login_url.rstrip("/") == SANDBOX_LOGIN or _SANDBOX_MY_DOMAIN in login_url


@dataclass
class ConnectionCheck:
    """What a connection test found; ``reason`` is one of the words in
    :mod:`runner.connectors.diagnosis`'s doc (``ok`` when it passed)."""

    __test__ = False  # not a pytest test class, whatever module imports it

    ok: bool
    message: str
    detail: str = ""
    reason: str = "ok"
