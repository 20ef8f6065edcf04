"""Refuse to write a secret into the state database.

Dead letters and review items hold whole payloads and mapped records, and the database is
backed up, copied to laptops and attached to tickets. The patterns are the bundle
builder's (``mappings.bundle.secrets``), so both places agree on what a secret looks like.
The error names the field, never the value.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mappings.bundle.secrets import find_secret


def _strings(value: Any, where: str) -> Iterator[tuple[str, str, bool]]:
    """(path, text, is_a_key) for every string in ``value``."""
    if isinstance(value, str):
        yield where, value, False
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                # The path names the mapping holding the key, not the key: it may be the secret.
                yield where, key, True
            yield from _strings(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _strings(item, f"{where}[{i}]")


def check_no_secret(payload: Any, what: str = "payload") -> None:
    """Raise ValueError naming where in ``payload`` something looks like a secret."""
    for where, text, is_key in _strings(payload, ""):
        kind = find_secret(text)
        if kind is not None:
            place = f"{what}{'' if where.startswith('[') else '.'}{where}" if where else what
            if is_key:
                place = f"a key of {place}"
            raise ValueError(
                f"refusing to store {place}: it looks like {kind}; the state database "
                "never holds secrets"
            )
