"""Complete the Stripe lists a payload cut off, through the API, before mapping.

Stripe embeds the first page of a sub-list in its parent: an invoice carries at most 10 of
its lines, with ``has_more: true`` and the list's ``url``. A flow whose child collection reads
such a list (``lines.data``) must see every line, or the parent would be written with part of
its children (and reconciliation would remove the rest). :func:`complete_lists` fetches the
rest (``GET <url>?limit=100&starting_after=<last id>`` until ``has_more`` is false) for the
runner's writer, the studio's preview and the dry run. Whether a list is cut off is decided
by :mod:`mappings.schema.stripe_lists`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mappings.schema.stripe_events import split_event
from mappings.schema.stripe_lists import list_object, rest_url
from runner.classify import Failure
from runner.connectors.errors import ConnectorError

if TYPE_CHECKING:
    from mappings.document.model import Flow
    from runner.connectors.stripe import StripeConnector


def complete_lists(data: dict[str, Any], flow: Flow, stripe: StripeConnector) -> dict[str, Any]:
    """``data`` (an event or a bare object) with each truncated list a child collection of
    ``flow`` reads made whole; ``data`` itself when nothing is cut off (never changed in
    place). A list that names no URL to page is left as it is (the writer then refuses the
    record rather than write part of its children)."""
    record, envelope = split_event(data)
    if record is None or not flow.children:
        return data
    wanted = [(c.source, rest_url(record, c.source)) for c in flow.children]
    wanted = [(source, url) for source, url in wanted if url]
    if not wanted:
        return data
    whole = copy.deepcopy(dict(record))
    for source, url in wanted:
        found = list_object(whole, source)
        if not isinstance(found, dict) or url is None:
            continue
        items = list(found.get("data") or [])
        last = items[-1].get("id") if items and isinstance(items[-1], Mapping) else None
        if not isinstance(last, str):
            raise ConnectorError(f"Stripe list {url}: the payload's last item has no id to "
                                 "page from", failure=Failure.SKIPPABLE)
        seen = {i.get("id") for i in items if isinstance(i, Mapping)}
        for item in stripe.list_after(url, last):
            if item.get("id") not in seen:
                items.append(item)
                seen.add(item.get("id"))
        found["data"] = items
        found["has_more"] = False
        if isinstance(found.get("total_count"), int):
            found["total_count"] = max(found["total_count"], len(items))
    if envelope is None:
        return whole
    return {**envelope, "data": {**envelope["data"], "object": whole}}


__all__ = ["complete_lists"]
