"""Candidate matching between a Stripe customer and Salesforce Accounts/Contacts.

Pure: a customer dict and candidate records in, scored candidates with their reasons out.
Evidence and what it weighs:

- the same Stripe customer id in ``StripeCustomerID__c``: certain (1.0);
- the same e-mail, ignoring case: 0.95;
- a similar name (rapidfuzz ``token_sort_ratio`` after dropping legal forms such as Inc,
  Ltd, GmbH and punctuation): up to 0.65 from 80% similar upwards;
- the same phone number (digits only, last 10): 0.6;
- the same postal code with a similar street: up to 0.5 (postal code alone: 0.15).

Independent pieces of evidence combine as a noisy OR (``1 - prod(1 - w)``), so two weak
signals make a stronger one but never certainty. Two things hold a score down: a different
e-mail on both sides, and a record already linked to another Stripe customer (never linked
automatically: it is somebody else's mirror).

:func:`decide` turns the scores into link / review / create. The pipeline's dedup
(``runner.pipeline.dedup``) may call :func:`match_candidates` and :func:`decide` directly.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from rapidfuzz import fuzz

EXTERNAL_ID_FIELD = "StripeCustomerID__c"
W_EMAIL = 0.95
W_NAME = 0.65
W_PHONE = 0.6
W_ADDRESS = 0.5
W_POSTAL_ONLY = 0.15
NAME_MIN = 80.0  # below this a name similarity is no evidence
STREET_MIN = 70.0
EMAIL_CONFLICT = 0.85  # factor when both sides have a different e-mail
OTHER_LINK_CAP = 0.6  # a record already mirroring another customer: review at most

LEGAL_FORMS = frozenset({
    "inc", "incorporated", "corp", "corporation", "co", "company", "ltd", "limited", "llc",
    "llp", "plc", "gmbh", "ag", "kg", "sa", "sas", "sarl", "srl", "spa", "bv", "nv", "oy",
    "ab", "as", "pty", "pte"})

Action = Literal["link", "review", "create"]


@dataclass(frozen=True, slots=True)
class Candidate:
    sf_id: str
    object: str  # "Account" | "Contact"
    score: float  # 0..1
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"sf_id": self.sf_id, "object": self.object, "score": round(self.score, 4),
                "reasons": list(self.reasons)}


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    candidate: Candidate | None
    reasons: list[str] = field(default_factory=list)


def normalise_name(name: Any) -> str:
    """Lower case, accents and punctuation off, legal forms dropped: 'ACME Corp.' -> 'acme'."""
    if not isinstance(name, str):
        return ""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = text.replace("&", " and ")
    words = re.sub(r"[^\w\s]", " ", text).split()
    kept = [w for w in words if w not in LEGAL_FORMS]
    return " ".join(kept or words)


def normalise_phone(phone: Any) -> str:
    """Digits only, the last 10 (drops country codes and formatting); '' when too short."""
    if not isinstance(phone, str | int):
        return ""
    digits = re.sub(r"\D", "", str(phone))
    return digits[-10:] if len(digits) >= 7 else ""


def normalise_email(email: Any) -> str:
    return email.strip().lower() if isinstance(email, str) and "@" in email else ""


def _postal(code: Any) -> str:
    return re.sub(r"[\s-]", "", code).upper() if isinstance(code, str) else ""


def _customer_address(customer: Mapping[str, Any]) -> tuple[str, str]:
    for holder in (customer, customer.get("shipping") or {}):
        addr = holder.get("address") if isinstance(holder, Mapping) else None
        if isinstance(addr, Mapping) and (addr.get("postal_code") or addr.get("line1")):
            street = " ".join(s for s in (addr.get("line1"), addr.get("line2"))
                              if isinstance(s, str))
            return _postal(addr.get("postal_code")), street
    return "", ""


def _record_addresses(record: Mapping[str, Any]) -> list[tuple[str, str]]:
    found = []
    for prefix in ("Billing", "Shipping", "Mailing", "Other"):
        postal, street = record.get(f"{prefix}PostalCode"), record.get(f"{prefix}Street")
        if postal or street:
            found.append((_postal(postal), street if isinstance(street, str) else ""))
    return found


def _record_name(record: Mapping[str, Any]) -> str:
    name = record.get("Name")
    if isinstance(name, str) and name.strip():
        return name
    parts = [record.get("FirstName"), record.get("LastName")]
    return " ".join(p for p in parts if isinstance(p, str))


def _object_of(record: Mapping[str, Any]) -> str:
    attrs = record.get("attributes")
    if isinstance(attrs, Mapping) and isinstance(attrs.get("type"), str):
        return attrs["type"]
    if isinstance(record.get("object"), str):
        return record["object"]
    rid = str(record.get("Id") or "")
    return {"001": "Account", "003": "Contact", "00Q": "Lead"}.get(rid[:3], "Account")


def score_candidate(customer: Mapping[str, Any], record: Mapping[str, Any]) -> Candidate:
    """One candidate's score and the reasons for it."""
    sf_id = record.get("Id")
    if not isinstance(sf_id, str) or not sf_id:
        raise ValueError(f"candidate record without an Id: {dict(record)!r}")
    obj = _object_of(record)
    cus_id = customer.get("id")
    linked = record.get(EXTERNAL_ID_FIELD)
    if cus_id and linked == cus_id:
        return Candidate(sf_id, obj, 1.0, [f"same Stripe customer id {cus_id}"])

    weights: list[float] = []
    reasons: list[str] = []
    email_c = normalise_email(customer.get("email"))
    emails_r = [normalise_email(record.get(k)) for k in ("Email", "PersonEmail")]
    emails_r = [e for e in emails_r if e]
    if email_c and email_c in emails_r:
        weights.append(W_EMAIL)
        reasons.append(f"same email {email_c}")

    name_c, name_r = customer.get("name"), _record_name(record)
    if isinstance(name_c, str) and name_c.strip() and name_r:
        sim = fuzz.token_sort_ratio(normalise_name(name_c), normalise_name(name_r))
        if sim >= NAME_MIN:
            weights.append(W_NAME * min(1.0, (sim - 75.0) / 20.0))
            reasons.append(f"name {sim:.0f}% similar: {name_c!r} ~ {name_r!r}")

    phone_c = normalise_phone(customer.get("phone"))
    if phone_c:
        for key in ("Phone", "MobilePhone"):
            if normalise_phone(record.get(key)) == phone_c:
                weights.append(W_PHONE)
                reasons.append(f"same phone (last 10 digits {phone_c})")
                break

    postal_c, street_c = _customer_address(customer)
    best_addr = 0.0
    addr_reason = ""
    for postal_r, street_r in _record_addresses(record):
        if not postal_c or postal_c != postal_r:
            continue
        street_sim = fuzz.token_sort_ratio(street_c.lower(), street_r.lower()) \
            if street_c and street_r else 0.0
        if street_sim >= STREET_MIN:
            w = W_ADDRESS * street_sim / 100.0
            why = f"same postal code {postal_c}, street {street_sim:.0f}% similar"
        else:
            w, why = W_POSTAL_ONLY, f"same postal code {postal_c}"
        if w > best_addr:
            best_addr, addr_reason = w, why
    if best_addr:
        weights.append(best_addr)
        reasons.append(addr_reason)

    remaining = 1.0
    for w in weights:
        remaining *= 1.0 - w
    score = 1.0 - remaining
    if email_c and emails_r and email_c not in emails_r and score:
        score *= EMAIL_CONFLICT
        reasons.append(f"different email ({email_c} vs {emails_r[0]})")
    if linked and linked != cus_id and score:
        score = min(score, OTHER_LINK_CAP)
        reasons.append(f"already linked to another Stripe customer {linked}")
    return Candidate(sf_id, obj, round(score, 4), reasons)


