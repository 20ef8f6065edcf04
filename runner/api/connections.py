"""Light: the connection rules, the connection-check result and the keyring secrets.

Imported when the studio starts (its connections store and status bar); keep it free of the
connectors, the pipeline and the state database.
"""

from __future__ import annotations

from runner.connections import (
    PRODUCTION_LOGIN,
    SANDBOX_LOGIN,
    ConnectionCheck,
    is_sandbox_login,
    stripe_key_mode,
)
from runner.secrets import (
    KEYRING_SERVICE,
    delete_keyring_secret,
    keyring_secret,
    keyring_username,
    set_keyring_secret,
)

__all__ = [
    "KEYRING_SERVICE",
    "PRODUCTION_LOGIN",
    "SANDBOX_LOGIN",
    "ConnectionCheck",
    "delete_keyring_secret",
    "is_sandbox_login",
    "keyring_secret",
    "keyring_username",
    "set_keyring_secret",
    "stripe_key_mode",
]
