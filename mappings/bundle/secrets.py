"""Refuse to put a secret in a bundle.

Bundles are shared, committed and attached to tickets; a live key inside one is a leak.
The scan looks at every string (keys and values) of the documents' plain data and names
the place it found something, never the secret itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from mappings.errors import BundleError
from mappings.limits import TooDeepError, TooLargeError, check_depth

# (what it is, pattern). The look-behind keeps "task_test_..." from looking like "sk_test_".
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a Stripe secret key", re.compile(r"(?<![A-Za-z0-9])sk_(?:live|test)_[A-Za-z0-9]{8,}")),
    ("a Stripe restricted key", re.compile(r"(?<![A-Za-z0-9])rk_(?:live|test)_[A-Za-z0-9]{8,}")),
    ("a Stripe webhook signing secret", re.compile(r"(?<![A-Za-z0-9])whsec_[A-Za-z0-9+/=]{8,}")),
    ("a private key", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----")),
    (
        "a Salesforce session id",
        re.compile(r"(?<![A-Za-z0-9])00D[A-Za-z0-9]{12,15}![A-Za-z0-9._]{20,}"),
    ),
)


def find_secret(text: str) -> str | None:
    """What kind of secret ``text`` holds, or None."""
    for kind, pattern in _PATTERNS:
        if pattern.search(text):
            return kind
    return None


def _walk(value: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            place = f"{where}.{key}" if where else str(key)
            if isinstance(key, str):
                yield f"{place} (the key)", key
            yield from _walk(item, place)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _walk(item, f"{where}[{i}]")


def check_no_secrets(data: Any, context: str) -> None:
    """Raise BundleError naming where in ``data`` something looks like a secret.

    ``data`` is checked against the document limits first: the walk below recurses and
    visits a shared value once per reference.
    """
    try:
        check_depth(data)
    except (TooDeepError, TooLargeError) as exc:
        raise BundleError(f"refusing to build the bundle: {context} {exc}") from None
    for where, text in _walk(data, ""):
        kind = find_secret(text)
        if kind is not None:
            place = f"{context}, {where}" if where else context
            raise BundleError(
                f"refusing to build the bundle: {place} looks like {kind}; bundles carry "
                "connection names only, never secrets"
            )
