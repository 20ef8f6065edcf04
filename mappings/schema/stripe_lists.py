"""Stripe list objects inside payloads, and whether they are complete.

Stripe embeds the first page of a sub-list in its parent (``invoice.lines`` holds at most 10
lines, ``charge.refunds`` and ``subscription.items`` likewise) as a list object::

    {"object": "list", "data": [...], "has_more": true, "url": "/v1/invoices/in_1/lines"}

A child collection's ``source`` names the array (``lines.data``); the list object is its
container (``lines``). This module is the one place that decides whether such a list is cut
off and where the rest can be fetched. Fetching itself needs the network and lives in the
runner; this module stays pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mappings.engine.paths import split_path


def list_object(record: Mapping[str, Any], source: str) -> Mapping[str, Any] | None:
    """The list object holding the array at ``source`` (``lines`` for ``lines.data``), or
    ``None`` when the array is not inside a Stripe list object."""
    parts = split_path(source)
    if not parts or parts[-1] != "data":
        return None
    node: Any = record
    for part in parts[:-1]:
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    if isinstance(node, Mapping) and node.get("object") == "list":
        return node
    return None


def truncated(record: Mapping[str, Any], source: str) -> bool:
    """True when the list at ``source`` says more items exist than the payload carries."""
    found = list_object(record, source)
    return found is not None and found.get("has_more") is True


def rest_url(record: Mapping[str, Any], source: str) -> str | None:
    """The API path that pages through the rest of a truncated list (``/v1/invoices/in_1/lines``),
    or ``None`` when the list is complete or names no URL."""
    found = list_object(record, source)
    if found is None or found.get("has_more") is not True:
        return None
    url = found.get("url")
    return url if isinstance(url, str) and url.startswith("/v1/") else None
