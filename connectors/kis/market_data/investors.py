"""Investor flows: who bought and sold a stock each day (종목별 투자자매매동향(일별), FHPTJ04160001).

The wire sends one wide row per day (buy/sell/net shares and value for each of 15 investor
types); the dataset is long, one row per investor type. Values come in millions of KRW and are
stored as KRW. Real environment only (paper answers 40580000).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from functools import partial
from typing import Any

import polars as pl

from connectors.kis.endpoints import Endpoint
from connectors.kis.market_data.common import KRX, QUOTATIONS
from connectors.kis.parsing import WireTable, conform, wire_frame
from connectors.kis.validation import check_range, check_symbol
from connectors.kis.windows import DateWindows, FetchPlan, ymd
from schemas.research import INVESTOR_FLOWS, INVESTORS

INVESTOR_TRADE_DAILY = Endpoint(
    "investor-trade-by-stock-daily",
    "GET",
    f"{QUOTATIONS}/investor-trade-by-stock-daily",
    "FHPTJ04160001",
    None,
)

# KIS does not document how many days one answer holds, so no page counts as "short": the
# pager moves its end date back until the range is covered or an answer comes back empty.
# (The simulator sends 100 days a page.)
UNKNOWN_PAGE = 1
MILLION = 1_000_000

# The wire prefix of each investor type on this endpoint.
_PREFIX = {
    "foreign": "frgn",
    "foreign_registered": "frgn_reg",
    "foreign_unregistered": "frgn_nreg",
    "individual": "prsn",
    "institution": "orgn",
    "securities": "scrt",
    "investment_trust": "ivtr",
    "private_fund": "pe_fund",
    "bank": "bank",
    "insurance": "insu",
    "merchant_bank": "mrbn",
    "pension_fund": "fund",
    "other": "etc",
    "other_corporation": "etc_corp",
    "other_organization": "etc_orgt",
}
_MEASURES = ("buy_volume", "sell_volume", "net_volume", "buy_value", "sell_value", "net_value")
_VALUES = frozenset({"buy_value", "sell_value", "net_value"})


def investor_wire_fields(investor: str) -> dict[str, str]:
    """measure -> wire field of one investor type (the workbook names a few irregularly)."""
    p = _PREFIX[investor]
    if investor in {"foreign_registered", "foreign_unregistered"}:
        return {
            "buy_volume": f"{p}_bidp_qty",
            "sell_volume": f"{p}_askp_qty",
            "net_volume": f"{p}_ntby_qty",
            "buy_value": f"{p}_bidp_pbmn",
            "sell_value": f"{p}_askp_pbmn",
            "net_value": f"{p}_ntby_pbmn",
        }
    unit = (
        "vol" if investor in {"private_fund", "other_corporation", "other_organization"} else "qty"
    )
    return {
        "buy_volume": f"{p}_shnu_vol",
        "sell_volume": f"{p}_seln_vol",
        "net_volume": f"{p}_ntby_{unit}",
        "buy_value": f"{p}_shnu_tr_pbmn",
        "sell_value": f"{p}_seln_tr_pbmn",
        "net_value": f"{p}_ntby_tr_pbmn",
    }


_WIRE = {investor: investor_wire_fields(investor) for investor in INVESTORS}
_WIRE_FIELDS = frozenset(f for fields in _WIRE.values() for f in fields.values())

INVESTOR_TRADE_TABLE = WireTable(
    "investor-trade-by-stock-daily",
    INVESTOR_FLOWS,
    "output2",
    # The day's price fields duplicate period_bars; bold_yn is display only.
    ignored=frozenset(
        {
            "stck_clpr",
            "prdy_vrss",
            "prdy_vrss_sign",
            "prdy_ctrt",
            "acml_vol",
            "acml_tr_pbmn",
            "stck_oprc",
            "stck_hgpr",
            "stck_lwpr",
            "bold_yn",
        }
    ),
    needs=_WIRE_FIELDS,
)


def parse_investor_flows(payload: Mapping[str, Any], *, symbol: str) -> pl.DataFrame:
    """investor-trade-by-stock-daily `output2` -> INVESTOR_FLOWS, one row per day and investor."""
    wide = wire_frame(
        payload, INVESTOR_TRADE_TABLE, extra=dict.fromkeys(sorted(_WIRE_FIELDS), pl.Int64())
    )
    long = pl.concat(
        [
            wide.select(
                pl.col("date"),
                pl.lit(investor).alias("investor"),
                *(
                    (pl.col(wire) * MILLION if measure in _VALUES else pl.col(wire)).alias(measure)
                    for measure, wire in _WIRE[investor].items()
                ),
            )
            for investor in INVESTORS
        ],
        how="vertical",
    ).with_columns(symbol=pl.lit(symbol))
    return conform(long, INVESTOR_TRADE_TABLE)


def investor_flows_plan(symbol: str, start: date, end: date) -> FetchPlan[pl.DataFrame]:
    symbol = check_symbol(symbol)
    start, end = check_range(start, end)

    def params(cursor: date) -> dict[str, str]:
        return {
            "FID_COND_MRKT_DIV_CODE": KRX,
            "FID_INPUT_ISCD": symbol,
            "FID_INPUT_DATE_1": ymd(cursor),
            "FID_ORG_ADJ_PRC": "",  # the workbook: leave blank
            "FID_ETC_CLS_CODE": "1",  # the workbook: "1"
        }

    parse = partial(parse_investor_flows, symbol=symbol)
    return FetchPlan(
        INVESTOR_TRADE_DAILY,
        "backfill",
        lambda: DateWindows(
            parse,
            params,
            start=start,
            end=end,
            period="D",
            page_size=UNKNOWN_PAGE,
            key=("date", "investor"),
            what=f"investor_flows {symbol} {start}..{end}",
            bounded_below=False,
        ),
        empty={"output1": {}, "output2": []},
    )
