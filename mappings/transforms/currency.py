"""Money: Stripe's integer minor units <-> decimal amounts, and currency conversion.

Stripe sends amounts as integers in the currency's smallest unit; how many decimals that
unit stands for depends on the currency. We follow Stripe's own lists
(https://docs.stripe.com/currencies): zero-decimal and three-decimal currencies below, all
other ISO 4217 codes two. Amounts are :class:`decimal.Decimal` so that 19.99 stays 19.99.
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from mappings.errors import TransformError
from mappings.schema.model import FieldKind
from mappings.transforms.context import EVENT_PREFIX
from mappings.transforms.registry import (
    CompileEnv,
    ParamSpec,
    StepContext,
    StepFn,
    TransformSpec,
    one_of,
    register,
)


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


ZERO_DECIMAL = _codes("BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF")
THREE_DECIMAL = _codes("BHD JOD KWD OMR TND")

# Active ISO 4217 codes; a code outside this set is a typo, not a currency.
ISO_4217 = _codes(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD
    BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP
    DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR
    IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD
    MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB
    PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD
    SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS
    VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG ZWL
    """
)

# Lower-case code -> exponent, so a step resolves a currency with one dict lookup.
_EXPONENTS: dict[str, int] = {
    code.lower(): (0 if code in ZERO_DECIMAL else 3 if code in THREE_DECIMAL else 2)
    for code in ISO_4217
}

# The same, negated for Decimal.scaleb: the minor_to_decimal step's one lookup per record.
_SHIFTS: dict[str, int] = {code: -exponent for code, exponent in _EXPONENTS.items()}

ROUNDINGS = {
    "half_even": decimal.ROUND_HALF_EVEN,
    "half_up": decimal.ROUND_HALF_UP,
    "down": decimal.ROUND_DOWN,
    "up": decimal.ROUND_UP,
    "floor": decimal.ROUND_FLOOR,
    "ceiling": decimal.ROUND_CEILING,
}


def currency_exponent(code: str) -> int:
    """How many decimals the currency's minor unit stands for (case-insensitive code)."""
    if isinstance(code, str):
        found = _EXPONENTS.get(code.lower())
        if found is not None:
            return found
    raise TransformError(f"unknown currency code {code!r}")


def first_at(ctx: StepContext, paths: str | list[str]) -> Any:
    """The value at a path param: one path, or the first non-empty of several fallbacks."""
    if isinstance(paths, str):
        return ctx.get(paths)
    for path in paths:
        found = ctx.get(path)
        if found not in (None, ""):
            return found
    return None


def _where(path: str | list[str]) -> str:
    return repr(path) if isinstance(path, str) else " or ".join(repr(p) for p in path)


def _runtime_exponent(code: Any, path: str | list[str]) -> int:
    if code is None:
        raise TransformError(f"no currency at {_where(path)}")
    if isinstance(code, str):
        found = _EXPONENTS.get(code.lower())
        if found is not None:
            return found
    raise TransformError(f"unknown currency code {code!r} at {_where(path)}")


def _minor_units(value: Any) -> int:
    """An integer count of minor units from what a source may hold (int, "1999", 1999.0)."""
    if type(value) is int:
        return value
    if isinstance(value, bool):
        raise TransformError(f"cannot convert {value!r} to a decimal amount")
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("+-").isdigit():
            return int(text)
    elif isinstance(value, float | Decimal) and value == value and value % 1 == 0:
        return int(value)
    raise TransformError(f"cannot convert {value!r} to a decimal amount")


def _to_decimal(value: Any) -> Decimal:
    """A Decimal from a decimal amount; floats go through their shortest repr (0.1 -> 0.1)."""
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool):
        raise TransformError(f"cannot convert {value!r} to a decimal amount")
    elif isinstance(value, int):
        return Decimal(value)
    elif isinstance(value, float | str):
        try:
            result = Decimal(repr(value) if isinstance(value, float) else value.strip())
        except decimal.InvalidOperation:
            raise TransformError(f"cannot convert {value!r} to a decimal amount") from None
    else:
        raise TransformError(f"cannot convert {value!r} to a decimal amount")
    if not result.is_finite():
        raise TransformError(f"cannot convert {value!r} to a decimal amount")
    return result


def _build_minor_to_decimal(args: Mapping[str, Any], env: CompileEnv) -> StepFn:
    which = one_of("minor_to_decimal", args, "currency", "currency_path")
    if which == "currency":
        try:
            shift = -currency_exponent(args["currency"])
        except TransformError as exc:
            raise TransformError(f"transform 'minor_to_decimal': {exc}") from None

        def fixed(value: Any, ctx: StepContext) -> Any:
            if value is None:
                return None
            return Decimal(_minor_units(value)).scaleb(shift)

        return fixed

    path = args["currency_path"]
    # A top-level key (``currency``, the usual case) is one lookup on the record, the same
    # for every context; a dotted path, $event or fallbacks go through the context's rule.
    key = path if type(path) is str and "." not in path and path != EVENT_PREFIX else None

    def by_path(value: Any, ctx: StepContext) -> Any:
        if value is None:
            return None
        amount = Decimal(value if type(value) is int else _minor_units(value))
        code = ctx.record.get(key) if key is not None else first_at(ctx, path)
        # Stripe's codes are lower case: one dict lookup settles them; anything else (upper
        # case, unknown, missing) goes through the rule with its message.
        shift = _SHIFTS.get(code) if type(code) is str else None
        if shift is None:
            shift = -_runtime_exponent(code, path)
        return amount.scaleb(shift)

    return by_path


