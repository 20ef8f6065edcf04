"""Logic: pick the first present value, fill a missing one, or set a constant."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mappings.transforms.registry import (
    CompileEnv,
    ParamSpec,
    StepContext,
    StepFn,
    TransformSpec,
    register,
)


def _build_coalesce(args: Mapping[str, Any], env: CompileEnv) -> StepFn:
    def step(value: Any, ctx: StepContext) -> Any:
        # The engine hands a list (several sources): tested by type first, since building
        # the ``list | tuple`` union for isinstance costs more than the rest of the step.
        if type(value) is not list and not isinstance(value, list | tuple):
            return None if value == "" else value
        for item in value:
            if item is not None and item != "":
                return item
        return None

    return step


def _build_default(args: Mapping[str, Any], env: CompileEnv) -> StepFn:
    fallback = args["value"]

    def step(value: Any, ctx: StepContext) -> Any:
        return fallback if value is None or value == "" else value

    return step


def _build_constant(args: Mapping[str, Any], env: CompileEnv) -> StepFn:
    constant = args["value"]

    def step(value: Any, ctx: StepContext) -> Any:
        return constant

    return step


register(
    TransformSpec(
        name="coalesce",
        label="First present",
        description="The first source value that is neither null nor empty text (else None).",
        params=(),
        build=_build_coalesce,
        category="logic",
        multi_input=True,
    )
)
register(
    TransformSpec(
        name="default",
        label="Default",
        description="Use value when the current value is null or empty text.",
        params=(ParamSpec("value", "any", required=True, label="Fallback value", description="the fallback"),),
        build=_build_default,
        category="logic",
    )
)
register(
    TransformSpec(
        name="constant",
        label="Constant",
        description="Always value, whatever the source holds.",
        params=(ParamSpec("value", "any", required=True, label="Value", description="the value to write"),),
        build=_build_constant,
        category="logic",
    )
)
