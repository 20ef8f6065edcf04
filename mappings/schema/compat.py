"""Which source field kinds can feed which target field kinds with no transform in between.

This is the one type-compatibility rule. The editor (:class:`~mappings.document.edit.
DocumentEditor`) refuses a direct link it rejects, the compiler (``mappings.engine.plan``)
reports ``INVALID_TYPE`` for it, and the suggestion ranker never proposes it. It lives in
``mappings.schema`` because it needs nothing but :class:`FieldKind` and :class:`FieldSchema`,
and ``schema`` is the one layer that the document, the engine and the suggestions all import
(``mappings.document`` must not import the engine).

The table is lenient where Salesforce converts a value on its own and the value survives
(a number or a date into a text field, an integer into a decimal field, Unix seconds into a
whole-number field, which is the same number) and strict where the value would be wrong or
refused without a transform:

- Unix seconds into a text field: ``1767225600`` in a text field is almost always a date the
  user meant to convert (``unix_to_datetime``).
- A decimal (number, currency, percent) into a whole-number field: 19.99 is refused or cut
  to 19; a Salesforce amount into a Stripe amount needs ``decimal_to_minor``.
- A date and time into a date field: the Salesforce REST API refuses a date-time string for a
  date field (and the engine's date validator does too), and cutting the time off silently
  picks a day in UTC that may not be the user's day.
- An object, list or map into a scalar field: Salesforce refuses it.

Kinds are not the whole story for money: Stripe's amounts are integers in the currency's
smallest unit, so ``amount`` = 1999 written into a Salesforce currency field is 1,999.00, a
hundred times too much, though an integer fits a currency field. :func:`units_conversion`
is that rule (the meaning of a number, next to the table for its kind): the editor refuses
the direct link, the compiler reports ``AMOUNT_IN_MINOR_UNITS`` and the suggestions and the
studio's drops put the conversion in.
"""

from __future__ import annotations

from collections.abc import Sequence

from mappings.schema.model import FieldKind as K
from mappings.schema.model import FieldSchema, ObjectSchema

TEXTUAL = frozenset({K.STRING, K.TEXT, K.EMAIL, K.PHONE, K.URL, K.ID, K.REFERENCE, K.PICKLIST})
NUMERIC = frozenset({K.INTEGER, K.NUMBER, K.CURRENCY, K.PERCENT})
STRUCTURED = frozenset({K.OBJECT, K.LIST, K.MAP})

# Target kind -> the source kinds it takes as they are. Text-like targets are not listed:
# they take any scalar but Unix seconds (see kinds_compatible).
_ACCEPTS: dict[K, frozenset[K]] = {
    K.BOOLEAN: frozenset({K.BOOLEAN}),
    K.INTEGER: frozenset({K.INTEGER, K.TIMESTAMP}),
    K.NUMBER: NUMERIC,
    K.CURRENCY: NUMERIC,
    K.PERCENT: NUMERIC,
    K.TIMESTAMP: frozenset({K.TIMESTAMP, K.INTEGER}),
    K.DATE: frozenset({K.DATE}),
    K.DATETIME: frozenset({K.DATETIME}),
    K.TIME: frozenset({K.TIME}),
    K.OBJECT: frozenset({K.OBJECT, K.MAP}),
    K.MAP: frozenset({K.OBJECT, K.MAP}),
    K.LIST: frozenset({K.LIST}),
    K.MULTIPICKLIST: TEXTUAL | {K.MULTIPICKLIST, K.LIST},
}

# Kinds that hold a decimal amount (Salesforce currency, number and percent fields).
DECIMAL = frozenset({K.NUMBER, K.CURRENCY, K.PERCENT})

MINOR_TO_DECIMAL = "minor_to_decimal"
DECIMAL_TO_MINOR = "decimal_to_minor"
# Steps after which the units are the user's own choice: an expression may divide by 100, a
# constant does not read the amount at all.
UNITS_CHOSEN_BY_STEP = frozenset({"jsonata", "constant"})

# Stripe keeps a metadata value as text of up to 500 characters.
METADATA_VALUE_LENGTH = 500


def kinds_compatible(source: K, target: K) -> bool:
    """True when a value of kind ``source`` can be written as it is into a ``target`` field."""
    if source is K.ANY or target is K.ANY or source is target:
        return True
    accepted = _ACCEPTS.get(target)
    if accepted is not None:
        return source in accepted
    # Text-like targets: Salesforce stores a scalar as its text; structures need a transform.
    return source not in STRUCTURED and source is not K.TIMESTAMP


def conversion_hint(source: K, target: K) -> str | None:
    """The transform that usually bridges two incompatible kinds, if there is a usual one."""
    if source is K.TIMESTAMP and (target is K.DATETIME or target in TEXTUAL):
        return "unix_to_datetime"
    if source is K.TIMESTAMP and target is K.DATE:
        return "unix_to_date"
    if source is K.DATETIME and target is K.TIMESTAMP:
        return "datetime_to_unix"
    if source is K.DATE and target is K.TIMESTAMP:
        return "date_to_unix"
    if source is K.CURRENCY and target is K.INTEGER:
        return "decimal_to_minor"  # a Salesforce amount into a Stripe amount, in minor units
    if source in (K.NUMBER, K.PERCENT) and target is K.INTEGER:
        return "jsonata"  # $round(...), so that the rounding is a visible choice
    if source in (K.OBJECT, K.MAP) and target in TEXTUAL:
        return "jsonata"
    return None


def source_kind(schema: ObjectSchema, path: str) -> K | None:
    """The kind a direct read of ``path`` gives, or None when ``schema`` has no such field.

    A key under a free-keys map (``metadata.order_id``) holds whatever was put there.
    """
    found = schema.find(path)
    if found is None:
        return None
    if found.free_keys and found.path != path:
        return K.ANY
    return found.kind


def target_field(schema: ObjectSchema, path: str) -> FieldSchema | None:
    """The field a write to ``path`` lands in, or None when ``schema`` has no such field.

    A key under a free-keys map (``metadata.<key>``) is a text field, as Stripe keeps it.
    """
    found = schema.find(path)
    if found is not None and found.free_keys and found.path != path:
        return FieldSchema(path, K.STRING, length=METADATA_VALUE_LENGTH)
    return found


def units_conversion(source: FieldSchema, target: FieldSchema) -> str | None:
    """The transform a value from ``source`` needs to mean the same in ``target``, when the
    two count money in different units: ``minor_to_decimal`` for a Stripe amount in minor
    units into a decimal field, ``decimal_to_minor`` for a decimal into a Stripe amount.
    None when the units agree (or neither is money)."""
    if source.minor_units_currency is not None and target.minor_units_currency is None:
        return MINOR_TO_DECIMAL if target.kind in DECIMAL else None
    if target.minor_units_currency is not None and source.minor_units_currency is None:
        return DECIMAL_TO_MINOR if source.kind in DECIMAL else None
    return None


def units_handled(needed: str, steps: Sequence[str]) -> bool:
    """Whether a chain of transform names converts the units (or leaves them to the user)."""
    return needed in steps or any(step in UNITS_CHOSEN_BY_STEP for step in steps)
