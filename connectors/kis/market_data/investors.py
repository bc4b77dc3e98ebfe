"""Investor flows: who bought and sold, per stock (종목별 투자자매매동향(일별), FHPTJ04160001) and
per market (시장별 투자자매매동향(일별), FHPTJ04040000), each day; and the last 30 days of one stock's
three main groups (주식현재가 투자자, FHKST01010900).

The wire sends one wide row per day (shares and value for each of 15 investor types; three on
FHKST01010900); the datasets are long, one row per investor type. Values come in millions of KRW,
market volumes in thousands of shares; both are stored in KRW and shares. FHPTJ04160001 and
FHPTJ04040000 are real environment only (paper answers 40580000); FHKST01010900 answers on paper
too, which makes it the paper account's source of investor flows.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from functools import partial
from typing import Any

import polars as pl

from connectors.kis.endpoints import Endpoint
from connectors.kis.errors import KisInvalidArgument
from connectors.kis.market_data.common import (
    EMPTY_CHART,
    EMPTY_OUTPUT,
    KRX,
    QUOTATIONS,
    UNKNOWN_PAGE,
    stock_day_plan,
    windows_plan,
)
from connectors.kis.parsing import WireTable, conform, wire_frame
from connectors.kis.validation import check_range, check_symbol
from connectors.kis.windows import FetchPlan, SinglePage, ymd
from schemas.research import INVESTOR_FLOWS, INVESTORS, MARKET_INVESTOR_FLOWS, RECENT_INVESTORS

INVESTOR_TRADE_DAILY = Endpoint(
    "investor-trade-by-stock-daily",
    "GET",
    f"{QUOTATIONS}/investor-trade-by-stock-daily",
    "FHPTJ04160001",
    None,
)

INQUIRE_INVESTOR = Endpoint(
    "inquire-investor",
    "GET",
    f"{QUOTATIONS}/inquire-investor",
    "FHKST01010900",
    "FHKST01010900",
)

MARKET_INVESTOR_DAILY = Endpoint(
    "inquire-investor-daily-by-market",
    "GET",
    f"{QUOTATIONS}/inquire-investor-daily-by-market",
    "FHPTJ04040000",
    None,
)

# market -> (index code, FID_INPUT_ISCD_1 market code)
MARKETS = {"KOSPI": ("0001", "KSP"), "KOSDAQ": ("1001", "KSQ")}

# The trading days FHKST01010900 answers, newest first: the last 30 (the sheet gives no count; the
# issue's figure, and the simulator's).
RECENT_DAYS = 30
MILLION = 1_000_000
THOUSAND = 1_000

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


def _long(wide: pl.DataFrame, investors: tuple[str, ...], symbol: str) -> pl.DataFrame:
    """One wide row per day -> one row per day and investor type, values in KRW."""
    return pl.concat(
        [
            wide.select(
                pl.col("date"),
                pl.lit(investor).alias("investor"),
                *(
                    (pl.col(wire) * MILLION if measure in _VALUES else pl.col(wire)).alias(measure)
                    for measure, wire in _WIRE[investor].items()
                ),
            )
            for investor in investors
        ],
        how="vertical",
    ).with_columns(symbol=pl.lit(symbol))


def parse_investor_flows(payload: Mapping[str, Any], *, symbol: str) -> pl.DataFrame:
    """investor-trade-by-stock-daily `output2` -> INVESTOR_FLOWS, one row per day and investor."""
    wide = wire_frame(
        payload, INVESTOR_TRADE_TABLE, extra=dict.fromkeys(sorted(_WIRE_FIELDS), pl.Int64())
    )
    return conform(_long(wide, INVESTORS, symbol), INVESTOR_TRADE_TABLE)


_RECENT_FIELDS = frozenset(f for i in RECENT_INVESTORS for f in _WIRE[i].values())

RECENT_INVESTOR_TABLE = WireTable(
    "inquire-investor",
    INVESTOR_FLOWS,
    "output",
    ignored=frozenset({"stck_clpr", "prdy_vrss", "prdy_vrss_sign"}),  # in period_bars
    needs=_RECENT_FIELDS,
)


def parse_recent_investor_flows(payload: Mapping[str, Any], *, symbol: str) -> pl.DataFrame:
    """inquire-investor `output` -> INVESTOR_FLOWS rows of the three groups it sends."""
    wide = wire_frame(
        payload, RECENT_INVESTOR_TABLE, extra=dict.fromkeys(sorted(_RECENT_FIELDS), pl.Int64())
    )
    return conform(_long(wide, RECENT_INVESTORS, symbol), RECENT_INVESTOR_TABLE)


MARKET_INVESTOR_TABLE = WireTable(
    "inquire-investor-daily-by-market",
    MARKET_INVESTOR_FLOWS,
    "output",
    # The index's own figures duplicate index_bars.
    ignored=frozenset(
        {
            "bstp_nmix_prpr",
            "bstp_nmix_prdy_vrss",
            "prdy_vrss_sign",
            "bstp_nmix_prdy_ctrt",
            "bstp_nmix_oprc",
            "bstp_nmix_hgpr",
            "bstp_nmix_lwpr",
            "stck_prdy_clpr",
        }
    ),
    needs=frozenset(_WIRE[i][m] for i in INVESTORS for m in ("net_volume", "net_value")),
)


def parse_market_investor_flows(payload: Mapping[str, Any], *, market: str) -> pl.DataFrame:
    """inquire-investor-daily-by-market `output` -> MARKET_INVESTOR_FLOWS (nets only)."""
    table = MARKET_INVESTOR_TABLE
    wide = wire_frame(payload, table, extra=dict.fromkeys(sorted(table.needs), pl.Int64()))
    long = pl.concat(
        [
            wide.select(
                pl.col("date"),
                pl.lit(investor).alias("investor"),
                (pl.col(_WIRE[investor]["net_volume"]) * THOUSAND).alias("net_volume"),
                (pl.col(_WIRE[investor]["net_value"]) * MILLION).alias("net_value"),
            )
            for investor in INVESTORS
        ],
        how="vertical",
    ).with_columns(market=pl.lit(market))
    return conform(long, table)


def _investor_flows_params(symbol: str, start: date, cursor: date) -> dict[str, str]:
    return {
        "FID_COND_MRKT_DIV_CODE": KRX,
        "FID_INPUT_ISCD": symbol,
        "FID_INPUT_DATE_1": ymd(cursor),
        "FID_ORG_ADJ_PRC": "",  # the workbook: leave blank
        "FID_ETC_CLS_CODE": "1",  # the workbook: "1"
    }


def investor_flows_plan(symbol: str, start: date, end: date) -> FetchPlan[pl.DataFrame]:
    return stock_day_plan(
        INVESTOR_TRADE_DAILY,
        parse_investor_flows,
        _investor_flows_params,
        symbol,
        start,
        end,
        what="investor_flows",
        key=("date", "investor"),
        empty=EMPTY_CHART,
    )


def recent_investor_flows_plan(symbol: str) -> FetchPlan[pl.DataFrame]:
    """The last 30 days KIS shows, one call (the API pages neither by date nor by tr_cont)."""
    symbol = check_symbol(symbol)
    params = {"FID_COND_MRKT_DIV_CODE": KRX, "FID_INPUT_ISCD": symbol}
    parse = partial(parse_recent_investor_flows, symbol=symbol)
    return FetchPlan(
        INQUIRE_INVESTOR,
        "backfill",
        lambda: SinglePage(
            parse, params, what=f"recent investor_flows {symbol}", key=("date", "investor")
        ),
        empty=EMPTY_OUTPUT,
    )


def market_investor_flows_plan(market: str, start: date, end: date) -> FetchPlan[pl.DataFrame]:
    if market not in MARKETS:
        raise KisInvalidArgument(f"market must be one of {sorted(MARKETS)}, got {market!r}")
    start, end = check_range(start, end)
    index_code, market_code = MARKETS[market]

    def params(cursor: date) -> dict[str, str]:
        return {
            "FID_COND_MRKT_DIV_CODE": "U",  # an index (업종) query
            "FID_INPUT_ISCD": index_code,
            "FID_INPUT_DATE_1": ymd(cursor),
            "FID_INPUT_ISCD_1": market_code,
            "FID_INPUT_DATE_2": ymd(cursor),  # the workbook: the same date as DATE_1
            "FID_INPUT_ISCD_2": index_code,
        }

    return windows_plan(
        MARKET_INVESTOR_DAILY,
        partial(parse_market_investor_flows, market=market),
        params,
        start=start,
        end=end,
        period="D",
        page_size=UNKNOWN_PAGE,
        what=f"market_investor_flows {market} {start}..{end}",
        bounded_below=False,
        key=("date", "investor"),
        empty=EMPTY_OUTPUT,
    )
