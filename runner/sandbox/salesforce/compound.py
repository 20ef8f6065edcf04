"""Compound fields: addresses and geolocations, read as one object built from components.

``BillingAddress`` is not stored: Salesforce answers it, on a record and in SOQL, as
``{"city", "country", "geocodeAccuracy", "latitude", "longitude", "postalCode", "state",
"street"}`` (plus ``stateCode``/``countryCode`` where the org has them) taken from the
component fields whose describe names it as their ``compoundFieldName``, and as ``null``
when every component is empty. Compound fields are read-only (describe says so).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

COMPOUND_TYPES = frozenset({"address", "location"})

Parts = tuple[tuple[str, str], ...]  # (key in the compound object, component field name)


def compound_parts(fields: Iterable[Mapping[str, Any]], compound: Mapping[str, Any]) -> Parts:
    """The components of ``compound`` among an object's ``fields`` (describe entries)."""
    if compound.get("type") not in COMPOUND_TYPES:
        return ()
    name = str(compound["name"])
    # BillingAddress -> Billing (BillingCity); Address -> "" (City); Where__c -> Where__
    # (Where__Latitude__s).
    prefix = name[: -len("Address")] if name.endswith("Address") else name.removesuffix("c")
    parts = []
    for field in fields:
        if field.get("compoundFieldName") != name or field["name"] == name:
            continue
        component = str(field["name"])
        key = component[len(prefix):] if component.startswith(prefix) else component
        key = key.removesuffix("__s")
        parts.append((key[:1].lower() + key[1:], component))
    return tuple(sorted(parts))


def compound_value(record: Mapping[str, Any], parts: Parts) -> dict[str, Any] | None:
    """The compound object of ``record``; ``None`` when all its components are empty."""
    value = {key: record.get(component) for key, component in parts}
    return value if any(v is not None for v in value.values()) else None
