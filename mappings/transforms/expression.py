"""Expression: JSONata (jsonata-python) for the logic the library does not cover.

Binding: the expression's input document (``$`` and bare paths such as ``amount``) is the
source record; ``$value`` is the value the chain has so far (the source value(s) of the
field mapping, or the previous step's result); ``$event`` is the Stripe event envelope
(null when the input was not an event). Decimal values are passed to JSONata as numbers
(it has no decimal type). The expression is compiled once at build time. Never Python
``eval``: JSONata cannot reach the interpreter.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import jsonata

from mappings.errors import ExpressionError
from mappings.transforms.registry import (
    CompileEnv,
    ParamSpec,
    StepContext,
    StepFn,
    TransformSpec,
    register,
)


def compile_expression(expr: str) -> jsonata.Jsonata:
    """A compiled JSONata expression; a syntax error raises ExpressionError."""
    if not expr.strip():
        raise ExpressionError("transform 'jsonata': the expression is empty")
    try:
        return jsonata.Jsonata(expr)
    except Exception as exc:  # jsonata raises JException and, on odd input, others
        raise ExpressionError(f"invalid JSONata expression {expr!r}: {exc}") from exc


def _to_jsonata(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list | tuple):
        return [_to_jsonata(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    """JSONata's results as plain Python: its JList sequences become lists."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _build_jsonata(args: Mapping[str, Any], env: CompileEnv) -> StepFn:
    expr = args["expr"]
    compiled = compile_expression(expr)

    def step(value: Any, ctx: StepContext) -> Any:
        try:
            result = compiled.evaluate(
                ctx.record, {"value": _to_jsonata(value), "event": ctx.event}
            )
        except Exception as exc:
            raise ExpressionError(f"JSONata expression {expr!r} failed: {exc}") from exc
        return _plain(result) if isinstance(result, list | dict) else result

    return step


register(
    TransformSpec(
        name="jsonata",
        label="JSONata expression",
        description=(
            "Evaluate a JSONata expression. The source record is the input document "
            "(write paths like customer or billing_details.email), $value is the value so "
            "far and $event the Stripe event envelope. Example: "
            "$value & ' (' & $uppercase(currency) & ')'."
        ),
        params=(ParamSpec("expr", "expression", required=True, description="JSONata text"),),
        build=_build_jsonata,
        category="expression",
    )
)
