"""What a test run reports: one result per sample, the run's summary, and its error.

Plain data, apart from :mod:`app.services.testrun`, which takes the runner's write path:
the views show these (and the studio imports them at start-up) without loading the runner's
pipeline, which the first test run loads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from app.errors import StudioError
from mappings.engine.result import Issue

__all__ = ["Outcome", "Progress", "RecordResult", "RunReport", "TestRunError"]

Progress = Callable[[int, int], None]
Outcome = Literal["create", "update", "delete", "fail", "skip", "review"]


class TestRunError(StudioError):
    """The test run as a whole cannot start or went wrong (not one record's failure)."""

    __test__ = False


@dataclass
class RecordResult:
    """One sample's outcome. ``dry`` results say what *would* happen."""

    index: int
    source_id: str | None
    outcome: Outcome
    salesforce_id: str | None = None
    message: str = ""
    issues: list[Issue] = field(default_factory=list)
    record: dict[str, Any] = field(default_factory=dict)
    dry: bool = True
    # A flow with child collections: the child records written (or that would be) with this
    # record, by relationship (an Order's OrderItems).
    children: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def action(self) -> str:
        """``would create`` / ``would update`` / ``created`` / ``failed`` ... for the table."""
        if self.outcome == "skip":
            return "skipped"
        if self.outcome == "review":
            return "would need review" if self.dry else "needs review"
        if self.dry:
            return f"would {self.outcome}"
        return {"create": "created", "update": "updated", "delete": "deleted",
                "fail": "failed"}[self.outcome]


@dataclass
class RunReport:
    flow: str
    dry: bool
    results: list[RecordResult]

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome == outcome)

    @property
    def summary(self) -> str:
        verb = "would " if self.dry else ""
        parts = [f"{self.count('create')} {verb}create", f"{self.count('update')} {verb}update",
                 f"{self.count('fail')} {verb}fail"]
        if self.count("delete"):  # a deletion sample under on_delete: delete
            parts.append(f"{self.count('delete')} {verb}delete")
        if self.count("review"):
            parts.append(f"{self.count('review')} {verb}need review")
        if self.count("skip"):
            parts.append(f"{self.count('skip')} skipped")
        return ", ".join(parts)
