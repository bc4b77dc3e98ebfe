"""What the quote endpoints share: the domestic paths, the KRX venue code, the empty chart, and
the plan of a bar series fetched in date windows."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, Literal

import polars as pl

from connectors.kis.endpoints import Endpoint
from connectors.kis.windows import DateWindows, FetchPlan

QUOTATIONS = "/uapi/domestic-stock/v1/quotations"
KRX = "J"  # FID_COND_MRKT_DIV_CODE: KRX; the datasets do not key on the venue, so one venue only
Period = Literal["D", "W", "M", "Y"]
# The body standing for a chart page when KIS answers "nothing to show".
EMPTY_CHART: dict[str, Any] = {"output1": {}, "output2": []}


def bar_windows_plan(
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
) -> FetchPlan[pl.DataFrame]:
    """Daily/weekly/monthly/yearly bars of one series, keyed by date, walked back from `end` in
    windows of `page_size` bars (a backfill)."""
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
            key=("date",),
            bounded_below=bounded_below,
            what=what,
        ),
        empty=EMPTY_CHART,
    )
