"""A stock's basic facts (주식기본조회, search-stock-info CTPF1002R), real environment only: listed
shares, par value, listing date, sector. One call a stock; the flow keeps one snapshot a day.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from functools import partial
from typing import Any

import polars as pl

from connectors.kis.endpoints import Endpoint
from connectors.kis.market_data.common import QUOTATIONS
from connectors.kis.parsing import WireTable, conform, wire_frame
from connectors.kis.validation import check_symbol
from connectors.kis.windows import FetchPlan, SinglePage
from schemas.research import STOCK_INFO

SEARCH_STOCK_INFO = Endpoint(
    "search-stock-info", "GET", f"{QUOTATIONS}/search-stock-info", "CTPF1002R", None
)

STOCK = "300"  # PRDT_TYPE_CD: stocks, ETF, ETN, ELW
MARKETS = {"STK": "KOSPI", "KSQ": "KOSDAQ", "KNX": "KONEX"}
_LISTED = {"scts_mket_lstg_dt": pl.Date(), "kosdaq_mket_lstg_dt": pl.Date()}

STOCK_INFO_TABLE = WireTable(
    "search-stock-info",
    STOCK_INFO,
    "output",
    needs=frozenset({"mket_id_cd", *_LISTED}),
    # Everything else the workbook lists: product, ETF/ELW, fund and display fields.
    ignored=frozenset(
        {
            "pdno",
            "prdt_type_cd",
            "scty_grp_id_cd",
            "excg_dvsn_cd",
            "lstg_cptl_amt",
            "issu_pric",
            "scts_mket_lstg_abol_dt",
            "kosdaq_mket_lstg_abol_dt",
            "frbd_mket_lstg_dt",
            "frbd_mket_lstg_abol_dt",
            "reits_kind_cd",
            "etf_dvsn_cd",
            "oilf_fund_yn",
            "idx_bztp_lcls_cd",
            "idx_bztp_mcls_cd",
            "idx_bztp_scls_cd",
            "mfnd_opng_dt",
            "mfnd_end_dt",
            "dpsi_erlm_cncl_dt",
            "etf_cu_qty",
            "prdt_name",
            "prdt_name120",
            "prdt_eng_name",
            "prdt_eng_name120",
            "prdt_eng_abrv_name",
            "dpsi_aptm_erlm_yn",
            "etf_txtn_type_cd",
            "etf_type_cd",
            "nwst_odst_dvsn_cd",
            "sbst_pric",
            "thco_sbst_pric",
            "thco_sbst_pric_chng_dt",
            "thdt_clpr",
            "bfdy_clpr",
            "clpr_chng_dt",
            "idx_bztp_lcls_cd_name",
            "idx_bztp_scls_cd_name",
            "ocr_no",
            "crfd_item_yn",
            "elec_scty_yn",
            "issu_istt_cd",
            "etf_chas_erng_rt_dbnb",
            "etf_etn_ivst_heed_item_yn",
            "stln_int_rt_dvsn_cd",
            "frnr_psnl_lmt_rt",
            "lstg_rqsr_issu_istt_cd",
            "lstg_rqsr_item_cd",
            "trst_istt_issu_istt_cd",
            "cptt_trad_tr_psbl_yn",
            "nxt_tr_stop_yn",
        }
    ),
)


def parse_stock_info(
    payload: Mapping[str, Any], *, symbol: str, snapshot_date: date
) -> pl.DataFrame:
    """search-stock-info `output` (one object) -> one STOCK_INFO row."""
    frame = wire_frame(
        payload, STOCK_INFO_TABLE, extra={"mket_id_cd": pl.String(), **_LISTED}
    ).with_columns(
        snapshot_date=pl.lit(snapshot_date),
        symbol=pl.lit(symbol),
        market=pl.col("mket_id_cd").replace(MARKETS),
        listing_date=pl.coalesce("scts_mket_lstg_dt", "kosdaq_mket_lstg_dt"),
    )
    return conform(frame, STOCK_INFO_TABLE)


def stock_info_plan(symbol: str, snapshot_date: date) -> FetchPlan[pl.DataFrame]:
    symbol = check_symbol(symbol)
    params = {"PRDT_TYPE_CD": STOCK, "PDNO": symbol}
    parse = partial(parse_stock_info, symbol=symbol, snapshot_date=snapshot_date)
    return FetchPlan(
        SEARCH_STOCK_INFO, "live", lambda: SinglePage(parse, params, what=f"stock_info {symbol}")
    )
