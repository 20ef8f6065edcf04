"""The runner's error hierarchy.

A sync failure is exactly one of fatal, retriable or skippable: that is a
:class:`runner.classify.Failure` (carried by ``ConnectorError.failure``), and
:func:`runner.retry.outcome_for` alone turns it into stop, retry or dead-letter. Only the
fatal case is an exception of its own, because only it has to unwind the runner.
"""

from __future__ import annotations


class RunnerError(Exception):
    """Root of every error the runner raises on purpose."""


class ConfigError(RunnerError):
    """The runner's configuration or command line is wrong."""


class SandboxError(RunnerError):
    """A local sandbox could not be started or driven."""


class SyncError(RunnerError):
    """A record could not be synced."""


class FatalSyncError(SyncError):
    """Stop: retrying cannot help and continuing would be wrong (bad credentials, drift).

    Raised where :func:`runner.retry.outcome_for` answers "stop"."""
