"""Realistic Stripe webhook events, signed, for what the Stripe sandbox cannot emit.

localstripe has no disputes, early fraud warnings or ``charge.*`` events (see the gap list in
:mod:`runner.sandbox.stripe_sandbox`). Tests that need them build the event here from the
current-API example objects in ``mappings/data/stripe/fixtures3.json`` and POST it, signed
exactly as Stripe signs, to the runner's webhook receiver.

    event = make_event("charge.dispute.created", overrides={"charge": charge_id})
    deliver(receiver_url, event, secret)
"""

from __future__ import annotations

import copy
import json
import random
import string
import time
from functools import lru_cache
from importlib import resources
from typing import Any

import requests
import stripe

from runner.errors import SandboxError
from runner.stripe_signature import sign_payload

FIXTURES = ("data", "stripe", "fixtures3.json")

# Event families whose object is not simply "everything before the last dot".
_NESTED_OBJECTS: dict[str, str] = {
    "charge.dispute": "dispute",
    "charge.refund": "refund",
    "customer.subscription": "subscription",
    "customer.source": "card",
    "customer.tax_id": "tax_id",
    "customer.discount": "discount",
    "balance": "balance",
}

# What the object looks like when Stripe sends this event: the fixture is one snapshot
# (a succeeded charge, a draft invoice), and e.g. a charge.failed with status "succeeded"
# would make a test prove nothing.
_STATE_BY_EVENT: dict[str, dict[str, Any]] = {
    "charge.succeeded": {"status": "succeeded", "paid": True, "captured": True},
    "charge.failed": {
        "status": "failed", "paid": False, "captured": False,
        "failure_code": "card_declined", "failure_message": "Your card was declined.",
    },
    "charge.pending": {"status": "pending", "paid": False},
    "charge.refunded": {"refunded": True},
    "charge.dispute.created": {"status": "needs_response"},
    "charge.dispute.closed": {"status": "lost"},
    "customer.subscription.created": {"status": "active"},
    "customer.subscription.deleted": {"status": "canceled"},
    "customer.subscription.paused": {"status": "paused"},
    "invoice.created": {"status": "draft"},
    "invoice.finalized": {"status": "open"},
    "invoice.paid": {"status": "paid"},
    "invoice.payment_succeeded": {"status": "paid"},
    "invoice.payment_failed": {"status": "open"},
    "invoice.voided": {"status": "void"},
    "invoice.marked_uncollectible": {"status": "uncollectible"},
    "payment_intent.succeeded": {"status": "succeeded"},
    "payment_intent.payment_failed": {"status": "requires_payment_method"},
    "payment_intent.canceled": {"status": "canceled"},
    "payout.created": {"status": "pending"},
    "payout.paid": {"status": "paid"},
    "payout.failed": {
        "status": "failed", "failure_code": "could_not_process",
        "failure_message": "The bank could not process this payout.",
    },
    "payout.canceled": {"status": "canceled"},
    "refund.created": {"status": "succeeded"},
    "refund.failed": {"status": "failed"},
}

_ID_ALPHABET = string.ascii_letters + string.digits


@lru_cache(maxsize=1)
def fixture_objects() -> dict[str, dict[str, Any]]:
    """Every example object of ``fixtures3.json``, by object name (``"charge"``, ...)."""
    path = resources.files("mappings").joinpath(*FIXTURES)
    try:
        return json.loads(path.read_text(encoding="utf-8"))["resources"]
    except (OSError, ValueError, KeyError) as exc:
        raise SandboxError(f"cannot read the Stripe example objects at {path}") from exc


def _catalog_object_for(event_type: str) -> str | None:
    """Ask the mapping core's Stripe catalog, if it has been written yet."""
    try:
        from mappings.schema.stripe_catalog import object_for_event_type
    except ImportError:
        return None
    try:
        found = object_for_event_type(event_type)
    except Exception:  # its own verdict on unknown types; ours follows with a clear message
        return None
    return found if isinstance(found, str) and found else None


