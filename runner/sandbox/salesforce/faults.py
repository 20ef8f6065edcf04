"""Fault injection for reliability tests: latency, 503s, row locks and dropped connections.

A spec is a comma-separated list such as ``latency=50ms,error503=0.1,lock=0.05,drop=0.02,seed=7``.
Shares are probabilities per API request; with a seed the sequence of faults is reproducible.
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import asdict, dataclass
from typing import Literal

from runner.errors import ConfigError

Fault = Literal["error503", "lock", "drop"]
_SHARES = ("error503", "lock", "drop")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s)?$")


class FaultSpecError(ConfigError):
    """A fault spec cannot be parsed."""


@dataclass(frozen=True, slots=True)
class FaultSpec:
    latency_ms: float = 0.0
    error503: float = 0.0
    lock: float = 0.0
    drop: float = 0.0
    seed: int | None = None

    @classmethod
    def parse(cls, text: str) -> FaultSpec:
        """Parse ``key=value`` pairs; an empty string means no faults."""
        values: dict[str, object] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            key, sep, raw = item.partition("=")
            key, raw = key.strip(), raw.strip()
            if not sep or not raw:
                raise FaultSpecError(f"fault spec item {item!r} is not key=value")
            if key in values:
                raise FaultSpecError(f"fault spec names {key!r} twice")
            if key == "latency":
                match = _DURATION.match(raw)
                if not match:
                    raise FaultSpecError(
                        f"latency {raw!r} is not a duration like 50ms or 0.2s"
                    )
                factor = 1000.0 if match.group(2) == "s" else 1.0
                values["latency_ms"] = float(match.group(1)) * factor
            elif key in _SHARES:
                values[key] = _share(key, raw)
            elif key == "seed":
                try:
                    values["seed"] = int(raw)
                except ValueError:
                    raise FaultSpecError(f"seed {raw!r} is not an integer") from None
            else:
                known = ", ".join(("latency", *_SHARES, "seed"))
                raise FaultSpecError(f"unknown fault {key!r} (known: {known})")
        spec = cls(**values)  # type: ignore[arg-type]
        if spec.error503 + spec.lock + spec.drop > 1.0:
            raise FaultSpecError("the shares error503 + lock + drop add up to more than 1")
        return spec

    @classmethod
    def from_json(cls, data: object) -> FaultSpec:
        """The admin endpoint's body: a spec string or an object of the same keys."""
        if isinstance(data, str):
            return cls.parse(data)
        if not isinstance(data, dict):
            raise FaultSpecError("faults must be a spec string or a JSON object")
        parts = []
        for key, value in data.items():
            if key == "latency_ms":
                key, value = "latency", f"{value}ms"
            parts.append(f"{key}={value}")
        return cls.parse(",".join(parts))

    def as_dict(self) -> dict:
        return asdict(self)


def _share(key: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise FaultSpecError(f"{key} share {raw!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise FaultSpecError(f"{key} share {value} is not between 0 and 1")
    return value


def coerce_spec(spec: FaultSpec | str | None) -> FaultSpec:
    if spec is None:
        return FaultSpec()
    if isinstance(spec, FaultSpec):
        return spec
    return FaultSpec.parse(spec)


class FaultInjector:
    """Draws the fault (if any) for each request; thread-safe and reproducible with a seed."""

    def __init__(self, spec: FaultSpec | str | None = None) -> None:
        self._lock = threading.Lock()
        self.set(spec)

    def set(self, spec: FaultSpec | str | None) -> None:
        with self._lock:
            self.spec = coerce_spec(spec)
            self._random = random.Random(self.spec.seed)

    def draw(self) -> Fault | None:
        with self._lock:
            spec = self.spec
            if not (spec.error503 or spec.lock or spec.drop):
                return None
            roll = self._random.random()
        for name in _SHARES:
            share = getattr(spec, name)
            if roll < share:
                return name  # type: ignore[return-value]
            roll -= share
        return None

    @property
    def latency_seconds(self) -> float:
        return self.spec.latency_ms / 1000.0
