"""Bulk API 2.0 as a transport of the one write path (:class:`BulkUpserts`), for backfills.

The writer still takes every decision (lookups, dedup, key, body); this module only moves
the upserts it planned as one Bulk 2.0 job per group instead of collections calls of 200.
A job failing as a whole is tried again while :func:`runner.retry.outcome_for` says
"retry", a few times, then raised: the backfill stops before its cursor moves and resumes
there. Rows the job left unprocessed with a retriable error go into one more job. Writes of
another kind (a dedup match linked by Id) go through sObject Collections.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from runner.connectors.errors import ConnectorError, RecordOutcome
from runner.errors import FatalSyncError
from runner.pipeline.batching import MAX_BATCH, WriteKind, write_chunk
from runner.retry import outcome_for

if TYPE_CHECKING:
    from runner.connectors.salesforce import SalesforceConnector
    from runner.metrics import Metrics

log = logging.getLogger(__name__)

ATTEMPTS = 3  # jobs per group, the first included
FIRST_DELAY = 1.0  # seconds before the second job; doubled after each


class BulkUpserts:
    """A :class:`runner.pipeline.batching.Transport`: upserts as Bulk API 2.0 jobs (the whole
    group in one job: the backfill sizes its chunks), other writes as collections calls."""

    def __init__(self, salesforce: SalesforceConnector, *, metrics: Metrics | None = None,
                 attempts: int = ATTEMPTS, first_delay: float = FIRST_DELAY,
                 sleep: Callable[[float], None] | None = None) -> None:
        if attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {attempts}")
        self.salesforce = salesforce
        self.metrics = metrics
        self.attempts = attempts
        self.first_delay = first_delay
        self.sleep = sleep if sleep is not None else time.sleep

    def size_for(self, kind: WriteKind) -> int:
        return sys.maxsize if kind == "upsert" else MAX_BATCH

    def send(self, kind: WriteKind, obj: str, key: str | None,
             records: Sequence[dict]) -> list[RecordOutcome] | ConnectorError:
        if kind != "upsert":
            return write_chunk(self.salesforce, kind, obj, key, records, metrics=self.metrics)
        if not key:
            raise ValueError(f"an upsert of {obj} needs an external id field")
        delay = self.first_delay
        for attempt in range(1, self.attempts + 1):
            try:
                outcomes = self._job(obj, key, records)
            except ConnectorError as exc:
                if outcome_for(exc.failure) != "retry" or attempt == self.attempts:
                    raise
                log.warning("bulk upsert of %s failed (%s); retrying in %.0f s", obj, exc, delay)
                self.sleep(delay)
                delay *= 2
                continue
            again = [i for i, o in enumerate(outcomes)
                     if not o.success and o.failure is not None
                     and outcome_for(o.failure) == "retry"]
            if again and attempt < self.attempts:
                self.sleep(delay)
                for i, outcome in zip(again, self._job(obj, key, [records[i] for i in again]),
                                      strict=True):
                    outcomes[i] = outcome
            return outcomes
        raise AssertionError("unreachable")  # pragma: no cover

    def _job(self, obj: str, key: str, records: Sequence[dict]) -> list[RecordOutcome]:
        """One job; a fatal failure of the whole job stops the caller."""
        if self.metrics is not None:
            self.metrics.api_call("bulk")
        try:
            return list(self.salesforce.bulk_upsert(obj, key, records))
        except ConnectorError as exc:
            if outcome_for(exc.failure) == "stop":
                raise FatalSyncError(f"bulk upsert of {obj}: {exc}") from exc
            raise
