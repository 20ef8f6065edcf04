"""A plain :class:`~mappings.transforms.registry.StepContext` for previews, tests and tools.

The engine may bring its own faster context; this one is the reference behaviour: dot
paths into the record, ``$event.``-prefixed paths into the event envelope, list indexes
as numeric segments, and warnings collected in a list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

EVENT_PREFIX = "$event"


def resolve_path(root: Any, path: str) -> Any:
    """The value at ``path`` (``a.b.0.c``) below ``root``, or None when any step is absent."""
    current = root
    for part in path.split("."):
        if current is None:
            return None
        if isinstance(current, Mapping):
            current = current.get(part)
        elif isinstance(current, list | tuple) and part.lstrip("-").isdigit():
            index = int(part)
            current = current[index] if -len(current) <= index < len(current) else None
        else:
            return None
    return current


@dataclass
class RecordContext:
    record: Mapping[str, Any]
    event: Mapping[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)

    def get(self, path: str) -> Any:
        if path == EVENT_PREFIX:
            return self.event
        if path.startswith(EVENT_PREFIX + "."):
            return resolve_path(self.event, path[len(EVENT_PREFIX) + 1 :])
        return resolve_path(self.record, path)

    def warn(self, message: str) -> None:
        self.warnings.append(message)
