"""Errors of the state store."""

from __future__ import annotations

from runner.errors import RunnerError


class StateError(RunnerError):
    """The state database cannot be opened, migrated or used as asked."""


class NotFoundError(StateError, LookupError):
    """No dead letter / review item / event with that id."""
