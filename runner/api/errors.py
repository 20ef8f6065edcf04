"""Light: the runner's errors the studio catches or reports."""

from __future__ import annotations

from runner.errors import ConfigError, FatalSyncError, RunnerError

__all__ = ["ConfigError", "FatalSyncError", "RunnerError"]
