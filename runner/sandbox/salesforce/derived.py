"""Values Salesforce derives on save for standard objects, beyond a field's default.

An Opportunity's stage sets its probability, forecast category and closed/won flags (the
standard sales process of a new org; a body that sets Probability or ForecastCategoryName
itself keeps its value), a Case's status sets IsClosed, and an Order's status its
StatusCode.
"""

from __future__ import annotations

from collections.abc import Mapping

# Stage -> (probability, ForecastCategoryName, ForecastCategory, closed, won): a new org's
# OpportunityStage records.
_STAGES: dict[str, tuple[int, str, str, bool, bool]] = {
    "Prospecting": (10, "Pipeline", "Pipeline", False, False),
    "Qualification": (10, "Pipeline", "Pipeline", False, False),
    "Needs Analysis": (20, "Pipeline", "Pipeline", False, False),
    "Value Proposition": (50, "Pipeline", "Pipeline", False, False),
    "Id. Decision Makers": (60, "Pipeline", "Pipeline", False, False),
    "Perception Analysis": (70, "Pipeline", "Pipeline", False, False),
    "Proposal/Price Quote": (75, "Pipeline", "Pipeline", False, False),
    "Negotiation/Review": (90, "Pipeline", "Pipeline", False, False),
    "Closed Won": (100, "Closed", "Closed", True, True),
    "Closed Lost": (0, "Omitted", "Omitted", True, False),
}
_CLOSED_CASE_STATUSES = frozenset({"Closed"})


def derive(object_name: str, record: dict, given: Mapping[str, object]) -> None:
    """Fill the derived fields of ``record`` in place; ``given`` is what the body set."""
    if object_name == "Opportunity":
        _opportunity(record, given)
    elif object_name == "Case" and "Status" in record:
        record["IsClosed"] = record.get("Status") in _CLOSED_CASE_STATUSES
    elif object_name == "Order" and record.get("Status"):
        record["StatusCode"] = "Activated" if record["Status"] == "Activated" else "Draft"


def _opportunity(record: dict, given: Mapping[str, object]) -> None:
    stage = _STAGES.get(str(record.get("StageName")))
    if stage is None:
        return
    probability, category_name, category, closed, won = stage
    if "StageName" in given or record.get("Probability") is None:
        if "Probability" not in given:
            record["Probability"] = probability
        if "ForecastCategoryName" not in given:
            record["ForecastCategoryName"] = category_name
    record["ForecastCategory"] = category
    record["IsClosed"], record["IsWon"] = closed, won
    amount, chance = record.get("Amount"), record.get("Probability")
    if isinstance(amount, int | float) and isinstance(chance, int | float):
        record["ExpectedRevenue"] = amount * chance / 100
    close = record.get("CloseDate")
    if isinstance(close, str) and len(close) >= 7:
        year, month = int(close[:4]), int(close[5:7])
        quarter = (month - 1) // 3 + 1
        record.update(FiscalYear=year, FiscalQuarter=quarter, Fiscal=f"{year} {quarter}")
