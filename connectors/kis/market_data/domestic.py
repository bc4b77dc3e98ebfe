"""Domestic stock quotes: current price, last-30 prices, period charts, minute charts (kis-api.md §5).

Each endpoint sits with its wire table, its parser and its plan builder (`*_plan`: validate the
arguments, then endpoint + lane + pager + parser; pure, no I/O).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from functools import partial
from typing import Any

import polars as pl

from connectors.kis.endpoints import Endpoint
from connectors.kis.errors import KisInvalidArgument, KisProtocolError
from connectors.kis.market_data.common import EMPTY_CHART, KRX, QUOTATIONS, windows_plan
from connectors.kis.parsing import (
    MINUTE_TIME,
    WireTable,
    block_rows,
    conform,
    kst_timestamp,
    wire_frame,
)
from connectors.kis.validation import check_period, check_range, check_symbol
from connectors.kis.windows import (
    FetchPlan,
    PastMinutes,
    SinglePage,
    TodayMinutes,
    hms,
    ymd,
)
from schemas import MINUTE_BARS, PERIOD_BARS
from schemas.clock import KST

INQUIRE_PRICE = Endpoint(
    "inquire-price", "GET", f"{QUOTATIONS}/inquire-price", "FHKST01010100", "FHKST01010100"
)

INQUIRE_DAILY_PRICE = Endpoint(
    "inquire-daily-price",
    "GET",
    f"{QUOTATIONS}/inquire-daily-price",
    "FHKST01010400",
    "FHKST01010400",
)

PERIOD_CHART = Endpoint(
    "inquire-daily-itemchartprice",
    "GET",
    f"{QUOTATIONS}/inquire-daily-itemchartprice",
    "FHKST03010100",
    "FHKST03010100",
)

TODAY_MINUTE_CHART = Endpoint(
    "inquire-time-itemchartprice",
    "GET",
    f"{QUOTATIONS}/inquire-time-itemchartprice",
    "FHKST03010200",
    "FHKST03010200",
)

PAST_MINUTE_CHART = Endpoint(
    "inquire-time-dailychartprice",
    "GET",
    f"{QUOTATIONS}/inquire-time-dailychartprice",
    "FHKST03010230",
    None,
)

# Rows per call (kis-api.md §5.0): the pagers stop on a shorter page.
PERIOD_PAGE = 100
TODAY_MINUTE_PAGE = 30
PAST_MINUTE_PAGE = 120

PERIOD_CHART_TABLE = WireTable("inquire-daily-itemchartprice", PERIOD_BARS, "output2")

DAILY_PRICE_TABLE = WireTable(
    "inquire-daily-price",
    PERIOD_BARS,
    "output",
    ignored=frozenset(
        {"prdy_vrss_vol_rate", "prdy_ctrt", "hts_frgn_ehrt", "frgn_ntby_qty", "acml_prtt_rate"}
    ),
    absent=frozenset({"acml_tr_pbmn", "prtt_rate", "mod_yn", "revl_issu_reas"}),
)

TODAY_MINUTES_TABLE = WireTable(
    "inquire-time-itemchartprice", MINUTE_BARS, "output2", needs=frozenset(MINUTE_TIME)
)

PAST_MINUTES_TABLE = WireTable(
    "inquire-time-dailychartprice", MINUTE_BARS, "output2", needs=frozenset(MINUTE_TIME)
)


def parse_period_bars(
    payload: Mapping[str, Any], *, symbol: str, period: str, adjusted: bool
) -> pl.DataFrame:
    """inquire-daily-itemchartprice `output2` -> PERIOD_BARS (newest first as sent)."""
    return _bars(payload, PERIOD_CHART_TABLE, symbol=symbol, period=period, adjusted=adjusted)


def parse_daily_price(
    payload: Mapping[str, Any], *, symbol: str, period: str, adjusted: bool
) -> pl.DataFrame:
    """inquire-daily-price `output` (last 30 periods) -> PERIOD_BARS."""
    return _bars(payload, DAILY_PRICE_TABLE, symbol=symbol, period=period, adjusted=adjusted)


def _bars(
    payload: Mapping[str, Any], table: WireTable, *, symbol: str, period: str, adjusted: bool
) -> pl.DataFrame:
    frame = wire_frame(payload, table).with_columns(
        symbol=pl.lit(symbol), period=pl.lit(period), adjusted=pl.lit(adjusted)
    )
    return conform(frame, table)


def parse_minute_bars(
    payload: Mapping[str, Any], *, symbol: str, past_days: bool = False
) -> pl.DataFrame:
    """Today's (inquire-time-itemchartprice) or past days' (inquire-time-dailychartprice) bars."""
    table = PAST_MINUTES_TABLE if past_days else TODAY_MINUTES_TABLE
    frame = wire_frame(payload, table, extra=MINUTE_TIME)
    frame = frame.with_columns(symbol=pl.lit(symbol), ts=kst_timestamp("date", "stck_cntg_hour"))
    return conform(frame, table)


_CURRENT_PRICE_INTS: Mapping[str, str] = {
    "stck_prpr": "price",
    "prdy_vrss": "change",
    "stck_oprc": "open",
    "stck_hgpr": "high",
    "stck_lwpr": "low",
    "stck_mxpr": "upper_limit",
    "stck_llam": "lower_limit",
    "stck_sdpr": "base_price",
    "acml_vol": "volume",
    "acml_tr_pbmn": "value",
    "aspr_unit": "tick_size",
    "lstn_stcn": "listed_shares",
}


def parse_current_price(payload: Mapping[str, Any], *, symbol: str) -> dict[str, Any]:
    """inquire-price `output` -> a dict of the headline figures (ints in KRW) plus `raw`.

    The headline keys are always present; `raw` keeps every wire field as sent (strings) for the
    many indicators we do not type.
    """
    endpoint = "inquire-price"
    rows = block_rows(payload, endpoint, "output")
    if not rows:
        raise KisProtocolError(
            f"{endpoint}: empty output for {symbol}", context={"endpoint": endpoint}
        )
    raw = {k: str(v) for k, v in rows[0].items()}
    missing = sorted(w for w in ("stck_prpr", "prdy_vrss_sign") if w not in raw)
    if missing:
        raise KisProtocolError(
            f"{endpoint}: the response lacks field(s) {missing}",
            context={"endpoint": endpoint, "field": missing[0]},
        )
    out: dict[str, Any] = {"symbol": symbol}
    for wire, name in _CURRENT_PRICE_INTS.items():
        out[name] = _int_or_none(raw.get(wire), endpoint, wire)
    rate = (raw.get("prdy_ctrt") or "").strip()
    out["change_rate"] = float(rate) if rate else None
    out["change_sign"] = raw["prdy_vrss_sign"].strip()
    out["raw"] = raw
    return out


def _int_or_none(value: str | None, endpoint: str, wire: str) -> int | None:
    text = (value or "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise KisProtocolError(
            f"{endpoint}: field {wire!r} is not an integer: {text!r}",
            context={"endpoint": endpoint, "field": wire},
        ) from None


def period_bars_plan(
    symbol: str, start: date, end: date, period: str, adjusted: bool
) -> FetchPlan[pl.DataFrame]:
    symbol = check_symbol(symbol)
    start, end = check_range(start, end)
    period = check_period(period)

    def params(cursor: date) -> dict[str, str]:
        return {
            "FID_COND_MRKT_DIV_CODE": KRX,
            "FID_INPUT_ISCD": symbol,
            "FID_INPUT_DATE_1": ymd(start),
            "FID_INPUT_DATE_2": ymd(cursor),
            "FID_PERIOD_DIV_CODE": period,
            # On this API 0 = adjusted, 1 = original (the opposite of inquire-daily-price).
            "FID_ORG_ADJ_PRC": "0" if adjusted else "1",
        }

    parse = partial(parse_period_bars, symbol=symbol, period=period, adjusted=adjusted)
    return windows_plan(
        PERIOD_CHART,
        parse,
        params,
        start=start,
        end=end,
        period=period,
        page_size=PERIOD_PAGE,
        what=f"period_bars {symbol} {period} {start}..{end}",
    )


def daily_price_plan(symbol: str, period: str, adjusted: bool) -> FetchPlan[pl.DataFrame]:
    symbol = check_symbol(symbol)
    period = check_period(period, ("D", "W", "M"))
    params = {
        "FID_COND_MRKT_DIV_CODE": KRX,
        "FID_INPUT_ISCD": symbol,
        "FID_PERIOD_DIV_CODE": period,
        # On this API 1 = adjusted, 0 = not adjusted (workbook; kis-api.md §10.2).
        "FID_ORG_ADJ_PRC": "1" if adjusted else "0",
    }
    parse = partial(parse_daily_price, symbol=symbol, period=period, adjusted=adjusted)
    return FetchPlan(
        INQUIRE_DAILY_PRICE,
        "live",
        lambda: SinglePage(parse, params, what=f"daily_price {symbol}", key=("date",)),
        empty={"output": []},
    )


def current_price_plan(symbol: str) -> FetchPlan[dict[str, Any]]:
    symbol = check_symbol(symbol)
    params = {"FID_COND_MRKT_DIV_CODE": KRX, "FID_INPUT_ISCD": symbol}
    parse = partial(parse_current_price, symbol=symbol)
    return FetchPlan(
        INQUIRE_PRICE, "live", lambda: SinglePage(parse, params, what=f"current_price {symbol}")
    )


def today_minutes_plan(symbol: str, until: time | None, now: datetime) -> FetchPlan[pl.DataFrame]:
    symbol = check_symbol(symbol)
    if until is not None and not isinstance(until, time):
        raise KisInvalidArgument(f"until must be a datetime.time, got {until!r}")
    # A time after "now" behaves like now (workbook), so by default ask up to at least the close:
    # that is right whatever clock the server runs on (a simulator may lag the wall clock).
    first = until or max(now.astimezone(KST).time().replace(microsecond=0), time(15, 30))

    def params(cursor: time) -> dict[str, str]:
        return {
            "FID_ETC_CLS_CODE": "",
            "FID_COND_MRKT_DIV_CODE": KRX,
            "FID_INPUT_ISCD": symbol,
            "FID_INPUT_HOUR_1": hms(cursor),
            "FID_PW_DATA_INCU_YN": "N",
        }

    parse = partial(parse_minute_bars, symbol=symbol)
    return FetchPlan(
        TODAY_MINUTE_CHART,
        "live",
        lambda: TodayMinutes(
            parse,
            params,
            until=first,
            page_size=TODAY_MINUTE_PAGE,
            key=("ts",),
            what=f"minute_bars {symbol} today",
        ),
        empty=EMPTY_CHART,
    )


def past_minutes_plan(symbol: str, start_day: date, end_day: date) -> FetchPlan[pl.DataFrame]:
    symbol = check_symbol(symbol)
    start_day, end_day = check_range(start_day, end_day)

    def params(day: date, cursor: time) -> dict[str, str]:
        return {
            "FID_COND_MRKT_DIV_CODE": KRX,
            "FID_INPUT_ISCD": symbol,
            "FID_INPUT_HOUR_1": hms(cursor),
            "FID_INPUT_DATE_1": ymd(day),
            "FID_PW_DATA_INCU_YN": "Y",
            # The table says blank; the example sends N. Blank is what the table requires.
            "FID_FAKE_TICK_INCU_YN": "",
        }

    parse = partial(parse_minute_bars, symbol=symbol, past_days=True)
    return FetchPlan(
        PAST_MINUTE_CHART,
        "backfill",
        lambda: PastMinutes(
            parse,
            params,
            start_day=start_day,
            end_day=end_day,
            page_size=PAST_MINUTE_PAGE,
            key=("ts",),
            what=f"minute_bars {symbol} {start_day}..{end_day}",
        ),
        empty=EMPTY_CHART,
    )


def minute_plan(
    symbol: str,
    day: date | None,
    start_day: date | None,
    end_day: date | None,
    until: time | None,
    now: datetime,
) -> FetchPlan[pl.DataFrame]:
    if day is not None and (start_day is not None or end_day is not None):
        raise KisInvalidArgument("pass either day or start_day/end_day, not both")
    if (start_day is None) != (end_day is None):
        raise KisInvalidArgument("start_day and end_day go together")
    if day is not None:
        return past_minutes_plan(symbol, day, day)
    if start_day is not None and end_day is not None:
        return past_minutes_plan(symbol, start_day, end_day)
    return today_minutes_plan(symbol, until, now)
