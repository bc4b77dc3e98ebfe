"""Program trading per stock per day (종목별 프로그램매매추이(일별), FHPPG04650201), real only.

One answer runs back from FID_INPUT_DATE_1; pages move that date back past the oldest row. KIS
sends all programs together (whol_smtn_*): no per-stock sheet splits arbitrage from non-arbitrage
(the intraday FHPPG04650101 and realtime H0STPGM0 send totals too); the split exists per market
only (FHPPG04600001, HHPPG046600C1).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import polars as pl

from connectors.kis.endpoints import Endpoint
from connectors.kis.market_data.common import KRX, QUOTATIONS, stock_day_plan
from connectors.kis.parsing import WireTable, conform, wire_frame
from connectors.kis.windows import FetchPlan, ymd
from schemas.research import PROGRAM_TRADES

PROGRAM_TRADE_DAILY = Endpoint(
    "program-trade-by-stock-daily",
    "GET",
    f"{QUOTATIONS}/program-trade-by-stock-daily",
    "FHPPG04650201",
    None,
)

PROGRAM_TRADE_TABLE = WireTable(
    "program-trade-by-stock-daily",
    PROGRAM_TRADES,
    "output",
    # Price fields duplicate period_bars; the changes versus the day before are derivable.
    ignored=frozenset(
        {
            "stck_clpr",
            "prdy_vrss",
            "prdy_vrss_sign",
            "prdy_ctrt",
            "whol_ntby_vol_icdc",
            "whol_ntby_tr_pbmn_icdc2",
        }
    ),
)


def parse_program_trades(payload: Mapping[str, Any], *, symbol: str) -> pl.DataFrame:
    """program-trade-by-stock-daily `output` -> PROGRAM_TRADES (newest first as sent)."""
    frame = wire_frame(payload, PROGRAM_TRADE_TABLE).with_columns(symbol=pl.lit(symbol))
    return conform(frame, PROGRAM_TRADE_TABLE)


def _program_trades_params(symbol: str, start: date, cursor: date) -> dict[str, str]:
    return {
        "FID_COND_MRKT_DIV_CODE": KRX,
        "FID_INPUT_ISCD": symbol,
        "FID_INPUT_DATE_1": ymd(cursor),
    }


def program_trades_plan(symbol: str, start: date, end: date) -> FetchPlan[pl.DataFrame]:
    return stock_day_plan(
        PROGRAM_TRADE_DAILY,
        parse_program_trades,
        _program_trades_params,
        symbol,
        start,
        end,
        what="program_trades",
    )
