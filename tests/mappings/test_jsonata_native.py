"""Native JSONata closures agree with jsonata-python: random expressions of every supported form
on random records, and every expression of every shipped template on its fixtures."""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonata
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mappings.document.model import Condition, ConditionOp
from mappings.document.yamlio import load_document
from mappings.engine import compile_flow, json_safe
from mappings.engine.conditions import ConditionEvalError, compile_condition
from mappings.schema.model import System
from mappings.schema.org_metadata import load_salesforce_catalog
from mappings.schema.stripe_catalog import load_stripe_catalog
from mappings.schema.stripe_events import split_event
from mappings.transforms import expression
from mappings.transforms.jsonata_native import DEFER, compile_native, to_jsonata

TEMPLATES = sorted((Path(__file__).resolve().parents[2] / "mappings" / "templates").glob("*.yaml"))

# -- random values -------------------------------------------------------------------------

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**60), max_value=2**60),
    st.sampled_from([0, 1, -1, 2, 10, 255, 0.0, 1.0, 0.5, -2.5, 1e21, 1e-7, 123.456]),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.sampled_from(
        ["", "a", "abc", " x  y ", "succeeded", "paid", "usd", "A-b_c", "true", "0", "1.5", "é"]
    ),
    st.text(max_size=8),
)
_json = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["x", "y", "z", "a"]), inner, max_size=3),
    ),
    max_leaves=6,
)
_KEYS = ["a", "b", "n", "s", "d", "status", "refunded"]
_records = st.one_of(
    st.dictionaries(st.sampled_from(_KEYS), _json, max_size=len(_KEYS)),
    st.fixed_dictionaries(
        {k: _scalars for k in ("a", "b", "n", "s", "status", "refunded")},
        optional={"d": st.dictionaries(st.sampled_from(["x", "y", "z"]), _json, max_size=3)},
    ),
)
_values = st.one_of(
    _json,
    st.decimals(
        allow_nan=False, allow_infinity=False, places=2, min_value=-(10**6), max_value=10**6
    ),
    st.lists(st.one_of(st.none(), st.text(max_size=3)), max_size=3),
)
_events = st.one_of(st.none(), st.fixed_dictionaries({"type": _scalars, "data": _json}))

# -- random expressions of the supported forms -----------------------------------------------

_paths = st.sampled_from(
    ["a", "b", "n", "s", "d", "d.x", "d.x.y", "d.z", "status", "refunded", "missing", "a.b",
     "$value", "$value.x", "$event", "$event.type", "$event.data.x", "$event.data.x.y"]
)  # fmt: skip
_literals = st.sampled_from(
    ["'foo'", "''", "'paid'", "'1'", "0", "1", "2", "2.5", "-3", "1e3", "true", "false", "null"]
)
_number_pictures = st.sampled_from(["'0.00'", "'#,##0.00'", "'0'", "'#0.###'", "'000'", "'0.0e0'",
                                   "'x'", "''", "s"])  # fmt: skip
_date_pictures = st.sampled_from(["'[Y0001]-[M01]-[D01]'", "'[H01]:[m01]'", "'[D1o] [MNn]'", "''",
                                  "s"])  # fmt: skip
_UNARY_FUNCS = ["string", "uppercase", "lowercase", "trim", "length", "exists", "boolean", "not",
                "number", "round", "abs", "floor", "ceil"]  # fmt: skip
_OPS = ["=", "!=", "<", "<=", ">", ">=", "and", "or", "+", "-", "*", "/", "%", "&"]


