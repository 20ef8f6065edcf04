"""The retry decision: given how a failure is classified and how many attempts were made,
retry later, dead-letter, or stop.

Pure on purpose (no clock, no randomness, no I/O), so the whole policy is a table in the
tests. The jitter that spreads retries of many records is derived from a key (the event or
record id) and a seed, so the same failure of the same record always waits the same time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from runner.classify import Failure

# Salesforce's daily API budget is spent: retrying within seconds only burns more calls.
LIMIT_ERROR_CODES = frozenset({"REQUEST_LIMIT_EXCEEDED"})

# There is no "skip" action: a skippable failure means "this record cannot go as it is",
# and the record is kept in the dead-letter queue (dead_letter) while the runner goes on.
# Events no flow handles are never failures; the pipeline finishes them without asking here.
Action = Literal["retry", "dead_letter", "stop"]

_FIRST_ACTION: dict[Failure, Action] = {
    Failure.FATAL: "stop",
    Failure.RETRIABLE: "retry",
    Failure.SKIPPABLE: "dead_letter",
}


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff: ``base_delay * multiplier ** (attempts - 1)``, capped.

    ``jitter`` is the fraction by which a delay may be shortened (0.2: between 80 % and
    100 % of the backoff), so that capped delays do not bunch up on the same instant.
    """

    max_attempts: int = 8
    base_delay: float = 1.0
    max_delay: float = 300.0
    multiplier: float = 2.0
    jitter: float = 0.2
    limit_base_delay: float = 60.0  # REQUEST_LIMIT_EXCEEDED starts here ...
    limit_max_delay: float = 3600.0  # ... and may wait up to an hour
    seed: int = 0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(
                f"RetryPolicy.max_attempts must be at least 1, got {self.max_attempts}"
            )
        for name in ("base_delay", "max_delay", "limit_base_delay", "limit_max_delay"):
            if getattr(self, name) < 0:
                raise ValueError(
                    f"RetryPolicy.{name} must not be negative, got {getattr(self, name)}"
                )
        if self.multiplier < 1:
            raise ValueError(f"RetryPolicy.multiplier must be at least 1, got {self.multiplier}")
        if not 0 <= self.jitter < 1:
            raise ValueError(f"RetryPolicy.jitter must be in [0, 1), got {self.jitter}")


DEFAULT_POLICY = RetryPolicy()


@dataclass(frozen=True)
class RetryDecision:
    """What to do with a failed attempt.

    ``action`` is "retry" (after ``delay`` seconds), "dead_letter" (keep the record for a
    person, go on), or "stop" (the runner cannot go on).
    """

    action: Action
    delay: float = 0.0
    reason: str = ""

    def retry_at(self, now: datetime) -> datetime:
        """When to try again, counted from ``now``."""
        return now + timedelta(seconds=self.delay)


def _unit(seed: int, key: str, attempts: int) -> float:
    """A number in [0, 1) fixed by (seed, key, attempts)."""
    digest = hashlib.sha256(f"{seed}|{key}|{attempts}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def backoff(attempts: int, policy: RetryPolicy, *, error_code: str | None = None,
            key: str = "") -> float:
    """Seconds to wait after the ``attempts``-th failed attempt."""
    if error_code in LIMIT_ERROR_CODES:
        base, cap = policy.limit_base_delay, policy.limit_max_delay
    else:
        base, cap = policy.base_delay, policy.max_delay
    # min() before the power would overflow for large attempt counts.
    exponent = min(attempts - 1, 64)
    delay = min(cap, base * policy.multiplier**exponent)
    return delay * (1 - policy.jitter * _unit(policy.seed, key, attempts))


def _failure(failure: Failure | str) -> Failure:
    try:
        return Failure(failure)
    except ValueError as exc:
        choices = ", ".join(f.value for f in Failure)
        raise ValueError(f"unknown failure class {failure!r}; expected one of {choices}") from exc


def outcome_for(failure: Failure | str) -> Action:
    """What a failure class means, before counting attempts: fatal stops the runner,
    retriable is tried again, skippable is dead-lettered (the runner goes on)."""
    return _FIRST_ACTION[_failure(failure)]


def decide(failure: Failure | str, attempts: int, policy: RetryPolicy = DEFAULT_POLICY, *,
           error_code: str | None = None, key: str = "") -> RetryDecision:
    """Decide after a failed attempt.

    ``attempts`` counts the attempts made so far, the failed one included (1 after the first
    failure). ``error_code`` (e.g. Salesforce's REQUEST_LIMIT_EXCEEDED) picks the longer
    backoff; ``key`` (event or record id) fixes the jitter.
    """
    action = outcome_for(failure)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        raise ValueError(f"attempts must be a whole number >= 1, got {attempts!r}")
    if action == "stop":
        return RetryDecision("stop", reason="fatal failure: retrying cannot help")
    if action == "dead_letter":
        return RetryDecision("dead_letter", reason="the record cannot be synced as it is")
    if attempts >= policy.max_attempts:
        return RetryDecision(
            "dead_letter",
            reason=f"still failing after {attempts} attempts (max {policy.max_attempts})",
        )
    delay = backoff(attempts, policy, error_code=error_code, key=key)
    return RetryDecision("retry", delay=delay, reason=f"attempt {attempts} failed, retrying")


def failure_of(error: BaseException) -> Failure:
    """The failure class carried by a runner error.

    Connector errors carry ``.failure``. Anything else (``FatalSyncError`` included) is
    fatal: an unexpected error stops the runner rather than being retried blindly.
    """
    carried = getattr(error, "failure", None)
    if carried is not None:
        return _failure(carried)
    return Failure.FATAL