def _build_decimal_to_minor(args: Mapping[str, Any], env: CompileEnv) -> StepFn:
    which = one_of("decimal_to_minor", args, "currency", "currency_path")
    rounding = ROUNDINGS[args["rounding"]] if "rounding" in args else None
    path = args.get("currency_path", "")
    fixed_exp: int | None = None
    if which == "currency":
        try:
            fixed_exp = currency_exponent(args["currency"])
        except TransformError as exc:
            raise TransformError(f"transform 'decimal_to_minor': {exc}") from None

    def step(value: Any, ctx: StepContext) -> Any:
        if value is None:
            return None
        amount = _to_decimal(value)
        exp = fixed_exp if fixed_exp is not None else _runtime_exponent(first_at(ctx, path), path)
        scaled = amount.scaleb(exp)
        whole = scaled.to_integral_value(rounding=rounding or decimal.ROUND_HALF_EVEN)
        if whole != scaled and rounding is None:
            raise TransformError(
                f"{value!r} has more decimals than the currency allows ({exp}); "
                "set rounding (e.g. half_even) to round it"
            )
        return int(whole)

    return step


def _rate(rates: Mapping[str, Decimal], code: str, base: str, where: str) -> Decimal:
    key = code.upper()
    if key == base:
        return Decimal(1)
    found = rates.get(key)
    if found is None:
        raise TransformError(f"no exchange rate for {code!r} in the rates table ({where})")
    return found


def _build_convert_currency(args: Mapping[str, Any], env: CompileEnv) -> StepFn:
    name = "convert_currency"
    if env.rates is None:
        raise TransformError(f"transform {name!r} needs a rates table in the mapping document")
    which = one_of(name, args, "from", "from_path")
    base = env.rates.base.upper()
    rates: dict[str, Decimal] = {}
    for code, rate in env.rates.rates.items():
        try:
            value = Decimal(repr(rate) if isinstance(rate, float) else str(rate))
        except decimal.InvalidOperation:
            value = Decimal(0)
        if not value.is_finite() or value <= 0:
            raise TransformError(f"transform {name!r}: invalid rate {rate!r} for {code!r}")
        rates[code.upper()] = value
    to = args["to"]
    try:
        quantum = Decimal(1).scaleb(-currency_exponent(to))
    except TransformError as exc:
        raise TransformError(f"transform {name!r}: {exc}") from None
    try:
        to_rate = _rate(rates, to, base, f"base {base}")
        if which == "from":
            currency_exponent(args["from"])
            factor = to_rate / _rate(rates, args["from"], base, f"base {base}")
    except TransformError as exc:
        raise TransformError(f"transform {name!r}: {exc}") from None

    if which == "from":

        def fixed(value: Any, ctx: StepContext) -> Any:
            if value is None:
                return None
            return (_to_decimal(value) * factor).quantize(quantum, decimal.ROUND_HALF_EVEN)

        return fixed

    path = args["from_path"]

    def by_path(value: Any, ctx: StepContext) -> Any:
        if value is None:
            return None
        code = first_at(ctx, path)
        if not isinstance(code, str):
            raise TransformError(f"no currency at {_where(path)}")
        _runtime_exponent(code, path)
        rate = _rate(rates, code, base, f"base {base}")
        return (_to_decimal(value) * to_rate / rate).quantize(quantum, decimal.ROUND_HALF_EVEN)

    return by_path


_CURRENCY = ParamSpec("currency", "string", label="Currency", description="ISO code, e.g. usd (case-insensitive)")
_CURRENCY_PATH = ParamSpec(
    "currency_path",
    "path",
    label="Currency from",
    description=(
        "source path holding the currency code, e.g. currency; or a list of paths, the first "
        "with a value wins"
    ),
)

register(
    TransformSpec(
        name="minor_to_decimal",
        label="Convert cents to amount",
        description=(
            "Stripe's integer amount in minor units to a decimal amount with the currency's "
            "decimals (JPY 500 → 500, USD 1999 → 19.99, KWD 1999 → 1.999). Give currency "
            "or currency_path."
        ),
        params=(_CURRENCY, _CURRENCY_PATH),
        build=_build_minor_to_decimal,
        category="money",
        output_kind=FieldKind.CURRENCY,
    )
)

register(
    TransformSpec(
        name="decimal_to_minor",
        label="Convert amount to cents",
        description=(
            "A decimal amount to Stripe's integer minor units (19.99 USD → 1999). A value "
            "with more decimals than the currency allows is refused unless rounding is set."
        ),
        params=(
            _CURRENCY,
            _CURRENCY_PATH,
            ParamSpec(
                "rounding",
                "enum",
                label="Rounding",
                choices=tuple(ROUNDINGS),
                description="round extra decimals instead of refusing them",
            ),
        ),
        build=_build_decimal_to_minor,
        category="money",
        output_kind=FieldKind.INTEGER,
    )
)

register(
    TransformSpec(
        name="convert_currency",
        label="Convert currency",
        description=(
            "Convert a decimal amount with the document's rates table (1 base = rate X), "
            "rounded half-even to the target currency's decimals. Give from or from_path."
        ),
        params=(
            ParamSpec("to", "string", required=True, label="To currency", description="target currency code"),
            ParamSpec("from", "string", label="From currency", description="source currency code"),
            ParamSpec("from_path", "path", label="From currency in", description="source path holding the currency"),
        ),
        build=_build_convert_currency,
        category="money",
        output_kind=FieldKind.CURRENCY,
    )
)
