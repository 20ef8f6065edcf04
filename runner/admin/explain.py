"""Explanations and suggested fixes for dead letters: rules, not guesses.

Like :mod:`runner.classify`, one table decides: for each Salesforce error code and each
transform issue code, what went wrong in plain words and what to change. Every explanation
names its evidence (the flow, the field, the value the record carried), read from the dead
letter itself: the error text the writer stored (``CODE: message (Field)`` from Salesforce,
``error CODE Field: message`` from the mapping) and the mapped record.

Dead letters with the same cause (flow, code, field) form one group, so that one fix can
replay them all.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# A Salesforce record error as RecordOutcome.message writes it: "CODE: message (F1, F2)".
_SF_FIELDS = re.compile(r"^(?P<code>[A-Z_]+): .*?\((?P<fields>[\w, .]+)\)\s*(?:;|$)")
# A transform issue as Issue.__str__ writes it: "error CODE Field: message".
_ISSUE = re.compile(r"^(?:error|warning) (?P<code>[A-Z_]+)(?: (?P<field>[\w.]+))?: ")
# Salesforce's "bad value for restricted picklist field: VALUE".
_PICKLIST_VALUE = re.compile(r"restricted picklist field: (?P<value>.+?)(?: \(|;|$)")


@dataclass(frozen=True)
class Rule:
    """What a code means (``what``) and what to change (``fix``); ``{field}``, ``{value}``
    and ``{flow}`` are filled from the evidence. ``mapping`` says the fix is in the mapping
    (Open in mapping applies), not only in the org or the data."""

    title: str
    what: str
    fix: str
    mapping: bool = True


RULES: dict[str, Rule] = {
    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST": Rule(
        "Value not in the picklist",
        "Salesforce refused {value} for {field}: it is not one of the picklist's values.",
        "add {value} to the value map of {field} in flow {flow}, or to the picklist in "
        "Salesforce"),
    # The mapping's own check of the same rule, before Salesforce is called.
    "INVALID_PICKLIST_VALUE": Rule(
        "Value not in the picklist",
        "{value} is not one of {field}'s picklist values, so the record was not sent.",
        "add {value} to the value map of {field} in flow {flow}, or to the picklist in "
        "Salesforce"),
    "STRING_TOO_LONG": Rule(
        "Text too long",
        "The text mapped to {field} is longer than the field allows.",
        "add Truncate to {field} in flow {flow}, or make the field longer in Salesforce"),
    "REQUIRED_FIELD_MISSING": Rule(
        "Required field missing",
        "{field} is required in Salesforce but the record had no value for it.",
        "map or default {field} in flow {flow}"),
    "EXPRESSION_TIMEOUT": Rule(
        "Expression too slow",
        "The expression computing {field} ran past its time budget and was stopped.",
        "simplify the expression of {field} in flow {flow} (no deep loops over large "
        "lists)"),
    "INVALID_EMAIL_ADDRESS": Rule(
        "Not an e-mail address",
        "Salesforce refused {value} for {field}: it is not a valid e-mail address.",
        "clean {field} with a transform in flow {flow}, or fix the address in Stripe"),
    "NUMBER_OUTSIDE_VALID_RANGE": Rule(
        "Number out of range",
        "The number {value} does not fit {field}'s precision in Salesforce.",
        "convert or round {field} in flow {flow} (minor units to an amount?), or widen the "
        "field"),
    "INVALID_TYPE_ON_FIELD_IN_RECORD": Rule(
        "Wrong type",
        "The value {value} mapped to {field} is not of the type the field takes.",
        "add a conversion to {field} in flow {flow}"),
    "INVALID_CROSS_REFERENCE_KEY": Rule(
        "Reference not found",
        "{field} points at a Salesforce record that does not exist (or is not visible).",
        "check the lookup of {field} in flow {flow}; sync the referenced record first"),
    "FIELD_CUSTOM_VALIDATION_EXCEPTION": Rule(
        "Validation rule",
        "A validation rule in Salesforce refused the record.",
        "change the mapping of flow {flow} to satisfy the rule, or relax the rule in "
        "Salesforce", mapping=False),
    "DUPLICATE_VALUE": Rule(
        "Duplicate value",
        "Another record already has {value} in the unique field {field}.",
        "dedupe on {field} in flow {flow} (upsert by it) instead of inserting"),
    "DUPLICATES_DETECTED": Rule(
        "Duplicate rule",
        "A Salesforce duplicate rule matched an existing record.",
        "add dedup matching to flow {flow}, or decide it in the review queue",
        mapping=False),
    "ENTITY_IS_DELETED": Rule(
        "Record deleted",
        "The Salesforce record this update targets was deleted.",
        "discard the dead letter, or restore the record in Salesforce", mapping=False),
    "INVALID_INPUT": Rule(
        "Event not mappable",
        "The event carried no object the flow can map.",
        "discard the dead letter; nothing in flow {flow} needs to change", mapping=False),
    "TRANSFORM_FAILED": Rule(
        "Transform failed",
        "The transform computing {field} failed on the value {value}.",
        "fix the transform of {field} in flow {flow} (or give it a default)"),
    "INVALID_TYPE": Rule(
        "Value of the wrong type",
        "The value {value} mapped to {field} is not of the type the field takes.",
        "add a conversion to {field} in flow {flow}"),
    "LOOKUP_UNRESOLVED": Rule(
        "Lookup found nothing",
        "The lookup for {field} found no Salesforce record for {value}.",
        "sync the referenced record first, or make the lookup of {field} optional in flow "
        "{flow}"),
    "EXPRESSION_TOO_DEEP": Rule(
        "Expression too deep",
        "The expression computing {field} nests deeper than allowed.",
        "simplify the expression of {field} in flow {flow}"),
    "FIELD_NOT_CREATEABLE": Rule(
        "Field cannot be set on create",
        "{field} cannot be set when the record is created.",
        "unmap {field} in flow {flow}, or ask an admin for create access to it"),
    "FIELD_NOT_UPDATEABLE": Rule(
        "Field cannot be changed",
        "{field} cannot be changed on an existing record.",
        "unmap {field} in flow {flow} for updates, or ask an admin for edit access to it"),
}

_PICKLIST_CODES = ("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "INVALID_PICKLIST_VALUE")

FALLBACK = Rule("Refused",
                "The record could not be written: {error}",
                "read the error, fix flow {flow} or the data, then replay", mapping=False)


@dataclass(frozen=True)
class Explanation:
    code: str
    title: str
    what: str
    fix: str
    flow: str
    field: str | None
    value: Any
    in_mapping: bool  # "Open in mapping" applies
    evidence: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def cause(self) -> str:
        """The group key: dead letters with one cause are fixed (and replayed) together."""
        return f"{self.flow}|{self.code}|{self.field or ''}"

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "title": self.title, "what": self.what, "fix": self.fix,
                "flow": self.flow, "field": self.field, "value": self.value,
                "in_mapping": self.in_mapping, "cause": self.cause,
                "evidence": dict(self.evidence)}


def evidence_field(error: str) -> tuple[str | None, str | None]:
    """(code, field) named by a stored error text, either shape; (None, None) if neither."""
    issue = _ISSUE.match(error)
    if issue:
        return issue["code"], issue["field"]
    sf = _SF_FIELDS.match(error)
    if sf:
        return sf["code"], sf["fields"].split(",")[0].strip()
    return None, None


def explain(*, flow: str, error_code: str | None, error: str,
            record: Mapping[str, Any] | None) -> Explanation:
    """The explanation of one dead letter (its flow, stored code and error, mapped record)."""
    parsed_code, field_name = evidence_field(error or "")
    code = error_code or parsed_code or "UNKNOWN"
    rule = RULES.get(code, FALLBACK)
    value: Any = None
    if field_name and record is not None and field_name in record:
        value = record[field_name]
    if code in _PICKLIST_CODES and value is None:
        found = _PICKLIST_VALUE.search(error or "")
        value = found["value"].strip() if found else None
    shown_field = field_name or "the field"
    shown_value = "an empty value" if value is None else repr(value) if not isinstance(
        value, str) else value
    fill = {"field": shown_field, "value": shown_value, "flow": flow,
            "error": (error or "")[:300]}
    evidence = {"flow": flow, "error_code": code}
    if field_name:
        evidence["field"] = field_name
        evidence["value"] = value
    return Explanation(code=code, title=rule.title, what=rule.what.format(**fill),
                       fix=rule.fix.format(**fill), flow=flow, field=field_name, value=value,
                       in_mapping=rule.mapping and field_name is not None, evidence=evidence)


def explain_entry(entry: Any) -> Explanation:
    """:func:`explain` of a :class:`runner.state.records.DlqEntry`."""
    return explain(flow=entry.flow, error_code=entry.error_code, error=entry.error,
                   record=entry.record)


@dataclass
class CauseGroup:
    explanation: Explanation
    ids: list[int] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"cause": self.explanation.cause, "count": len(self.ids), "ids": self.ids,
                "explanation": self.explanation.to_dict()}


def group_by_cause(entries: Iterable[Any]) -> list[CauseGroup]:
    """Dead letters grouped by cause, the largest group first (then the oldest)."""
    groups: dict[str, CauseGroup] = {}
    for entry in entries:
        explanation = explain_entry(entry)
        group = groups.setdefault(explanation.cause, CauseGroup(explanation))
        group.ids.append(entry.id)
    return sorted(groups.values(), key=lambda g: (-len(g.ids), g.ids[0]))
