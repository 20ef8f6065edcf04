"""Per-field validators built once from the target schema, with Salesforce's semantics.

Each validator takes a value that is not ``None`` and returns an :class:`Issue` or ``None``.
They are closures specialised on the field's kind and limits so that checking a record costs
a type test and a comparison per field.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from mappings.engine.result import Issue
from mappings.schema.model import FieldKind, FieldSchema

_INF = Decimal("Infinity")

Validator = Callable[[Any], "Issue | None"]

TEXT_KINDS = frozenset(
    {
        FieldKind.STRING,
        FieldKind.TEXT,
        FieldKind.EMAIL,
        FieldKind.PHONE,
        FieldKind.URL,
        FieldKind.ID,
        FieldKind.REFERENCE,
        FieldKind.PICKLIST,
        FieldKind.MULTIPICKLIST,
    }
)
_DECIMAL_KINDS = frozenset({FieldKind.NUMBER, FieldKind.CURRENCY, FieldKind.PERCENT})

# The date and time forms the Salesforce REST API accepts.
_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_DATETIME_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
    r"(Z|[+-]\d{2}:?\d{2})?$"
)
# Fast paths: days 01-28 exist in every month, so a match needs no calendar check.
_DATE_FAST = re.compile(r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1\d|2[0-8])")
_DATETIME_FAST = re.compile(
    r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1\d|2[0-8])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d"
    r"(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?"
)
_TIME_RE = re.compile(r"^(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?Z?$")


def show(value: Any) -> str:
    """A value as a user would write it: strings quoted, long ones shortened."""
    if isinstance(value, str):
        text = value if len(value) <= 60 else value[:57] + "..."
        return repr(text)
    if isinstance(value, Decimal):
        return str(value)
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind_word(value: Any) -> str:
    if isinstance(value, bool):
        return "a true/false value"
    if isinstance(value, int | float | Decimal):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def _bad_type(name: str, expects: str, value: Any) -> Issue:
    return Issue(
        "INVALID_TYPE",
        name,
        f"{name} expects {expects}, got {_kind_word(value)} {show(value)}",
    )


def _valid_date(y: str, m: str, d: str) -> bool:
    try:
        _dt.date(int(y), int(m), int(d))
    except ValueError:
        return False
    return True


def is_salesforce_date(text: str) -> bool:
    if _DATE_FAST.fullmatch(text):
        return True
    match = _DATE_RE.match(text)
    return match is not None and _valid_date(*match.groups())


def is_salesforce_datetime(text: str) -> bool:
    if _DATETIME_FAST.fullmatch(text):
        return True
    match = _DATETIME_RE.match(text)
    if match is None:
        return False
    y, mo, d, h, mi, s, _frac, _tz = match.groups()
    return _valid_date(y, mo, d) and int(h) < 24 and int(mi) < 60 and int(s or 0) < 60


def is_salesforce_time(text: str) -> bool:
    match = _TIME_RE.match(text)
    return (
        match is not None and int(match[1]) < 24 and int(match[2]) < 60 and int(match[3] or 0) < 60
    )


def build_validator(fs: FieldSchema) -> Validator | None:
    """The validator for one target field, or ``None`` when any value is acceptable."""
    kind = fs.kind
    name = fs.path
    if kind in TEXT_KINDS:
        return _text_validator(fs)
    if kind is FieldKind.BOOLEAN:

        def check_bool(value: Any) -> Issue | None:
            return (
                None if value is True or value is False else _bad_type(name, "true or false", value)
            )

        return check_bool
    if kind is FieldKind.INTEGER or kind is FieldKind.TIMESTAMP:
        expects = (
            "a Unix timestamp (whole seconds)" if kind is FieldKind.TIMESTAMP else "a whole number"
        )

        def check_int(value: Any) -> Issue | None:
            if type(value) is int:
                return None
            if isinstance(value, float | Decimal) and value == int(value):
                return None
            return _bad_type(name, expects, value)

        return check_int
    if kind in _DECIMAL_KINDS:
        return _number_validator(fs)
    if kind is FieldKind.DATE:

        def check_date(value: Any) -> Issue | None:
            if type(value) is str and is_salesforce_date(value):
                return None
            if isinstance(value, _dt.date) and not isinstance(value, _dt.datetime):
                return None
            return _bad_type(name, "a date like 2026-01-31", value)

        return check_date
    if kind is FieldKind.DATETIME:

        def check_datetime(value: Any) -> Issue | None:
            if type(value) is str and is_salesforce_datetime(value):
                return None
            if isinstance(value, _dt.datetime):
                return None
            return _bad_type(name, "a date and time like 2026-01-31T12:00:00.000+0000", value)

        return check_datetime
    if kind is FieldKind.TIME:

        def check_time(value: Any) -> Issue | None:
            if type(value) is str and is_salesforce_time(value):
                return None
            if isinstance(value, _dt.time):
                return None
            return _bad_type(name, "a time like 13:30:00.000Z", value)

        return check_time
    if kind is FieldKind.OBJECT or kind is FieldKind.MAP:

        def check_object(value: Any) -> Issue | None:
            return None if isinstance(value, dict) else _bad_type(name, "an object", value)

        return check_object
    if kind is FieldKind.LIST:

        def check_list(value: Any) -> Issue | None:
            return None if isinstance(value, list | tuple) else _bad_type(name, "a list", value)

        return check_list
    return None


def _text_validator(fs: FieldSchema) -> Validator:
    name = fs.path
    limit = fs.length if fs.length else None
    allowed: frozenset[str] | None = None
    if (
        fs.restricted
        and fs.enum_values
        and fs.kind in (FieldKind.PICKLIST, FieldKind.MULTIPICKLIST)
    ):
        allowed = frozenset(fs.enum_values)
    multi = fs.kind is FieldKind.MULTIPICKLIST

    def check_text(value: Any) -> Issue | None:
        if allowed is not None and not multi and type(value) is str and value in allowed:
            return None  # a restricted picklist's own values fit its length by definition
        if type(value) is not str:
            # Salesforce turns a JSON number into text for a text field; objects it refuses.
            if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
                return _bad_type(name, "text", value)
            value = str(value)
        if limit is not None and len(value) > limit:
            return Issue(
                "STRING_TOO_LONG",
                name,
                f"{name} holds at most {limit} characters, got {len(value)}: {show(value)}",
            )
        if allowed is not None:
            values = value.split(";") if multi else (value,)
            bad = [v for v in values if v not in allowed]
            if bad:
                options = ", ".join(repr(v) for v in fs.enum_values[:12])
                more = ", ..." if len(fs.enum_values) > 12 else ""
                return Issue(
                    "INVALID_PICKLIST_VALUE",
                    name,
                    f"{show(bad[0])} is not an allowed value of {name} (allowed: {options}{more})",
                )
        return None

    return check_text


def _number_validator(fs: FieldSchema) -> Validator:
    name = fs.path
    what = "a money amount" if fs.kind is FieldKind.CURRENCY else "a number"
    # Salesforce precision counts all digits; the integer part may use precision - scale.
    max_int_digits = (fs.precision - (fs.scale or 0)) if fs.precision else None
    bound = Decimal(10) ** max_int_digits if max_int_digits is not None else None
    low = -bound if bound is not None else -_INF  # negated once, not per value

    def check_number(value: Any) -> Issue | None:
        if type(value) is Decimal or type(value) is int or type(value) is float:
            if bound is None or low < value < bound:
                return None
            if value != value or value in (_INF, -_INF):  # NaN or infinite
                return _bad_type(name, f"a finite {what.split(' ', 1)[1]}", value)
            return Issue(
                "NUMBER_OUTSIDE_VALID_RANGE",
                name,
                f"{name} allows at most {max_int_digits} digits before the decimal point, "
                f"got {show(value)}",
            )
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            return _bad_type(name, what, value)
        return check_number(Decimal(value) if isinstance(value, int) else Decimal(str(value)))

    return check_number