def _expressions() -> st.SearchStrategy[str]:
    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.builds(lambda c, t, e: f"({c} ? {t} : {e})", inner, inner, inner),
            st.builds(lambda c, t: f"({c} ? {t})", inner, inner),
            st.builds(lambda a, op, b: f"({a} {op} {b})", inner, st.sampled_from(_OPS), inner),
            st.builds(lambda a: f"-({a})", inner),
            st.builds(lambda f, a: f"${f}({a})", st.sampled_from(_UNARY_FUNCS), inner),
            st.builds(lambda a, b: f"$round({a}, {b})", inner, inner),
            st.builds(lambda a, b: f"$substring({a}, {b})", inner, inner),
            st.builds(lambda a, b, c: f"$substring({a}, {b}, {c})", inner, inner, inner),
            st.builds(lambda a, b: f"$substringBefore({a}, {b})", inner, inner),
            st.builds(lambda a, b: f"$substringAfter({a}, {b})", inner, inner),
            st.builds(lambda a, b: f"$contains({a}, {b})", inner, inner),
            st.builds(lambda a, b, c: f"$replace({a}, {b}, {c})", inner, inner, inner),
            st.builds(lambda a, b, c: f"$pad({a}, {b}, {c})", inner, inner, inner),
            st.builds(lambda a, b: f"$pad({a}, {b})", inner, inner),
            st.builds(lambda a, b, c: f"$join([{a}, {b}], {c})", inner, inner, inner),
            st.builds(lambda s: f"$join($value, {s})", inner),
            st.builds(
                lambda k: (
                    f"$lookup({{'succeeded': 'Completed', 'paid': 'Completed', 'one': 1, "
                    f"'two': 2.0, 'nil': null, 'yes': true}}, {k})"
                ),
                inner,
            ),
            st.builds(lambda a, p: f"$formatNumber({a}, {p})", inner, _number_pictures),
            st.builds(lambda a: f"$fromMillis({a})", inner),
            st.builds(lambda a, p: f"$fromMillis({a}, {p})", inner, _date_pictures),
            st.builds(lambda a: f"({a})", inner),
        )

    return st.recursive(st.one_of(_paths, _literals), extend, max_leaves=6)


def _same(native: Any, expected: Any) -> bool:
    """Equal and of the same type (1, 1.0 and True are all equal in Python)."""
    if type(native) is not type(expected):
        return False
    if isinstance(native, float) and math.isnan(native):
        return math.isnan(expected)
    return bool(native == expected)


def _jsonata(compiled: jsonata.Jsonata, record: Any, value: Any, event: Any) -> tuple[str, Any]:
    try:
        out = compiled.evaluate(record, {"value": to_jsonata(value), "event": event})
    except Exception as exc:  # noqa: BLE001 - any error: the native must defer
        return "error", f"{type(exc).__name__}: {exc}"
    return "value", out


def _check_agreement(expr: str, record: dict[str, Any], value: Any, event: Any) -> None:
    compiled = jsonata.Jsonata(expr)
    native = compile_native(compiled)
    assert native is not None, f"{expr} is of a supported form but was not compiled"
    got = native(record, value, event)
    outcome, expected = _jsonata(compiled, record, value, event)
    if got is DEFER:
        return  # jsonata-python evaluates this record: equal by construction
    assert outcome == "value", f"{expr}: native gave {got!r}, jsonata-python {expected}"
    assert _same(got, expected), f"{expr}: native {got!r} != jsonata-python {expected!r}"


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(expr=_expressions(), record=_records, value=_values, event=_events)
def test_native_agrees_with_jsonata_python(
    expr: str, record: dict[str, Any], value: Any, event: Any
) -> None:
    _check_agreement(expr, record, value, event)


@pytest.mark.slow
@pytest.mark.timeout(1500)
@settings(max_examples=2500, deadline=None, suppress_health_check=list(HealthCheck))
@given(expr=_expressions(), record=_records, value=_values, event=_events)
def test_native_agrees_with_jsonata_python_at_length(
    expr: str, record: dict[str, Any], value: Any, event: Any
) -> None:
    _check_agreement(expr, record, value, event)


# -- the native closures do take the common records (else they would only cost time) ------------

CHARGE = {
    "id": "ch_1",
    "amount": 1999,
    "currency": "usd",
    "status": "succeeded",
    "refunded": False,
    "description": None,
    "billing_details": {"name": "Jenny Rosen", "email": None},
}


@pytest.mark.parametrize(
    ("expr", "value", "expected"),
    [
        ("refunded = true ? 'Refunded' : $lookup({'succeeded': 'Completed'}, status)", None,
         "Completed"),
        ("$uppercase(currency) & ' ' & $string(amount / 100)", None, "USD 19.99"),
        ("$string(1.0)", None, "1"),
        ("amount % 7 + 0.5", None, 4.5),
        ("billing_details.email", None, None),
        ("$exists(billing_details.email) and $not(description)", None, True),
        ("$exists(nothing) or nothing = null", None, False),
        ("$join([billing_details.name, currency, nothing], '/')", None, "Jenny Rosen/usd"),
        ("$value * 2", Decimal("1.5"), 3),
        ("$substring($value, 0, 3) & $pad('x', -3, '*')", "abcdef", "abc**x"),
        ("$replace(currency, 'u', 'U')", None, "Usd"),
        ("$event.type", None, "charge.succeeded"),
        ("$length($trim('  a   b ')) < 4 ? $round(2.567, 2)", None, 2.57),
    ],
)  # fmt: skip
def test_native_handles_common_records(expr: str, value: Any, expected: Any) -> None:
    native = compile_native(jsonata.Jsonata(expr))
    assert native is not None
    got = native(CHARGE, value, {"type": "charge.succeeded"})
    assert got is not DEFER
    assert _same(got, expected), got


