"""The open workspace's environments (``environments.toml``) and which one the studio is
working against now.

Light (the pure :mod:`mappings.environments` only): the title and the status bar show the
current environment from start-up. A workspace without the file has no environments, and
nothing is asked. A protected environment (``prod`` by default) is one the studio asks about
before anything writes to it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mappings.environments import (
    Environment,
    Environments,
    EnvironmentsError,
    environments_path,
    load_environments,
)

__all__ = ["Environment", "EnvironmentState", "EnvironmentsError"]


class EnvironmentState:
    """The workspace's environments and the current one; listeners hear every change."""

    def __init__(self) -> None:
        self.environments: Environments | None = None
        self.current: Environment | None = None
        self.problem: str | None = None  # why the file could not be used, one sentence
        self._listeners: list[Callable[[], None]] = []

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def load(self, workspace: Path | None) -> None:
        """Read the workspace's file (none, or no workspace: no environments); the current
        environment stays when the new file still has it, else it is the first."""
        previous = self.current.name if self.current is not None else None
        self.environments, self.current, self.problem = None, None, None
        if workspace is not None and environments_path(workspace).exists():
            try:
                self.environments = load_environments(workspace)
            except EnvironmentsError as exc:
                self.problem = str(exc)
        if self.environments is not None:
            names = self.environments.names
            self.current = self.environments.get(previous if previous in names else names[0])
        self._changed()

    @property
    def names(self) -> list[str]:
        return self.environments.names if self.environments is not None else []

    def choose(self, name: str) -> Environment:
        if self.environments is None:
            raise EnvironmentsError("the workspace declares no environments "
                                    "(environments.toml)")
        self.current = self.environments.get(name)
        self._changed()
        return self.current

    def next_after(self, name: str | None) -> Environment | None:
        """The environment a bundle from ``name`` is promoted into (None: the last)."""
        if self.environments is None:
            return None
        names = self.environments.names
        if name not in names:
            return self.environments.environments[0]
        index = names.index(name) + 1
        return self.environments.environments[index] if index < len(names) else None

    def needs_confirmation(self, env: Environment | None = None) -> bool:
        """Whether a write to ``env`` (default: the current one) is asked about first."""
        env = env or self.current
        return env is not None and env.protected

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()
