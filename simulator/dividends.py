"""The synthetic market's cash dividends: one a year for the names with a `dividend` in
simulator/data/krx_stocks.csv, as KSD lists them (record date) and as the chart flags them.

The record date is the year's last trading day and the ex-dividend day the trading day before
(T+2 settlement). KRX does not adjust the base price for a cash dividend, so prices are
untouched: the daily chart only flags the ex-dividend day (flng_cls_code 02, 배당락).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from simulator.calendar import KrxCalendar
from simulator.universe import FIRST_DATE, LAST_DATE, PAR_VALUE, Instrument

EX_DIVIDEND_CODE = "02"  # flng_cls_code 배당락


@dataclass(frozen=True)
class Dividend:
    record: date
    ex: date
    amount: int  # KRW per share on the record date's basis (before a split: times its ratio)


def dividends(inst: Instrument, calendar: KrxCalendar, start: date, end: date) -> list[Dividend]:
    """`inst`'s dividends with record dates in [start, end], while it is listed."""
    if inst.dividend is None:
        return []
    out = []
    for year in range(max(start.year, FIRST_DATE.year), min(end.year, LAST_DATE.year) + 1):
        record = calendar.previous_trading_day(date(year + 1, 1, 1))
        ex = calendar.previous_trading_day(record)
        listed = inst.listed <= ex and (inst.delisted is None or record < inst.delisted)
        if start <= record <= end and listed:
            amount = inst.dividend * inst.par_value(record) // PAR_VALUE
            out.append(Dividend(record, ex, amount))
    return out


def is_ex_dividend(inst: Instrument, calendar: KrxCalendar, day: date) -> bool:
    """True on `inst`'s ex-dividend days (always in the year's last days)."""
    if inst.dividend is None or day.month != 12:
        return False
    return any(d.ex == day for d in dividends(inst, calendar, day, date(day.year, 12, 31)))