@pytest.mark.parametrize(
    "expr",
    [
        "$sum(refunds.data.amount)",
        "refunds.data[0]",
        "{'a': 1}",
        "[1, 2]",
        "($x := 1; $x)",
        "function($x) { $x }(1)",
        "$f := function($n) { $f($n) }",
        "$now()",
        "**.x",
        "$formatBase(10, 2)",
        "$formatNumber(1, '0.00', {'decimal-separator': ','})",
        "$lookup($value, 'k')",
        "$uppercase()",
        "a.(b & c)",
        "$$.a",
    ],
)
def test_other_forms_are_left_to_jsonata_python(expr: str) -> None:
    assert compile_native(jsonata.Jsonata(expr)) is None


def test_deep_trees_are_left_to_jsonata_python() -> None:
    assert compile_native(jsonata.Jsonata("(" * 40 + "a" + ")" * 40)) is None
    assert compile_native(jsonata.Jsonata(" & ".join(["a"] * 300))) is None


# -- every shipped template, engine with and without the native closures ------------------------


def _template_flows() -> list[tuple[str, Any, Any]]:
    out = []
    for path in TEMPLATES:
        doc = load_document(path)
        for flow in doc.flows:
            out.append((f"{path.stem}/{flow.name}", doc, flow))
    return out


def _schema(flow: Any) -> Any:
    catalog = (
        load_salesforce_catalog()
        if flow.target.system is System.SALESFORCE
        else load_stripe_catalog()
    )
    return catalog.get(flow.target.object)


@pytest.mark.parametrize(
    ("name", "doc", "flow"), _template_flows(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_template_flows_map_the_same_with_and_without_native(
    name: str, doc: Any, flow: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    schema = _schema(flow)
    native_plan = compile_flow(flow, doc, schema)
    with monkeypatch.context() as m:
        m.setattr(expression, "compile_native", lambda compiled: None)
        fallback_plan = compile_flow(flow, doc, schema)
    for fixture in flow.fixtures:
        got = native_plan.apply(fixture.input)
        want = fallback_plan.apply(fixture.input)
        assert json_safe(got.record) == json_safe(want.record), f"{name} / {fixture.name}"
        assert [i.to_dict() for i in got.issues] == [i.to_dict() for i in want.issues]


def _template_expressions() -> list[tuple[str, str, Any]]:
    """(flow, expression, fixture input) for every JSONata step on every fixture."""
    out = []
    for name, _doc, flow in _template_flows():
        for fm in flow.fields:
            for step in fm.transforms:
                if step.name == "jsonata":
                    out.extend((name, step.args["expr"], fx.input) for fx in flow.fixtures)
    return out


@pytest.mark.parametrize(
    ("flow", "expr", "data"), _template_expressions(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_template_expressions_agree_on_fixtures(flow: str, expr: str, data: Any) -> None:
    compiled = jsonata.Jsonata(expr)
    native = compile_native(compiled)
    if native is None:
        pytest.skip(f"{flow}: {expr} uses functions beyond the native subset")
    record, event = split_event(data)
    got = native(record, None, event)
    assert got is not DEFER, f"{flow}: the native closure gave up on a shipped fixture"
    outcome, expected = _jsonata(compiled, record, None, event)
    assert outcome == "value" and _same(got, expected)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(expr=_expressions(), record=_records, event=_events)
def test_expression_conditions_agree_with_jsonata_python(
    expr: str, record: dict[str, Any], event: Any
) -> None:
    """An ``expr`` condition runs the same native closures: it holds exactly when
    jsonata-python's result is truthy, and fails the record when jsonata-python errs."""
    cond = compile_condition(Condition(ConditionOp.EXPR, expr=expr), lambda p: None)
    outcome, expected = _jsonata(jsonata.Jsonata(expr), record, None, event)
    try:
        held = cond.test(record, event, None)
    except ConditionEvalError:
        assert outcome == "error", f"{expr}: the condition failed, jsonata-python gave {expected!r}"
        return
    assert outcome == "value", f"{expr}: the condition held={held}, jsonata-python {expected}"
    assert held is bool(expected)
