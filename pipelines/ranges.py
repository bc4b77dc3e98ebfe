"""Date parsing for the CLI and flows (pure)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from pipelines.errors import InputError

_RELATIVE = re.compile(r"^(?P<n>\d+)(?P<unit>[dwmy])$")
_UNIT_DAYS = {"d": 1, "w": 7, "m": 31, "y": 366}


def parse_date(
    text: str | date | None, *, name: str = "date", today: date | None = None
) -> date | None:
    """2024-01-31, 20240131, today, or N{d,w,m,y} ago (relative to `today`)."""
    if text is None or isinstance(text, date):
        return text
    value = text.strip().lower()
    if value in ("", "none"):
        return None
    if value == "today" and today is not None:
        return today
    rel = _RELATIVE.match(value)
    if rel and today is not None:
        n, unit = int(rel["n"]), rel["unit"]
        if unit == "y":
            try:
                return today.replace(year=today.year - n)
            except ValueError:  # 29 February
                return today.replace(year=today.year - n, day=28)
        return today - timedelta(days=n * _UNIT_DAYS[unit])
    for fmt in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise InputError(f"bad {name} {text!r}: use YYYY-MM-DD, YYYYMMDD, today, or e.g. 30d / 3y")


def check_range(start: date, end: date) -> None:
    if start > end:
        raise InputError(f"start {start} is after end {end}")


def parse_span(
    start: str | None, end: str | None, *, today: date
) -> tuple[date | None, date | None]:
    """--start/--end of any command, each in any form `parse_date` takes; start after end is an
    InputError."""
    first = parse_date(start, name="start", today=today)
    last = parse_date(end, name="end", today=today)
    if first is not None and last is not None:
        check_range(first, last)
    return first, last
