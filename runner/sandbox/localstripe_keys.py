"""Restricted keys (``rk_test_...``) in the Stripe sandbox, refused as Stripe refuses them.

localstripe accepts any ``sk_`` key and nothing else, so a studio or runner could never see
what a restricted key lacking a permission does. Run inside the launcher's process
(:mod:`runner.sandbox.localstripe_launcher`), this middleware lets the sandbox declare such
keys, each with a permission per resource::

    {"rk_test_nopayouts": {"charges": "read", "customers": "write", "payouts": "none"}}

A resource is the first part of the request's path after ``/v1/`` (as
:func:`runner.connectors.stripe.object_path` names it: ``payouts``, ``checkout/sessions``);
one not listed is ``none``, as on a new restricted key. Reading (GET) needs ``read`` or
``write``; anything else needs ``write``. A refused request gets Stripe's 403
``invalid_request_error``; an allowed one goes on to localstripe, whose key check is taught
the declared keys. Keys are declared with ``POST /_config/restricted_keys`` (that JSON as
the body) and kept in ``<data file>.keys.json`` (0600: they are credentials), read again at
start.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiohttp import web

from runner.private_files import write_private

CONFIG_PATH = "/_config/restricted_keys"
LEVELS = ("none", "read", "write")
# Two-part resources: the first path part alone names no resource.
_NESTED = frozenset({"radar", "checkout", "billing_portal", "issuing", "terminal", "tax"})


def resource_of(path: str) -> str | None:
    """``/v1/payouts/po_1`` -> ``payouts``; ``/v1/checkout/sessions`` -> ``checkout/sessions``;
    None for anything not under ``/v1/``."""
    parts = [p for p in path.split("/") if p]
    if len(parts) < 2 or parts[0] != "v1":
        return None
    if parts[1] in _NESTED and len(parts) > 2:
        return f"{parts[1]}/{parts[2]}"
    return parts[1]


def allowed(permissions: dict[str, str], resource: str, method: str) -> bool:
    level = permissions.get(resource, "none")
    if method.upper() in ("GET", "HEAD"):
        return level in ("read", "write")
    return level == "write"


def _bearer(request: web.Request) -> str:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme == "Bearer" else ""


def _redacted(key: str) -> str:
    prefix = "rk_test_" if key.startswith("rk_test_") else key[:3]
    return f"{prefix}{'*' * 12}{key[-4:]}"


def _refusal(key: str, resource: str, method: str) -> web.Response:
    need = "read" if method.upper() in ("GET", "HEAD") else "write"
    permission = f"rak_{resource.replace('/', '_').rstrip('s')}_{need}"
    return web.json_response(
        {"error": {
            "type": "invalid_request_error",
            "message": (
                f"The provided key '{_redacted(key)}' does not have the required permissions "
                "for this endpoint on account 'acct_localstripe'. Having the "
                f"'{permission}' permission would allow this request to continue."),
        }},
        status=403,
    )


def _checked(declared: Any) -> dict[str, dict[str, str]]:
    """The declared keys, or ValueError naming what is wrong."""
    if not isinstance(declared, dict):
        raise ValueError("expected a JSON object of {key: {resource: level}}")
    for key, perms in declared.items():
        if not (isinstance(key, str) and key.startswith("rk_test_")):
            raise ValueError(f"{key!r} is not a restricted test key (rk_test_...)")
        if not isinstance(perms, dict) or any(
            not isinstance(v, str) or v not in LEVELS for v in perms.values()
        ):
            raise ValueError(f"{key}: each resource's level must be one of {', '.join(LEVELS)}")
    return declared


class RestrictedKeys:
    """The declared keys, their file, and the middleware that enforces them."""

    def __init__(self, data_file: Path | None) -> None:
        self.keys_file = data_file.with_suffix(data_file.suffix + ".keys.json") if data_file \
            else None
        self.keys: dict[str, dict[str, str]] = {}
        if self.keys_file is not None and self.keys_file.exists():
            self.keys.update(_checked(json.loads(self.keys_file.read_text())))

    def declare(self, declared: Any) -> None:
        self.keys.update(_checked(declared))
        if self.keys_file is not None:
            write_private(self.keys_file, json.dumps(self.keys).encode("utf-8"))

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> Any:
        if request.path == CONFIG_PATH and request.method == "POST":
            try:
                self.declare(await request.json())
            except ValueError as exc:  # also a body that is not JSON
                return web.json_response(
                    {"error": {"type": "invalid_request_error", "message": str(exc)}},
                    status=400)
            return web.json_response({"keys": sorted(self.keys)})
        key = _bearer(request)
        permissions = self.keys.get(key)
        if permissions is None:
            return await handler(request)  # secret keys, and unknown ones localstripe refuses
        resource = resource_of(request.path)
        if resource is not None and not allowed(permissions, resource, request.method):
            return _refusal(key, resource, request.method)
        return await handler(request)

    def accept_in(self, server: Any) -> None:
        """Have localstripe's own key check (``server.get_api_key``, which takes only ``sk_``
        keys) take the declared restricted keys too."""
        secret_key_of = server.get_api_key

        def api_key(request: web.Request) -> str | None:
            key = _bearer(request)
            return key if key in self.keys else secret_key_of(request)

        server.get_api_key = api_key


def install_restricted_keys(server: Any, data_file: Path | None) -> RestrictedKeys:
    """Put the restricted-key check in front of the middlewares localstripe's ``server.app``
    has so far, and let its key check take the declared keys."""
    keys = RestrictedKeys(data_file)
    keys.accept_in(server)
    server.app.middlewares.insert(0, keys.middleware)
    return keys