def object_for_event(event_type: str) -> str:
    """The Stripe object name an event of this type carries (``charge.dispute.created`` ->
    ``dispute``)."""
    if not isinstance(event_type, str) or "." not in event_type.strip("."):
        raise SandboxError(f"{event_type!r} is not a Stripe event type (like 'charge.succeeded')")
    objects = fixture_objects()
    found = _catalog_object_for(event_type)
    if found in objects:
        return found  # type: ignore[return-value]
    family = event_type.rsplit(".", 1)[0]
    # Longest family first: "charge.dispute.funds_withdrawn" is a dispute, not a charge.
    parts = family.split(".")
    for n in range(len(parts), 0, -1):
        prefix = ".".join(parts[:n])
        name = _NESTED_OBJECTS.get(prefix, prefix)
        if name in objects:
            return name
    raise SandboxError(
        f"unknown Stripe event type {event_type!r}: no example object for {family!r}"
    )


def fresh_id(prefix: str) -> str:
    """A Stripe-looking id: ``prefix`` + 24 letters and digits."""
    return prefix + "".join(random.choices(_ID_ALPHABET, k=24))


def _id_prefix(object_id: Any) -> str | None:
    if isinstance(object_id, str) and "_" in object_id:
        return object_id.rsplit("_", 1)[0] + "_"
    return None


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``changes`` laid over ``base``; nested dicts merge, anything else replaces."""
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def make_event(
    event_type: str,
    obj: dict[str, Any] | None = None,
    *,
    overrides: dict[str, Any] | None = None,
    created: int | None = None,
    event_id: str | None = None,
    previous_attributes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A Stripe event envelope of ``event_type`` around ``obj``.

    Without ``obj`` the fixture object for the event's type is used, with a fresh id, the
    status the event implies and ``created`` set to the event's time. ``overrides`` are
    merged into the object last (nested dicts merge), e.g. ``{"charge": "ch_..."}`` to tie a
    dispute to a charge that exists in the sandbox.
    """
    if overrides is not None and not isinstance(overrides, dict):
        raise SandboxError(f"overrides must be a dict of object fields, got {overrides!r}")
    if obj is not None and not isinstance(obj, dict):
        raise SandboxError(f"the event's object must be a dict, got {type(obj).__name__}")
    when = int(time.time()) if created is None else int(created)
    if obj is None:
        data = copy.deepcopy(fixture_objects()[object_for_event(event_type)])
        prefix = _id_prefix(data.get("id"))
        if prefix:
            data["id"] = fresh_id(prefix)
        if "created" in data:
            data["created"] = when
        _merge(data, _STATE_BY_EVENT.get(event_type, {}))
        if event_type == "charge.refunded" and "amount" in data:
            data["amount_refunded"] = data["amount"]
    else:
        object_for_event(event_type)  # refuses nonsense types with a clear message
        data = copy.deepcopy(obj)
    if overrides:
        _merge(data, overrides)
    envelope: dict[str, Any] = {
        "id": event_id or fresh_id("evt_"),
        "object": "event",
        "api_version": stripe.api_version,
        "created": when,
        "data": {"object": data},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }
    if previous_attributes is not None:
        envelope["data"]["previous_attributes"] = copy.deepcopy(previous_attributes)
    return envelope


def signed_delivery(
    event: dict[str, Any], secret: str, *, timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """The body and headers Stripe would POST for ``event`` to an endpoint with ``secret``."""
    # Stripe sends pretty-printed JSON; receivers must verify the bytes, not a re-encoding.
    body = json.dumps(event, indent=2).encode("utf-8")
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        "Stripe-Signature": sign_payload(body, secret, timestamp),
    }
    return body, headers


def deliver(
    url: str,
    event: dict[str, Any],
    secret: str,
    *,
    ca_file: str | None = None,
    timeout: float = 10,
    timestamp: int | None = None,
) -> requests.Response:
    """POST ``event`` to ``url``, signed with ``secret``; returns the receiver's response.

    HTTPS receivers are verified against ``ca_file`` (the sandbox CA) or the system store.
    """
    if not url.startswith(("http://", "https://")):
        raise SandboxError(f"webhook URL must start with http:// or https://, got {url!r}")
    body, headers = signed_delivery(event, secret, timestamp=timestamp)
    try:
        return requests.post(
            url, data=body, headers=headers, timeout=timeout,
            verify=ca_file if ca_file else True,
        )
    except requests.RequestException as exc:
        raise SandboxError(f"could not deliver {event.get('type')} event to {url}") from exc
