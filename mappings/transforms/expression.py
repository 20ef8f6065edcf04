"""Expression: JSONata (jsonata-python) for the logic the library does not cover.

The subset authors usually write (paths, conditionals, comparisons, string functions,
arithmetic, ``$lookup`` on a literal table) runs as native closures built once by
:mod:`mappings.transforms.jsonata_native`; the rest, and any record those closures are not
certain about, runs in jsonata-python within the budget of :func:`evaluate_bounded`.

Binding: the expression's input document (``$`` and bare paths such as ``amount``) is the
source record; ``$value`` is the value the chain has so far (the source value(s) of the
field mapping, or the previous step's result); ``$event`` is the Stripe event envelope
(null when the input was not an event). Decimal values are passed to JSONata as numbers
(it has no decimal type). The expression is compiled once at build time. Never Python
``eval``: JSONata cannot reach the interpreter.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import jsonata
from jsonata.parser import Parser

from mappings.errors import (
    ExpressionBudgetError,
    ExpressionError,
    ExpressionTimeoutError,
    ExpressionTooDeepError,
)
from mappings.limits import EXPRESSION_MAX_DEPTH, EXPRESSION_TIMEOUT_MS
from mappings.transforms.jsonata_native import (
    DEFER,
    NativeExpression,
    compile_native,
    to_jsonata,
)
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


# The clock is read once every this many evaluation steps: a step costs about a microsecond,
# so a runaway loop is stopped within a fraction of a millisecond of its budget.
_CLOCK_EVERY = 32


class _Budget:
    """One evaluation's time and depth budget, fed by jsonata's entry/exit callbacks.

    jsonata-python's own ``set_runtime_bounds`` (``jsonata.timebox``) is not usable here: it
    binds one counter to the compiled expression's frame, so its clock starts at compile time,
    its depth leaks on every error and threads sharing the expression share the counter.
    A budget is made per evaluation and handed in with the bindings instead, so nothing is
    shared. Once exceeded it stays exceeded: an error jsonata swallows or rewraps (``and``,
    ``$eval``) is raised again at the next step and recognised after the evaluation.
    """

    __slots__ = ("deadline", "depth", "ticks", "exceeded", "what")

    def __init__(self, what: str) -> None:
        self.deadline = time.monotonic() + EXPRESSION_TIMEOUT_MS / 1000
        self.depth = 0
        self.ticks = _CLOCK_EVERY
        self.exceeded: ExpressionBudgetError | None = None
        self.what = what

    def enter(self, _expr: Any, _input: Any, _env: Any) -> None:
        self.depth += 1
        if self.depth > EXPRESSION_MAX_DEPTH:
            self._exceed(
                ExpressionTooDeepError(
                    f"{self.what} nested deeper than its budget of {EXPRESSION_MAX_DEPTH} "
                    "steps (a function that calls itself without end?)"
                )
            )
        self.ticks -= 1
        if not self.ticks:
            self.ticks = _CLOCK_EVERY
            if time.monotonic() > self.deadline:
                self._exceed(
                    ExpressionTimeoutError(
                        f"{self.what} ran longer than its budget of {EXPRESSION_TIMEOUT_MS} ms "
                        "(an endless loop?)"
                    )
                )
        if self.exceeded is not None:
            raise self.exceeded

    def leave(self, _expr: Any, _input: Any, _env: Any, _result: Any) -> None:
        self.depth -= 1

    def _exceed(self, error: ExpressionBudgetError) -> None:
        if self.exceeded is None:
            self.exceeded = error


def evaluate_bounded(
    compiled: jsonata.Jsonata, data: Any, bindings: dict[str, Any], what: str
) -> Any:
    """``compiled.evaluate(data, bindings)`` within the budget of :mod:`mappings.limits`.

    Raises :class:`ExpressionTimeoutError` or :class:`ExpressionTooDeepError` (naming
    ``what``, e.g. "JSONata expression '...'") when it goes over; other failures propagate
    as jsonata raised them. Safe to call from several threads on one compiled expression.
    """
    budget = _Budget(what)
    bindings["__evaluate_entry"] = budget.enter
    bindings["__evaluate_exit"] = budget.leave
    try:
        return compiled.evaluate(data, bindings)
    except Exception as exc:
        if budget.exceeded is not None:
            raise budget.exceeded from None
        if _recursion(exc):
            raise ExpressionTooDeepError(
                f"{what} recursed deeper than Python allows (a function that calls itself "
                "without end?)"
            ) from None
        raise


def _recursion(exc: BaseException) -> bool:
    """Whether ``exc`` is, or was raised while handling, a RecursionError (jsonata rewraps
    errors inside ``and``/``or`` as "Unexpected")."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 8:
        if isinstance(current, RecursionError):
            return True
        current = current.__cause__ or current.__context__
        seen += 1
    return False


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


def narrowed(record: Any, names: frozenset[str] | None) -> Any:
    """What jsonata-python is handed of ``record``: only the top-level keys the expression
    names (see :func:`referenced_names`), or all of it when it may read any key."""
    if names is not None and isinstance(record, Mapping):
        return {k: record[k] for k in names if k in record}
    return record


def _short(expr: str, limit: int = 80) -> str:
    """The expression quoted for a message, cut to one readable line."""
    text = " ".join(expr.split())
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _plain(value: Any) -> Any:
    """JSONata's results as plain Python: its JList sequences become lists."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


# (record, value so far, event envelope) -> result
Evaluator = Callable[[Any, Any, Any], Any]


def compile_evaluator(expr: str) -> Evaluator:
    """``expr`` compiled once: native closures where they are certain, jsonata-python within
    the budget of :func:`evaluate_bounded` otherwise. A syntax error raises ExpressionError
    now; a failing record raises ExpressionError (or the budget's error) when evaluated."""
    native, interpret = _compile_both(expr)
    if native is None:
        return interpret

    def evaluate(record: Any, value: Any, event: Any) -> Any:
        result = native(record, value, event)
        return result if result is not DEFER else interpret(record, value, event)

    return evaluate


def _compile_both(expr: str) -> tuple[NativeExpression | None, Evaluator]:
    """The native closures of ``expr`` (None when it is beyond them), and its evaluation in
    jsonata-python, for the records the native closures defer."""
    compiled = compile_expression(expr)
    names = referenced_names(compiled)
    what = f"JSONata expression {_short(expr)}"

    def interpret(record: Any, value: Any, event: Any) -> Any:
        try:
            result = evaluate_bounded(
                compiled, narrowed(record, names), {"value": to_jsonata(value), "event": event}, what
            )
        except ExpressionBudgetError:
            raise
        except Exception as exc:
            raise ExpressionError(f"JSONata expression {expr!r} failed: {exc}") from exc
        return _plain(result) if isinstance(result, list | dict) else result

    return compile_native(compiled), interpret


def _build_jsonata(args: Mapping[str, Any], env: CompileEnv) -> StepFn:
    native, interpret = _compile_both(args["expr"])
    if native is None:
        return lambda value, ctx: interpret(ctx.record, value, ctx.event)

    def step(value: Any, ctx: StepContext) -> Any:
        # compile_evaluator's evaluate, inlined: a JSONata field costs one call less per record.
        record, event = ctx.record, ctx.event
        result = native(record, value, event)
        return result if result is not DEFER else interpret(record, value, event)

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
        params=(
            ParamSpec(
                "expr", "expression", required=True, label="Formula", description="JSONata text"
            ),
        ),
        build=_build_jsonata,
        category="expression",
    )
)
