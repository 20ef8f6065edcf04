"""Flow conditions compiled into predicates over (record, event envelope, previous state)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import jsonata

from mappings.document.model import Condition, ConditionOp
from mappings.engine.paths import compile_path
from mappings.errors import DocumentError, ExpressionBudgetError, ExpressionError
from mappings.transforms.expression import evaluate_bounded, narrowed, referenced_names
from mappings.transforms.jsonata_native import DEFER, compile_native

Predicate = Callable[[Any, Any, "Mapping[str, Any] | None"], bool]


@dataclass(frozen=True, slots=True)
class CompiledCondition:
    test: Predicate
    description: str  # "livemode eq False", used in the skip reason


class ConditionEvalError(Exception):
    """A condition could not be evaluated on a record (a JSONata runtime error); ``code`` is
    the issue code the record fails with."""

    def __init__(self, message: str, code: str = "CONDITION_FAILED") -> None:
        super().__init__(message)
        self.code = code


def _num(value: Any) -> Any:
    # Compare Decimal with float by value: Decimal(1.1) != Decimal("1.1") otherwise.
    if isinstance(value, float):
        return Decimal(str(value))
    return value


def _ordered(op: ConditionOp, wanted: Any) -> Callable[[Any], bool]:
    w = _num(wanted)

    def cmp(value: Any) -> bool:
        if value is None or isinstance(value, bool):
            return False
        try:
            v = _num(value)
            if op is ConditionOp.GT:
                return bool(v > w)
            if op is ConditionOp.GE:
                return bool(v >= w)
            if op is ConditionOp.LT:
                return bool(v < w)
            return bool(v <= w)
        except TypeError:
            return False

    return cmp


def compile_condition(
    cond: Condition, resolve: Callable[[str], Callable[..., Any]]
) -> CompiledCondition:
    """``resolve(path)`` returns a getter ``(record, event) -> value`` (handles ``$event.``)."""
    op = cond.op
    if op is ConditionOp.EXPR:
        return _compile_expr(cond)
    if not cond.path:
        raise DocumentError(f"condition {op.value!r} needs a path")
    get = resolve(cond.path)
    wanted = cond.value
    desc = f"{cond.path} {op.value} {wanted!r}" if op not in _UNARY else f"{cond.path} {op.value}"

    test: Predicate
    if op is ConditionOp.EQ:
        test = lambda rec, ev, prev: _equal(get(rec, ev), wanted)  # noqa: E731
    elif op is ConditionOp.NE:
        test = lambda rec, ev, prev: not _equal(get(rec, ev), wanted)  # noqa: E731
    elif op in (ConditionOp.IN, ConditionOp.NOT_IN):
        if not isinstance(wanted, list | tuple | set | frozenset):
            raise DocumentError(f"condition {desc}: 'value' must be a list for {op.value!r}")
        options = list(wanted)
        negate = op is ConditionOp.NOT_IN
        test = lambda rec, ev, prev: any(_equal(get(rec, ev), o) for o in options) != negate  # noqa: E731
    elif op in (ConditionOp.GT, ConditionOp.GE, ConditionOp.LT, ConditionOp.LE):
        cmp = _ordered(op, wanted)
        test = lambda rec, ev, prev: cmp(get(rec, ev))  # noqa: E731
    elif op is ConditionOp.EXISTS:
        test = lambda rec, ev, prev: get(rec, ev) is not None  # noqa: E731
    elif op is ConditionOp.MISSING:
        test = lambda rec, ev, prev: get(rec, ev) is None  # noqa: E731
    elif op is ConditionOp.CHANGED_TO:
        plain = compile_path(cond.path)

        # Without a previous state the record is new: it "becomes" the value by being created.
        def test(rec: Any, ev: Any, prev: Mapping[str, Any] | None) -> bool:
            if not _equal(get(rec, ev), wanted):
                return False
            return prev is None or not _equal(plain(prev), wanted)

    else:  # pragma: no cover - every ConditionOp is handled above
        raise DocumentError(f"unknown condition operator {op!r}")
    return CompiledCondition(test, desc)


_UNARY = (ConditionOp.EXISTS, ConditionOp.MISSING)


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or (isinstance(a, bool) and isinstance(b, bool) and a == b)
    if isinstance(a, int | float | Decimal) and isinstance(b, int | float | Decimal):
        return bool(_num(a) == _num(b))
    return bool(a == b)


def _compile_expr(cond: Condition) -> CompiledCondition:
    if not cond.expr:
        raise DocumentError("an 'expr' condition needs an 'expr' (a JSONata expression)")
    try:
        compiled = jsonata.Jsonata(cond.expr)
    except Exception as exc:  # jsonata raises JException (a RuntimeError) and others
        raise ExpressionError(
            f"condition expression {cond.expr!r} does not compile: {exc}"
        ) from exc

    what = f"condition {cond.expr!r}"
    # jsonata-python walks its whole input first: hand it only the keys the expression names,
    # as the jsonata transform does (a payment intent's condition walked the whole object).
    names = referenced_names(compiled)
    # The same native closures as the jsonata transform: a condition is evaluated per record
    # too, and jsonata-python costs ~100x more for the subset authors write.
    native = compile_native(compiled)

    def test(rec: Any, ev: Any, prev: Mapping[str, Any] | None) -> bool:
        if native is not None:
            out = native(rec, None, ev)
            if out is not DEFER:
                return bool(out)
        try:
            out = evaluate_bounded(
                compiled, narrowed(rec, names), {"event": ev, "previous": prev}, what
            )
        except ExpressionBudgetError as exc:
            raise ConditionEvalError(str(exc), exc.code) from exc
        except Exception as exc:
            raise ConditionEvalError(f"condition {cond.expr!r} failed: {exc}") from exc
        return bool(out)

    return CompiledCondition(test, f"expr {cond.expr!r}")
