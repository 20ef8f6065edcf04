"""JSONata steps: binding of the record, $value and $event; compile and runtime failures."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from mappings.document.model import Condition, ConditionOp, TransformStep
from mappings.engine.conditions import compile_condition
from mappings.errors import ExpressionError, TransformError
from mappings.transforms import build_step
from mappings.transforms.context import RecordContext
from mappings.transforms.expression import compile_expression, narrowed, referenced_names

CHARGE = {
    "id": "ch_1",
    "amount": 1999,
    "currency": "usd",
    "billing_details": {"name": "Jenny Rosen", "email": "jenny@example.com"},
    "metadata": {"order_id": "ord_7"},
    "refunds": {"data": [{"amount": 500}, {"amount": 250}]},
}
EVENT = {"id": "evt_1", "type": "charge.succeeded", "data": {"object": CHARGE}}


def run(expr: str, value: Any = None, event: Any = EVENT) -> Any:
    step = build_step(TransformStep("jsonata", {"expr": expr}))
    return step(value, RecordContext(CHARGE, event))


@pytest.mark.parametrize(
    ("expr", "value", "expected"),
    [
        ("amount", None, 1999),
        ("billing_details.email", None, "jenny@example.com"),
        ("$uppercase(currency)", None, "USD"),
        ("$value & ' (' & $uppercase(currency) & ')'", "19.99", "19.99 (USD)"),
        ("$value * 2", 21, 42),
        ("$value * 2", Decimal("1.5"), 3.0),
        ("$event.type", None, "charge.succeeded"),
        ("$sum(refunds.data.amount)", None, 750),
        ("refunds.data.amount", None, [500, 250]),
        ("{'order': metadata.order_id, 'n': $count(refunds.data)}", None,
         {"order": "ord_7", "n": 2}),
        ("$exists($value) ? $value : 'none'", None, "none"),
        ("nothing.here", None, None),
        ("$value[1]", ["a", "b"], "b"),
    ],
)  # fmt: skip
def test_jsonata(expr: str, value: Any, expected: Any) -> None:
    result = run(expr, value)
    assert result == expected
    if isinstance(expected, list):
        assert type(result) is list  # JSONata's own sequence type does not leak out


def test_event_is_null_without_envelope() -> None:
    assert run("$exists($event) ? 'event' : 'object'", event=None) == "object"


@pytest.mark.parametrize("expr", ["amount +", "foo(", "{'a': }", "(a; b"])
def test_syntax_error_at_build(expr: str) -> None:
    with pytest.raises(ExpressionError, match="invalid JSONata expression") as info:
        build_step(TransformStep("jsonata", {"expr": expr}))
    assert expr in str(info.value)
    assert info.value.__cause__ is not None


@pytest.mark.parametrize(
    "expr",
    ["$number('abc')", "'a' + 1", "$undefinedfunction()", "1/0", "$error('custom failure')"],
)
def test_runtime_error_names_expression_and_cause(expr: str) -> None:
    with pytest.raises(ExpressionError, match="failed") as info:
        run(expr)
    assert repr(expr) in str(info.value)
    assert info.value.__cause__ is not None
    assert isinstance(info.value, TransformError)


@pytest.mark.parametrize(
    ("args", "message"),
    [({}, "missing required argument 'expr'"), ({"expr": "  "}, "expression is empty"),
     ({"expr": 3}, "argument 'expr' must be an expression")],
)  # fmt: skip
def test_build_errors(args: dict, message: str) -> None:
    with pytest.raises(TransformError, match=message):
        build_step(TransformStep("jsonata", args))


def test_python_is_not_reachable() -> None:
    # JSONata has no way into the interpreter: a Python call is an unknown name to it.
    with pytest.raises(ExpressionError, match="failed"):
        run("__import__('os').system('echo pwned')")


# --- input pruning: only the keys an expression names reach jsonata ------------------------


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("amount", {"amount"}),
        ("billing_details.address.city", {"billing_details", "address", "city"}),
        ("refunded ? 'R' : $lookup({'succeeded': 'C'}, status)", {"refunded", "status"}),
        ("a[b = 1].c & `odd key`", {"a", "b", "c", "odd key"}),
        ("$value & 'x'", set()),
        ("$", None),
        ("$$.amount", None),
        ("*", None),
        ("**.city", None),
        ("a.%.b", None),
        ("$keys($)", None),
    ],
)
def test_referenced_names(expr: str, names: set[str] | None) -> None:
    found = referenced_names(compile_expression(expr))
    assert (None if found is None else set(found)) == names


def test_narrowed_keeps_the_named_top_level_keys_only() -> None:
    assert narrowed(CHARGE, frozenset({"currency", "refunds", "absent"})) == {
        "currency": "usd",
        "refunds": CHARGE["refunds"],
    }
    assert narrowed(CHARGE, None) is CHARGE  # an expression that may read any key


def test_conditions_hand_jsonata_python_the_named_keys_only() -> None:
    # refunds.data[0] is beyond the native closures, so jsonata-python decides; a key the
    # expression does not name, holding what jsonata-python cannot read, is not handed over.
    cond = compile_condition(
        Condition(ConditionOp.EXPR, expr="refunds.data[0].amount = 500"), lambda p: None
    )
    assert cond.test({**CHARGE, "unread": {1, 2}}, EVENT, None) is True
    assert cond.test({**CHARGE, "refunds": {"data": []}}, EVENT, None) is False


@pytest.mark.parametrize(
    "expr",
    [
        "refunded = true ? 'Refunded' : $lookup({'succeeded': 'Completed'}, status)",
        "$count($keys($))",
        "billing_details.email & ' / ' & $string(amount)",
        "$sum(items.data.quantity)",
    ],
)
def test_pruned_input_gives_the_same_result(expr: str) -> None:
    record = {
        "refunded": False,
        "status": "succeeded",
        "amount": 1999,
        "billing_details": {"email": "j@example.com"},
        "items": {"data": [{"quantity": 2}, {"quantity": 3}]},
        "unrelated": {"deep": [1, 2, 3]},
    }
    step = build_step(TransformStep("jsonata", {"expr": expr}))
    full = compile_expression(expr).evaluate(record, {"value": None, "event": None})
    assert step(None, RecordContext(record)) == full
