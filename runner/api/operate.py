"""Heavy (requests, ~0.5 s): the admin API's client, for the studio's Operate workspace.

The studio reaches a running runner only through its ``/api/v1`` admin API; the token stays in
the OS keyring (``runner:<url>:admin_token``). Imported where the Operate workspace first
connects, never at start-up.
"""

from __future__ import annotations

from runner.admin.client import (
    TIMEOUT,
    AdminClient,
    AdminClientError,
    keyring_name,
    store_token,
    token_for,
)

__all__ = ["TIMEOUT", "AdminClient", "AdminClientError", "keyring_name", "store_token",
           "token_for"]
