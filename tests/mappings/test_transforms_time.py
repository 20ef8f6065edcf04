"""Time transforms: Unix seconds <-> Salesforce DateTime and Date."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mappings.document.model import TransformStep
from mappings.errors import TransformError
from mappings.transforms import build_step
from mappings.transforms.context import RecordContext
from mappings.transforms.time import MAX_UNIX, MIN_UNIX, format_datetime


def apply(name: str, value: Any, **args: Any) -> Any:
    return build_step(TransformStep(name, args))(value, RecordContext({}))


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "1970-01-01T00:00:00.000+0000"),
        (-1, "1969-12-31T23:59:59.000+0000"),
        (1, "1970-01-01T00:00:01.000+0000"),
        (1767225600, "2026-01-01T00:00:00.000+0000"),
        (951782400, "2000-02-29T00:00:00.000+0000"),  # leap day
        (1709164800, "2024-02-29T00:00:00.000+0000"),
        (1709251199, "2024-02-29T23:59:59.000+0000"),
        (1767225600.5, "2026-01-01T00:00:00.500+0000"),
        ("1767225600", "2026-01-01T00:00:00.000+0000"),
        (MIN_UNIX, "1700-01-01T00:00:00.000+0000"),
        (MAX_UNIX, "4000-12-31T23:59:59.000+0000"),
    ],
)
def test_unix_to_datetime(seconds: Any, expected: str) -> None:
    assert apply("unix_to_datetime", seconds) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "cannot convert True to a timestamp"),
        (False, "cannot convert False"),
        ("yesterday", "cannot convert 'yesterday'"),
        ([1], "cannot convert"),
        (MAX_UNIX + 1, "outside Salesforce's range"),
        (MIN_UNIX - 1, "outside Salesforce's range"),
        (10**20, "outside Salesforce's range"),
        (float("nan"), "outside Salesforce's range"),
        (float("inf"), "outside Salesforce's range"),
    ],
)
@pytest.mark.parametrize("name", ["unix_to_datetime", "unix_to_date"])
def test_unix_rejects(name: str, value: Any, message: str) -> None:
    with pytest.raises(TransformError, match=message):
        apply(name, value)


@pytest.mark.parametrize(
    ("seconds", "tz", "expected"),
    [
        (0, None, "1970-01-01"),
        (-1, None, "1969-12-31"),
        (951782400, None, "2000-02-29"),
        (1767225600, "UTC", "2026-01-01"),
        (1767225600, "America/New_York", "2025-12-31"),
        (1767225600, "Asia/Tokyo", "2026-01-01"),
        (1767222000, "Europe/Paris", "2026-01-01"),  # 23:00 UTC is midnight in Paris (UTC+1)
    ],
)
def test_unix_to_date(seconds: int, tz: str | None, expected: str) -> None:
    args = {"tz": tz} if tz else {}
    assert apply("unix_to_date", seconds, **args) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-01T00:00:00.000+0000", 1767225600),
        ("2026-01-01T00:00:00Z", 1767225600),
        ("2026-01-01T00:00:00.000Z", 1767225600),
        ("2026-01-01T00:00:00+00:00", 1767225600),
        ("2026-01-01T01:00:00.000+0100", 1767225600),
        ("2026-01-01T00:00:00", 1767225600),  # no offset: UTC
        ("1970-01-01T00:00:00.000+0000", 0),
        ("1969-12-31T23:59:59.000+0000", -1),
        ("2024-02-29T12:00:00.000+0000", 1709208000),
        ("2026-01-01T00:00:00.250+0000", 1767225600.25),
        (datetime(2026, 1, 1, tzinfo=UTC), 1767225600),
    ],
)
def test_datetime_to_unix(text: Any, expected: Any) -> None:
    result = apply("datetime_to_unix", text)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not a date", "cannot read 'not a date' as a date-time"),
        ("2026-02-30T00:00:00Z", "cannot read"),
        (1767225600, "expected text"),
        (True, "expected text"),
    ],
)
def test_datetime_to_unix_rejects(value: Any, message: str) -> None:
    with pytest.raises(TransformError, match=message):
        apply("datetime_to_unix", value)


@pytest.mark.parametrize(
    ("value", "tz", "expected"),
    [
        ("2026-01-01", None, 1767225600),
        ("1970-01-01", None, 0),
        ("2000-02-29", None, 951782400),
        (date(2026, 1, 1), None, 1767225600),
        ("2026-01-01", "Europe/Paris", 1767222000),
    ],
)
def test_date_to_unix(value: Any, tz: str | None, expected: int) -> None:
    args = {"tz": tz} if tz else {}
    assert apply("date_to_unix", value, **args) == expected


@pytest.mark.parametrize(
    "value", ["2026-13-01", "2025-02-29", "01/02/2026", 20260101, datetime(2026, 1, 1)]
)
def test_date_to_unix_rejects(value: Any) -> None:
    with pytest.raises(TransformError, match="cannot read .* as a date"):
        apply("date_to_unix", value)


@pytest.mark.parametrize(
    "name", ["unix_to_datetime", "unix_to_date", "datetime_to_unix", "date_to_unix"]
)
def test_none_passes(name: str) -> None:
    assert apply(name, None) is None


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("unix_to_date", {"tz": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
        ("date_to_unix", {"tz": "../etc"}, "unknown time zone"),
        ("unix_to_date", {"tz": 1}, "argument 'tz' must be a string"),
        ("unix_to_datetime", {"tz": "UTC"}, "unknown argument 'tz'"),
    ],
)
def test_build_errors(name: str, args: dict, message: str) -> None:
    with pytest.raises(TransformError, match=message):
        build_step(TransformStep(name, args))


@given(st.integers(min_value=MIN_UNIX, max_value=MAX_UNIX))
def test_datetime_round_trip(seconds: int) -> None:
    assert apply("datetime_to_unix", apply("unix_to_datetime", seconds)) == seconds


@given(st.integers(min_value=MIN_UNIX, max_value=MAX_UNIX))
def test_whole_seconds_read_as_the_general_form_does(seconds: int) -> None:
    # Whole seconds take a faster route than floats and text; the text must not differ.
    expected = format_datetime(datetime.fromtimestamp(0, UTC) + timedelta(seconds=seconds))
    assert apply("unix_to_datetime", seconds) == expected
    assert apply("unix_to_datetime", str(seconds)) == expected


@given(st.integers(min_value=MIN_UNIX // 1000, max_value=MAX_UNIX // 1000), st.integers(0, 999))
def test_datetime_round_trip_milliseconds(seconds: int, millis: int) -> None:
    value = seconds + millis / 1000
    back = apply("datetime_to_unix", apply("unix_to_datetime", value))
    assert back == pytest.approx(value, abs=1e-6)


@given(st.dates(min_value=date(1700, 1, 1), max_value=date(4000, 12, 30)))
def test_date_round_trip(day: date) -> None:
    assert apply("unix_to_date", apply("date_to_unix", day.isoformat())) == day.isoformat()
