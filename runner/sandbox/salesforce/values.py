"""Typed field values as Salesforce accepts and returns them (dates, datetimes, numbers)."""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
    r"(Z|[+-]\d{2}:?\d{2})?$"
)
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


class ValueFormatError(ValueError):
    """The value does not have the field's type."""


def format_datetime(moment: datetime) -> str:
    """Salesforce's REST form: ``2026-01-02T03:04:05.000+0000`` (always UTC)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def parse_datetime(text: str) -> datetime:
    match = _DATETIME.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise ValueFormatError(text)
    year, month, day, hour, minute, second, frac, zone = match.groups()
    micro = int((frac or "0").ljust(6, "0")[:6])
    tz = UTC
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    try:
        return datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro,
            tzinfo=tz,
        )
    except ValueError as exc:
        raise ValueFormatError(text) from exc


def normalize_datetime(text: str) -> str:
    return format_datetime(parse_datetime(text))


def normalize_date(text: str) -> str:
    match = _DATE.match(text.strip()) if isinstance(text, str) else None
    if not match:
        # Salesforce accepts a datetime for a date field and keeps the date part.
        return parse_datetime(text).date().isoformat()
    try:
        return date(*(int(g) for g in match.groups())).isoformat()
    except ValueError as exc:
        raise ValueFormatError(text) from exc


def to_number(value: object, *, integer: bool) -> float | int:
    if isinstance(value, bool) or value is None:
        raise ValueFormatError(value)
    if isinstance(value, str):
        try:
            value = float(value.strip()) if not integer else _int_text(value.strip())
        except ValueError as exc:
            raise ValueFormatError(value) from exc
    if not isinstance(value, int | float) or (isinstance(value, float) and not math.isfinite(value)):
        raise ValueFormatError(value)
    if integer:
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueFormatError(value)
            value = int(value)
        return value
    return value


def java_number_text(number: float | int) -> str:
    """``number`` as Java's ``Double.toString`` writes it, as Salesforce's messages show it.

    ``100.0``, ``1234567.5``; from 10^7 up (and below 10^-3) scientific: ``1.0E17``.
    """
    if isinstance(number, int):
        return str(number)
    magnitude = abs(number)
    if number == 0 or 1e-3 <= magnitude < 1e7:
        return repr(float(number))
    sign, digits, exponent = Decimal(repr(float(number))).normalize().as_tuple()
    assert isinstance(exponent, int)  # finite: checked by to_number
    shown = "".join(map(str, digits))
    power = len(shown) - 1 + exponent
    return f"{'-' if sign else ''}{shown[0]}.{shown[1:] or '0'}E{power}"


def _int_text(text: str) -> int:
    number = float(text)
    if not number.is_integer():
        raise ValueError(text)
    return int(number)


def to_boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    raise ValueFormatError(value)
