"""The account and order APIs on the wire: endpoints, field -> column maps, answer parsers and
request parameters (pure functions; the flows in operations.py use them)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any

import polars as pl

from connectors.kis.endpoints import Endpoint
from connectors.kis.errors import KisInvalidArgument
from connectors.kis.orders.model import Buyable, CashSummary

_TRADING = "/uapi/domestic-stock/v1/trading"

# -- endpoints (kis-api.md §7.1) ------------------------------------------------------------------
ORDER_BUY = Endpoint(
    "order-cash-buy", "POST", f"{_TRADING}/order-cash", "TTTC0012U", "VTTC0012U", idempotent=False
)
ORDER_SELL = Endpoint(
    "order-cash-sell", "POST", f"{_TRADING}/order-cash", "TTTC0011U", "VTTC0011U", idempotent=False
)
ORDER_CHANGE = Endpoint(
    "order-rvsecncl",
    "POST",
    f"{_TRADING}/order-rvsecncl",
    "TTTC0013U",
    "VTTC0013U",
    idempotent=False,
)
MODIFIABLE = Endpoint(
    "inquire-psbl-rvsecncl", "GET", f"{_TRADING}/inquire-psbl-rvsecncl", "TTTC0084R", None
)
BALANCE = Endpoint(
    "inquire-balance", "GET", f"{_TRADING}/inquire-balance", "TTTC8434R", "VTTC8434R"
)
DAILY_CCLD = Endpoint(
    "inquire-daily-ccld", "GET", f"{_TRADING}/inquire-daily-ccld", "TTTC0081R", "VTTC0081R"
)
DAILY_CCLD_OLD = Endpoint(
    "inquire-daily-ccld-old", "GET", f"{_TRADING}/inquire-daily-ccld", "CTSC9215R", "VTSC9215R"
)
BUYABLE = Endpoint(
    "inquire-psbl-order", "GET", f"{_TRADING}/inquire-psbl-order", "TTTC8908R", "VTTC8908R"
)

# -- wire -> column maps (alpaca style: plain dicts beside the parsers) ------------------------------
_INT, _FLOAT, _STR, _DATE, _BOOL = "int", "float", "str", "date", "bool"

HOLDING_COLUMNS: dict[str, tuple[str, str]] = {  # column: (wire field, kind)
    "symbol": ("pdno", _STR),
    "name": ("prdt_name", _STR),
    "trade_type": ("trad_dvsn_name", _STR),
    "qty": ("hldg_qty", _INT),
    "sellable_qty": ("ord_psbl_qty", _INT),
    "avg_price": ("pchs_avg_pric", _FLOAT),
    "purchase_amount": ("pchs_amt", _INT),
    "price": ("prpr", _INT),
    "value": ("evlu_amt", _INT),
    "pnl": ("evlu_pfls_amt", _INT),
    "pnl_pct": ("evlu_pfls_rt", _FLOAT),
    "today_buy_qty": ("thdt_buyqty", _INT),
    "today_sell_qty": ("thdt_sll_qty", _INT),
}

EXECUTION_COLUMNS: dict[str, tuple[str, str]] = {
    "order_date": ("ord_dt", _DATE),
    "order_time": ("ord_tmd", _STR),
    "branch": ("ord_gno_brno", _STR),
    "order_no": ("odno", _STR),
    "orig_order_no": ("orgn_odno", _STR),
    "side": ("sll_buy_dvsn_cd", _STR),
    "side_name": ("sll_buy_dvsn_cd_name", _STR),
    "symbol": ("pdno", _STR),
    "name": ("prdt_name", _STR),
    "division": ("ord_dvsn_cd", _STR),
    "division_name": ("ord_dvsn_name", _STR),
    "qty": ("ord_qty", _INT),
    "price": ("ord_unpr", _INT),
    "filled_qty": ("tot_ccld_qty", _INT),
    "avg_fill_price": ("avg_prvs", _FLOAT),
    "filled_amount": ("tot_ccld_amt", _INT),
    "remaining_qty": ("rmn_qty", _INT),
    "cancelled": ("cncl_yn", _BOOL),
    "cancel_confirmed_qty": ("cncl_cfrm_qty", _INT),
    "rejected_qty": ("rjct_qty", _INT),
}

MODIFIABLE_COLUMNS: dict[str, tuple[str, str]] = {
    "order_no": ("odno", _STR),
    "branch": ("ord_gno_brno", _STR),
    "orig_order_no": ("orgn_odno", _STR),
    "side": ("sll_buy_dvsn_cd", _STR),
    "symbol": ("pdno", _STR),
    "name": ("prdt_name", _STR),
    "division": ("ord_dvsn_cd", _STR),
    "qty": ("ord_qty", _INT),
    "price": ("ord_unpr", _INT),
    "order_time": ("ord_tmd", _STR),
    "filled_qty": ("tot_ccld_qty", _INT),
    "modifiable_qty": ("psbl_qty", _INT),
}

_SIDE_CODES = {"01": "sell", "02": "buy"}
_SIDE_FILTER = {None: "00", "all": "00", "sell": "01", "buy": "02"}
_FILLED_FILTER = {None: "00", "all": "00", "filled": "01", "unfilled": "02"}


def to_int(text: Any) -> int | None:
    value = str(text if text is not None else "").strip().replace(",", "")
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        return int(float(value))  # "70000.0000" style amounts


def _cast(values: list[str], kind: str) -> pl.Series:
    raw = pl.Series([v.strip() or None for v in values], dtype=pl.String)
    if kind == _STR:
        return raw
    if kind == _DATE:
        return raw.str.to_date("%Y%m%d", strict=False)
    if kind == _BOOL:
        return raw == "Y"
    numbers = raw.str.replace_all(",", "").cast(pl.Float64, strict=False)
    return numbers.round(0).cast(pl.Int64) if kind == _INT else numbers


def rows_to_frame(
    rows: Iterable[Mapping[str, Any]], columns: Mapping[str, tuple[str, str]]
) -> pl.DataFrame:
    """Account rows (dicts of strings) -> a typed frame with our column names, in map order."""
    rows = list(rows)
    data: dict[str, pl.Series] = {}
    for column, (wire, kind) in columns.items():
        values = [str(row.get(wire, row.get(wire.upper(), "")) or "") for row in rows]
        data[column] = _cast(values, kind).alias(column)
    frame = pl.DataFrame(data)
    if "side" in frame.columns:
        frame = frame.with_columns(pl.col("side").replace_strict(_SIDE_CODES, default=None))
    return frame


def parse_cash(block: Any) -> CashSummary:
    record: Mapping[str, Any] = (
        (block[0] if block else {}) if isinstance(block, list) else (block or {})
    )

    def g(key: str) -> int | None:
        return to_int(record.get(key))

    return CashSummary(
        deposit=g("dnca_tot_amt"),
        d1_cash=g("nxdy_excc_amt"),
        d2_cash=g("prvs_rcdl_excc_amt"),
        securities_value=g("scts_evlu_amt"),
        total_value=g("tot_evlu_amt"),
        net_assets=g("nass_amt"),
        purchase_total=g("pchs_amt_smtl_amt"),
        pnl_total=g("evlu_pfls_smtl_amt"),
        today_buy_amount=g("thdt_buy_amt"),
        today_sell_amount=g("thdt_sll_amt"),
    )


def parse_buyable(symbol: str | None, block: Mapping[str, Any]) -> Buyable:
    def g(key: str) -> int | None:
        return to_int(block.get(key))

    return Buyable(
        symbol=symbol,
        cash=g("ord_psbl_cash"),
        calc_price=g("psbl_qty_calc_unpr"),
        max_qty=g("nrcvb_buy_qty"),
        max_amount=g("nrcvb_buy_amt"),
        max_qty_with_credit=g("max_buy_qty"),
        max_amount_with_credit=g("max_buy_amt"),
        reusable_amount=g("ruse_psbl_amt"),
    )


def parse_ack(body: Mapping[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(order_no, org_no, order_time) from an order answer; keys come UPPERCASE in the workbook
    examples but lowercase in the modify/cancel table, so accept both."""
    out = body.get("output") or body.get("Output") or {}
    if isinstance(out, list):
        out = out[0] if out else {}

    def g(key: str) -> str | None:
        value = str(out.get(key, out.get(key.lower(), "")) or "").strip()
        return value or None

    return g("ODNO"), g("KRX_FWDG_ORD_ORGNO"), g("ORD_TMD")


