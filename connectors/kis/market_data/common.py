"""What the quote endpoints share: the domestic paths, the KRX venue code, the empty chart, and
the plan of a date-keyed series (bars, investor flows, short sales, ...) fetched in date windows."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, timedelta
from functools import partial
from typing import Any, Literal

import polars as pl

from connectors.kis.endpoints import Endpoint
from connectors.kis.validation import check_range, check_symbol
from connectors.kis.windows import DateWindows, FetchPlan

QUOTATIONS = "/uapi/domestic-stock/v1/quotations"
KRX = "J"  # FID_COND_MRKT_DIV_CODE: KRX; the datasets do not key on the venue, so one venue only
Period = Literal["D", "W", "M", "Y"]
# The body standing for a chart page when KIS answers "nothing to show".
EMPTY_CHART: dict[str, Any] = {"output1": {}, "output2": []}
# KIS does not document how many days one answer of the daily research endpoints (investor
# flows, short sales, credit, program trades) holds, so no page counts as "short": the pager
# moves its end date back until the range is covered or an answer comes back empty.
# (The simulator sends 100 days a page.)
UNKNOWN_PAGE = 1
# The empty answer of the endpoints whose rows come in `output`.
EMPTY_OUTPUT: dict[str, Any] = {"output": []}


def windows_plan(
    endpoint: Endpoint,
    parse: Callable[[Mapping[str, Any]], pl.DataFrame],
    params: Callable[[date], dict[str, str]],
    *,
    start: date,
    end: date,
    period: str,
    page_size: int,
    what: str,
    bounded_below: bool = True,
    key: tuple[str, ...] = ("date",),
    column: str = "date",
    empty: Mapping[str, Any] = EMPTY_CHART,
) -> FetchPlan[pl.DataFrame]:
    """One series keyed by date (bars: daily/weekly/monthly/yearly; the daily research
    datasets), walked back from `end` in windows of `page_size` rows (a backfill); `empty` is
    the body standing for a page when KIS answers "nothing to show"."""
    return FetchPlan(
        endpoint,
        "backfill",
        lambda: DateWindows(
            parse,
            params,
            start=start,
            end=end,
            period=period,
            page_size=page_size,
            key=key,
            bounded_below=bounded_below,
            what=what,
            column=column,
        ),
        empty=empty,
    )


def stock_day_plan(
    endpoint: Endpoint,
    parse: Callable[..., pl.DataFrame],
    params: Callable[[str, date, date], dict[str, str]],
    symbol: str,
    start: date,
    end: date,
    *,
    what: str,
    bounded_below: bool = False,
    key: tuple[str, ...] = ("date",),
    column: str = "date",
    lag: timedelta = timedelta(0),
    empty: Mapping[str, Any] = EMPTY_OUTPUT,
) -> FetchPlan[pl.DataFrame]:
    """One stock's daily research series (investor flows, short sales, credit, program trades):
    `parse(payload, symbol=...)`, and `params(symbol, start, cursor)` for the page ending at
    `cursor`; the walk starts `lag` past `end` (credit pages on settlement dates)."""
    symbol = check_symbol(symbol)
    start, end = check_range(start, end)
    return windows_plan(
        endpoint,
        partial(parse, symbol=symbol),
        partial(params, symbol, start),
        start=start,
        end=end + lag,
        period="D",
        page_size=UNKNOWN_PAGE,
        what=f"{what} {symbol} {start}..{end}",
        bounded_below=bounded_below,
        key=key,
        column=column,
        empty=empty,
    )
