"""Start-up steps that talk to Salesforce or Stripe, retried while they fail transiently.

A running runner retries everything through :mod:`runner.retry`; start-up used to make one
attempt, so a single 503 on a describe (one start in three with 50 % injected 503s) stopped
``run``. Here a step is retried while its failure is retriable by the project's one
classification (``failure_of`` then ``outcome_for``: "retry"), with the same backoff as
records, until ``runner.startup_wait`` seconds have passed; anything else (bad credentials,
drift, a bad configuration) is raised at once. Giving up is one sentence naming the step,
the wait and the last error. The budget is shared by the whole start, and each describe of
the contract check is retried on its own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from runner.errors import FatalSyncError
from runner.retry import RetryPolicy, backoff, failure_of, outcome_for

if TYPE_CHECKING:
    from runner.contract import Describer

log = logging.getLogger(__name__)

T = TypeVar("T")

# Quicker than a record's backoff (1 s doubling to 5 min): a start waits for a few seconds of
# trouble, and the total is bounded by runner.startup_wait anyway.
STARTUP_POLICY = RetryPolicy(base_delay=0.5, max_delay=10.0)


class StartupError(FatalSyncError):
    """A start-up step still failed when ``runner.startup_wait`` ran out."""


class StartupRetry:
    """The start-up's retry budget: ``wait`` seconds from its creation, shared by every step
    (a login and each describe), so the whole start is bounded, not each step."""

    def __init__(self, wait: float, *, policy: RetryPolicy = STARTUP_POLICY,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.wait = wait
        self.policy = policy
        self.sleep = sleep
        self.clock = clock
        self.started = clock()

    def __call__(self, what: str, step: Callable[[], T]) -> T:
        """``step()``, tried again after transient failures while the budget lasts."""
        attempts = 0
        while True:
            try:
                return step()
            except Exception as exc:
                attempts += 1
                if outcome_for(failure_of(exc)) != "retry":
                    raise
                elapsed = self.clock() - self.started
                remaining = self.wait - elapsed
                if remaining <= 0:
                    tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
                    raise StartupError(
                        f"{what} still failed after {tries}, {elapsed:.0f} s into the start "
                        f"(runner.startup_wait = {self.wait:g} s); giving up") from exc
                delay = min(remaining, backoff(attempts, self.policy, key=what))
                log.warning("%s failed (attempt %d), retrying in %.1f s: %s", what, attempts,
                            delay, exc)
                self.sleep(delay)

    def describer(self, salesforce: Describer) -> Describer:
        """``salesforce`` whose describes are retried (each on its own: the objects already
        described are not asked again)."""
        return _RetriedDescriber(salesforce, self)


class _RetriedDescriber:
    def __init__(self, salesforce: Describer, retry: StartupRetry) -> None:
        self._salesforce = salesforce
        self._retry = retry

    def describe(self, obj: str) -> dict:
        return self._retry(f"describe {obj}", lambda: self._salesforce.describe(obj))
