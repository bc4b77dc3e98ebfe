"""Short selling per stock per day (국내주식 공매도 일별추이, FHPST04830000), real environment only.

The request bounds the window on both sides (FID_INPUT_DATE_1 .. FID_INPUT_DATE_2); pages move the
end back past the oldest row received, like the period chart.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import polars as pl

from connectors.kis.endpoints import Endpoint
from connectors.kis.market_data.common import EMPTY_CHART, KRX, QUOTATIONS, stock_day_plan
from connectors.kis.parsing import WireTable, conform, wire_frame
from connectors.kis.windows import FetchPlan, ymd
from schemas.research import SHORT_SALES

DAILY_SHORT_SALE = Endpoint(
    "daily-short-sale", "GET", f"{QUOTATIONS}/daily-short-sale", "FHPST04830000", None
)

SHORT_SALE_TABLE = WireTable(
    "daily-short-sale",
    SHORT_SALES,
    "output2",
    ignored=frozenset(
        {
            "stck_clpr",
            "prdy_vrss",
            "prdy_vrss_sign",
            "prdy_ctrt",
            "stck_oprc",
            "stck_hgpr",
            "stck_lwpr",
            "avrg_prc",
            # Base sums and running totals over the window asked for: they change with the
            # request, so they are not facts about the day.
            "stnd_vol_smtn",
            "stnd_tr_pbmn_smtn",
            "acml_ssts_cntg_qty",
            "acml_ssts_cntg_qty_rlim",
            "acml_ssts_tr_pbmn",
            "acml_ssts_tr_pbmn_rlim",
        }
    ),
)


def parse_short_sales(payload: Mapping[str, Any], *, symbol: str) -> pl.DataFrame:
    """daily-short-sale `output2` -> SHORT_SALES (newest first as sent)."""
    frame = wire_frame(payload, SHORT_SALE_TABLE).with_columns(symbol=pl.lit(symbol))
    return conform(frame, SHORT_SALE_TABLE)


def _short_sales_params(symbol: str, start: date, cursor: date) -> dict[str, str]:
    return {
        "FID_COND_MRKT_DIV_CODE": KRX,
        "FID_INPUT_ISCD": symbol,
        "FID_INPUT_DATE_1": ymd(start),
        "FID_INPUT_DATE_2": ymd(cursor),
    }


def short_sales_plan(symbol: str, start: date, end: date) -> FetchPlan[pl.DataFrame]:
    return stock_day_plan(
        DAILY_SHORT_SALE,
        parse_short_sales,
        _short_sales_params,
        symbol,
        start,
        end,
        what="short_sales",
        bounded_below=True,
        empty=EMPTY_CHART,
    )
