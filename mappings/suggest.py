"""Mapping suggestions: ranked (source path, target field) pairs for two objects.

Three signals are combined: how alike the names are once normalised (rapidfuzz), a table of
synonyms people map every time (``email`` -> ``Email``, ``address.city`` -> ``BillingCity``),
and whether the types fit as they are, fit through a usual transform (Unix seconds ->
DateTime via ``unix_to_datetime``, minor units -> currency via ``minor_to_decimal``), or do not
fit at all (never suggested). Each suggestion carries its reasons as sentences for the studio.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz

from mappings.document.model import TransformStep
from mappings.engine.kinds import NUMERIC, TEXTUAL, kinds_compatible
from mappings.schema.model import FieldKind, FieldSchema, ObjectSchema, System

K = FieldKind

# Stripe path (or its last segments) -> Salesforce fields people map it to, best first.
SYNONYMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("email", ("Email", "PersonEmail", "Receipt_Email__c", "Email__c")),
    ("receipt_email", ("Receipt_Email__c", "Email")),
    ("name", ("Name", "Customer_Name__c", "Account_Name__c")),
    ("phone", ("Phone", "MobilePhone", "PersonMobilePhone")),
    ("address.line1", ("BillingStreet", "MailingStreet", "ShippingStreet", "Street")),
    ("address.city", ("BillingCity", "MailingCity", "ShippingCity", "City")),
    ("address.state", ("BillingState", "MailingState", "ShippingState", "State")),
    (
        "address.postal_code",
        ("BillingPostalCode", "MailingPostalCode", "ShippingPostalCode", "PostalCode"),
    ),
    ("address.country", ("BillingCountry", "MailingCountry", "ShippingCountry", "Country")),
    ("description", ("Description", "Description__c", "Subject")),
    ("amount", ("Amount__c", "Amount")),
    ("currency", ("CurrencyIsoCode", "Currency__c")),
    ("status", ("Status__c", "Status")),
    ("created", ("Created__c", "Created_At__c", "CreatedDate__c", "Stripe_Created__c")),
    ("metadata.salesforceid", ("Id",)),
)

# Stripe fields that describe the API response rather than the data.
_NOISE = frozenset({"object", "livemode", "deleted"})
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_MIN_SCORE = 0.72
_ADDRESS_KINDS = frozenset({"billing", "shipping", "mailing", "other"})


@dataclass(slots=True)
class Suggestion:
    source_path: str
    target_field: str
    score: float  # 0..1
    reasons: list[str] = field(default_factory=list)
    transforms: list[TransformStep] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source_path": self.source_path,
            "target_field": self.target_field,
            "score": round(self.score, 3),
            "reasons": list(self.reasons),
            "transforms": [{"name": t.name, "args": dict(t.args)} for t in self.transforms],
        }


def normalise(name: str) -> str:
    """``StripeCustomerID__c`` -> ``customer id``; ``billing_details.address.city`` -> words."""
    name = name.replace("[]", "")
    name = re.sub(r"__[cr]$", "", name)
    name = re.sub(r"^[A-Za-z0-9]+__", "", name)  # a managed package namespace (ns__Field__c)
    words: list[str] = []
    for chunk in re.split(r"[._\s]+", name):
        words.extend(w.lower() for w in _CAMEL.sub(" ", chunk).split())
    if len(words) > 1 and words[0] == "stripe":
        words = words[1:]
    return " ".join(words)


def _name_score(source_path: str, target: str) -> float:
    src = normalise(source_path)
    tgt = normalise(target)
    best = max(fuzz.ratio(src, tgt), fuzz.token_sort_ratio(src, tgt))
    segments = source_path.replace("[]", "").split(".")
    if len(segments) > 1:
        # The last segments carry the meaning (billing_details.address.city -> "address city").
        best = max(best, 0.95 * fuzz.ratio(normalise(".".join(segments[-2:])), tgt))
        best = max(best, 0.9 * fuzz.ratio(normalise(segments[-1]), tgt))
    return best / 100.0


def _synonym(source_path: str, source: ObjectSchema, target: str) -> tuple[float, str] | None:
    """A synonym score and its reason, when the table links the pair (either direction)."""
    if source.system is System.STRIPE:
        stripe_path, salesforce_name = source_path, target
    else:
        stripe_path, salesforce_name = target, source_path
    for key, names in SYNONYMS:
        if stripe_path != key and not stripe_path.endswith("." + key):
            continue
        for rank, candidate in enumerate(names):
            if candidate.lower() != salesforce_name.lower():
                continue
            extra_depth = stripe_path.count(".") - key.count(".")
            score = 0.95 - 0.03 * rank - 0.03 * extra_depth
            if extra_depth:
                # shipping.address.city -> ShippingCity, not BillingCity; the reverse too.
                first = normalise(stripe_path.split(".")[0]).split(" ")[0]
                lead = normalise(candidate).split(" ")[0]
                if lead == first:
                    score = 0.96 - 0.03 * extra_depth + 0.03  # the prefix names the address
                elif lead in _ADDRESS_KINDS:
                    score -= 0.15
            return min(score, 1.0), f"synonym: {key} -> {candidate}"
    # Stripe ids land in external id fields named after them: customer -> StripeCustomerID__c.
    stripe_field = source.fields.get(stripe_path) if source.system is System.STRIPE else None
    is_id = stripe_path == "id" or (
        stripe_field is not None and stripe_field.kind in (K.ID, K.REFERENCE)
    )
    if is_id and stripe_path.count(".") == 0:
        subject = source.name.split(".")[-1] if stripe_path == "id" else stripe_path
        wanted = normalise(subject) + " id"
        if normalise(salesforce_name) == wanted and salesforce_name.lower().startswith("stripe"):
            return (
                0.97,
                f"synonym: {stripe_path} -> {salesforce_name} (Stripe id kept as an external id)",
            )
    return None


def _fit(
    src: FieldSchema, tgt: FieldSchema, source: ObjectSchema, target: ObjectSchema
) -> tuple[float, list[TransformStep], str] | None:
    """How well the types fit: a factor, the transforms that bridge them, and the reason."""
    a, b = src.kind, tgt.kind
    words = f"types: {a.value} -> {b.value}"
    if a is K.TIMESTAMP and b is K.DATETIME:
        return 0.97, [TransformStep("unix_to_datetime")], f"{words} via unix_to_datetime"
    if a is K.TIMESTAMP and b is K.DATE:
        return 0.97, [TransformStep("unix_to_date")], f"{words} via unix_to_date"
    if a is K.DATETIME and b is K.TIMESTAMP:
        return 0.97, [TransformStep("datetime_to_unix")], f"{words} via datetime_to_unix"
    if a is K.DATE and b is K.TIMESTAMP:
        return 0.97, [TransformStep("date_to_unix")], f"{words} via date_to_unix"
    if a is K.INTEGER and b is K.CURRENCY and source.system is System.STRIPE:
        step = TransformStep("minor_to_decimal", {"currency_path": "currency"})
        return 0.97, [step], f"{words} via minor_to_decimal (Stripe amounts are in minor units)"
    if a is K.CURRENCY and b is K.INTEGER and target.system is System.STRIPE:
        if "CurrencyIsoCode" not in source.fields:
            return None
        step = TransformStep("decimal_to_minor", {"currency_path": "CurrencyIsoCode"})
        return 0.97, [step], f"{words} via decimal_to_minor"
    if a is K.PICKLIST and b is K.PICKLIST:
        mapping = _picklist_map(src, tgt)
        if mapping is None:
            return 1.0, [], f"{words} (same values)"
        if not mapping.args.get("values", True):
            return 0.85, [], f"{words} (the values differ: add a map)"
        return 0.97, [mapping], f"{words} via map"
    if not kinds_compatible(a, b):
        return None
    if b in (K.REFERENCE, K.ID) and a not in (K.ID, K.REFERENCE, K.STRING):
        return None  # an id field takes ids, not amounts or dates
    same_family = a is b or (a in TEXTUAL and b in TEXTUAL) or (a in NUMERIC and b in NUMERIC)
    return (1.0 if same_family else 0.9), [], words


def _picklist_map(src: FieldSchema, tgt: FieldSchema) -> TransformStep | None:
    """A ``map`` step between two value lists, or None when the values already agree."""
    targets = set(tgt.enum_values)
    if not src.enum_values or set(src.enum_values) <= targets:
        return None
    from mappings.transforms.maps import BUILTIN_TABLES

    for name, table in sorted(BUILTIN_TABLES.items()):
        if set(src.enum_values) <= set(table) and set(table.values()) <= targets:
            return TransformStep("map", {"table": name})
    values: dict[str, str] = {}
    for value in src.enum_values:
        best = max(
            tgt.enum_values, key=lambda t: (fuzz.ratio(value.lower(), t.lower()), t), default=None
        )
        if best is not None and fuzz.ratio(value.lower(), best.lower()) >= 80:
            values[value] = best
    return (
        TransformStep("map", {"values": values}) if values else TransformStep("map", {"values": {}})
    )


def _sources(source: ObjectSchema) -> list[FieldSchema]:
    out = []
    for fs in source:
        if fs.kind in (K.OBJECT, K.LIST, K.MAP) or fs.free_keys or "[]" in fs.path:
            continue
        if fs.path.split(".")[-1] in _NOISE:
            continue
        out.append(fs)
    return out


def _targets(target: ObjectSchema) -> list[FieldSchema]:
    out = []
    for fs in target:
        if not (fs.createable or fs.updateable) or fs.calculated:
            continue
        if fs.kind in (K.OBJECT, K.LIST) or "[]" in fs.path or fs.path in ("Id", "id"):
            continue
        if target.system is System.STRIPE and fs.path.split(".")[-1] in _NOISE:
            continue
        out.append(fs)
    return out


def suggest_mappings(
    source: ObjectSchema, target: ObjectSchema, limit: int = 50
) -> list[Suggestion]:
    """Ranked suggestions, best first: each target field gets its single best source."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    sources = _sources(source)
    free_map = target.fields.get("metadata")
    if free_map is not None and not free_map.free_keys:
        free_map = None
    best: dict[str, Suggestion] = {}
    for tgt in _targets(target):
        if tgt.free_keys:
            continue
        for src in sources:
            candidate = _score(src, tgt, source, target)
            if candidate is not None and _better(candidate, best.get(tgt.path)):
                best[tgt.path] = candidate
    if free_map is not None and source.system is System.SALESFORCE and "Id" in source.fields:
        # Stripe objects keep the Salesforce record's Id in metadata.salesforceid.
        path = f"{free_map.path}.salesforceid"
        best[path] = Suggestion("Id", path, 0.95, ["synonym: Id -> metadata.salesforceid"])
    ranked = sorted(best.values(), key=lambda s: (-s.score, s.target_field, s.source_path))
    return ranked[:limit]


