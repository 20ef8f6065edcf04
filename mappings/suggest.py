"""Mapping suggestions: ranked (source path, target field) pairs for two objects.

Three signals are combined: how alike the names are once normalised (rapidfuzz), a table of
synonyms people map every time (``email`` -> ``Email``, ``address.city`` -> ``BillingCity``),
and whether the types fit as they are, fit through a usual transform (Unix seconds ->
DateTime via ``unix_to_datetime``, minor units -> currency via ``minor_to_decimal``), or do not
fit at all (never suggested). Each suggestion carries its reasons as sentences for the studio.

Rules that keep plausible-looking nonsense out (each was a real suggestion once):

- An id pairs only with an id of the same kind of object: a Stripe id (``id``, an expandable
  reference, a field documented as "ID of ...") goes only into a Salesforce field that keeps
  that object's Stripe id (``customer`` -> ``StripeCustomerID__c``), and back. A Salesforce
  reference (``AccountId``) is never filled by a field mapping from Stripe: it is resolved
  by a lookup through an external id, which :func:`suggest_lookups` proposes. In the other
  direction a Salesforce Id goes only into the Stripe object's metadata.
- ``Id``/``_id`` are dropped from names before comparing them, so ``individual_name`` and
  ``IndividualId`` are no longer alike through the "id" they share.
- A picklist target needs values that meet the source's (same values, a built-in map, or
  values close enough to map one by one); a source with no known values does not qualify.
- A Stripe path nested in an unrelated object (``discount.id``, ``invoice_settings.*``,
  ``payment_settings.payment_method_options.*``) loses score for each such level, so the
  direct field wins and deep matches usually fall below the bar.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz

from mappings.document.model import Lookup, TransformStep
from mappings.schema.compat import (
    DECIMAL_TO_MINOR,
    MINOR_TO_DECIMAL,
    NUMERIC,
    STRUCTURED,
    TEXTUAL,
    kinds_compatible,
    units_conversion,
)
from mappings.schema.model import Catalog, FieldKind, FieldSchema, ObjectSchema, System
from mappings.transforms import get_transform
from mappings.transforms.maps import BUILTIN_TABLES

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

# The Salesforce objects that stand for a Stripe object: where a Stripe id is looked up
# (charge.customer -> Account.StripeCustomerID__c) and whose Id a Stripe object keeps in
# ``metadata.salesforceid``.
COUNTERPARTS: dict[str, tuple[str, ...]] = {
    "customer": ("Account", "Contact"),
    "charge": ("Payment__c",),
    "payout": ("Payout__c",),
    "subscription": ("Subscription_Contract__c",),
    "invoice": ("Order",),
    "product": ("Product2",),
    "price": ("PricebookEntry",),
}

# Salesforce name fields a Stripe full name is split into (the split_name transform).
_NAME_PARTS = {"FirstName": "first", "LastName": "last"}

# Stripe fields that describe the API response rather than the data: only ever suggested
# into a field of the very same name (livemode -> Livemode__c).
_NOISE = frozenset({"object", "livemode", "deleted"})
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_MIN_SCORE = 0.72
_ADDRESS_KINDS = frozenset({"billing", "shipping", "mailing", "other"})
_ID_WORDS = frozenset({"id", "ids"})
# Words that say "when" in a field name: effective_at and EffectiveDate mean one thing.
_SAME_WORD = {"at": "when", "date": "when", "time": "when", "on": "when", "cancelled": "canceled"}
# Containers that only group a field's own facts (address.city, payment_method_details.type).
_NEUTRAL_WORDS = frozenset({"address", "details", "data"})
# Per level of a Stripe path nested in an object the other name says nothing about.
_UNRELATED_LEVEL = 0.12
# A name differing in a word on each side (ShippingCity / shipping.carrier) is less alike.
_WORD_CONFLICT = 0.85
_ID_DESCRIPTION = re.compile(r"^(the )?(unique )?(id|identifier)\b|\bid of (the|an?)\b", re.I)
_BACKTICKED = re.compile(r"`([a-z][a-z0-9_]*)`")
_VALUES_HINT = re.compile(r"possible values|one of|either|can be|status", re.I)


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


@dataclass(slots=True)
class LookupSuggestion:
    """A Salesforce reference field filled by looking up a Stripe id through an external id."""

    lookup: Lookup
    score: float  # 0..1
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        lk = self.lookup
        return {
            "target": lk.target,
            "object": lk.object,
            "match_field": lk.match_field,
            "source": lk.source,
            "required": lk.required,
            "score": round(self.score, 3),
            "reasons": list(self.reasons),
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


def _meaning(name: str) -> str:
    """The normalised name without its id words: what the name says besides "an id"."""
    words = [_SAME_WORD.get(w, w) for w in normalise(name).split() if w not in _ID_WORDS]
    return " ".join(words)


def _name_score(source_path: str, target: str) -> float:
    src = _meaning(source_path)
    tgt = _meaning(target)
    if not src or not tgt:
        return 0.0
    best = max(fuzz.ratio(src, tgt), fuzz.token_sort_ratio(src, tgt))
    segments = source_path.replace("[]", "").split(".")
    if len(segments) > 1:
        # The last segments carry the meaning (billing_details.address.city -> "address city").
        best = max(best, 0.95 * fuzz.ratio(_meaning(".".join(segments[-2:])), tgt))
        last = _meaning(segments[-1])
        if last:
            best = max(best, 0.9 * fuzz.ratio(last, tgt))
    return best / 100.0


def _word_matches(word: str, others: list[str]) -> bool:
    return any(word == o or fuzz.ratio(word, o) >= 85 for o in others)


def _word_conflict(stripe_path: str, salesforce_name: str) -> bool:
    """True when each name has a word the other lacks (``shipping.carrier``/``ShippingCity``).

    One name merely saying more (``period_start``/``Current_Period_Start__c``) is no conflict.
    """
    stripe_words = _meaning(stripe_path).split()
    sf_words = _meaning(salesforce_name).split()
    leaf = _meaning(stripe_path.replace("[]", "").split(".")[-1]).split()
    stripe_extra = [w for w in leaf if not _word_matches(w, sf_words)]
    sf_extra = [w for w in sf_words if not _word_matches(w, stripe_words)]
    return bool(stripe_extra) and bool(sf_extra)


def _unrelated_levels(stripe_path: str, salesforce_name: str) -> list[str]:
    """The containers of a Stripe path that the Salesforce name says nothing about.

    ``shipping.address.city`` -> ``ShippingCity``: none (shipping is named, address only
    groups). ``discount.id`` -> ``AccountId``: ``discount``. A container counts as named only
    through a word the leaf does not already explain (``pending_invoice_item_interval.interval``
    -> ``Interval__c`` still lands in an unrelated object).
    """
    segments = stripe_path.replace("[]", "").split(".")
    leaf = set(_meaning(segments[-1]).split())
    sf_words = [w for w in _meaning(salesforce_name).split() if w not in leaf]
    unrelated = []
    for segment in segments[:-1]:
        words = normalise(segment).split()
        if any(w in _NEUTRAL_WORDS for w in words):
            continue
        if any(_word_matches(w, sf_words) for w in words):
            continue
        unrelated.append(segment)
    return unrelated


def _synonym(source_path: str, source: ObjectSchema, target: str) -> tuple[float, str] | None:
    """A synonym score and its reason, when the table links the pair (either direction)."""
    if source.system is System.STRIPE:
        stripe_path, salesforce_name = source_path, target
    else:
        stripe_path, salesforce_name = target, source_path
    for key, names in SYNONYMS:
        # customer_address.city reads as address.city, the customer's (billing) address.
        suffixes = ("." + key, "_" + key) if key.startswith("address.") else ("." + key,)
        if stripe_path != key and not stripe_path.endswith(suffixes):
            continue
        for rank, candidate in enumerate(names):
            if candidate.lower() != salesforce_name.lower():
                continue
            extra_depth = stripe_path.count(".") - key.count(".")
            score = 0.95 - 0.03 * rank - 0.03 * extra_depth
            prefix = stripe_path[: -len(key) - 1]
            kinds = {w for w in normalise(prefix).split() if w in _ADDRESS_KINDS}
            lead = normalise(candidate).split(" ")[0]
            if lead in kinds:
                score = 0.96 - 0.03 * extra_depth + 0.03  # the prefix names the address
            elif kinds and lead in _ADDRESS_KINDS:
                # shipping.address.city is no BillingCity (nor the reverse): not a synonym.
                return None
            return min(score, 1.0), f"synonym: {key} -> {candidate}"
    return None


# --------------------------------------------------------------------------- ids and referents


def _object_word(name: str) -> str:
    """``radar.early_fraud_warning`` -> ``early fraud warning``: how fields name the object."""
    return normalise(name.split(".")[-1])


def _stripe_referents(fs: FieldSchema, obj: ObjectSchema) -> frozenset[str] | None:
    """The Stripe objects whose id a Stripe field holds (normalised), or None for a plain value.

    ``id`` is the object's own; ``discount.id`` a discount's; an expandable reference names its
    targets; a string documented as "ID of the payment method" holds the id of what it is
    named after (``payment_method``).
    """
    segments = fs.path.replace("[]", "").split(".")
    if len(segments) == 1 and (fs.path == "id" or fs.kind is K.ID):
        return frozenset({_object_word(obj.name)})
    if segments[-1] == "id":
        return frozenset({normalise(segments[-2])})
    if fs.kind in (K.ID, K.REFERENCE):
        if fs.reference_to:
            return frozenset(_object_word(r) for r in fs.reference_to)
        return frozenset({_meaning(segments[-1])})
    if fs.kind in TEXTUAL and _ID_DESCRIPTION.search(fs.description or ""):
        return frozenset({_meaning(segments[-1])})
    return None


def _kept_stripe_id(fs: FieldSchema) -> str | None:
    """The Stripe object whose id a Salesforce field keeps (``StripeCustomerID__c`` ->
    ``customer``; ``StripeObjectID__c`` -> ``object``, any object's own id), else None."""
    if fs.kind in (K.ID, K.REFERENCE) or not fs.path.lower().startswith("stripe"):
        return None
    words = normalise(fs.path).split()
    if len(words) < 2 or words[-1] != "id":
        return None
    return " ".join(words[:-1])


def _says_id(name: str) -> bool:
    return any(w in _ID_WORDS for w in normalise(name).split())


def _holds_salesforce_id(fs: FieldSchema) -> bool:
    return fs.kind in (K.ID, K.REFERENCE)


def _id_pair(
    stripe_field: FieldSchema, stripe_obj: ObjectSchema, sf_field: FieldSchema
) -> tuple[bool, str | None]:
    """(may pair, reason): ids pair only with ids of the same object; plain values with plain.

    The reason is set when the pair is an id match, which is then a strong signal of its own.
    """
    if _holds_salesforce_id(sf_field):
        return False, None  # Stripe -> SF: a lookup; SF -> Stripe: metadata only
    referents = _stripe_referents(stripe_field, stripe_obj)
    kept = _kept_stripe_id(sf_field)
    if referents is None and kept is None:
        # Neither holds an id by its type; a name that still says "id" on one side only
        # (IndividualId / individual_name) is an id meeting a plain value.
        leaf = stripe_field.path.rsplit(".", 1)[-1]
        return _says_id(leaf) == _says_id(sf_field.path), None
    if referents is None or kept is None:
        return False, None
    if kept != "object" and kept == _object_word(stripe_obj.name) and stripe_field.path != "id":
        # discount.customer on a customer is the customer itself: Stripe sets it, and a
        # customer's own id is the root ``id``.
        return False, None
    if kept == "object":
        if stripe_field.path != "id":
            return False, None
        kept = _object_word(stripe_obj.name)
    if kept not in referents:
        return False, None
    return True, f"same object: both hold a Stripe {kept} id"


# --------------------------------------------------------------------------- type fit


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
    units = units_conversion(src, tgt)
    if units == MINOR_TO_DECIMAL:
        if not src.minor_units_currency:
            return None  # no currency on the object to read the decimals from
        step = TransformStep(MINOR_TO_DECIMAL, {"currency_path": src.minor_units_currency})
        return 0.97, [step], f"{words} via minor_to_decimal (Stripe amounts are in minor units)"
    if units == DECIMAL_TO_MINOR:
        if "CurrencyIsoCode" not in source.fields:
            return None
        step = TransformStep(DECIMAL_TO_MINOR, {"currency_path": "CurrencyIsoCode"})
        return 0.97, [step], f"{words} via decimal_to_minor"
    if b in (K.PICKLIST, K.MULTIPICKLIST):
        return _picklist_fit(src, tgt, words)
    if not kinds_compatible(a, b):
        return None
    if b in (K.REFERENCE, K.ID) and a not in (K.ID, K.REFERENCE, K.STRING):
        return None  # an id field takes ids, not amounts or dates
    same_family = a is b or (a in TEXTUAL and b in TEXTUAL) or (a in NUMERIC and b in NUMERIC)
    return (1.0 if same_family else 0.9), [], words


def _picklist_fit(
    src: FieldSchema, tgt: FieldSchema, words: str
) -> tuple[float, list[TransformStep], str] | None:
    """A picklist target takes a source whose values meet its own, else nothing.

    Values come from the source's enum, or for a Stripe string typed loosely (payout
    ``status``) from the values its description lists in backticks.
    """
    if src.kind not in (K.PICKLIST, K.MULTIPICKLIST) and src.kind not in TEXTUAL:
        return None
    values, described = _source_values(src)
    if not values or not tgt.enum_values:
        return None
    note = " (values from its description)" if described else ""
    mapping = _picklist_map(values, tgt.enum_values)
    if mapping is None:
        return 1.0, [], f"{words} (same values){note}"
    table = mapping.args.get("table")
    mapped = mapping.args.get("values", {})
    if table is None and not mapped:
        return None  # no value meets: a map would have to be written from scratch
    coverage = 1.0 if table else len(mapped) / len(values)
    return (0.97 if coverage >= 0.5 else 0.9), [mapping], f"{words} via map{note}"


def _source_values(src: FieldSchema) -> tuple[tuple[str, ...], bool]:
    """The source's possible values and whether they were read from its description."""
    if src.enum_values:
        return src.enum_values, False
    description = src.description or ""
    if src.kind in TEXTUAL and _VALUES_HINT.search(description):
        found = tuple(dict.fromkeys(_BACKTICKED.findall(description)))
        if len(found) >= 2:
            return found, True
    return (), False


def _spoken(value: str) -> str:
    """``past_due`` and ``Past Due`` read alike."""
    return " ".join(re.split(r"[\s_\-]+", value.lower())).strip()


def _picklist_map(values: tuple[str, ...], targets: tuple[str, ...]) -> TransformStep | None:
    """A ``map`` step between two value lists, or None when the values already agree."""
    if set(values) <= set(targets):
        return None
    for name, table in sorted(BUILTIN_TABLES.items()):
        if set(values) <= set(table) and set(table.values()) <= set(targets):
            return TransformStep("map", {"table": name})
    mapped: dict[str, str] = {}
    for value in values:
        spoken = _spoken(value)
        best = max(targets, key=lambda t: (fuzz.ratio(spoken, _spoken(t)), t), default=None)
        # Nearly equal only (canceled/cancelled): "paid"/"unpaid" and "complete"/"incomplete"
        # are 80-89% alike and mean the opposite.
        if best is not None and fuzz.ratio(spoken, _spoken(best)) >= 92:
            mapped[value] = best
    return TransformStep("map", {"values": mapped})


# --------------------------------------------------------------------------- candidates


def _sources(source: ObjectSchema) -> list[FieldSchema]:
    out = []
    for fs in source:
        if fs.kind in (K.OBJECT, K.LIST, K.MAP) or fs.free_keys or "[]" in fs.path:
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
    """Ranked suggestions, best first: each target field gets its single best source.

    Salesforce reference fields are not among them: see :func:`suggest_lookups`.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    sources = _sources(source)
    best: dict[str, Suggestion] = {}
    for tgt in _targets(target):
        if tgt.free_keys:
            continue
        for src in sources:
            candidate = _score(src, tgt, source, target)
            if candidate is not None and _better(candidate, best.get(tgt.path)):
                best[tgt.path] = candidate
        if source.system is System.STRIPE:
            for candidate in _structured(tgt, source, target):
                if _better(candidate, best.get(tgt.path)):
                    best[tgt.path] = candidate
    for candidate in _metadata_ids(source, target):
        best[candidate.target_field] = candidate
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
    if source.system is System.STRIPE:
        stripe_field, stripe_obj, sf_field = src, source, tgt
    else:
        stripe_field, stripe_obj, sf_field = tgt, target, src
    if stripe_field.path.split(".")[-1] in _NOISE and _meaning(src.path) != _meaning(tgt.path):
        return None
    allowed, id_reason = _id_pair(stripe_field, stripe_obj, sf_field)
    if not allowed:
        return None
    name = _name_score(src.path, tgt.path)
    synonym = _synonym(src.path, source, tgt.path)
    syn_score = synonym[0] if synonym else 0.0
    if id_reason is not None:
        base = 0.97
    else:
        if _word_conflict(stripe_field.path, sf_field.path):
            name *= _WORD_CONFLICT
        base = max(name, syn_score)
    if base < _MIN_SCORE:
        return None
    fit = _fit(src, tgt, source, target)
    if fit is None:
        return None
    factor, transforms, type_reason = fit
    if synonym and name >= 0.8:
        base = min(1.0, base + 0.05 * min(name, syn_score))
    unrelated = _unrelated_levels(stripe_field.path, sf_field.path)
    # Between equal names, the shallower path is the likelier one; a path inside an object
    # the other name does not mention is much less likely.
    score = base * factor - 0.01 * stripe_field.path.count(".") - _UNRELATED_LEVEL * len(unrelated)
    score = round(score, 4)
    if score < _MIN_SCORE:
        return None
    # An id pair stands on the object it names, not on how alike the names look.
    reasons = [f"name similarity {round(name * 100)}%"] if name or not id_reason else []
    if synonym:
        reasons.append(synonym[1])
    if id_reason:
        reasons.append(id_reason)
    if unrelated:
        reasons.append(f"nested in {', '.join(unrelated)}, which the other name does not mention")
    reasons.append(type_reason)
    return Suggestion(src.path, tgt.path, score, reasons, transforms)


def _structured(tgt: FieldSchema, source: ObjectSchema, target: ObjectSchema) -> list[Suggestion]:
    """Stripe -> Salesforce pairs that need a structural transform: a whole address into a
    street field (both lines, ``flatten_address``) and a full name into first/last name."""
    out: list[Suggestion] = []
    if tgt.kind not in TEXTUAL or _holds_salesforce_id(tgt):
        return out
    if normalise(tgt.path).split()[-1:] == ["street"]:
        for fs in source:
            if fs.kind is not K.OBJECT or f"{fs.path}.line1" not in source.fields:
                continue
            line1 = source.fields[f"{fs.path}.line1"]
            plain = _score(line1, tgt, source, target)
            if plain is None:
                continue
            step = TransformStep("flatten_address", {"part": "street"})
            reasons = [*plain.reasons[:-1], "both address lines via flatten_address"]
            out.append(Suggestion(fs.path, tgt.path, min(1.0, plain.score + 0.01), reasons, [step]))
    part = _NAME_PARTS.get(tgt.path)
    name = source.fields.get("name")
    if part is not None and name is not None and name.kind in TEXTUAL:
        step = TransformStep("split_name", {"part": part})
        reasons = [f"synonym: name -> {tgt.path} (the {part} name of the full name)"]
        out.append(Suggestion("name", tgt.path, 0.9, [*reasons, "via split_name"], [step]))
    return out


def _metadata_ids(source: ObjectSchema, target: ObjectSchema) -> list[Suggestion]:
    """Salesforce -> Stripe: the Salesforce Ids a Stripe object keeps in its metadata.

    The record the Stripe object stands for goes into ``metadata.salesforceid`` (Account ->
    customer: ``Id``; Opportunity -> customer: ``AccountId``, the customer is the Account);
    the source record's own Id, when it is another object, into
    ``metadata.salesforce_<object>_id``.
    """
    free_map = target.fields.get("metadata")
    if source.system is not System.SALESFORCE or free_map is None or not free_map.free_keys:
        return []
    if "Id" not in source.fields:
        return []
    prefix = free_map.path
    counterparts = COUNTERPARTS.get(target.name.split(".")[-1])
    if counterparts is None or source.name in counterparts:
        return [
            Suggestion(
                "Id", f"{prefix}.salesforceid", 0.95, ["synonym: Id -> metadata.salesforceid"]
            )
        ]
    out: list[Suggestion] = []
    for fs in source:
        if fs.kind is not K.REFERENCE or _meaning(fs.path) != normalise(
            fs.reference_to[0] if fs.reference_to else ""
        ):
            continue
        if any(obj in counterparts for obj in fs.reference_to):
            reason = (
                f"the {target.name} stands for the {fs.reference_to[0]}: "
                f"its Id goes to metadata.salesforceid"
            )
            out.append(Suggestion(fs.path, f"{prefix}.salesforceid", 0.93, [reason]))
            break
    own = f"{prefix}.salesforce_{normalise(source.name).replace(' ', '_')}_id"
    out.append(Suggestion("Id", own, 0.9, [f"the {source.name}'s own Id, kept in metadata"]))
    return out


# --------------------------------------------------------------------------- lookups


def suggest_lookups(
    source: ObjectSchema,
    target: ObjectSchema,
    salesforce: Catalog | Mapping[str, ObjectSchema] | None = None,
    limit: int = 20,
) -> list[LookupSuggestion]:
    """Lookups for a Stripe -> Salesforce flow, best first: one per reference field.

    ``Payment__c.Account__c`` takes no Stripe value as is; it is found through
    ``Account.StripeCustomerID__c = charge.customer``. A reference field qualifies when it is
    named after the object it points to (``AccountId``, ``Account__c``; not ``OwnerId``), that
    object stands for a Stripe object (:data:`COUNTERPARTS`), and the source holds that Stripe
    object's id. ``salesforce`` (the catalog of the org) names the external id field to match
    on; without it the ``Stripe<Object>ID__c`` convention is assumed.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    if source.system is not System.STRIPE or target.system is not System.SALESFORCE:
        return []
    best: dict[str, LookupSuggestion] = {}
    for tgt in _targets(target):
        if tgt.kind is not K.REFERENCE:
            continue
        for sf_object in tgt.reference_to:
            if _meaning(tgt.path) != normalise(sf_object):
                continue
            for stripe_name, counterparts in COUNTERPARTS.items():
                if sf_object not in counterparts:
                    continue
                match = _match_field(sf_object, stripe_name, salesforce)
                if match is None:
                    continue
                for found in _lookup_sources(source, stripe_name, tgt, sf_object, match):
                    old = best.get(tgt.path)
                    if old is None or found.score > old.score:
                        best[tgt.path] = found
    ranked = sorted(best.values(), key=lambda s: (-s.score, s.lookup.target))
    return ranked[:limit]


def _match_field(
    sf_object: str, stripe_name: str, salesforce: Catalog | Mapping[str, ObjectSchema] | None
) -> tuple[str, bool] | None:
    """The external id field of ``sf_object`` keeping ``stripe_name`` ids, and whether it was
    found in the catalog (True) or assumed by convention (False)."""
    if salesforce is None:
        pascal = "".join(w.capitalize() for w in stripe_name.split("_"))
        return f"Stripe{pascal}ID__c", False
    obj = salesforce.get(sf_object)
    if obj is None:
        return None
    wanted = normalise(stripe_name)
    for fs in obj:
        if (fs.external_id or fs.id_lookup or fs.unique) and _kept_stripe_id(fs) == wanted:
            return fs.path, True
    return None


def _lookup_sources(
    source: ObjectSchema,
    stripe_name: str,
    tgt: FieldSchema,
    sf_object: str,
    match: tuple[str, bool],
) -> list[LookupSuggestion]:
    wanted = normalise(stripe_name)
    match_field, from_catalog = match
    out = []
    for fs in source:
        if fs.kind in (K.OBJECT, K.LIST, K.MAP) or "[]" in fs.path:
            continue
        referents = _stripe_referents(fs, source)
        if referents is None or wanted not in referents:
            continue
        unrelated = _unrelated_levels(fs.path, tgt.path)
        own = fs.path == "id"
        score = (
            (0.88 if own else 0.9) - 0.01 * fs.path.count(".") - _UNRELATED_LEVEL * len(unrelated)
        )
        if score < _MIN_SCORE:
            continue
        what = f"the {source.name}'s own id" if own else f"{fs.path} holds a Stripe {wanted} id"
        reasons = [
            f"{tgt.path} points to {sf_object}, which stands for the Stripe {wanted}",
            f"{what}, looked up as {sf_object}.{match_field}",
        ]
        if not from_catalog:
            reasons.append(f"{sf_object}.{match_field} assumed (no Salesforce catalog given)")
        if unrelated:
            reasons.append(f"nested in {', '.join(unrelated)}")
        lookup = Lookup(tgt.path, sf_object, match_field, fs.path, required=tgt.required)
        out.append(LookupSuggestion(lookup, round(score, 4), reasons))
    return out


def type_fit(
    src: FieldSchema, tgt: FieldSchema, source: ObjectSchema, target: ObjectSchema
) -> tuple[float, list[TransformStep], str] | None:
    """How ``src`` fits ``tgt``: ``(factor 0..1, bridging transforms, reason)``, or None when
    the kinds cannot meet. The studio uses it to pre-fill a new link's transform chain."""
    return _fit(src, tgt, source, target)


# Library transforms that convert a value with no arguments, and the kinds they read: the
# one-click conversions offered when a direct link is refused.
_CONVERTERS: tuple[tuple[str, frozenset[FieldKind]], ...] = (
    ("unix_to_datetime", frozenset({K.TIMESTAMP, K.INTEGER})),
    ("unix_to_date", frozenset({K.TIMESTAMP, K.INTEGER})),
    ("datetime_to_unix", frozenset({K.DATETIME})),
    ("date_to_unix", frozenset({K.DATE})),
    ("to_number", TEXTUAL | {K.BOOLEAN}),
    ("to_boolean", TEXTUAL | NUMERIC),
    ("to_string", TEXTUAL | NUMERIC | {K.BOOLEAN, K.DATE, K.DATETIME, K.TIME}),
)
_KIND_WORDS = {
    K.INTEGER: "whole number", K.NUMBER: "number", K.CURRENCY: "amount", K.PERCENT: "percent",
    K.TIMESTAMP: "Unix time", K.DATE: "date", K.DATETIME: "date and time", K.TIME: "time",
    K.BOOLEAN: "true/false", K.MULTIPICKLIST: "list of values", K.OBJECT: "object",
    K.LIST: "list", K.MAP: "object", K.ANY: "any value",
}  # fmt: skip


def kind_words(fs: FieldSchema) -> str:
    """What a field holds, in a user's words: "text", "amount in cents", "date and time"."""
    if fs.minor_units_currency is not None:
        return "amount in cents"
    return _KIND_WORDS.get(fs.kind, "text")


@dataclass(frozen=True, slots=True)
class Conversion:
    """A transform chain that makes a refused link possible, and how to say it."""

    steps: tuple[TransformStep, ...]
    words: str  # "text → number"


def conversion_choices(
    src: FieldSchema, tgt: FieldSchema, source: ObjectSchema, target: ObjectSchema
) -> list[Conversion]:
    """The transform chains that let ``src`` be written into ``tgt``, best first: the usual
    bridge of :func:`type_fit` (with its arguments), then each argument-free converter whose
    output the target takes. Empty for a structure, which needs an expression."""
    if src.kind in STRUCTURED:
        return []
    chains: list[tuple[TransformStep, ...]] = []
    fit = _fit(src, tgt, source, target)
    if fit is not None and fit[1]:
        chains.append(tuple(fit[1]))
    for name, reads in _CONVERTERS:
        output = get_transform(name).output_kind
        if src.kind not in reads or output is None or not kinds_compatible(output, tgt.kind):
            continue
        if units_conversion(src, tgt) is not None:
            continue  # a plain conversion of money would keep the wrong units
        single: tuple[TransformStep, ...] = (TransformStep(name),)
        if single not in chains:
            chains.append(single)
    out: list[Conversion] = []
    for steps in chains:
        last = get_transform(steps[-1].name).output_kind or tgt.kind
        out.append(Conversion(steps, f"{kind_words(src)} → {_KIND_WORDS.get(last, 'text')}"))
    return out
