"""What a flow did with one record, and what one processing call did as a whole.

:class:`TaskOutcome` is the one table of task outcomes: its members are listed strongest
first (an event finishes with the strongest of its flows' outcomes), and each carries the
inbox ledger's outcome and the metrics' label, so the three can never disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from runner.classify import Failure
from runner.errors import FatalSyncError
from runner.retry import outcome_for


class TaskOutcome(StrEnum):
    """One task's outcome, strongest first; ``ledger`` is the inbox's outcome for an event
    finishing with it (None: the event is retried, not finished), ``metric`` the metrics'
    label and ``counter`` the :class:`ProcessReport` field it counts in."""

    ledger: str | None
    metric: str
    counter: str

    def __new__(cls, value: str, ledger: str | None, metric: str, counter: str) -> TaskOutcome:
        member = str.__new__(cls, value)
        member._value_ = value
        member.ledger = ledger
        member.metric = metric
        member.counter = counter
        return member

    RETRY = ("retry", None, "retried", "retried")
    DEAD_LETTERED = ("dead_lettered", "dead_lettered", "dead_lettered", "dead_lettered")
    REVIEW = ("review", "review", "review", "review")
    WRITTEN = ("written", "done", "written", "written")
    STALE = ("stale", "stale", "skipped", "stale")
    SKIPPED = ("skipped", "skipped", "skipped", "skipped")

    @classmethod
    def of(cls, value: str) -> TaskOutcome:
        """The member of an outcome's value (``TaskOutcome("written")`` without the
        constructor mypy reads as the 4-argument ``__new__``)."""
        for member in cls:
            if member.value == value:
                return member
        raise ValueError(f"unknown task outcome {value!r}")

    @classmethod
    def strongest(cls, outcomes: set[TaskOutcome | None]) -> TaskOutcome:
        return next((o for o in cls if o in outcomes), cls.SKIPPED)


# A replayed dead letter or a review decision is done with its entry when its task ends so.
SETTLED = frozenset({TaskOutcome.WRITTEN, TaskOutcome.SKIPPED, TaskOutcome.STALE,
                     TaskOutcome.REVIEW})


def failed(failure: Failure, fatal_message: str,
           cause: BaseException | None = None) -> TaskOutcome:
    """The task outcome of a failure, by :func:`runner.retry.outcome_for`: retry or
    dead-letter, or :class:`FatalSyncError` (``fatal_message``) when the runner must stop."""
    action = outcome_for(failure)
    if action == "stop":
        raise FatalSyncError(fatal_message) from cause
    return TaskOutcome.RETRY if action == "retry" else TaskOutcome.DEAD_LETTERED


@dataclass(frozen=True)
class ProcessedRecord:
    """What one flow did with one event, handed to the processor's observers once the batch
    has settled (its outcome is final for this attempt: "retry" means it will come again).

    ``payload`` is the event as received; ``data_object`` the Stripe object the flow applied
    (the refreshed current state for a stale or tied event); ``record`` the mapped JSON-safe
    record (None when the flow skipped before mapping).
    """

    flow: str
    event_type: str | None
    event_id: str | None
    payload: dict[str, Any]
    data_object: dict[str, Any] | None
    record: dict[str, Any] | None
    outcome: str  # a TaskOutcome value
    sf_id: str | None


Observer = Callable[[ProcessedRecord], None]


@dataclass
class ProcessReport:
    """What one call did: events by final outcome, records by task outcome."""

    events: int = 0
    ignored: int = 0
    echo: int = 0
    written: int = 0
    skipped: int = 0
    stale: int = 0
    dead_lettered: int = 0
    review: int = 0
    retried: int = 0
    api_calls: int = 0  # Salesforce requests made
    outcomes: dict[str, str] = field(default_factory=dict)  # event id -> ledger outcome
    errors: list[str] = field(default_factory=list)

    def count(self, outcome: str) -> None:
        name = TaskOutcome.of(outcome).counter
        setattr(self, name, getattr(self, name) + 1)
