"""Trading calendars: KRX (holidays, late opens, chk-holiday flags) and NYSE.

Holidays come from the `holidays` package (`financial_holidays("XKRX")` includes the year-end
closure on the last business day of December; `financial_holidays("NYSE")` the US market). The
late opens are our own table: KRX opens at 10:00 on the first trading day of the year, and on the
CSAT (수능) day it opens at 10:00 and closes at 16:30.

The KRX holidays of the precomputed years ship as data (data/krx_holidays.json, written from the
package by `python -m simulator.calendar`; a test keeps the two equal): importing the package's
exchange calendars loads every country's and exchange's (~0.3 s), which a command that only
reads the embedded simulator's clock would pay on every start. Other years come from the package.
"""

from __future__ import annotations

import bisect
import json
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # loaded when a date outside the shipped KRX table is asked (or for NYSE)
    import holidays

__all__ = [
    "KST",
    "NEW_YORK",
    "CSAT_DAYS",
    "DayFlags",
    "KrxCalendar",
    "UsCalendar",
    "weekday_code",
]

KST = zoneinfo.ZoneInfo("Asia/Seoul")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")

# Years for which trading days are precomputed; dates outside still work (slower path).
_PRECOMPUTED_YEARS = range(2010, 2031)
KRX_HOLIDAYS_FILE = Path(__file__).with_name("data") / "krx_holidays.json"

# CSAT (대학수학능력시험) days. 2017 was postponed a week by the Pohang earthquake, 2020 moved to
# December by COVID. 2027 is not announced yet: the third Thursday of November is assumed.
CSAT_DAYS: frozenset[date] = frozenset(
    {
        date(2015, 11, 12),
        date(2016, 11, 17),
        date(2017, 11, 23),
        date(2018, 11, 15),
        date(2019, 11, 14),
        date(2020, 12, 3),
        date(2021, 11, 18),
        date(2022, 11, 17),
        date(2023, 11, 16),
        date(2024, 11, 14),
        date(2025, 11, 13),
        date(2026, 11, 19),
        date(2027, 11, 18),
    }
)

KRX_OPEN = time(9, 0)
KRX_CLOSE = time(15, 30)
KRX_LATE_OPEN = time(10, 0)
KRX_CSAT_CLOSE = time(16, 30)
US_OPEN = time(9, 30)
US_CLOSE = time(16, 0)
US_EARLY_CLOSE = time(13, 0)


@dataclass(frozen=True)
class DayFlags:
    """One chk-holiday row's flags (kis-api.md §5.11)."""

    bzdy_yn: bool  # business day for financial institutions
    tr_day_yn: bool  # securities transaction day
    opnd_yn: bool  # the stock market is open: the flag to trade on
    sttl_day_yn: bool  # settlement day


def weekday_code(d: date) -> str:
    """chk-holiday `wday_dvsn_cd`: 01 Sunday … 07 Saturday."""
    return f"{(d.isoweekday() % 7) + 1:02d}"


def package_holidays(market: str, years: range | None = None) -> holidays.HolidayBase:
    """The `holidays` package's calendar of `market` ("XKRX", "NYSE"); `years` filled at once,
    others on demand."""
    import holidays

    return holidays.financial_holidays(market, years=years)


