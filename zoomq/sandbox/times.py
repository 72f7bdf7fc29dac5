"""Zoom's time formats and UTC days, computed from epoch seconds."""

from __future__ import annotations

import calendar
import time
from datetime import UTC, date, datetime

__all__ = [
    "DAY",
    "add_month",
    "date_start",
    "day_number",
    "day_start",
    "iso",
    "next_midnight_iso",
    "parse_date",
    "parse_datetime",
    "utc_date",
]

DAY = 86_400


def iso(ts: float) -> str:
    """``2024-05-30T14:00:00Z``, Zoom's date-time form."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def day_number(ts: float) -> int:
    """The UTC day index since the epoch: daily budgets reset when it changes."""
    return int(ts // DAY)


def day_start(ts: float) -> float:
    return float(day_number(ts) * DAY)


def next_midnight_iso(ts: float) -> str:
    """When daily limits reset: the next 00:00 UTC, as ``Retry-After`` carries it."""
    return iso((day_number(ts) + 1) * DAY)


def utc_date(ts: float) -> date:
    return datetime.fromtimestamp(ts, UTC).date()


def parse_date(value: str) -> date:
    """A ``yyyy-mm-dd`` date; raises ValueError otherwise."""
    if len(value) != 10:
        raise ValueError(value)
    return date.fromisoformat(value)


def parse_datetime(value: str) -> float:
    """``yyyy-MM-ddTHH:mm:ss`` with ``Z``, an offset or nothing (UTC) -> epoch seconds."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def date_start(day: date) -> float:
    """00:00 UTC of ``day``, in epoch seconds."""
    return float(calendar.timegm(day.timetuple()))


def add_month(day: date) -> date:
    """The same day one calendar month later (clamped to the month's end)."""
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(day.day, last))
