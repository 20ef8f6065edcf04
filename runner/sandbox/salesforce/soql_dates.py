"""Date and datetime handling for SOQL: literals, stored values and relative date ranges.

Relative literals (``TODAY``, ``LAST_N_DAYS:7`` ...) name a range of whole days. The
emulator's users all live in UTC, so a range runs from 00:00:00 UTC of its first day to
00:00:00 UTC of the day after its last. ``LAST_N_DAYS:n`` includes today (n + 1 days in
all) and ``NEXT_N_DAYS:n`` starts tomorrow, as Salesforce documents them.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

# Literals that take no argument, and those written NAME:n.
PLAIN_LITERALS = frozenset(
    {
        "YESTERDAY", "TODAY", "TOMORROW",
        "LAST_WEEK", "THIS_WEEK", "NEXT_WEEK",
        "LAST_MONTH", "THIS_MONTH", "NEXT_MONTH",
        "LAST_90_DAYS", "NEXT_90_DAYS",
        "LAST_QUARTER", "THIS_QUARTER", "NEXT_QUARTER",
        "LAST_YEAR", "THIS_YEAR", "NEXT_YEAR",
    }
)  # fmt: skip
N_LITERALS = frozenset(
    {
        "LAST_N_DAYS", "NEXT_N_DAYS", "N_DAYS_AGO",
        "LAST_N_WEEKS", "NEXT_N_WEEKS", "LAST_N_MONTHS", "NEXT_N_MONTHS",
        "LAST_N_YEARS", "NEXT_N_YEARS",
    }
)  # fmt: skip

_STORED_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T")


def parse_date_literal(text: str) -> date:
    return date.fromisoformat(text)


def parse_datetime_literal(text: str) -> datetime:
    """``2026-01-01T00:00:00Z``, ``...+01:00``, ``...-0800`` or with fractions, to UTC."""
    value = datetime.fromisoformat(text)
    return value.astimezone(UTC)


def to_date(value: object) -> date | None:
    """A stored date (``"2026-01-01"``); a stored datetime counts as its UTC day."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            if _STORED_DATETIME.match(value):
                return parse_datetime_literal(value).date()
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def to_datetime(value: object) -> datetime | None:
    """A stored datetime (``"2026-01-01T00:00:00.000+0000"``) in UTC; a date is its midnight."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def relative_range(name: str, n: int | None, now: datetime) -> tuple[date, date]:
    """First day and the day after the last day of a relative literal, as of ``now`` (UTC)."""
    today = now.astimezone(UTC).date() if now.tzinfo else now.date()
    one = timedelta(days=1)
    month = today.replace(day=1)
    quarter = date(today.year, (today.month - 1) // 3 * 3 + 1, 1)
    week = today - timedelta(days=(today.weekday() + 1) % 7)  # weeks start on Sunday (en_US)
    k = n or 0
    ranges: dict[str, tuple[date, date]] = {
        "YESTERDAY": (today - one, today),
        "TODAY": (today, today + one),
        "TOMORROW": (today + one, today + 2 * one),
        "LAST_WEEK": (week - 7 * one, week),
        "THIS_WEEK": (week, week + 7 * one),
        "NEXT_WEEK": (week + 7 * one, week + 14 * one),
        "LAST_MONTH": (_add_months(month, -1), month),
        "THIS_MONTH": (month, _add_months(month, 1)),
        "NEXT_MONTH": (_add_months(month, 1), _add_months(month, 2)),
        "LAST_90_DAYS": (today - 90 * one, today + one),
        "NEXT_90_DAYS": (today + one, today + 91 * one),
        "LAST_QUARTER": (_add_months(quarter, -3), quarter),
        "THIS_QUARTER": (quarter, _add_months(quarter, 3)),
        "NEXT_QUARTER": (_add_months(quarter, 3), _add_months(quarter, 6)),
        "LAST_YEAR": (date(today.year - 1, 1, 1), date(today.year, 1, 1)),
        "THIS_YEAR": (date(today.year, 1, 1), date(today.year + 1, 1, 1)),
        "NEXT_YEAR": (date(today.year + 1, 1, 1), date(today.year + 2, 1, 1)),
        "LAST_N_DAYS": (today - k * one, today + one),
        "NEXT_N_DAYS": (today + one, today + (k + 1) * one),
        "N_DAYS_AGO": (today - k * one, today - (k - 1) * one),
        "LAST_N_WEEKS": (week - 7 * k * one, week),
        "NEXT_N_WEEKS": (week + 7 * one, week + 7 * (k + 1) * one),
        "LAST_N_MONTHS": (_add_months(month, -k), month),
        "NEXT_N_MONTHS": (_add_months(month, 1), _add_months(month, k + 1)),
        "LAST_N_YEARS": (date(today.year - k, 1, 1), date(today.year, 1, 1)),
        "NEXT_N_YEARS": (date(today.year + 1, 1, 1), date(today.year + k + 1, 1, 1)),
    }
    return ranges[name]


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
