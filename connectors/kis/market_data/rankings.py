"""Rankings: top 30 by volume, by rise/fall, by market cap, stamped with when they were taken."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import partial
from typing import Any

import polars as pl

from connectors.kis.endpoints import Endpoint
from connectors.kis.errors import KisInvalidArgument
from connectors.kis.market_data.common import KRX, QUOTATIONS
from connectors.kis.parsing import WireTable, conform, wire_frame
from connectors.kis.validation import check_choice, check_market_scope, opt_number
from connectors.kis.windows import FetchPlan, SinglePage
from schemas import RANKINGS
from schemas.clock import KST, SEOUL

_RANK = "/uapi/domestic-stock/v1/ranking"

VOLUME_RANK = Endpoint("volume-rank", "GET", f"{QUOTATIONS}/volume-rank", "FHPST01710000", None)

FLUCTUATION_RANK = Endpoint(
    "ranking/fluctuation", "GET", f"{_RANK}/fluctuation", "FHPST01700000", None
)

MARKET_CAP_RANK = Endpoint(
    "ranking/market-cap", "GET", f"{_RANK}/market-cap", "FHPST01740000", None
)

VOLUME_SORTS = {
    "volume": "0",
    "volume_increase": "1",
    "turnover": "2",
    "value": "3",
    "value_turnover": "4",
}

FLUCTUATION_SORTS = {
    "rise": "0",
    "fall": "1",
    "rise_from_open": "2",
    "fall_from_open": "3",
    "volatility": "4",
}

RANK_DIVISIONS = {"all": "0", "common": "1", "preferred": "2"}

_RANK_COMMON = frozenset({"prdy_vrss_sign", "lstn_stcn"})

VOLUME_RANK_TABLE = WireTable(
    "volume-rank",
    RANKINGS,
    "output",
    renames={"mksc_shrn_iscd": "symbol"},
    ignored=_RANK_COMMON
    | frozenset(
        {
            "prdy_vol",
            "avrg_vol",
            "n_befr_clpr_vrss_prpr_rate",
            "vol_inrt",
            "vol_tnrt",
            "nday_vol_tnrt",
            "avrg_tr_pbmn",
            "tr_pbmn_tnrt",
            "nday_tr_pbmn_tnrt",
        }
    ),
    absent=frozenset({"stck_avls"}),
)

FLUCTUATION_RANK_TABLE = WireTable(
    "ranking/fluctuation",
    RANKINGS,
    "output",
    renames={"stck_shrn_iscd": "symbol"},
    ignored=_RANK_COMMON
    | frozenset(
        {
            "stck_hgpr",
            "hgpr_hour",
            "acml_hgpr_date",
            "stck_lwpr",
            "lwpr_hour",
            "acml_lwpr_date",
            "lwpr_vrss_prpr_rate",
            "dsgt_date_clpr_vrss_prpr_rate",
            "cnnt_ascn_dynu",
            "hgpr_vrss_prpr_rate",
            "cnnt_down_dynu",
            "oprc_vrss_prpr_sign",
            "oprc_vrss_prpr",
            "oprc_vrss_prpr_rate",
            "prd_rsfl",
            "prd_rsfl_rate",
        }
    ),
    absent=frozenset({"acml_tr_pbmn", "stck_avls"}),
)

MARKET_CAP_RANK_TABLE = WireTable(
    "ranking/market-cap",
    RANKINGS,
    "output",
    renames={"mksc_shrn_iscd": "symbol"},
    ignored=_RANK_COMMON | frozenset({"mrkt_whol_avls_rlim"}),
    absent=frozenset({"acml_tr_pbmn"}),
)

RANK_TABLES: Mapping[str, WireTable] = {
    "volume": VOLUME_RANK_TABLE,
    "fluctuation": FLUCTUATION_RANK_TABLE,
    "market_cap": MARKET_CAP_RANK_TABLE,
}


def parse_ranking(
    payload: Mapping[str, Any], *, ranking: str, market: str, snapshot_ts: datetime
) -> pl.DataFrame:
    """A ranking `output` (at most 30 rows) -> RANKINGS, stamped with when it was taken."""
    try:
        table = RANK_TABLES[ranking]
    except KeyError:
        raise ValueError(
            f"unknown ranking {ranking!r}; expected one of {sorted(RANK_TABLES)}"
        ) from None
    if snapshot_ts.tzinfo is None:
        raise ValueError("snapshot_ts must be timezone-aware")
    frame = wire_frame(payload, table).with_columns(
        ranking=pl.lit(ranking),
        market=pl.lit(market),
        snapshot_ts=pl.lit(snapshot_ts).dt.convert_time_zone(SEOUL),
    )
    return conform(frame, table)


def _ranking_plan(
    endpoint: Endpoint, ranking: str, market: str, params: dict[str, str], now: datetime
) -> FetchPlan[pl.DataFrame]:
    # The snapshot is stamped when it is taken, to the second (the key of the rankings table).
    snapshot = now.astimezone(KST).replace(microsecond=0)
    parse = partial(parse_ranking, ranking=ranking, market=market, snapshot_ts=snapshot)
    return FetchPlan(
        endpoint,
        "live",
        lambda: SinglePage(parse, params, what=f"{ranking} ranking {market}", key=("rank",)),
        empty={"output": []},
    )


def volume_rank_plan(
    market: str,
    sort: str,
    division: str,
    min_price: int | None,
    max_price: int | None,
    min_volume: int | None,
    now: datetime,
) -> FetchPlan[pl.DataFrame]:
    market = check_market_scope(market)
    params = {
        "FID_COND_MRKT_DIV_CODE": KRX,
        "FID_COND_SCR_DIV_CODE": "20171",
        "FID_INPUT_ISCD": market,
        "FID_DIV_CLS_CODE": check_choice(division, "division", RANK_DIVISIONS),
        "FID_BLNG_CLS_CODE": check_choice(sort, "sort", VOLUME_SORTS),
        "FID_TRGT_CLS_CODE": "111111111",  # include every margin class
        "FID_TRGT_EXLS_CLS_CODE": "0000000000",  # exclude nothing
        "FID_INPUT_PRICE_1": opt_number(min_price, "min_price"),
        "FID_INPUT_PRICE_2": opt_number(max_price, "max_price"),
        "FID_VOL_CNT": opt_number(min_volume, "min_volume"),
        "FID_INPUT_DATE_1": "",
    }
    return _ranking_plan(VOLUME_RANK, "volume", market, params, now)


def fluctuation_rank_plan(
    market: str,
    sort: str,
    days: int,
    min_price: int | None,
    max_price: int | None,
    min_volume: int | None,
    now: datetime,
) -> FetchPlan[pl.DataFrame]:
    market = check_market_scope(market)
    sort_code = check_choice(sort, "sort", FLUCTUATION_SORTS)
    if not isinstance(days, int) or isinstance(days, bool) or days < 0:
        raise KisInvalidArgument(
            f"days must be 0 (today) or a positive number of days, got {days!r}"
        )
    # The spec names these parameters in lowercase (unlike volume-rank).
    params = {
        "fid_cond_mrkt_div_code": KRX,
        "fid_cond_scr_div_code": "20170",
        "fid_input_iscd": market,
        "fid_rank_sort_cls_code": sort_code,
        "fid_input_cnt_1": str(days),
        # Rise/fall measured against the previous close; the other sorts take 0.
        "fid_prc_cls_code": "1" if sort_code in {"0", "1"} else "0",
        "fid_input_price_1": opt_number(min_price, "min_price"),
        "fid_input_price_2": opt_number(max_price, "max_price"),
        "fid_vol_cnt": opt_number(min_volume, "min_volume"),
        "fid_trgt_cls_code": "0",
        "fid_trgt_exls_cls_code": "0",
        "fid_div_cls_code": "0",
        "fid_rsfl_rate1": "",
        "fid_rsfl_rate2": "",
    }
    return _ranking_plan(FLUCTUATION_RANK, "fluctuation", market, params, now)


def market_cap_rank_plan(
    market: str,
    division: str,
    min_price: int | None,
    max_price: int | None,
    min_volume: int | None,
    now: datetime,
) -> FetchPlan[pl.DataFrame]:
    market = check_market_scope(market)
    params = {
        "fid_input_price_2": opt_number(max_price, "max_price"),
        "fid_cond_mrkt_div_code": KRX,
        "fid_cond_scr_div_code": "20174",
        "fid_div_cls_code": check_choice(division, "division", RANK_DIVISIONS),
        "fid_input_iscd": market,
        "fid_trgt_cls_code": "0",
        "fid_trgt_exls_cls_code": "0",
        "fid_input_price_1": opt_number(min_price, "min_price"),
        "fid_vol_cnt": opt_number(min_volume, "min_volume"),
    }
    return _ranking_plan(MARKET_CAP_RANK, "market_cap", market, params, now)
