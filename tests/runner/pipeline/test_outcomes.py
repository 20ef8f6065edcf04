"""The one table of task outcomes, and failures turned into task outcomes."""

from __future__ import annotations

import pytest

from runner.classify import Failure
from runner.errors import FatalSyncError
from runner.pipeline.outcomes import ProcessReport, TaskOutcome, failed


@pytest.mark.parametrize(
    ("outcome", "ledger", "metric", "counter"),
    [
        (TaskOutcome.RETRY, None, "retried", "retried"),
        (TaskOutcome.DEAD_LETTERED, "dead_lettered", "dead_lettered", "dead_lettered"),
        (TaskOutcome.REVIEW, "review", "review", "review"),
        (TaskOutcome.WRITTEN, "done", "written", "written"),
        (TaskOutcome.STALE, "stale", "skipped", "stale"),
        (TaskOutcome.SKIPPED, "skipped", "skipped", "skipped"),
    ],
)
def test_outcome_table(outcome, ledger, metric, counter) -> None:
    assert (outcome.ledger, outcome.metric, outcome.counter) == (ledger, metric, counter)
    assert TaskOutcome.of(outcome.value) is outcome
    report = ProcessReport()
    report.count(outcome.value)
    assert getattr(report, counter) == 1


@pytest.mark.parametrize(
    ("outcomes", "strongest"),
    [
        ({TaskOutcome.WRITTEN, TaskOutcome.DEAD_LETTERED}, TaskOutcome.DEAD_LETTERED),
        ({TaskOutcome.WRITTEN, TaskOutcome.REVIEW}, TaskOutcome.REVIEW),
        ({TaskOutcome.STALE, TaskOutcome.WRITTEN}, TaskOutcome.WRITTEN),
        ({TaskOutcome.SKIPPED, TaskOutcome.STALE}, TaskOutcome.STALE),
        ({None}, TaskOutcome.SKIPPED),
        (set(), TaskOutcome.SKIPPED),
    ],
)
def test_an_event_finishes_with_its_strongest_task_outcome(outcomes, strongest) -> None:
    assert TaskOutcome.strongest(outcomes) is strongest


@pytest.mark.parametrize(
    ("failure", "outcome"),
    [(Failure.RETRIABLE, TaskOutcome.RETRY), (Failure.SKIPPABLE, TaskOutcome.DEAD_LETTERED)],
)
def test_failed_follows_outcome_for(failure, outcome) -> None:
    assert failed(failure, "unused") is outcome


def test_a_fatal_failure_stops_with_its_cause() -> None:
    cause = RuntimeError("bad session")
    with pytest.raises(FatalSyncError, match="flow 'x': bad session") as raised:
        failed(Failure.FATAL, "flow 'x': bad session", cause)
    assert raised.value.__cause__ is cause


def test_unknown_outcome_is_named() -> None:
    with pytest.raises(ValueError, match="unknown task outcome 'sometimes'"):
        TaskOutcome.of("sometimes")
