"""The transform registry: what a transform is, how its arguments are checked, how it compiles.

A transform is described once by a :class:`TransformSpec` (its YAML name, its parameters,
its category for the studio's palette) and compiled per field mapping by
:func:`build_step` into a :data:`StepFn`: a plain closure ``(value, ctx) -> value``. All
parsing and validation happens at build time so that the closure applied to every record
does as little as possible; the engine's speed target depends on it.

Conventions every transform follows:

* ``None`` in gives ``None`` out, except ``coalesce``, ``default``, ``constant`` and
  ``jsonata``, whose job is to deal with missing values.
* A value the step cannot use raises :class:`~mappings.errors.TransformError` with a
  message that names the value ("cannot convert 'abc' to a decimal amount").
* A misconfigured step (unknown map table, bad currency code, bad JSONata syntax) raises
  :class:`~mappings.errors.TransformError` from :func:`build_step`, naming the transform.
* Optional parameters whose default is ``None`` are absent from the ``args`` a builder
  receives when the step does not give them, so a builder can tell "not given" from an
  explicit ``null`` (``map`` uses this for its ``default``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from mappings.document.model import RatesTable, TransformStep
from mappings.errors import TransformError
from mappings.schema.model import FieldKind, FieldSchema

PARAM_KINDS = (
    "string",
    "integer",
    "number",
    "boolean",
    "mapping",
    "expression",
    "path",
    "enum",
    "any",  # any YAML value (constant/default values)
)

CATEGORIES = ("money", "time", "text", "lookup", "logic", "structure", "expression")


@dataclass(frozen=True)
class ParamSpec:
    """One argument of a transform as the YAML ``args`` spell it."""

    name: str
    kind: str
    required: bool = False
    default: Any = None
    description: str = ""
    choices: tuple[str, ...] = ()  # for kind == "enum"
    label: str = ""  # the words a form shows ("Currency from"); the YAML keeps ``name``

    def __post_init__(self) -> None:
        if self.kind not in PARAM_KINDS:
            raise ValueError(f"parameter {self.name!r}: unknown kind {self.kind!r}")

    @property
    def title(self) -> str:
        """The parameter in words: its label, else its name with spaces ("skip empty")."""
        return self.label or self.name.replace("_", " ").capitalize()


class StepContext(Protocol):
    """What a compiled step sees besides its value while a record is being mapped."""

    record: Mapping[str, Any]  # the source object (e.g. the charge dict)
    event: Mapping[str, Any] | None  # the Stripe event envelope when the input was an event

    def get(self, path: str) -> Any:
        """The value at a dot path of the record (``$event.type`` on the envelope), or None."""
        ...

    def warn(self, message: str) -> None:
        """Report a non-fatal issue (e.g. a value was truncated)."""
        ...


@dataclass(frozen=True)
class CompileEnv:
    """What a transform may consult when it is built."""

    value_maps: Mapping[str, Mapping[str, Any]]
    rates: RatesTable | None
    target: FieldSchema | None  # the target field of the mapping, None if unknown


EMPTY_ENV = CompileEnv(value_maps={}, rates=None, target=None)

StepFn = Callable[[Any, StepContext], Any]
Builder = Callable[[Mapping[str, Any], CompileEnv], StepFn]


@dataclass(frozen=True)
class TransformSpec:
    name: str
    label: str
    description: str
    params: tuple[ParamSpec, ...]
    build: Builder
    category: str
    output_kind: FieldKind | None = None
    multi_input: bool = False  # the step receives the list of source values

    def param(self, name: str) -> ParamSpec | None:
        return next((p for p in self.params if p.name == name), None)


_REGISTRY: dict[str, TransformSpec] = {}


def register(spec: TransformSpec) -> TransformSpec:
    """Add a transform to the library; a name can be registered once."""
    if spec.category not in CATEGORIES:
        raise ValueError(f"transform {spec.name!r}: unknown category {spec.category!r}")
    if spec.name in _REGISTRY:
        raise ValueError(f"transform {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def get_transform(name: str) -> TransformSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise TransformError(f"unknown transform {name!r}; known: {known}") from None


def all_transforms() -> list[TransformSpec]:
    """Every registered transform, sorted by category then name (the studio's palette)."""
    return sorted(_REGISTRY.values(), key=lambda s: (CATEGORIES.index(s.category), s.name))


def _kind_ok(param: ParamSpec, value: Any) -> bool:
    kind = param.kind
    if kind == "any":
        return True
    if kind in ("string", "expression"):
        return isinstance(value, str)
    if kind == "path":
        # One path, or fallbacks tried in order (API shapes differ: currency vs plan.currency).
        return isinstance(value, str) or (
            isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)
        )
    if kind == "enum":
        return isinstance(value, str) and value in param.choices
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float | Decimal) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "mapping":
        return isinstance(value, Mapping)
    return False  # pragma: no cover - kinds are checked in ParamSpec


def _expected(param: ParamSpec) -> str:
    if param.kind == "enum":
        return "one of " + ", ".join(repr(c) for c in param.choices)
    article = "an" if param.kind[0] in "aeiou" else "a"
    return f"{article} {param.kind}"


def check_args(spec: TransformSpec, args: Mapping[str, Any]) -> dict[str, Any]:
    """The step's arguments checked against the spec and completed with defaults."""
    if not isinstance(args, Mapping):
        raise TransformError(f"transform {spec.name!r}: args must be a mapping, got {args!r}")
    known = {p.name: p for p in spec.params}
    for name in args:
        if name not in known:
            allowed = ", ".join(known) or "none"
            raise TransformError(
                f"transform {spec.name!r}: unknown argument {name!r} (allowed: {allowed})"
            )
    checked: dict[str, Any] = {}
    for param in spec.params:
        if param.name in args:
            value = args[param.name]
            if not _kind_ok(param, value):
                raise TransformError(
                    f"transform {spec.name!r}: argument {param.name!r} must be "
                    f"{_expected(param)}, got {value!r}"
                )
            checked[param.name] = value
        elif param.required:
            raise TransformError(
                f"transform {spec.name!r}: missing required argument {param.name!r}"
            )
        elif param.default is not None:
            checked[param.name] = param.default
    return checked


def build_step(step: TransformStep, env: CompileEnv = EMPTY_ENV) -> StepFn:
    """Compile one step of a chain; every misconfiguration raises TransformError here."""
    spec = get_transform(step.name)
    args = check_args(spec, step.args or {})
    return spec.build(args, env)


def one_of(spec_name: str, args: Mapping[str, Any], *names: str) -> str:
    """The single argument among ``names`` that is given; helper for "x or x_path" params."""
    given = [n for n in names if n in args]
    if len(given) != 1:
        choices = " or ".join(repr(n) for n in names)
        if given:
            raise TransformError(f"transform {spec_name!r}: give only one of {choices}")
        raise TransformError(f"transform {spec_name!r}: give {choices}")
    return given[0]