def mask_account(cano: str, product_code: str) -> str:
    """ "****5678-01": enough to tell accounts apart in a log, not enough to use one."""
    return f"****{cano[-4:]}-{product_code}"


def three_months_before(day: date) -> date:
    """The boundary between inquire-daily-ccld's recent TR (within 3 months) and its archive TR."""
    month = day.month - 3
    year = day.year + (month - 1) // 12
    month = (month - 1) % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def executions_windows(start: date, end: date, today: date) -> list[tuple[Endpoint, date, date]]:
    """Split [start, end] between the archive TR (older than 3 months) and the recent TR."""
    if start > end:
        raise KisInvalidArgument(f"start {start} is after end {end}")
    cutoff = three_months_before(today)
    if start >= cutoff:
        return [(DAILY_CCLD, start, end)]
    if end < cutoff:
        return [(DAILY_CCLD_OLD, start, end)]
    return [(DAILY_CCLD_OLD, start, cutoff - timedelta(days=1)), (DAILY_CCLD, cutoff, end)]


def executions_params(
    cano: str,
    product_code: str,
    start: date,
    end: date,
    *,
    tr_env: str,
    symbol: str | None = None,
    side: str | None = None,
    filled: str | None = None,
    order_no: str | None = None,
) -> dict[str, str]:
    if side not in _SIDE_FILTER:
        raise KisInvalidArgument(f"side must be buy, sell or all, got {side!r}")
    if filled not in _FILLED_FILTER:
        raise KisInvalidArgument(f"filled must be filled, unfilled or all, got {filled!r}")
    return {
        "CANO": cano,
        "ACNT_PRDT_CD": product_code,
        "INQR_STRT_DT": f"{start:%Y%m%d}",
        "INQR_END_DT": f"{end:%Y%m%d}",
        "SLL_BUY_DVSN_CD": _SIDE_FILTER[side],
        "INQR_DVSN": "01",  # 01 = chronological
        "PDNO": symbol or "",
        "CCLD_DVSN": _FILLED_FILTER[filled],
        "ORD_GNO_BRNO": "",
        "ODNO": order_no or "",
        "INQR_DVSN_3": "00",
        "INQR_DVSN_1": "",
        # paper accepts only KRX; real "ALL" includes NXT/SOR orders too.
        "EXCG_ID_DVSN_CD": "KRX" if tr_env == "paper" else "ALL",
    }


def output_rows(pages: list[dict[str, Any]], name: str = "output1") -> list[Mapping[str, Any]]:
    """The rows of block `name` across every page (a page may carry one row as a dict)."""
    rows: list[Mapping[str, Any]] = []
    for page in pages:
        block = page.get(name) or []
        rows.extend(block if isinstance(block, list) else [block])
    return rows