def write_krx_holidays(path: Path = KRX_HOLIDAYS_FILE) -> None:
    """Write the package's KRX holidays of the precomputed years to `path` (the shipped table)."""
    table = package_holidays("XKRX", _PRECOMPUTED_YEARS)
    rows = {d.isoformat(): str(name) for d, name in sorted(table.items())}
    path.write_text(json.dumps(rows, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")


def shipped_krx_holidays(path: Path = KRX_HOLIDAYS_FILE) -> dict[date, str]:
    """The shipped KRX holidays of the precomputed years (see the module docstring)."""
    rows = json.loads(path.read_text(encoding="utf-8"))
    return {date.fromisoformat(d): name for d, name in rows.items()}


class _Calendar:
    """Shared machinery: a holiday table plus a sorted list of trading days for fast ranges.

    `package` makes the `holidays` package's calendar (on first need); `known`, when given, holds
    the holidays of the precomputed years and spares the package for those years."""

    def __init__(
        self,
        package: Callable[[], holidays.HolidayBase],
        known: Mapping[date, str] | None = None,
    ) -> None:
        self._package = package
        self._known = known
        first = date(_PRECOMPUTED_YEARS.start, 1, 1)
        last = date(_PRECOMPUTED_YEARS.stop - 1, 12, 31)
        self._lo, self._hi = first, last
        days: list[date] = []
        d = first
        while d <= last:
            if self._open_by_rule(d):
                days.append(d)
            d += timedelta(days=1)
        self._days = days
        self._day_set = frozenset(days)

    @cached_property
    def _holidays(self) -> holidays.HolidayBase:
        return self._package()

    def _holiday(self, d: date) -> object | None:
        if self._known is not None and self._lo <= d <= self._hi:
            return self._known.get(d)
        return self._holidays.get(d)

    def _open_by_rule(self, d: date) -> bool:
        return d.weekday() < 5 and self._holiday(d) is None

    def is_trading_day(self, d: date) -> bool:
        if self._lo <= d <= self._hi:
            return d in self._day_set
        return self._open_by_rule(d)

    def trading_days(self, start: date, end: date) -> list[date]:
        """Trading days in [start, end], ascending."""
        if start > end:
            return []
        if self._lo <= start and end <= self._hi:
            i = bisect.bisect_left(self._days, start)
            j = bisect.bisect_right(self._days, end)
            return self._days[i:j]
        out = []
        d = start
        while d <= end:
            if self.is_trading_day(d):
                out.append(d)
            d += timedelta(days=1)
        return out

    def previous_trading_day(self, d: date) -> date:
        """The last trading day strictly before `d`."""
        if self._lo < d <= self._hi:
            i = bisect.bisect_left(self._days, d)
            if i > 0:
                return self._days[i - 1]
        p = d - timedelta(days=1)
        while not self.is_trading_day(p):
            p -= timedelta(days=1)
        return p

    def next_trading_day(self, d: date) -> date:
        """The first trading day strictly after `d`."""
        if self._lo <= d < self._hi:
            i = bisect.bisect_right(self._days, d)
            if i < len(self._days):
                return self._days[i]
        n = d + timedelta(days=1)
        while not self.is_trading_day(n):
            n += timedelta(days=1)
        return n

    def holiday_name(self, d: date) -> str | None:
        name = self._holiday(d)
        return None if name is None else str(name)


class KrxCalendar(_Calendar):
    def __init__(self) -> None:
        super().__init__(lambda: package_holidays("XKRX"), shipped_krx_holidays())

    def is_first_trading_day_of_year(self, d: date) -> bool:
        return self.is_trading_day(d) and self.previous_trading_day(d).year < d.year

    def session(self, d: date) -> tuple[datetime, datetime]:
        """Regular session (open, close) in KST, naive; raises on a closed day."""
        if not self.is_trading_day(d):
            raise ValueError(f"{d} is not a KRX trading day; check is_trading_day() first")
        if d in CSAT_DAYS:
            return datetime.combine(d, KRX_LATE_OPEN), datetime.combine(d, KRX_CSAT_CLOSE)
        if self.is_first_trading_day_of_year(d):
            return datetime.combine(d, KRX_LATE_OPEN), datetime.combine(d, KRX_CLOSE)
        return datetime.combine(d, KRX_OPEN), datetime.combine(d, KRX_CLOSE)

    def day_flags(self, d: date) -> DayFlags:
        """Flags as chk-holiday reports them.

        Mirrors the workbook example: the year-end closure is a business day for banks but the
        market is closed and nothing settles; weekends and holidays are not business days;
        `tr_day_yn` was `Y` on every row of the example (weekends included), so it stays `Y`.
        """
        opnd = self.is_trading_day(d)
        year_end_closure = not opnd and d.weekday() < 5 and self._is_year_end_closure(d)
        return DayFlags(
            bzdy_yn=opnd or year_end_closure,
            tr_day_yn=True,
            opnd_yn=opnd,
            sttl_day_yn=opnd,
        )

    def _is_year_end_closure(self, d: date) -> bool:
        # `holidays` names the closure on the last business day of December this way.
        return d.month == 12 and "End of Year" in (self.holiday_name(d) or "")


class UsCalendar(_Calendar):
    """NYSE calendar; sessions are tz-aware America/New_York datetimes."""

    def __init__(self) -> None:
        super().__init__(lambda: package_holidays("NYSE"))

    def is_early_close(self, d: date) -> bool:
        """13:00 closes: July 3 (Mon-Thu), the day after Thanksgiving, Christmas Eve (weekdays)."""
        if not self.is_trading_day(d):
            return False
        if d.month == 7 and d.day == 3:
            return d.weekday() < 4
        if d.month == 12 and d.day == 24:
            return True
        # Thanksgiving is the fourth Thursday of November; the early close is the Friday after.
        return d.month == 11 and d.weekday() == 4 and 23 <= d.day <= 29

    def session(self, d: date) -> tuple[datetime, datetime]:
        if not self.is_trading_day(d):
            raise ValueError(f"{d} is not a US trading day; check is_trading_day() first")
        close = US_EARLY_CLOSE if self.is_early_close(d) else US_CLOSE
        return (
            datetime.combine(d, US_OPEN, tzinfo=NEW_YORK),
            datetime.combine(d, close, tzinfo=NEW_YORK),
        )


if __name__ == "__main__":
    write_krx_holidays()
    print(f"wrote {KRX_HOLIDAYS_FILE}")