def match_candidates(customer: Mapping[str, Any],
                     candidates: Sequence[Mapping[str, Any]]) -> list[Candidate]:
    """Every candidate with some evidence, best first (ties by Id, so the order is stable)."""
    if not isinstance(customer, Mapping):
        raise ValueError(f"customer must be a Stripe customer object, got {type(customer)}")
    scored = [score_candidate(customer, r) for r in candidates]
    return sorted((c for c in scored if c.score > 0), key=lambda c: (-c.score, c.sf_id))


def decide(candidates: Sequence[Candidate], link_threshold: float = 0.9,
           review_threshold: float = 0.6) -> Decision:
    """Link above ``link_threshold`` (one clear winner), review in the band, else create."""
    if not (0.0 <= review_threshold <= link_threshold <= 1.0):
        raise ValueError("thresholds must satisfy 0 <= review_threshold <= link_threshold <= 1, "
                         f"got review {review_threshold}, link {link_threshold}")
    ranked = sorted(candidates, key=lambda c: (-c.score, c.sf_id))
    if not ranked or ranked[0].score < review_threshold:
        best = f" (best {ranked[0].score:.2f} < {review_threshold})" if ranked else ""
        return Decision("create", None, [f"no candidate reaches the review threshold{best}"])
    top = ranked[0]
    if top.score >= 1.0 and (len(ranked) == 1 or ranked[1].score < 1.0):
        return Decision("link", top, list(top.reasons))
    if top.score >= link_threshold:
        rivals = [c for c in ranked[1:] if c.score >= link_threshold]
        if not rivals:
            return Decision("link", top, list(top.reasons))
        ids = ", ".join(c.sf_id for c in [top, *rivals])
        return Decision("review", top, [f"{len(rivals) + 1} candidates above the link "
                                        f"threshold {link_threshold}: {ids}", *top.reasons])
    return Decision("review", top, [f"best score {top.score:.2f} is between {review_threshold} "
                                    f"and {link_threshold}", *top.reasons])
