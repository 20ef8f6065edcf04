"""The dead-letter explanations as a table: each code, in both error shapes the writer
stores, names its evidence (flow, field, value) and a fix; groups by cause."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from runner.admin.explain import RULES, evidence_field, explain, group_by_cause
from runner.classify import SKIPPABLE_CODES

FLOW = "charge-to-payment"


@pytest.mark.parametrize(("code", "error", "record", "field", "value", "fix"), [
    ("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
     "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST: Status: bad value for restricted picklist "
     "field: requires_capture (Status__c)", {"Status__c": "requires_capture"},
     "Status__c", "requires_capture",
     "add requires_capture to the value map of Status__c in flow charge-to-payment, or to "
     "the picklist in Salesforce"),
    ("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",  # no record kept: the value from the text
     "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST: Status: bad value for restricted picklist "
     "field: requires_capture (Status__c)", None, "Status__c", "requires_capture",
     "add requires_capture to the value map"),
    ("INVALID_PICKLIST_VALUE", "error INVALID_PICKLIST_VALUE Status__c: 'requires_capture' "
     "is not an allowed value of Status__c (allowed: Completed, Failed)",
     {"Status__c": "requires_capture"}, "Status__c", "requires_capture",
     "add requires_capture to the value map of Status__c in flow charge-to-payment"),
    ("STRING_TOO_LONG", "STRING_TOO_LONG: Description: data value too large (Description__c)",
     {"Description__c": "x" * 300}, "Description__c", "x" * 300,
     "add Truncate to Description__c in flow charge-to-payment"),
    ("REQUIRED_FIELD_MISSING", "error REQUIRED_FIELD_MISSING Amount__c: Amount__c is "
     "required but has no value", {"Amount__c": None}, "Amount__c", None,
     "map or default Amount__c in flow charge-to-payment"),
    ("EXPRESSION_TIMEOUT", "error EXPRESSION_TIMEOUT Status__c: Status__c could not be "
     "computed: the expression ran longer than its budget of 500 ms", {}, "Status__c", None,
     "simplify the expression of Status__c"),
    ("INVALID_EMAIL_ADDRESS", "INVALID_EMAIL_ADDRESS: Email: invalid email address: nope "
     "(Receipt_Email__c)", {"Receipt_Email__c": "nope"}, "Receipt_Email__c", "nope",
     "clean Receipt_Email__c"),
    ("LOOKUP_UNRESOLVED", "error LOOKUP_UNRESOLVED Account__c: no Account with "
     "StripeCustomerID__c = cus_1", {"Account__c": "cus_1"}, "Account__c", "cus_1",
     "sync the referenced record first"),
])
def test_each_code_names_its_evidence_and_fix(code, error, record, field, value, fix) -> None:
    found = explain(flow=FLOW, error_code=code, error=error, record=record)
    assert found.code == code
    assert found.field == field
    assert found.value == value
    assert fix in found.fix
    assert found.evidence["flow"] == FLOW and found.evidence["field"] == field
    assert found.in_mapping


def test_the_issue_examples_read_as_the_issue_says() -> None:
    found = explain(flow=FLOW, error_code="INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    error="INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST: bad value for restricted "
                          "picklist field: requires_capture (Status__c)",
                    record={"Status__c": "requires_capture"})
    assert "requires_capture" in found.what and "Status__c" in found.what
    assert found.fix.startswith("add requires_capture to the value map of Status__c")


def test_an_unknown_code_falls_back_to_the_error_text_and_no_mapping_jump() -> None:
    found = explain(flow=FLOW, error_code="SOMETHING_NEW", error="SOMETHING_NEW: odd",
                    record={})
    assert found.title == "Refused"
    assert "SOMETHING_NEW: odd" in found.what
    assert not found.in_mapping


@pytest.mark.parametrize(("text", "expected"), [
    ("STRING_TOO_LONG: too long (Name)", ("STRING_TOO_LONG", "Name")),
    ("REQUIRED_FIELD_MISSING: missing (LastName, Company)",
     ("REQUIRED_FIELD_MISSING", "LastName")),
    ("error INVALID_TYPE Amount__c: expects a number", ("INVALID_TYPE", "Amount__c")),
    ("error INVALID_INPUT: no data.object", ("INVALID_INPUT", None)),
    ("HTTP 500: boom", (None, None)),
])
def test_evidence_is_read_from_both_error_shapes(text, expected) -> None:
    assert evidence_field(text) == expected


def test_the_issue_codes_and_every_skippable_salesforce_code_we_explain_are_rules() -> None:
    for code in ("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "STRING_TOO_LONG",
                 "REQUIRED_FIELD_MISSING", "EXPRESSION_TIMEOUT"):
        assert code in RULES
    # A rule for a Salesforce code only where classify calls it this record's problem.
    sf_codes = {c for c in RULES if c in SKIPPABLE_CODES}
    assert {"STRING_TOO_LONG", "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"} <= sf_codes


@dataclass
class Entry:
    id: int
    flow: str
    error_code: str | None
    error: str
    record: dict[str, Any] | None
    created_at: datetime = datetime(2026, 1, 1, tzinfo=UTC)


def test_dead_letters_group_by_cause_largest_first() -> None:
    pick = "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    entries = [
        Entry(1, FLOW, "STRING_TOO_LONG", "STRING_TOO_LONG: x (Description__c)", {}),
        Entry(2, FLOW, pick, f"{pick}: field: requires_capture (Status__c)",
              {"Status__c": "requires_capture"}),
        Entry(3, FLOW, pick, f"{pick}: field: canceled (Status__c)", {"Status__c": "canceled"}),
        Entry(4, "customer-to-account", pick, f"{pick}: x (Status__c)", {}),
    ]
    groups = group_by_cause(entries)
    assert [g.ids for g in groups] == [[2, 3], [1], [4]]
    assert groups[0].to_dict()["cause"] == f"{FLOW}|{pick}|Status__c"
    assert groups[0].to_dict()["count"] == 2
