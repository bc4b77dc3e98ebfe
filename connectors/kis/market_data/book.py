"""The order book: inquire-asking-price-exp-ccn (FHKST01010200, workbook sheet 041).

One call answers `output1` (the 10-level book, its time `aspr_acpt_hour`) and `output2` (the
current and expected match price); both describe one moment, so they become one row of
ORDER_BOOK. The answer carries a time of day but no date: the date is the client's clock's today
(the caller passes it), since KIS answers the book of the running (or last) session.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from functools import partial
from typing import Any

import polars as pl

from connectors.kis.endpoints import Endpoint
from connectors.kis.errors import KisProtocolError
from connectors.kis.market_data.common import KRX, QUOTATIONS
from connectors.kis.parsing import WireTable, block_rows, conform, kst_timestamp, wire_frame
from connectors.kis.validation import check_symbol
from connectors.kis.windows import FetchPlan, SinglePage
from schemas.datasets import ORDER_BOOK

ORDER_BOOK_ENDPOINT = Endpoint(
    "inquire-asking-price-exp-ccn",
    "GET",
    f"{QUOTATIONS}/inquire-asking-price-exp-ccn",
    "FHKST01010200",
    "FHKST01010200",
)

BOOK_TIME = "aspr_acpt_hour"
# Sheet 041's fields we do not keep: quantity changes, after-hours totals, codes.
_IGNORED = frozenset(
    {f"askp_rsqn_icdc{i}" for i in range(1, 11)}
    | {f"bidp_rsqn_icdc{i}" for i in range(1, 11)}
    | {
        "total_askp_rsqn_icdc",
        "total_bidp_rsqn_icdc",
        "ovtm_total_askp_icdc",
        "ovtm_total_bidp_icdc",
        "ovtm_total_askp_rsqn",
        "ovtm_total_bidp_rsqn",
        "ntby_aspr_rsqn",
        "new_mkop_cls_code",
        "antc_mkop_cls_code",
        "stck_oprc",
        "stck_hgpr",
        "stck_lwpr",
        "stck_sdpr",
        "antc_cntg_vrss_sign",
        "antc_cntg_vrss",
        "antc_cntg_prdy_ctrt",
        "vi_cls_code",
    }
)
ORDER_BOOK_TABLE = WireTable(
    "inquire-asking-price-exp-ccn",
    ORDER_BOOK,
    "book",  # output1 and output2 merged into one row
    ignored=_IGNORED,
    needs=frozenset({BOOK_TIME}),
)


def parse_order_book(payload: Mapping[str, Any], *, symbol: str, day: date) -> pl.DataFrame:
    """output1 + output2 -> one ORDER_BOOK row; `day` dates the book's time of day."""
    endpoint = ORDER_BOOK_TABLE.endpoint
    book, match = block_rows(payload, endpoint, "output1"), block_rows(payload, endpoint, "output2")
    if not book or not match:
        raise KisProtocolError(
            f"{endpoint}: empty book for {symbol}", context={"endpoint": endpoint}
        )
    # output2 names the symbol; an answer for another one is refused by the key check below.
    merged = {"book": [{**book[0], **match[0]}]}
    frame = wire_frame(merged, ORDER_BOOK_TABLE, extra={BOOK_TIME: pl.Time()})
    if frame.get_column("symbol").to_list() != [symbol]:
        raise KisProtocolError(
            f"{endpoint}: asked for {symbol}, the answer is for {frame['symbol'].to_list()}",
            context={"endpoint": endpoint},
        )
    frame = frame.with_columns(pl.lit(day).alias("_day")).with_columns(
        kst_timestamp("_day", BOOK_TIME).alias("ts_event")
    )
    return conform(frame, ORDER_BOOK_TABLE)


def order_book_plan(symbol: str, day: date) -> FetchPlan[pl.DataFrame]:
    symbol = check_symbol(symbol)
    params = {"FID_COND_MRKT_DIV_CODE": KRX, "FID_INPUT_ISCD": symbol}
    parse = partial(parse_order_book, symbol=symbol, day=day)
    return FetchPlan(
        ORDER_BOOK_ENDPOINT, "live", lambda: SinglePage(parse, params, what=f"order_book {symbol}")
    )
