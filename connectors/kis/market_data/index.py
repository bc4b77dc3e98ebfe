"""Domestic index charts: daily/weekly/monthly/yearly bars and the latest minute bars."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from functools import partial
from typing import Any

import polars as pl

from connectors.kis.endpoints import Endpoint
from connectors.kis.market_data.common import EMPTY_CHART, QUOTATIONS, windows_plan
from connectors.kis.parsing import MINUTE_TIME, WireTable, conform, kst_timestamp, wire_frame
from connectors.kis.validation import check_index_code, check_period, check_positive, check_range
from connectors.kis.windows import FetchPlan, SinglePage, ymd
from schemas import INDEX_BARS, INDEX_MINUTE_BARS

INDEX_CHART = Endpoint(
    "inquire-daily-indexchartprice",
    "GET",
    f"{QUOTATIONS}/inquire-daily-indexchartprice",
    "FHKUP03500100",
    "FHKUP03500100",
)

INDEX_MINUTE_CHART = Endpoint(
    "inquire-time-indexchartprice",
    "GET",
    f"{QUOTATIONS}/inquire-time-indexchartprice",
    "FHKUP03500200",
    None,
)

INDEX_PAGE = 50  # rows per call

INDEX_CHART_TABLE = WireTable("inquire-daily-indexchartprice", INDEX_BARS, "output2")

INDEX_MINUTES_TABLE = WireTable(
    "inquire-time-indexchartprice",
    INDEX_MINUTE_BARS,
    "output2",
    needs=frozenset(MINUTE_TIME),
    # The workbook example carries two pseudo-bars with times 999999 (closing) and 888888
    # (after-hours) when FID_ETC_CLS_CODE is 0: they are session summaries, not minutes.
    summary_rows={"stck_cntg_hour": frozenset({"999999", "888888"})},
)


def parse_index_bars(payload: Mapping[str, Any], *, index_code: str, period: str) -> pl.DataFrame:
    """inquire-daily-indexchartprice `output2` -> INDEX_BARS (2-decimal exact levels)."""
    frame = wire_frame(payload, INDEX_CHART_TABLE).with_columns(
        index_code=pl.lit(index_code), period=pl.lit(period)
    )
    return conform(frame, INDEX_CHART_TABLE)


def parse_index_minute_bars(payload: Mapping[str, Any], *, index_code: str) -> pl.DataFrame:
    """inquire-time-indexchartprice `output2` -> INDEX_MINUTE_BARS."""
    frame = wire_frame(payload, INDEX_MINUTES_TABLE, extra=MINUTE_TIME)
    frame = frame.with_columns(
        index_code=pl.lit(index_code), ts=kst_timestamp("date", "stck_cntg_hour")
    )
    return conform(frame, INDEX_MINUTES_TABLE)


def index_bars_plan(
    index_code: str, start: date, end: date, period: str
) -> FetchPlan[pl.DataFrame]:
    code = check_index_code(index_code)
    start, end = check_range(start, end)
    period = check_period(period)

    def params(cursor: date) -> dict[str, str]:
        return {
            "FID_COND_MRKT_DIV_CODE": "U",
            "FID_INPUT_ISCD": code,
            "FID_INPUT_DATE_1": ymd(start),
            "FID_INPUT_DATE_2": ymd(cursor),
            "FID_PERIOD_DIV_CODE": period,
        }

    parse = partial(parse_index_bars, index_code=code, period=period)
    return windows_plan(
        INDEX_CHART,
        parse,
        params,
        start=start,
        end=end,
        period=period,
        page_size=INDEX_PAGE,
        what=f"index_bars {code} {period} {start}..{end}",
    )


def index_minutes_plan(
    index_code: str, interval_s: int, include_past: bool
) -> FetchPlan[pl.DataFrame]:
    code = check_index_code(index_code)
    interval_s = check_positive(interval_s, "interval_s", 3600)
    params = {
        "FID_COND_MRKT_DIV_CODE": "U",
        "FID_ETC_CLS_CODE": "0",
        "FID_INPUT_ISCD": code,
        "FID_INPUT_HOUR_1": str(interval_s),  # here HOUR_1 is the bar length in seconds
        "FID_PW_DATA_INCU_YN": "Y" if include_past else "N",
    }
    parse = partial(parse_index_minute_bars, index_code=code)
    # One call (at most 102 bars): the API documents no continuation.
    return FetchPlan(
        INDEX_MINUTE_CHART,
        "live",
        lambda: SinglePage(parse, params, what=f"index_minute_bars {code}", key=("ts",)),
        empty=EMPTY_CHART,
    )
