"""Which source field kinds can feed which target field kinds without a conversion.

Used at compile time (static ``INVALID_TYPE`` issues) and by the suggestion ranker. The
table is deliberately lenient where Salesforce converts on its own (a number into a text
field) and strict where a value would be wrong without a transform (Unix seconds into a
date/time field, an object into a scalar field).
"""

from __future__ import annotations

from mappings.schema.model import FieldKind as K

TEXTUAL = frozenset({K.STRING, K.TEXT, K.EMAIL, K.PHONE, K.URL, K.ID, K.REFERENCE, K.PICKLIST})
NUMERIC = frozenset({K.INTEGER, K.NUMBER, K.CURRENCY, K.PERCENT})
STRUCTURED = frozenset({K.OBJECT, K.LIST, K.MAP})

_ACCEPTS: dict[K, frozenset[K]] = {
    K.BOOLEAN: frozenset({K.BOOLEAN}),
    K.INTEGER: frozenset({K.INTEGER, K.TIMESTAMP}),
    K.NUMBER: NUMERIC,
    K.CURRENCY: NUMERIC,
    K.PERCENT: NUMERIC,
    K.TIMESTAMP: frozenset({K.TIMESTAMP, K.INTEGER}),
    K.DATE: frozenset({K.DATE, K.DATETIME}),
    K.DATETIME: frozenset({K.DATETIME}),
    K.TIME: frozenset({K.TIME}),
    K.OBJECT: frozenset({K.OBJECT, K.MAP}),
    K.MAP: frozenset({K.OBJECT, K.MAP}),
    K.LIST: frozenset({K.LIST}),
    K.MULTIPICKLIST: TEXTUAL | {K.MULTIPICKLIST, K.LIST},
}


def kinds_compatible(source: K, target: K) -> bool:
    """True when a value of kind ``source`` can be written as is into a ``target`` field."""
    if source is K.ANY or target is K.ANY or source is target:
        return True
    accepted = _ACCEPTS.get(target)
    if accepted is not None:
        return source in accepted
    # Text-like targets: Salesforce turns scalars into text; structures need a transform.
    return source not in STRUCTURED and source is not K.TIMESTAMP


def conversion_hint(source: K, target: K) -> str | None:
    """The transform that usually bridges two incompatible kinds, if there is a usual one."""
    if source is K.TIMESTAMP and target is K.DATETIME:
        return "unix_to_datetime"
    if source is K.TIMESTAMP and target is K.DATE:
        return "unix_to_date"
    if source in (K.OBJECT, K.MAP) and target in TEXTUAL:
        return "jsonata"
    return None
