"""Heavy (the pipeline and, through it, the state database): the runner's own write path,
which the studio's test runs take. Imported when the first test run starts."""

from __future__ import annotations

from runner.pipeline.deletion import write_with_deletions
from runner.pipeline.outcomes import TaskOutcome
from runner.pipeline.writer import MemoryLedger, PlannedWrite, SalesforceWriter, WriteItem

__all__ = ["MemoryLedger", "PlannedWrite", "SalesforceWriter", "TaskOutcome", "WriteItem",
           "write_with_deletions"]
