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


def _strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            place = f"{where}.{key}" if where else str(key)
            if isinstance(key, str):
                yield f"{place} (the key)", key
            yield from _strings(item, place)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _strings(item, f"{where}[{i}]")


def check_no_secret(payload: Any, what: str = "payload") -> None:
    """Raise ValueError naming where in ``payload`` something looks like a secret."""
    for where, text in _strings(payload, ""):
        kind = find_secret(text)
        if kind is not None:
            place = f"{what}{'' if where.startswith('[') else '.'}{where}" if where else what
            raise ValueError(
                f"refusing to store {place}: it looks like {kind}; the state database "
                "never holds secrets"
            )
