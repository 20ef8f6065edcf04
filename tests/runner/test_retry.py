"""The retry decision as a table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from runner.classify import Failure
from runner.errors import FatalSyncError, SyncError
from runner.retry import RetryDecision, RetryPolicy, backoff, decide, failure_of, outcome_for

EXACT = RetryPolicy(jitter=0.0)  # no jitter: delays are exact powers of two


@pytest.mark.parametrize(
    ("failure", "attempts", "error_code", "action", "delay"),
    [
        (Failure.RETRIABLE, 1, None, "retry", 1.0),
        (Failure.RETRIABLE, 2, None, "retry", 2.0),
        (Failure.RETRIABLE, 3, None, "retry", 4.0),
        (Failure.RETRIABLE, 7, None, "retry", 64.0),
        (Failure.RETRIABLE, 8, None, "dead_letter", 0.0),  # max_attempts reached
        (Failure.RETRIABLE, 50, None, "dead_letter", 0.0),
        (Failure.RETRIABLE, 1, "UNABLE_TO_LOCK_ROW", "retry", 1.0),
        (Failure.RETRIABLE, 1, "REQUEST_LIMIT_EXCEEDED", "retry", 60.0),
        (Failure.RETRIABLE, 3, "REQUEST_LIMIT_EXCEEDED", "retry", 240.0),
        (Failure.RETRIABLE, 7, "REQUEST_LIMIT_EXCEEDED", "retry", 3600.0),  # capped at 1 h
        (Failure.SKIPPABLE, 1, "REQUIRED_FIELD_MISSING", "dead_letter", 0.0),
        (Failure.SKIPPABLE, 5, None, "dead_letter", 0.0),
        (Failure.FATAL, 1, "INVALID_SESSION_ID", "stop", 0.0),
        (Failure.FATAL, 8, None, "stop", 0.0),
        ("retriable", 2, None, "retry", 2.0),  # the enum's value works too
    ],
)
def test_decision_table(failure, attempts, error_code, action, delay):
    decision = decide(failure, attempts, EXACT, error_code=error_code)
    assert (decision.action, decision.delay) == (action, delay)
    assert decision.reason


@pytest.mark.parametrize(
    ("failure", "action"),
    [
        (Failure.FATAL, "stop"),
        (Failure.RETRIABLE, "retry"),
        (Failure.SKIPPABLE, "dead_letter"),  # skippable: keep it for a person, go on
        ("skippable", "dead_letter"),
    ],
)
def test_outcome_for_table(failure, action):
    assert outcome_for(failure) == action
    # The first attempt's decision is the same answer.
    assert decide(failure, 1).action == action


def test_outcome_for_refuses_an_unknown_class():
    with pytest.raises(ValueError, match="unknown failure class 'sometimes'"):
        outcome_for("sometimes")


@pytest.mark.parametrize(
    ("policy", "attempts", "delay"),
    [
        (RetryPolicy(jitter=0.0, max_attempts=20), 9, 256.0),
        (RetryPolicy(jitter=0.0, max_attempts=20), 10, 300.0),  # capped at max_delay
        (RetryPolicy(jitter=0.0, max_attempts=1000), 999, 300.0),  # no overflow
        (RetryPolicy(jitter=0.0, base_delay=0.5, multiplier=3.0), 3, 4.5),
    ],
)
def test_backoff_growth_and_cap(policy, attempts, delay):
    assert decide(Failure.RETRIABLE, attempts, policy).delay == delay


def test_max_attempts_one_never_retries():
    assert decide(Failure.RETRIABLE, 1, RetryPolicy(max_attempts=1)).action == "dead_letter"


def test_jitter_is_deterministic_per_key_and_bounded():
    policy = RetryPolicy()  # jitter 0.2
    delays = {key: decide(Failure.RETRIABLE, 4, policy, key=key).delay
              for key in (f"evt_{i}" for i in range(200))}
    assert all(8.0 * 0.8 <= d <= 8.0 for d in delays.values())
    assert len(set(delays.values())) > 150  # keys spread out instead of bunching up
    assert decide(Failure.RETRIABLE, 4, policy, key="evt_7").delay == delays["evt_7"]
    # The seed changes the spread, the same seed repeats it.
    reseeded = RetryPolicy(seed=1)
    assert decide(Failure.RETRIABLE, 4, reseeded, key="evt_7").delay != delays["evt_7"]
    assert backoff(4, reseeded, key="evt_7") == decide(
        Failure.RETRIABLE, 4, reseeded, key="evt_7").delay


def test_retry_at_counts_from_now():
    now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    assert RetryDecision("retry", delay=2.5).retry_at(now) == now + timedelta(seconds=2.5)


@pytest.mark.parametrize(
    ("failure", "attempts", "message"),
    [
        ("sometimes", 1, "unknown failure class 'sometimes'"),
        (Failure.RETRIABLE, 0, "attempts must be a whole number >= 1, got 0"),
        (Failure.RETRIABLE, 1.5, "attempts must be a whole number"),
        (Failure.RETRIABLE, True, "attempts must be a whole number"),
    ],
)
def test_bad_arguments_are_named(failure, attempts, message):
    with pytest.raises(ValueError, match=message):
        decide(failure, attempts)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_attempts": 0}, "max_attempts must be at least 1"),
        ({"base_delay": -1}, "base_delay must not be negative"),
        ({"limit_max_delay": -5}, "limit_max_delay must not be negative"),
        ({"multiplier": 0.5}, "multiplier must be at least 1"),
        ({"jitter": 1.0}, r"jitter must be in \[0, 1\)"),
    ],
)
def test_bad_policies_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RetryPolicy(**kwargs)


class CarriesFailure(Exception):
    def __init__(self, failure):
        super().__init__("connector said so")
        self.failure = failure


@pytest.mark.parametrize(
    ("error", "failure"),
    [
        (FatalSyncError("drift"), Failure.FATAL),
        (SyncError("unclassified"), Failure.FATAL),
        (RuntimeError("bug"), Failure.FATAL),
        (CarriesFailure(Failure.RETRIABLE), Failure.RETRIABLE),
        (CarriesFailure("skippable"), Failure.SKIPPABLE),
    ],
)
def test_failure_of_errors(error, failure):
    assert failure_of(error) is failure