def _better(new: Suggestion, old: Suggestion | None) -> bool:
    if old is None:
        return True
    if new.score != old.score:
        return new.score > old.score
    # Ties: the shallower, then alphabetically first source path, so results are stable.
    return (new.source_path.count("."), new.source_path) < (
        old.source_path.count("."),
        old.source_path,
    )


def _score(
    src: FieldSchema, tgt: FieldSchema, source: ObjectSchema, target: ObjectSchema
) -> Suggestion | None:
    name = _name_score(src.path, tgt.path)
    synonym = _synonym(src.path, source, tgt.path)
    syn_score = synonym[0] if synonym else 0.0
    base = max(name, syn_score)
    if base < _MIN_SCORE:
        return None
    fit = _fit(src, tgt, source, target)
    if fit is None:
        return None
    factor, transforms, type_reason = fit
    if synonym and name >= 0.8:
        base = min(1.0, base + 0.05 * min(name, syn_score))
    # Between equal names, the shallower path is the likelier one.
    score = round(base * factor - 0.01 * src.path.count("."), 4)
    if score < _MIN_SCORE:
        return None
    reasons = [f"name similarity {round(name * 100)}%"]
    if synonym:
        reasons.append(synonym[1])
    reasons.append(type_reason)
    return Suggestion(src.path, tgt.path, score, reasons, transforms)


def type_fit(
    src: FieldSchema, tgt: FieldSchema, source: ObjectSchema, target: ObjectSchema
) -> tuple[float, list[TransformStep], str] | None:
    """How ``src`` fits ``tgt``: ``(factor 0..1, bridging transforms, reason)``, or None when
    the kinds cannot meet. The studio uses it to pre-fill a new link's transform chain."""
    return _fit(src, tgt, source, target)
