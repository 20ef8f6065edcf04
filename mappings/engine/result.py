"""What applying a flow returns: the target record and the issues found on the way."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

Severity = Literal["error", "warning"]

LookupResolver = Callable[[str, str, Any], "str | None"]
"""``(object, match_field, value) -> Salesforce Id or None``, e.g.
``resolver("Account", "StripeCustomerID__c", "cus_123") -> "001..."``."""


@dataclass(slots=True)
class Issue:
    """One problem with a mapped record, in words a business user understands.

    ``code`` follows Salesforce's own error codes where one exists (``REQUIRED_FIELD_MISSING``,
    ``STRING_TOO_LONG``...) so that what the preview shows matches what Salesforce would say.
    """

    code: str
    field: str | None
    message: str
    severity: Severity = "error"

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "field": self.field,
            "message": self.message,
            "severity": self.severity,
        }

    def __str__(self) -> str:
        where = f" {self.field}" if self.field else ""
        return f"{self.severity} {self.code}{where}: {self.message}"


@dataclass(slots=True)
class MappingResult:
    """The target record (values as the engine produced them: money is ``Decimal``).

    ``children`` holds, for a flow with child collections, one result per source element
    that passed the child's conditions, by relationship (``{"OrderItems": [...]}``); the
    child records lack their parent reference, which the writer sets. A child error is
    also an error on the parent (``CHILD_INVALID``, see :mod:`mappings.engine.children`), so
    ``ok`` and ``errors`` of the parent already account for its children.
    """

    record: dict[str, Any]
    issues: list[Issue] = field(default_factory=list)
    skipped: bool = False
    skip_reason: str | None = None
    source_id: str | None = None
    children: dict[str, list[MappingResult]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """No error-severity issue (warnings do not stop a record)."""
        return not any(i.severity == "error" for i in self.issues)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "record": json_safe(self.record),
            "issues": [i.to_dict() for i in self.issues],
            "skipped": self.skipped,
        }
        if self.skip_reason is not None:
            out["skip_reason"] = self.skip_reason
        if self.source_id is not None:
            out["source_id"] = self.source_id
        if self.children:
            out["children"] = {
                relationship: [child.to_dict() for child in results]
                for relationship, results in self.children.items()
            }
        return out


def json_safe(value: Any) -> Any:
    """``value`` with Decimals as JSON numbers (int when integral) and dates as ISO strings.

    The engine keeps money as ``Decimal`` so no cent is lost inside; this is the one place
    where it becomes a JSON number, for previews, reports and the Salesforce REST body.
    """
    if isinstance(value, Decimal):
        if value.is_finite() and value == value.to_integral_value():
            return int(value)
        return float(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        return value.isoformat()
    return value
