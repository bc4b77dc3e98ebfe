"""Overseas quotes: daily/weekly/monthly bars and minute bars (kis-api.md §6), exact decimals."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from functools import partial
from typing import Any

import polars as pl

from connectors.kis.endpoints import Endpoint
from connectors.kis.errors import KisInvalidArgument
from connectors.kis.market_data.common import EMPTY_CHART, windows_plan
from connectors.kis.parsing import WireTable, conform, wire_frame
from connectors.kis.validation import (
    check_exchange,
    check_overseas_symbol,
    check_period,
    check_positive,
    check_range,
)
from connectors.kis.windows import FetchPlan, KeyedMinutes, ymd
from schemas import OVERSEAS_BARS, OVERSEAS_MINUTE_BARS

_OVERSEAS = "/uapi/overseas-price/v1/quotations"

OVERSEAS_DAILY = Endpoint(
    "overseas-dailyprice", "GET", f"{_OVERSEAS}/dailyprice", "HHDFS76240000", "HHDFS76240000"
)

OVERSEAS_MINUTE_CHART = Endpoint(
    "overseas-inquire-time-itemchartprice",
    "GET",
    f"{_OVERSEAS}/inquire-time-itemchartprice",
    "HHDFS76950200",
    None,
)

# Rows per call (kis-api.md §6): the pagers stop on a shorter page.
OVERSEAS_DAILY_PAGE = 100
OVERSEAS_MINUTE_PAGE = 120

# Exchange-local time zones of the quote exchange codes (kis-api.md §6.1). The US daytime session
# codes (BAY/BAQ/BAA) report US-local dates and times like the regular codes.
EXCHANGE_ZONES: Mapping[str, str] = {
    "NAS": "America/New_York",
    "NYS": "America/New_York",
    "AMS": "America/New_York",
    "BAY": "America/New_York",
    "BAQ": "America/New_York",
    "BAA": "America/New_York",
    "HKS": "Asia/Hong_Kong",
    "TSE": "Asia/Tokyo",
    "SHS": "Asia/Shanghai",
    "SZS": "Asia/Shanghai",
    "SHI": "Asia/Shanghai",
    "SZI": "Asia/Shanghai",
    "HSX": "Asia/Ho_Chi_Minh",
    "HNX": "Asia/Ho_Chi_Minh",
}

# Quote exchange codes dailyprice accepts (the US daytime codes are minute-bars only).
OVERSEAS_DAILY_EXCHANGES = frozenset(EXCHANGE_ZONES) - {"BAY", "BAQ", "BAA"}

OVERSEAS_PERIODS = {"D": "0", "W": "1", "M": "2"}

OVERSEAS_DAILY_TABLE = WireTable(
    "overseas dailyprice",
    OVERSEAS_BARS,
    "output2",
    # diff is sent unsigned (direction in `sign`); bid/ask are the day's last quotes.
    ignored=frozenset({"diff", "pbid", "vbid", "pask", "vask"}),
)

OVERSEAS_MINUTES_TABLE = WireTable(
    "overseas inquire-time-itemchartprice",
    OVERSEAS_MINUTE_BARS,
    "output2",
    ignored=frozenset({"tymd", "kymd", "khms"}),
)


def parse_overseas_bars(
    payload: Mapping[str, Any], *, exchange: str, symbol: str, period: str, adjusted: bool
) -> pl.DataFrame:
    """Overseas dailyprice `output2` -> OVERSEAS_BARS (exact 4-decimal prices)."""
    frame = wire_frame(payload, OVERSEAS_DAILY_TABLE).with_columns(
        exchange=pl.lit(exchange),
        symbol=pl.lit(symbol),
        period=pl.lit(period),
        adjusted=pl.lit(adjusted),
    )
    return conform(frame, OVERSEAS_DAILY_TABLE)


def parse_overseas_minute_bars(
    payload: Mapping[str, Any], *, exchange: str, symbol: str
) -> pl.DataFrame:
    """Overseas minute bars -> OVERSEAS_MINUTE_BARS; ts from the exchange-local date and time."""
    zone = exchange_zone(exchange)
    frame = wire_frame(payload, OVERSEAS_MINUTES_TABLE)
    local = pl.col("local_date").dt.combine(pl.col("local_time"), "us")
    frame = frame.with_columns(
        exchange=pl.lit(exchange),
        symbol=pl.lit(symbol),
        timezone=pl.lit(zone),
        # Trading hours never fall in a DST fold, so a local wall time names one instant.
        ts=local.dt.replace_time_zone(zone, ambiguous="raise").dt.convert_time_zone("UTC"),
    )
    return conform(frame, OVERSEAS_MINUTES_TABLE)


def exchange_zone(exchange: str) -> str:
    try:
        return EXCHANGE_ZONES[exchange]
    except KeyError:
        raise ValueError(
            f"unknown exchange code {exchange!r}; expected one of {sorted(EXCHANGE_ZONES)}"
        ) from None


def overseas_bars_plan(
    exchange: str, symbol: str, start: date, end: date, period: str, adjusted: bool
) -> FetchPlan[pl.DataFrame]:
    exchange = check_exchange(exchange, OVERSEAS_DAILY_EXCHANGES)
    symbol = check_overseas_symbol(symbol)
    start, end = check_range(start, end)
    gubn = OVERSEAS_PERIODS[check_period(period, OVERSEAS_PERIODS)]

    def params(cursor: date) -> dict[str, str]:
        return {
            "AUTH": "",
            "EXCD": exchange,
            "SYMB": symbol,
            "GUBN": gubn,
            "BYMD": ymd(cursor),
            "MODP": "1" if adjusted else "0",
            "KEYB": "",
        }

    parse = partial(
        parse_overseas_bars,
        exchange=exchange,
        symbol=symbol,
        period=period,
        adjusted=adjusted,
    )
    return windows_plan(
        OVERSEAS_DAILY,
        parse,
        params,
        start=start,
        end=end,
        period=period,
        page_size=OVERSEAS_DAILY_PAGE,
        bounded_below=False,
        what=f"overseas_bars {exchange}:{symbol} {period} {start}..{end}",
    )


def overseas_minutes_plan(
    exchange: str, symbol: str, interval_min: int, since: datetime | None
) -> FetchPlan[pl.DataFrame]:
    exchange = check_exchange(exchange, EXCHANGE_ZONES)
    symbol = check_overseas_symbol(symbol)
    interval_min = check_positive(interval_min, "interval_min", 60)
    if since is not None and (not isinstance(since, datetime) or since.tzinfo is None):
        raise KisInvalidArgument(f"since must be a timezone-aware datetime or None, got {since!r}")

    def params(next_flag: str, keyb: str) -> dict[str, str]:
        return {
            "AUTH": "",
            "EXCD": exchange,
            "SYMB": symbol,
            "NMIN": str(interval_min),
            "PINC": "1",  # include previous days: required when continuing
            "NEXT": next_flag,
            "NREC": str(OVERSEAS_MINUTE_PAGE),
            "FILL": "",
            "KEYB": keyb,
        }

    parse = partial(parse_overseas_minute_bars, exchange=exchange, symbol=symbol)
    return FetchPlan(
        OVERSEAS_MINUTE_CHART,
        "backfill",
        lambda: KeyedMinutes(
            parse,
            params,
            since=since,
            key=("ts",),
            what=f"overseas_minute_bars {exchange}:{symbol}",
        ),
        empty=EMPTY_CHART,
    )
