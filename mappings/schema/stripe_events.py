"""Stripe event types and the object each one carries in ``data.object``.

The event types are the ``Literal`` values of ``stripe.Event.type`` in the installed SDK.
An event type is ``<object>.<action>`` (``charge.succeeded``, ``payout.paid``) except for a
few families whose prefix names the parent object instead (``customer.subscription.created``
carries a subscription, ``charge.dispute.created`` a dispute); :data:`IRREGULAR_PREFIXES`
lists those. Issuing events spell the object with an underscore (``issuing_card.created``
carries an ``issuing.card``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from mappings.schema.stripe_source import ClassRef, Enum, SdkSource

EVENT_CLASS = ClassRef("stripe._event", "Event")

# Event-type prefix (everything before the action) -> object in data.object, where the two
# differ. Checked longest prefix first.
IRREGULAR_PREFIXES: dict[str, str] = {
    "customer.subscription": "subscription",
    "customer.discount": "discount",
    "customer.tax_id": "tax_id",
    # A customer's payment source: a Source, or a Card / BankAccount for older integrations.
    "customer.source": "source",
    "charge.dispute": "dispute",
    "charge.refund": "refund",
    "application_fee.refund": "fee_refund",
    "account.application": "application",
    "source.transaction": "source_transaction",
    "sigma.scheduled_query_run": "scheduled_query_run",
}
_PREFIXES_LONGEST_FIRST = tuple(sorted(IRREGULAR_PREFIXES, key=len, reverse=True))

# Whole event types whose object the prefix rule gets wrong.
IRREGULAR_TYPES: dict[str, str] = {
    "source.mandate_notification": "source_mandate_notification",
    "billing.alert.triggered": "billing.alert_triggered",
}


# Event types that end their object, the one table of Stripe deletions: a flow triggered by
# one applies its ``on_delete`` policy instead of writing the object. A voided invoice still
# exists in Stripe but is dead for good, so it counts as deleted.
DELETION_EVENT_TYPES: frozenset[str] = frozenset({
    "customer.deleted",
    "product.deleted",
    "price.deleted",
    "invoice.voided",
    "customer.subscription.deleted",
})


def is_deletion_event(event_type: object) -> bool:
    """Whether ``event_type`` reports its object deleted: one of :data:`DELETION_EVENT_TYPES`,
    or any other ``<object>.deleted`` (``coupon.deleted``, ``customer.tax_id.deleted``)."""
    if not isinstance(event_type, str):
        return False
    return event_type in DELETION_EVENT_TYPES or event_type.endswith(".deleted")


def event_types(source: SdkSource) -> tuple[str, ...]:
    """Every event type the SDK's ``Event.type`` declares, in the SDK's order."""
    for decl in source.info(EVENT_CLASS).fields:
        if decl.key == "type" and isinstance(decl.annotation.shape, Enum):
            return decl.annotation.shape.values
    return ()


def object_for_event_type(event_type: str, known: Collection[str]) -> str | None:
    """The object name in ``data.object`` for ``event_type``; None when it is not knowable."""
    found = IRREGULAR_TYPES.get(event_type)
    if found is not None:
        return found if found in known else None
    prefix, dot, _action = event_type.rpartition(".")
    if not dot or not prefix:
        return None
    for irregular in _PREFIXES_LONGEST_FIRST:
        if prefix == irregular or prefix.startswith(irregular + "."):
            candidate = IRREGULAR_PREFIXES[irregular]
            return candidate if candidate in known else None
    if prefix in known:
        return prefix
    if prefix.startswith("issuing_"):
        dotted = "issuing." + prefix.removeprefix("issuing_")
        if dotted in known:
            return dotted
    return None


def event_types_by_object(
    types: Iterable[str], known_objects: Iterable[str]
) -> dict[str, tuple[str, ...]]:
    known = set(known_objects)
    grouped: dict[str, list[str]] = {}
    for event_type in types:
        name = object_for_event_type(event_type, known)
        if name is not None:
            grouped.setdefault(name, []).append(event_type)
    return {name: tuple(values) for name, values in grouped.items()}


def split_event(payload: Any) -> tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]:
    """``(record, envelope)`` of a mapping input: the one rule for unwrapping a Stripe event.

    A Stripe event (``"object": "event"``) whose ``data.object`` is an object gives that
    object and the event. Any other mapping is itself the record, with no envelope: a Stripe
    object, a Salesforce record, or an event with nothing inside to map. An input that is
    not a mapping gives ``(None, None)``.
    """
    # ``type(x) is dict`` first: every record the runner maps is a plain dict, and the ABC
    # check alone tripled the cost of this call on the engine's hot path.
    if type(payload) is not dict and not isinstance(payload, Mapping):
        return None, None
    if payload.get("object") == "event":
        data = payload.get("data")
        inner = data.get("object") if type(data) is dict or isinstance(data, Mapping) else None
        if type(inner) is dict or isinstance(inner, Mapping):
            return inner, payload
    return payload, None


def reference_id(value: Any) -> str | None:
    """The id an expandable Stripe field holds, whether it came unexpanded (``"cus_1"``) or
    expanded (``{"id": "cus_1", "object": "customer", ...}``): the one rule for both shapes.
    None for anything else (missing, null, a list, an object without a text id)."""
    if type(value) is str:
        return value or None
    if type(value) is dict or isinstance(value, Mapping):
        found = value.get("id")
        return found if type(found) is str and found else None
    return None
