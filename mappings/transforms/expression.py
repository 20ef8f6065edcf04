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
from jsonata.parser import Parser

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


# Node types that reach beyond named keys: the whole input ($ / $$), wildcards, parents.
_WHOLE_INPUT_NODES = frozenset({"wildcard", "descendant", "parent"})


def referenced_names(compiled: jsonata.Jsonata) -> frozenset[str] | None:
    """Every field name the expression mentions anywhere, or None if it may read any key.

    jsonata-python walks its whole input on every evaluation (``validate_input``), which
    for a Stripe charge costs five times the expression itself. Handing it only the
    record's top-level keys the expression names is safe: a key can only be read through a
    name token equal to it, unless the expression uses ``$``/``$$``, a wildcard or a
    parent step, in which case we keep the whole record.
    """
    names: set[str] = set()
    seen: set[int] = set()
    stack: list[Any] = [compiled.ast]
    while stack:
        node = stack.pop()
        if isinstance(node, list | tuple):
            stack.extend(node)
            continue
        if not isinstance(node, Parser.Symbol) or id(node) in seen:
            continue
        seen.add(id(node))
        kind = getattr(node, "type", None)
        if kind in _WHOLE_INPUT_NODES or (kind == "variable" and node.value in ("", "$")):
            return None
        if kind == "name" and isinstance(node.value, str):
            names.add(node.value)
        # Every child (the ternary's else branch is ``_else``), not the owning parser.
        stack.extend(v for k, v in vars(node).items() if k != "_outer_instance")
    return frozenset(names)


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
    names = referenced_names(compiled)

    def step(value: Any, ctx: StepContext) -> Any:
        record = ctx.record
        if names is not None and isinstance(record, Mapping):
            record = {k: record[k] for k in names if k in record}
        try:
            result = compiled.evaluate(
                record, {"value": _to_jsonata(value), "event": ctx.event}
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
