"""The runner's error hierarchy.

A sync failure is exactly one of fatal, retriable or skippable; that class alone decides
whether the runner stops, retries with backoff, or dead-letters the record and moves on.
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
    """Stop: retrying cannot help and continuing would be wrong (bad credentials, drift)."""


class RetriableSyncError(SyncError):
    """Try again later with backoff (timeouts, 429, 5xx, UNABLE_TO_LOCK_ROW)."""


class SkippableSyncError(SyncError):
    """This record cannot be synced as it is: dead-letter it and go on (validation errors)."""
