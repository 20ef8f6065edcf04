"""Time: Stripe's Unix seconds <-> Salesforce DateTime and Date.

Salesforce writes DateTime as ``2026-01-01T00:00:00.000+0000`` (always UTC, milliseconds,
offset without a colon) and accepts 1700-01-01 to 4000-12-31; values outside that range
are refused here rather than by the org, with a message that names the value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mappings.errors import TransformError
from mappings.schema.model import FieldKind
from mappings.transforms.registry import (
    CompileEnv,
    ParamSpec,
    StepContext,
    StepFn,
    TransformSpec,
    register,
)

_T = TypeVar("_T")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)  # _EPOCH without tzinfo, for the fast path
# Salesforce's valid DateTime range, as Unix seconds.
MIN_UNIX = int((datetime(1700, 1, 1, tzinfo=UTC) - _EPOCH).total_seconds())
MAX_UNIX = int((datetime(4000, 12, 31, 23, 59, 59, tzinfo=UTC) - _EPOCH).total_seconds())


def _seconds(value: Any) -> float | int:
    """Unix seconds from an int, float, Decimal or numeric string; bools and NaN refused."""
    if type(value) is int:
        seconds: float | int = value
    elif isinstance(value, bool):
        raise TransformError(f"cannot convert {value!r} to a timestamp: expected Unix seconds")
    elif isinstance(value, int | float | Decimal):
        seconds = value if isinstance(value, int) else float(value)
    elif isinstance(value, str):
        try:
            seconds = int(value.strip())
        except ValueError:
            try:
                seconds = float(value.strip())
            except ValueError:
                raise TransformError(
                    f"cannot convert {value!r} to a timestamp: expected Unix seconds"
                ) from None
    else:
        raise TransformError(f"cannot convert {value!r} to a timestamp: expected Unix seconds")
    if not MIN_UNIX <= seconds <= MAX_UNIX:  # also false for NaN
        raise TransformError(
            f"timestamp {value!r} is outside Salesforce's range (years 1700 to 4000)"
        )
    return seconds


def format_datetime(moment: datetime) -> str:
    """A Salesforce DateTime string (UTC, milliseconds, ``+0000``)."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    # isoformat is the fastest formatter; it ends in "+00:00", Salesforce wants "+0000".
    return moment.isoformat(timespec="milliseconds")[:-6] + "+0000"


def _from_unix(seconds: float | int) -> datetime:
    # Adding a timedelta to the epoch works for negative values on every platform, where
    # datetime.fromtimestamp does not (Windows), and keeps milliseconds exact.
    if type(seconds) is int:
        return _EPOCH + timedelta(seconds=seconds)
    return _EPOCH + timedelta(milliseconds=round(seconds * 1000))


def _to_unix(moment: datetime) -> int | float:
    delta = moment - _EPOCH
    whole = delta.days * 86400 + delta.seconds
    if delta.microseconds:
        return whole + round(delta.microseconds / 1_000_000, 6)
    return whole


def _zone(args: Mapping[str, Any], name: str) -> tzinfo:
    tz_name = args.get("tz")
    if tz_name is None or tz_name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TransformError(f"transform {name!r}: unknown time zone {tz_name!r}") from None


def _keep_none(convert: Callable[[Any], Any]) -> StepFn:
    """A step that applies ``convert`` to a value and passes an empty value (None) through."""

    def step(value: Any, ctx: StepContext) -> Any:
        return None if value is None else convert(value)

    return step


def _read_iso(value: Any, parse: Callable[[str], _T], what: str, form: str = "") -> _T:
    """ISO text read by ``parse``; errors name the value and ``what`` it should have been."""
    if not isinstance(value, str):
        raise TransformError(f"cannot read {value!r} as {what}: expected text")
    try:
        return parse(value.strip())
    except ValueError:
        raise TransformError(f"cannot read {value!r} as {what}{form}") from None


def _build_unix_to_datetime(args: Mapping[str, Any], env: CompileEnv) -> StepFn:
    def step(value: Any, ctx: StepContext) -> Any:
        if value is None:
            return None
        if type(value) is int and MIN_UNIX <= value <= MAX_UNIX:
            # Whole seconds in range (every Stripe timestamp): the same text as
            # format_datetime's, from naive UTC arithmetic and an argument-free isoformat,
            # which cost half as much as the aware, millisecond form on every record.
            return (_NAIVE_EPOCH + timedelta(0, value)).isoformat() + ".000+0000"
        return format_datetime(_from_unix(_seconds(value)))

    return step


def _build_unix_to_date(args: Mapping[str, Any], env: CompileEnv) -> StepFn:
    zone = _zone(args, "unix_to_date")
    return _keep_none(
        lambda value: _from_unix(_seconds(value)).astimezone(zone).date().isoformat()
    )


def parse_datetime(value: Any) -> datetime:
    """An aware datetime from Salesforce DateTime or ISO 8601 text; naive text is UTC."""
    # Python 3.11 reads every Salesforce form: .000, +0000, Z, +00:00.
    moment = (value if isinstance(value, datetime)
              else _read_iso(value, datetime.fromisoformat, "a date-time"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def _build_datetime_to_unix(args: Mapping[str, Any], env: CompileEnv) -> StepFn:
    return _keep_none(lambda value: _to_unix(parse_datetime(value)))


def _build_date_to_unix(args: Mapping[str, Any], env: CompileEnv) -> StepFn:
    zone = _zone(args, "date_to_unix")

    def convert(value: Any) -> int | float:
        if isinstance(value, datetime):
            raise TransformError(f"cannot read {value!r} as a date: it is a date-time")
        day = (value if isinstance(value, date)
               else _read_iso(value, date.fromisoformat, "a date", " (YYYY-MM-DD)"))
        midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
        return _to_unix(midnight.astimezone(UTC))

    return _keep_none(convert)


_TZ = ParamSpec(
    "tz", "string", label="Time zone", description="IANA time zone of the date, e.g. Europe/Paris (default UTC)"
)

register(
    TransformSpec(
        name="unix_to_datetime",
        label="Unix time → DateTime",
        description=(
            "Unix seconds to a Salesforce DateTime in UTC: 1767225600 → "
            "2026-01-01T00:00:00.000+0000. Refuses booleans and years outside 1700–4000."
        ),
        params=(),
        build=_build_unix_to_datetime,
        category="time",
        output_kind=FieldKind.DATETIME,
    )
)
register(
    TransformSpec(
        name="unix_to_date",
        label="Unix time → Date",
        description="Unix seconds to a date (2026-01-01), in UTC or the time zone tz.",
        params=(_TZ,),
        build=_build_unix_to_date,
        category="time",
        output_kind=FieldKind.DATE,
    )
)
register(
    TransformSpec(
        name="datetime_to_unix",
        label="DateTime → Unix time",
        description=(
            "A Salesforce DateTime (…T00:00:00.000+0000, Z, or any ISO 8601 form) to Unix "
            "seconds: an integer, or a float when it has milliseconds. No offset means UTC."
        ),
        params=(),
        build=_build_datetime_to_unix,
        category="time",
        output_kind=FieldKind.TIMESTAMP,
    )
)
register(
    TransformSpec(
        name="date_to_unix",
        label="Date → Unix time",
        description="A date (YYYY-MM-DD) to the Unix seconds of its midnight in UTC or tz.",
        params=(_TZ,),
        build=_build_date_to_unix,
        category="time",
        output_kind=FieldKind.TIMESTAMP,
    )
)
