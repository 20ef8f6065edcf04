"""Every JSONata evaluation has a time and depth budget: a runaway expression fails the
record with one clear issue instead of stalling the caller (issue 11, finding 1)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from mappings.document.model import (
    Action,
    Condition,
    ConditionOp,
    FieldMapping,
    Flow,
    MappingDocument,
    ObjectRef,
    Operation,
    TransformStep,
    Trigger,
)
from mappings.engine import compile_flow
from mappings.engine.plan import FlowPlan
from mappings.engine.result import MappingResult
from mappings.errors import ExpressionTimeoutError, ExpressionTooDeepError
from mappings.limits import EXPRESSION_MAX_DEPTH, EXPRESSION_TIMEOUT_MS
from mappings.schema.model import System
from mappings.transforms.expression import compile_expression, evaluate_bounded

ENDLESS = "($f := function($x){ $f($x) }; $f(1))"  # tail call: a loop, never a stack overflow
BOTTOMLESS = "($f := function($x){ 1 + $f($x) }; $f(1))"  # grows the stack without end
# Generous: the budget is half a second; the old code never returned at all.
DEADLINE_S = 10 * EXPRESSION_TIMEOUT_MS / 1000


def _plan(expr: str, *, condition: str | None = None) -> FlowPlan:
    flow = Flow(
        name="charge-to-payment",
        trigger=Trigger(stripe_events=["charge.succeeded"]),
        source=ObjectRef(System.STRIPE, "charge"),
        target=ObjectRef(System.SALESFORCE, "Payment__c"),
        operation=Operation(Action.INSERT),
        fields=[
            FieldMapping("Name", ["id"]),
            FieldMapping("Note__c", ["amount"], [TransformStep("jsonata", {"expr": expr})]),
        ],
        conditions=[Condition(ConditionOp.EXPR, expr=condition)] if condition else [],
    )
    return compile_flow(flow, MappingDocument("budget", [flow]))


def _apply_within(plan: FlowPlan, data: dict[str, Any]) -> MappingResult:
    """Apply in a daemon thread so that a hang fails the test instead of stalling pytest."""
    out: list[MappingResult] = []
    worker = threading.Thread(target=lambda: out.append(plan.apply(data)), daemon=True)
    worker.start()
    worker.join(DEADLINE_S)
    assert out, f"FlowPlan.apply did not return within {DEADLINE_S} s"
    return out[0]


@pytest.mark.parametrize(
    ("expr", "code", "budget"),
    [
        (ENDLESS, "EXPRESSION_TIMEOUT", f"{EXPRESSION_TIMEOUT_MS} ms"),
        (BOTTOMLESS, "EXPRESSION_TOO_DEEP", f"{EXPRESSION_MAX_DEPTH} steps"),
        ("[1..10000000] ~> $map(function($v){ $v * 2 }) ~> $sum()", "EXPRESSION_TIMEOUT", "ms"),
    ],
)
def test_a_runaway_field_expression_fails_the_record_with_one_issue(
    expr: str, code: str, budget: str
) -> None:
    result = _apply_within(_plan(expr), {"id": "ch_1", "amount": 100})
    assert not result.ok
    [issue] = result.errors
    assert issue.code == code
    assert issue.field == "Note__c"
    assert budget in issue.message and "Note__c" in issue.message
    assert "JSONata expression" in issue.message
    assert result.record["Name"] == "ch_1"  # the other fields still show in a preview
    assert "Note__c" not in result.record


def test_a_runaway_condition_fails_the_record_with_one_issue() -> None:
    plan = _plan("$value", condition=ENDLESS)
    result = _apply_within(plan, {"id": "ch_1", "amount": 100})
    assert not result.skipped
    [issue] = result.errors
    assert issue.code == "EXPRESSION_TIMEOUT"
    assert "condition" in issue.message and f"{EXPRESSION_TIMEOUT_MS} ms" in issue.message


def test_the_budget_starts_with_each_evaluation_not_at_compile_time() -> None:
    # jsonata's own Timebox starts its clock when it is attached: a compiled expression
    # reused later than the timeout would then fail every record.
    plan = _plan("$value * 2")
    time.sleep(EXPRESSION_TIMEOUT_MS / 1000 + 0.1)
    assert plan.apply({"id": "ch_1", "amount": 21}).record["Note__c"] == 42
    # A failure leaves nothing behind for the next record either.
    assert _apply_within(_plan(BOTTOMLESS), {"amount": 1}).errors
    again = _plan("$value + 1")
    for _ in range(3):
        assert _apply_within(_plan(BOTTOMLESS), {"amount": 1}).errors
        assert again.apply({"amount": 1}).record["Note__c"] == 2


def test_one_compiled_expression_is_safe_from_several_threads() -> None:
    # A runaway record in one thread neither borrows nor spends another thread's budget.
    compiled = compile_expression("$count($filter([1..$value], function($v){ $v % 2 = 0 }))")
    endless = compile_expression(ENDLESS)
    errors: list[BaseException] = []
    counts: list[Any] = []

    def busy(evaluate: Callable[[], Any], times: int) -> None:
        try:
            for _ in range(times):
                counts.append(evaluate())
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    workers = [
        threading.Thread(
            target=busy,
            args=(lambda: evaluate_bounded(compiled, {}, {"value": 200}, "even"), 40),
        )
        for _ in range(3)
    ]
    looping = threading.Thread(
        target=busy, args=(lambda: evaluate_bounded(endless, {}, {}, "endless"), 1)
    )
    for t in [looping, *workers]:
        t.start()
    for t in [looping, *workers]:
        t.join(DEADLINE_S * 2)
    assert [type(e) for e in errors] == [ExpressionTimeoutError]
    assert counts == [100] * 120


def test_deep_python_recursion_inside_an_expression_is_too_deep_not_a_crash() -> None:
    # jsonata walks its whole input (``$``) recursively: a record nested past Python's
    # recursion limit used to escape as a RecursionError.
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(50_000):
        node["a"] = {}
        node = node["a"]
    with pytest.raises(ExpressionTooDeepError):
        evaluate_bounded(compile_expression("$count($keys($))"), deep, {}, "walk")
    result = _plan("$count($keys($))").apply({"id": "ch_1", "nested": deep})
    [issue] = result.errors
    assert issue.code == "EXPRESSION_TOO_DEEP" and issue.field == "Note__c"


def test_an_input_nested_past_python_s_limit_is_an_issue_not_a_crash() -> None:
    # Outside any expression (here a bare deep path read is fine, but json_safe-like walks
    # in validators or lookups may recurse): apply itself never lets a RecursionError out.
    plan = _plan("$value")
    original = plan._apply

    def recursing(*args: Any) -> MappingResult:
        raise RecursionError("maximum recursion depth exceeded")

    plan._apply = recursing  # type: ignore[method-assign]
    try:
        result = plan.apply({"id": "ch_1"})
    finally:
        plan._apply = original  # type: ignore[method-assign]
    [issue] = result.errors
    assert issue.code == "INPUT_TOO_DEEP"
