"""Money transforms: minor units <-> decimal per currency class, conversion with rates."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mappings.document.model import RatesTable, TransformStep
from mappings.errors import TransformError
from mappings.transforms import CompileEnv, build_step, currency_exponent
from mappings.transforms.context import RecordContext
from mappings.transforms.currency import ISO_4217, THREE_DECIMAL, ZERO_DECIMAL

NO_ENV = CompileEnv(value_maps={}, rates=None, target=None)
RATES = CompileEnv(
    value_maps={},
    rates=RatesTable(base="EUR", rates={"USD": 1.1, "JPY": 160.0, "KWD": 0.33}),
    target=None,
)


def apply(name: str, args: dict[str, Any], value: Any, record: Any = None, env=NO_ENV) -> Any:
    step = build_step(TransformStep(name, args), env)
    return step(value, RecordContext(record or {}))


@pytest.mark.parametrize(
    ("code", "exponent"),
    [
        ("USD", 2), ("usd", 2), ("EUR", 2), ("GBP", 2), ("ISK", 2), ("HUF", 2),
        ("JPY", 0), ("jpy", 0), ("KRW", 0), ("VND", 0), ("CLP", 0), ("XOF", 0), ("UGX", 0),
        ("BHD", 3), ("JOD", 3), ("KWD", 3), ("OMR", 3), ("tnd", 3),
    ],
)  # fmt: skip
def test_currency_exponent(code: str, exponent: int) -> None:
    assert currency_exponent(code) == exponent


@pytest.mark.parametrize("code", ["", "US", "ZZZ", "dollars", None, 840])
def test_currency_exponent_unknown(code: Any) -> None:
    with pytest.raises(TransformError, match="unknown currency code"):
        currency_exponent(code)


@pytest.mark.parametrize(
    ("currency", "minor", "expected"),
    [
        ("jpy", 500, Decimal("500")),
        ("usd", 1999, Decimal("19.99")),
        ("USD", 5, Decimal("0.05")),
        ("usd", -250, Decimal("-2.50")),
        ("usd", 0, Decimal("0.00")),
        ("kwd", 1999, Decimal("1.999")),
        ("bhd", 1000, Decimal("1.000")),
        ("clp", 12345, Decimal("12345")),
        ("vnd", 100000, Decimal("100000")),
        ("eur", "1999", Decimal("19.99")),
        ("eur", 1999.0, Decimal("19.99")),
    ],
)
def test_minor_to_decimal(currency: str, minor: Any, expected: Decimal) -> None:
    result = apply("minor_to_decimal", {"currency": currency}, minor)
    assert result == expected
    # The exponent shows in the result: 19.99 not 19.990, 500 not 500.00.
    assert result.as_tuple().exponent == -currency_exponent(currency)


@pytest.mark.parametrize(
    ("currency", "expected"),
    [("usd", Decimal("19.99")), ("JPY", Decimal("1999")), ("kwd", Decimal("1.999"))],
)
def test_minor_to_decimal_currency_path(currency: str, expected: Decimal) -> None:
    record = {"amount": 1999, "currency": currency}
    assert apply("minor_to_decimal", {"currency_path": "currency"}, 1999, record) == expected


def test_minor_to_decimal_none_passes() -> None:
    assert apply("minor_to_decimal", {"currency": "usd"}, None) is None


@pytest.mark.parametrize("value", ["abc", "19.99", 19.5, True, [1], {"a": 1}, float("nan")])
def test_minor_to_decimal_rejects(value: Any) -> None:
    with pytest.raises(TransformError, match="cannot convert .* to a decimal amount"):
        apply("minor_to_decimal", {"currency": "usd"}, value)


@pytest.mark.parametrize(
    ("record", "message"),
    [({}, "no currency at 'currency'"), ({"currency": "xyz"}, "unknown currency code 'xyz'")],
)
def test_minor_to_decimal_bad_runtime_currency(record: dict, message: str) -> None:
    with pytest.raises(TransformError, match=message):
        apply("minor_to_decimal", {"currency_path": "currency"}, 100, record)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({}, "give 'currency' or 'currency_path'"),
        ({"currency": "usd", "currency_path": "currency"}, "give only one of"),
        ({"currency": "usdollar"}, "unknown currency code 'usdollar'"),
        ({"currency": 840}, "argument 'currency' must be a string"),
        ({"code": "usd"}, "unknown argument 'code'"),
    ],
)
def test_minor_to_decimal_build_errors(args: dict, message: str) -> None:
    with pytest.raises(TransformError, match=message) as info:
        build_step(TransformStep("minor_to_decimal", args), NO_ENV)
    assert "minor_to_decimal" in str(info.value)


@pytest.mark.parametrize(
    ("currency", "amount", "expected"),
    [
        ("usd", Decimal("19.99"), 1999),
        ("usd", "19.99", 1999),
        ("usd", 19.99, 1999),
        ("usd", 20, 2000),
        ("usd", Decimal("-0.05"), -5),
        ("jpy", Decimal("500"), 500),
        ("jpy", "500.00", 500),
        ("kwd", Decimal("1.999"), 1999),
        ("bhd", "0.5", 500),
        ("clp", 12345, 12345),
        ("vnd", Decimal("100000"), 100000),
    ],
)
def test_decimal_to_minor(currency: str, amount: Any, expected: int) -> None:
    result = apply("decimal_to_minor", {"currency": currency}, amount)
    assert result == expected
    assert type(result) is int


@pytest.mark.parametrize(
    ("currency", "amount"), [("usd", "19.999"), ("jpy", "500.5"), ("kwd", Decimal("1.0005"))]
)
def test_decimal_to_minor_refuses_extra_decimals(currency: str, amount: Any) -> None:
    with pytest.raises(TransformError, match="more decimals than the currency allows"):
        apply("decimal_to_minor", {"currency": currency}, amount)


@pytest.mark.parametrize(
    ("rounding", "amount", "expected"),
    [
        ("half_even", "19.995", 2000),
        ("half_even", "19.985", 1998),
        ("half_up", "19.985", 1999),
        ("down", "19.999", 1999),
        ("ceiling", "19.991", 2000),
    ],
)
def test_decimal_to_minor_rounding(rounding: str, amount: str, expected: int) -> None:
    assert apply("decimal_to_minor", {"currency": "usd", "rounding": rounding}, amount) == expected


def test_decimal_to_minor_currency_path() -> None:
    record = {"currency": "jpy"}
    assert apply("decimal_to_minor", {"currency_path": "currency"}, "500", record) == 500


@pytest.mark.parametrize("value", ["abc", True, "Infinity", "NaN", [], {}])
def test_decimal_to_minor_rejects(value: Any) -> None:
    with pytest.raises(TransformError, match="cannot convert"):
        apply("decimal_to_minor", {"currency": "usd"}, value)


def test_decimal_to_minor_bad_rounding() -> None:
    with pytest.raises(TransformError, match="argument 'rounding' must be one of"):
        build_step(TransformStep("decimal_to_minor", {"currency": "usd", "rounding": "bankers"}))


# One currency from each class; the round trip must hold for every integer amount.
CURRENCY_CLASSES = st.sampled_from(["usd", "eur", "jpy", "krw", "vnd", "clp", "kwd", "bhd"])


@given(currency=CURRENCY_CLASSES, minor=st.integers(min_value=-(10**15), max_value=10**15))
def test_money_round_trip(currency: str, minor: int) -> None:
    amount = apply("minor_to_decimal", {"currency": currency}, minor)
    assert apply("decimal_to_minor", {"currency": currency}, amount) == minor


@given(code=st.sampled_from(sorted(ISO_4217)), minor=st.integers(-(10**12), 10**12))
def test_money_round_trip_every_currency(code: str, minor: int) -> None:
    amount = apply("minor_to_decimal", {"currency": code}, minor)
    expected_exponent = 0 if code in ZERO_DECIMAL else 3 if code in THREE_DECIMAL else 2
    assert amount == Decimal(minor) / (10**expected_exponent)
    assert apply("decimal_to_minor", {"currency": code.lower()}, amount) == minor


@pytest.mark.parametrize(
    ("args", "amount", "expected"),
    [
        ({"to": "EUR", "from": "usd"}, "11.00", Decimal("10.00")),
        ({"to": "USD", "from": "EUR"}, Decimal("10"), Decimal("11.00")),
        ({"to": "JPY", "from": "EUR"}, "1.234", Decimal("197")),
        ({"to": "KWD", "from": "USD"}, "1", Decimal("0.300")),
        ({"to": "eur", "from": "eur"}, "5.5", Decimal("5.50")),
        ({"to": "EUR", "from": "usd"}, None, None),
    ],
)
def test_convert_currency(args: dict, amount: Any, expected: Any) -> None:
    assert apply("convert_currency", args, amount, env=RATES) == expected


def test_convert_currency_from_path() -> None:
    args = {"to": "EUR", "from_path": "currency"}
    assert apply("convert_currency", args, "160", {"currency": "jpy"}, env=RATES) == Decimal("1.00")


def test_convert_currency_missing_rate_at_runtime() -> None:
    with pytest.raises(TransformError, match="no exchange rate for 'gbp'"):
        apply("convert_currency", {"to": "EUR", "from_path": "c"}, "1", {"c": "gbp"}, env=RATES)


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        ({"to": "EUR", "from": "usd"}, NO_ENV, "needs a rates table"),
        ({"to": "GBP", "from": "usd"}, RATES, "no exchange rate for 'GBP'"),
        ({"to": "EUR", "from": "chf"}, RATES, "no exchange rate for 'chf'"),
        ({"to": "EURO", "from": "usd"}, RATES, "unknown currency code 'EURO'"),
        ({"to": "EUR"}, RATES, "give 'from' or 'from_path'"),
        ({"from": "usd"}, RATES, "missing required argument 'to'"),
        (
            {"to": "EUR", "from": "usd"},
            CompileEnv({}, RatesTable("EUR", {"USD": -1}), None),
            "invalid rate",
        ),
    ],
)
def test_convert_currency_build_errors(args: dict, env: CompileEnv, message: str) -> None:
    with pytest.raises(TransformError, match=message):
        build_step(TransformStep("convert_currency", args), env)


# --- currency_path with fallbacks (current vs 2017 API shapes) ------------------------------


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"currency": "jpy", "plan": {"currency": "usd"}}, Decimal("1999")),
        ({"plan": {"currency": "usd"}}, Decimal("19.99")),
        ({"currency": "", "plan": {"currency": "kwd"}}, Decimal("1.999")),
    ],
)
def test_currency_path_fallbacks_take_the_first_with_a_value(record: dict, expected: Decimal) -> None:
    step = build_step(
        TransformStep("minor_to_decimal", {"currency_path": ["currency", "plan.currency"]})
    )
    assert step(1999, RecordContext(record)) == expected


def test_currency_path_fallbacks_all_missing_names_them() -> None:
    step = build_step(
        TransformStep("minor_to_decimal", {"currency_path": ["currency", "plan.currency"]})
    )
    with pytest.raises(TransformError, match="no currency at 'currency' or 'plan.currency'"):
        step(1999, RecordContext({}))


@pytest.mark.parametrize("bad", [[], [1], ["currency", None]])
def test_currency_path_list_must_hold_paths(bad: list) -> None:
    with pytest.raises(TransformError, match="currency_path"):
        build_step(TransformStep("minor_to_decimal", {"currency_path": bad}))
