"""KRX session rules and the final/provisional line for bars. Pure: the calendar is passed in.

A session runs 09:00-15:30 KST; on the first trading day of the year it opens at 10:00, on the
CSAT (수능) day it opens at 10:00 and closes at 16:30 (the simulator's calendar follows the same
rules; pipelines may not import it, so they live here too). Which days are trading days comes from
the lake's holidays table, given as an `is_trading_day` function.

A bar is *final* once its period holds no session that can still trade: with `next_open` the first
trading day whose session has not closed yet, exactly when its period (day, week, month, year)
starts before the period holding `next_open`. Minute bars go by their day (the day is fetched again
after the close), or by their own minute where bars are only ever snapshots (`minute_final`).
Everything else is provisional: stored with `final = false`, replaced by the next update after
the close.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import polars as pl

from schemas.clock import KST

# CSAT days: 2017 was postponed a week (Pohang earthquake), 2020 moved to December (COVID);
# 2027 is not announced yet: the third Thursday of November is assumed.
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
OPEN = time(9, 0)
CLOSE = time(15, 30)
LATE_OPEN = time(10, 0)
CSAT_CLOSE = time(16, 30)

TradingDay = Callable[[date], bool]

# The longest run of closed days KRX has had is about ten (long holidays around a weekend);
# searching further means the calendar says "never open", which is a bug, not a holiday.
_MAX_CLOSED_RUN = 60


def session_hours(day: date, is_trading_day: TradingDay) -> tuple[time, time]:
    """The regular session's (open, close) KST wall times on trading day `day`."""
    if not is_trading_day(day):
        raise ValueError(f"{day} is not a KRX trading day")
    if day in CSAT_DAYS:
        return LATE_OPEN, CSAT_CLOSE
    if previous_trading_day(day, is_trading_day).year < day.year:
        return LATE_OPEN, CLOSE
    return OPEN, CLOSE


def _step(day: date, is_trading_day: TradingDay, step: int) -> date:
    d = day + timedelta(days=step)
    for _ in range(_MAX_CLOSED_RUN):
        if is_trading_day(d):
            return d
        d += timedelta(days=step)
    raise ValueError(f"no trading day within {_MAX_CLOSED_RUN} days of {day}")


def previous_trading_day(day: date, is_trading_day: TradingDay) -> date:
    return _step(day, is_trading_day, -1)


def next_trading_day(day: date, is_trading_day: TradingDay) -> date:
    return _step(day, is_trading_day, 1)


def closed_through(now: datetime, is_trading_day: TradingDay) -> date:
    """The last day whose session (if any) has closed at `now`: today once today's session is
    over or when there is none today, else yesterday."""
    local = now.astimezone(KST) if now.tzinfo else now
    today = local.date()
    if not is_trading_day(today):
        return today
    _, close = session_hours(today, is_trading_day)
    return today if local.time() >= close else today - timedelta(days=1)


def next_open(settled: date, is_trading_day: TradingDay) -> date:
    """The first trading day after `settled`: the first session that can still trade."""
    return next_trading_day(settled, is_trading_day)


_TRUNCATE = {"D": "1d", "W": "1w", "M": "1mo", "Y": "1y"}


@dataclass(frozen=True)
class Finality:
    """Where final bars end for one run: `next_open` is the first session still to close (its
    period's bars are provisional), `now` the market clock's moment (a minute bar is final once
    its minute has passed)."""

    next_open: date
    now: datetime

    def period_final(self, date_column: str, period_column: str | None = None) -> pl.Expr:
        """`final` of bars labelled by `date_column`: their period starts before `next_open`'s
        (`period_column` names the D/W/M/Y column; without it every bar is a day's)."""
        day = pl.col(date_column)
        if period_column is None:
            return (day < pl.lit(self.next_open)).alias("final")
        expr: pl.Expr = pl.lit(None, dtype=pl.Boolean)
        for period, every in _TRUNCATE.items():
            cutoff = pl.lit(self.next_open).dt.truncate(every)
            expr = (
                pl.when(pl.col(period_column) == period)
                .then(day.dt.truncate(every) < cutoff)
                .otherwise(expr)
            )
        return expr.alias("final")

    def minute_final(self, ts_column: str, bar: timedelta = timedelta(minutes=1)) -> pl.Expr:
        """`final` of bars starting at `ts_column` (any zone): the bar has ended by `now`."""
        ends = pl.col(ts_column).dt.epoch("us") + bar // timedelta(microseconds=1)
        return (ends <= int(self.now.timestamp() * 1_000_000)).alias("final")
