"""Credit balances per stock per day (국내주식 신용잔고 일별추이, FHPST04760000), real environment
only: margin loans (융자) and stock loans (대주) opened, repaid and outstanding.

The request names a settlement date (T+2) and the answer runs back from it, so the pager moves on
settlement dates; rows are keyed by their trade date. Amounts come in 10,000 KRW (만원).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

import polars as pl

from connectors.kis.endpoints import Endpoint
from connectors.kis.market_data.common import KRX, QUOTATIONS, stock_day_plan
from connectors.kis.parsing import WireTable, conform, wire_frame
from connectors.kis.windows import FetchPlan, ymd
from schemas.research import CREDIT_BALANCE

DAILY_CREDIT_BALANCE = Endpoint(
    "daily-credit-balance", "GET", f"{QUOTATIONS}/daily-credit-balance", "FHPST04760000", None
)

MAN_WON = 10_000
# A trade settles two trading days later; around the longest KRX closures (Chuseok) that is up
# to ten calendar days, so the first request asks this far past the last trade date wanted.
SETTLEMENT_LAG = timedelta(days=10)

CREDIT_TABLE = WireTable(
    "daily-credit-balance",
    CREDIT_BALANCE,
    "output",
    ignored=frozenset(
        {
            "stck_prpr",
            "prdy_vrss_sign",
            "prdy_vrss",
            "prdy_ctrt",
            "acml_vol",
            "stck_oprc",
            "stck_hgpr",
            "stck_lwpr",
        }
    ),
)
_AMOUNTS = [c.name for c in CREDIT_BALANCE.columns if c.name.endswith("_value")]


def parse_credit_balance(payload: Mapping[str, Any], *, symbol: str) -> pl.DataFrame:
    """daily-credit-balance `output` -> CREDIT_BALANCE (amounts in KRW)."""
    frame = wire_frame(payload, CREDIT_TABLE).with_columns(
        pl.col(_AMOUNTS) * MAN_WON, symbol=pl.lit(symbol)
    )
    return conform(frame, CREDIT_TABLE)


def _credit_params(symbol: str, start: date, settlement: date) -> dict[str, str]:
    # The spec names these parameters in lowercase; 20476 is the screen's fixed key.
    return {
        "fid_cond_mrkt_div_code": KRX,
        "fid_cond_scr_div_code": "20476",
        "fid_input_iscd": symbol,
        "fid_input_date_1": ymd(settlement),
    }


def credit_balance_plan(symbol: str, start: date, end: date) -> FetchPlan[pl.DataFrame]:
    # Settled from `start` on: covers every trade from `start` (and the day or two before).
    return stock_day_plan(
        DAILY_CREDIT_BALANCE,
        parse_credit_balance,
        _credit_params,
        symbol,
        start,
        end,
        what="credit_balance",
        column="settlement_date",
        lag=SETTLEMENT_LAG,
    )
