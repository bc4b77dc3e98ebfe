"""Domestic cash orders and the account: place, modify, cancel, open orders, balance, executions.

An order *request* (`OrderRequest`, `OrderChange`) is a validated value: a bad symbol, quantity,
price off the KRX tick grid or an unknown order division is refused (`InvalidOrder`) before
anything is logged or sent. The *tracked* outcome is an `OrderResult` (ib_async's Order vs Trade).

Placing an order follows one path, written once as a generator of I/O steps (`_place_flow`) that
the sync and async mixins drive:

    validate -> opt-in (real) -> kill switch -> limits -> daily slot -> write-ahead log entry
    -> send (never retried) -> log the answer  |  uncertain answer -> reconcile by querying
                                                  today's orders -> log what was found

Reconciliation looks for the order in inquire-daily-ccld: same symbol, side, quantity, division
and price, not already attributed to another logged attempt. One match: accepted (reconciled).
Several: uncertain, with the candidates named. None after a few polls: uncertain, "not found" —
never a silent resend: the caller decides after checking `kisdb executions`.

`KisClient` includes `OrdersMixin` (and `AsyncKisClient` `AsyncOrdersMixin`); the mixins only need
`self.settings`, `self.call` and `self.paginate` from the client.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import polars as pl

from connectors.kis.endpoints import Endpoint, Lane
from connectors.kis.errors import (
    KisApiError,
    KisError,
    KisHttpError,
    KisOrderUncertain,
    KisRequestError,
    KisServerError,
)
from connectors.kis.order_guard import (
    DailyOrderCounter,
    OrderBlocked,
    OrderGuards,
    check_kill_switch,
    check_order_limits,
    require_opt_in,
)
from connectors.kis.order_log import (
    Action,
    JsonlOrderLog,
    OrderLogEntry,
    OrderLogSink,
    Status,
    new_client_order_id,
)
from schemas.clock import SYSTEM_CLOCK

log = logging.getLogger("connectors.kis.orders")

Side = Literal["buy", "sell"]
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

# -- order divisions (ORD_DVSN, kis-api.md §7.2) ----------------------------------------------------
PriceRule = Literal["required", "none", "optional"]


@dataclass(frozen=True)
class Division:
    code: str
    name: str
    price: PriceRule  # whether ORD_UNPR carries a limit price


DIVISIONS: dict[str, Division] = {
    d.code: d
    for d in (
        Division("00", "limit", "required"),
        Division("01", "market", "none"),
        Division("02", "conditional limit", "required"),
        Division("03", "best-price limit", "none"),
        Division("04", "top-priority limit", "none"),
        Division("05", "pre-market off-hours (previous close)", "none"),
        Division("06", "post-market off-hours (close)", "none"),
        Division("07", "after-hours single price", "required"),
        Division("11", "IOC limit", "required"),
        Division("12", "FOK limit", "required"),
        Division("13", "IOC market", "none"),
        Division("14", "FOK market", "none"),
        Division("15", "IOC best", "none"),
        Division("16", "FOK best", "none"),
        # Mid-price orders may carry a protective limit (KRX rule; not spelled out by KIS): optional.
        Division("21", "mid-price", "optional"),
        Division("22", "stop-limit", "required"),
        Division("23", "mid-price IOC", "optional"),
        Division("24", "mid-price FOK", "optional"),
    )
}
# Friendly names accepted wherever a division code is.
DIVISION_ALIASES = {
    "limit": "00",
    "market": "01",
    "ioc": "11",
    "fok": "12",
    "best": "03",
    "stop": "22",
}

# Stock short codes: 6 chars, a digit first (newer listings carry letters, e.g. 0126Z0);
# ETNs take a 7-char PDNO starting with Q (kis-api.md §9.4).
_SYMBOL = re.compile(r"^(?:[0-9][0-9A-Z]{5}|Q[0-9A-Z]{6})$")
_ORDER_NO = re.compile(r"^[0-9]{1,10}$")

# KRX tick sizes since 2023-01-25, stocks on KOSPI and KOSDAQ alike (kis-api.md §9.2):
# (lower bound of the band, tick). ETF/ETN: 1 under 2,000 KRW, else 5 (unconfirmed). The stock grid
# is a subset of the ETF grid, so validating with it never sends an off-grid ETF price.
_STOCK_TICKS = (
    (500_000, 1_000),
    (200_000, 500),
    (50_000, 100),
    (20_000, 50),
    (5_000, 10),
    (2_000, 5),
    (0, 1),
)
_ETF_TICKS = ((2_000, 5), (0, 1))
TickTable = Literal["stock", "etf"]


class InvalidOrder(KisRequestError):
    """The order request itself is wrong; nothing was logged or sent."""


def tick_size(price: int, table: TickTable = "stock") -> int:
    for floor, tick in _STOCK_TICKS if table == "stock" else _ETF_TICKS:
        if price >= floor:
            return tick
    return 1


def on_tick_grid(price: int, table: TickTable = "stock") -> bool:
    return price > 0 and price % tick_size(price, table) == 0


def snap_to_tick(price: int, side: Side, table: TickTable = "stock") -> int:
    """The nearest grid price no worse for `side` than `price` (buys round down, sells up)."""
    tick = tick_size(price, table)
    down = price - price % tick
    snapped = down if side == "buy" or down == price else down + tick
    return snapped if on_tick_grid(snapped, table) else snap_to_tick(snapped, side, table)


def resolve_division(value: str) -> Division:
    code = DIVISION_ALIASES.get(value.strip().lower(), value.strip())
    division = DIVISIONS.get(code)
    if division is None:
        known = ", ".join(f"{d.code} {d.name}" for d in DIVISIONS.values())
        raise InvalidOrder(f"unknown order division {value!r}; use one of: {known}")
    return division


def _check_price(label: str, price: int, table: TickTable) -> None:
    if isinstance(price, bool) or not isinstance(price, int) or price <= 0:
        raise InvalidOrder(f"{label} must be a positive whole number of KRW, got {price!r}")
    if not on_tick_grid(price, table):
        tick = tick_size(price, table)
        below = price - price % tick
        raise InvalidOrder(
            f"{label} {price:,} is not on the KRX tick grid (tick {tick:,} KRW at this price); "
            f"use {below:,} or {below + tick:,}"
        )


def _check_qty(qty: int) -> None:
    if isinstance(qty, bool) or not isinstance(qty, int) or qty <= 0:
        raise InvalidOrder(f"quantity must be a whole number > 0, got {qty!r}")


def normalise_order_no(order_no: str) -> str:
    """KIS order numbers are 10 digits, zero-padded ("0001569157"); accept them unpadded."""
    text = str(order_no).strip()
    if not _ORDER_NO.match(text):
        raise InvalidOrder(f"order number must be up to 10 digits, got {order_no!r}")
    return text.zfill(10)


def _same_order_no(a: str, b: str) -> bool:
    a, b = a.strip(), b.strip()
    return bool(a) and bool(b) and a.lstrip("0") == b.lstrip("0")


@dataclass(frozen=True)
class OrderRequest:
    """A new cash order, validated on construction. `price` None = a division without a price."""

    side: Side
    symbol: str
    qty: int
    price: int | None = None
    division: str = ""  # "" = "00" limit when a price is given, else "01" market
    stop_price: int | None = None  # only for division 22 (stop-limit)
    tick_table: TickTable = "stock"

    def __post_init__(self) -> None:
        if self.side not in ("buy", "sell"):
            raise InvalidOrder(f"side must be 'buy' or 'sell', got {self.side!r}")
        symbol = str(self.symbol).strip().upper()
        if not _SYMBOL.match(symbol):
            raise InvalidOrder(
                f"symbol {self.symbol!r} is not a KRX short code (6 characters like 005930; ETN Q+6)"
            )
        object.__setattr__(self, "symbol", symbol)
        _check_qty(self.qty)
        division = resolve_division(self.division or ("00" if self.price is not None else "01"))
        object.__setattr__(self, "division", division.code)
        if division.price == "required" and self.price is None:
            raise InvalidOrder(f"a {division.name} order ({division.code}) needs a price")
        if division.price == "none" and self.price not in (None, 0):
            raise InvalidOrder(
                f"a {division.name} order ({division.code}) takes no price; drop the price"
            )
        if division.price == "none":
            object.__setattr__(self, "price", None)
        if self.price is not None:
            _check_price("price", self.price, self.tick_table)
        if division.code == "22":
            if self.stop_price is None:
                raise InvalidOrder("a stop-limit order (22) needs a stop price")
            _check_price("stop price", self.stop_price, self.tick_table)
        elif self.stop_price is not None:
            raise InvalidOrder("a stop price is only valid for stop-limit orders (division 22)")

    @property
    def division_name(self) -> str:
        return DIVISIONS[self.division].name

    @property
    def notional(self) -> int | None:
        """Price x quantity in KRW when the price is known."""
        return None if self.price is None else self.price * self.qty

    def body(self, cano: str, product_code: str) -> dict[str, str]:
        """The order-cash body (kis-api.md §7.2): UPPERCASE keys, every value a string."""
        body = {
            "CANO": cano,
            "ACNT_PRDT_CD": product_code,
            "PDNO": self.symbol,
            "ORD_DVSN": self.division,
            "ORD_QTY": str(self.qty),
            "ORD_UNPR": str(self.price or 0),
            "EXCG_ID_DVSN_CD": "KRX",  # paper accepts only KRX
        }
        if self.side == "sell":
            body["SLL_TYPE"] = "01"
        if self.stop_price is not None:
            body["CNDT_PRIC"] = str(self.stop_price)
        return body


@dataclass(frozen=True)
class OrderChange:
    """A modify or cancel of an open order. `qty` None = the whole remaining quantity."""

    kind: Literal["modify", "cancel"]
    order_no: str
    qty: int | None = None
    price: int | None = None  # new price (modify)
    division: str | None = None  # new division (modify); None keeps the original's
    tick_table: TickTable = "stock"

    def __post_init__(self) -> None:
        if self.kind not in ("modify", "cancel"):
            raise InvalidOrder(f"kind must be 'modify' or 'cancel', got {self.kind!r}")
        object.__setattr__(self, "order_no", normalise_order_no(self.order_no))
        if self.qty is not None:
            _check_qty(self.qty)
        if self.kind == "cancel":
            if self.price is not None or self.division is not None:
                raise InvalidOrder("a cancel takes no price or division")
            return
        if self.division is not None:
            object.__setattr__(self, "division", resolve_division(self.division).code)
        rule = DIVISIONS[self.division].price if self.division else "required"
        if rule == "required" and self.price is None:
            raise InvalidOrder(
                "a modify needs the new price (or a division without a price, e.g. market)"
            )
        if rule == "none" and self.price not in (None, 0):
            raise InvalidOrder(f"division {self.division} takes no price; drop the price")
        if rule == "none":
            object.__setattr__(self, "price", None)
        if self.price is not None:
            _check_price("price", self.price, self.tick_table)


# -- results --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OrderResult:
    """What became of one attempt. status: accepted | rejected | uncertain | failed."""

    client_order_id: str
    action: Action
    status: Status
    symbol: str | None
    qty: int | None
    price: int | None
    division: str | None
    order_no: str | None = None
    org_no: str | None = None
    order_time: str | None = None
    orig_order_no: str | None = None
    msg_cd: str | None = None
    message: str | None = None
    reconciled: bool = False  # the outcome was established by querying after an uncertain send
    candidates: tuple[str, ...] = ()  # order numbers that matched when reconciliation was ambiguous

    @property
    def ok(self) -> bool:
        return self.status == "accepted"

    def as_row(self) -> dict[str, Any]:
        return {
            "client_order_id": self.client_order_id,
            "action": self.action,
            "status": self.status,
            "symbol": self.symbol,
            "qty": self.qty,
            "price": self.price,
            "division": self.division,
            "order_no": self.order_no,
            "orig_order_no": self.orig_order_no,
            "order_time": self.order_time,
            "reconciled": self.reconciled,
            "message": self.message,
        }


@dataclass(frozen=True)
class CashSummary:
    deposit: int | None  # dnca_tot_amt
    d1_cash: int | None  # nxdy_excc_amt
    d2_cash: int | None  # prvs_rcdl_excc_amt
    securities_value: int | None  # scts_evlu_amt
    total_value: int | None  # tot_evlu_amt = securities + D+2 cash
    net_assets: int | None  # nass_amt
    purchase_total: int | None  # pchs_amt_smtl_amt
    pnl_total: int | None  # evlu_pfls_smtl_amt
    today_buy_amount: int | None  # thdt_buy_amt
    today_sell_amount: int | None  # thdt_sll_amt


@dataclass(frozen=True)
class Balance:
    holdings: pl.DataFrame  # HOLDING_COLUMNS
    cash: CashSummary

    def positions(self) -> dict[str, int]:
        """Held quantity per symbol (rows of one symbol summed; zero rows dropped)."""
        if self.holdings.is_empty():
            return {}
        sums = self.holdings.group_by("symbol").agg(pl.col("qty").sum())
        return {s: int(q) for s, q in sums.iter_rows() if q}


@dataclass(frozen=True)
class Buyable:
    symbol: str | None
    cash: int | None  # ord_psbl_cash
    calc_price: int | None  # psbl_qty_calc_unpr: the price the quantities were computed at
    max_qty: int | None  # nrcvb_buy_qty: without uncollateralised (미수) credit
    max_amount: int | None  # nrcvb_buy_amt
    max_qty_with_credit: int | None  # max_buy_qty
    max_amount_with_credit: int | None  # max_buy_amt
    reusable_amount: int | None  # ruse_psbl_amt (sale proceeds usable today)


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


def _to_int(text: Any) -> int | None:
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
    g = lambda key: _to_int(record.get(key))  # noqa: E731
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
    g = lambda key: _to_int(block.get(key))  # noqa: E731
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
        raise KisRequestError(f"start {start} is after end {end}")
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
        raise KisRequestError(f"side must be buy, sell or all, got {side!r}")
    if filled not in _FILLED_FILTER:
        raise KisRequestError(f"filled must be filled, unfilled or all, got {filled!r}")
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


def _ccld_rows(pages: list[Any]) -> list[Mapping[str, Any]]:
    rows: list[Mapping[str, Any]] = []
    for page in pages:
        block = page.body.get("output1") or []
        rows.extend(block if isinstance(block, list) else [block])
    return rows


def _is_original(row: Mapping[str, Any]) -> bool:
    """A new order's row (not a modify/cancel order, whose orgn_odno names the original)."""
    return not str(row.get("orgn_odno", "") or "").strip().lstrip("0")


def match_placement(
    rows: Iterable[Mapping[str, Any]], order: OrderRequest, known_order_nos: Iterable[str]
) -> list[Mapping[str, Any]]:
    """Rows of inquire-daily-ccld that could be `order`, excluding order numbers we already own."""
    known = {k.strip().lstrip("0") for k in known_order_nos}
    side_code = "02" if order.side == "buy" else "01"
    found = []
    for row in rows:
        odno = str(row.get("odno", "")).strip()
        if not odno or odno.lstrip("0") in known or not _is_original(row):
            continue
        if str(row.get("pdno", "")).strip() != order.symbol:
            continue
        if str(row.get("sll_buy_dvsn_cd", "")).strip() != side_code:
            continue
        if _to_int(row.get("ord_qty")) != order.qty:
            continue
        division = str(row.get("ord_dvsn_cd", "")).strip()
        if division and division != order.division:
            continue
        if order.price is not None and _to_int(row.get("ord_unpr")) != order.price:
            continue
        found.append(row)
    return found


def match_change(
    rows: Iterable[Mapping[str, Any]], orig_order_no: str, known_order_nos: Iterable[str]
) -> list[Mapping[str, Any]]:
    """Rows that are a modify/cancel of `orig_order_no` and not attributed to a logged attempt."""
    known = {k.strip().lstrip("0") for k in known_order_nos}
    return [
        row
        for row in rows
        if _same_order_no(str(row.get("orgn_odno", "")), orig_order_no)
        and str(row.get("odno", "")).strip().lstrip("0") not in known
    ]


# -- the I/O steps the flows yield ---------------------------------------------------------------
@dataclass(frozen=True)
class _Call:
    endpoint: Endpoint
    params: Mapping[str, str] | None = None
    body: Mapping[str, str] | None = None
    lane: Lane = "order"
    hashkey: bool = False


@dataclass(frozen=True)
class _Pages:
    endpoint: Endpoint
    params: Mapping[str, str]
    lane: Lane = "live"


@dataclass(frozen=True)
class _Wait:
    seconds: float


_Step = _Call | _Pages | _Wait
_Flow = Generator[_Step, Any, Any]


@dataclass
class OrderSetup:
    """Where attempts are logged, which guards apply, how reconciliation polls.

    Built from the client's settings on first use; tests and flows may replace any part with
    `client.configure_orders(...)`.
    """

    log: OrderLogSink
    guards: OrderGuards
    counter: DailyOrderCounter
    kill_switch: Any  # Path
    use_hashkey: bool = True  # optional for KIS today (kis-api.md §2.4); harmless to send
    reconcile_delays: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)
    today: Callable[[], date] = field(default=SYSTEM_CLOCK.today)


def default_setup(settings: Any) -> OrderSetup:
    directory = settings.home / "orders"
    guards = OrderGuards()  # the defaults; the composition root passes the configured ones
    return OrderSetup(
        log=JsonlOrderLog(directory),
        guards=guards,
        counter=DailyOrderCounter(directory),
        kill_switch=guards.kill_switch_path(settings.home),
    )


def _uncertain(exc: KisError) -> bool:
    """Whether the order may have reached KIS without us hearing the answer."""
    return isinstance(exc, KisOrderUncertain | KisServerError) or (
        isinstance(exc, KisHttpError) and exc.status >= 500
    )


class _OrderFlows:
    """The order logic as generators; the mixins below only carry out the steps."""

    settings: Any

    # -- configuration ---------------------------------------------------------------------------
    def configure_orders(
        self,
        *,
        log: OrderLogSink | None = None,
        guards: OrderGuards | None = None,
        reconcile_delays: tuple[float, ...] | None = None,
        use_hashkey: bool | None = None,
        today: Callable[[], date] | None = None,
    ) -> OrderSetup:
        setup = self.order_setup
        if log is not None:
            setup.log = log
        if guards is not None:
            setup.guards = guards
            setup.kill_switch = guards.kill_switch_path(self.settings.home)
        if reconcile_delays is not None:
            setup.reconcile_delays = reconcile_delays
        if use_hashkey is not None:
            setup.use_hashkey = use_hashkey
        if today is not None:
            setup.today = today
        return setup

    @property
    def order_setup(self) -> OrderSetup:
        setup = self.__dict__.get("_order_setup")
        if setup is None:
            setup = default_setup(self.settings)
            self.__dict__["_order_setup"] = setup
        return setup

    def _account(self) -> tuple[str, str]:
        return self.settings.cano, self.settings.product_code

    def _masked(self) -> str:
        return mask_account(*self._account())

    # -- queries ---------------------------------------------------------------------------------
    def _balance_flow(self, lane: Lane) -> _Flow:
        cano, prdt = self._account()
        params = {
            "CANO": cano,
            "ACNT_PRDT_CD": prdt,
            "AFHR_FLPR_YN": "N",
            "OFL_YN": "",
            "INQR_DVSN": "01",  # the only value the 2026-06 workbook lists
            "UNPR_DVSN": "01",
            "FUND_STTL_ICLD_YN": "N",
            "FNCG_AMT_AUTO_RDPT_YN": "N",
            "PRCS_DVSN": "00",
        }
        pages = yield _Pages(BALANCE, params, lane)
        rows: list[Mapping[str, Any]] = []
        for page in pages:
            block = page.body.get("output1") or []
            rows.extend(block if isinstance(block, list) else [block])
        # Every page repeats the account summary; the last one is the freshest.
        cash = parse_cash(pages[-1].body.get("output2") if pages else None)
        return Balance(rows_to_frame(rows, HOLDING_COLUMNS), cash)

    def _executions_flow(
        self,
        start: date | None,
        end: date | None,
        symbol: str | None,
        side: str | None,
        filled: str | None,
        lane: Lane,
    ) -> _Flow:
        today = self.order_setup.today()
        end = end or today
        start = start or end
        cano, prdt = self._account()
        rows: list[Mapping[str, Any]] = []
        for endpoint, lo, hi in executions_windows(start, end, today):
            params = executions_params(
                cano,
                prdt,
                lo,
                hi,
                tr_env=self.settings.tr_env,
                symbol=symbol,
                side=side,
                filled=filled,
            )
            rows.extend(_ccld_rows((yield _Pages(endpoint, params, lane))))
        return rows_to_frame(rows, EXECUTION_COLUMNS)

    def _modifiable_flow(self, lane: Lane) -> _Flow:
        cano, prdt = self._account()
        if self.settings.tr_env == "paper":
            # inquire-psbl-rvsecncl is real-only: derive open orders from today's unfilled orders.
            today = self.order_setup.today()
            params = executions_params(cano, prdt, today, today, tr_env="paper", filled="unfilled")
            rows = [
                {**row, "psbl_qty": row.get("rmn_qty", "")}
                for row in _ccld_rows((yield _Pages(DAILY_CCLD, params, lane)))
                if (_to_int(row.get("rmn_qty")) or 0) > 0
                and str(row.get("cncl_yn", "")).strip() != "Y"
            ]
            return rows_to_frame(rows, MODIFIABLE_COLUMNS)
        params = {"CANO": cano, "ACNT_PRDT_CD": prdt, "INQR_DVSN_1": "0", "INQR_DVSN_2": "0"}
        pages = yield _Pages(MODIFIABLE, params, lane)
        rows = []
        for page in pages:
            block = page.body.get("output") or []
            rows.extend(block if isinstance(block, list) else [block])
        frame = rows_to_frame(rows, MODIFIABLE_COLUMNS)
        return frame.filter(pl.col("modifiable_qty") > 0)

    def _buyable_flow(
        self, symbol: str | None, price: int | None, division: str | None, lane: Lane
    ) -> _Flow:
        cano, prdt = self._account()
        if symbol is not None:
            symbol = symbol.strip().upper()
            if not _SYMBOL.match(symbol):
                raise InvalidOrder(
                    f"symbol {symbol!r} is not a KRX short code (6 characters like 005930)"
                )
        if price is not None:
            _check_price("price", price, "etf")
        code = resolve_division(division).code if division else ("00" if price else "01")
        params = {
            "CANO": cano,
            "ACNT_PRDT_CD": prdt,
            "PDNO": symbol or "",
            "ORD_UNPR": str(price or ""),
            "ORD_DVSN": code,
            "CMA_EVLU_AMT_ICLD_YN": "N",
            "OVRS_ICLD_YN": "N",
        }
        response = yield _Call(BUYABLE, params=params, lane=lane)
        block = response.block("output")
        return parse_buyable(symbol, block[0] if isinstance(block, list) and block else block or {})

    # -- placing ---------------------------------------------------------------------------------
    def _reference_price(self, symbol: str) -> _Flow:
        """A price bounding a market-type order's value: KIS reserves cash for such a buy at the
        upper limit, which inquire-psbl-order reports as its calculation price."""
        buyable = yield from self._buyable_flow(symbol, None, "01", "order")
        return buyable.calc_price if buyable.calc_price else None

    def _guard_flow(
        self, action: Action, symbol: str, qty: int, price: int | None, live: bool
    ) -> _Flow:
        setup = self.order_setup
        require_opt_in(self.settings.env, live)
        if action == "cancel":
            return None  # cancels only reduce exposure: no kill switch, no limits, no daily slot
        check_kill_switch(setup.kill_switch)
        guards = setup.guards
        if price is None and guards.max_notional is not None:
            price = yield from self._reference_price(symbol)
        check_order_limits(
            guards, symbol=symbol, qty=qty, notional=None if price is None else price * qty
        )
        setup.counter.reserve(guards.max_orders_per_day, setup.today())
        return None

    def _write_ahead(self, entry: OrderLogEntry) -> None:
        self.order_setup.log.write(entry)  # raises if it cannot be made durable: nothing is sent

    def _blocked(self, entry: OrderLogEntry, exc: OrderBlocked) -> None:
        self.order_setup.log.write(
            entry.with_outcome("failed", msg_cd=f"GUARD:{exc.guard}", message=exc.message)
        )

    def _place_flow(self, order: OrderRequest, live: bool, source: str) -> _Flow:
        now = datetime.now(UTC)
        entry = OrderLogEntry(
            client_order_id=new_client_order_id(),
            created_at=now,
            updated_at=now,
            env=self.settings.env,
            action=order.side,
            symbol=order.symbol,
            qty=order.qty,
            price=order.price,
            order_division=order.division,
            source=source,
        )
        try:
            yield from self._guard_flow(order.side, order.symbol, order.qty, order.price, live)
        except OrderBlocked as exc:
            self._blocked(entry, exc)
            raise
        self._write_ahead(entry)
        cano, prdt = self._account()
        log.info(
            "sending %s %s x%d %s (%s) for account %s [%s]",
            order.side,
            order.symbol,
            order.qty,
            order.price or "",
            order.division_name,
            self._masked(),
            entry.client_order_id,
        )
        endpoint = ORDER_BUY if order.side == "buy" else ORDER_SELL
        try:
            response = yield _Call(
                endpoint, body=order.body(cano, prdt), hashkey=self.order_setup.use_hashkey
            )
        except KisError as exc:
            if _uncertain(exc):
                log.warning(
                    "%s %s: outcome unknown (%s); reconciling",
                    order.side,
                    order.symbol,
                    type(exc).__name__,
                )
                return (yield from self._reconcile_placement(entry, order, exc))
            status, changes = _failure(exc)
            return self._finish(entry, status, **changes)
        order_no, org_no, order_time = parse_ack(response.body)
        return self._finish(
            entry,
            "accepted",
            order_no=order_no,
            org_no=org_no,
            order_time=order_time,
            msg_cd=response.msg_cd,
            message=str(response.body.get("msg1", "")).strip(),
        )

    def _finish(
        self,
        entry: OrderLogEntry,
        status: Status,
        *,
        order_time: str | None = None,
        reconciled: bool = False,
        candidates: tuple[str, ...] = (),
        **changes: Any,
    ) -> OrderResult:
        done = entry.with_outcome(status, **changes)
        self.order_setup.log.write(done)
        log.info(
            "%s %s: %s %s",
            done.action,
            done.symbol or done.orig_order_no,
            status,
            done.order_no or "",
        )
        return OrderResult(
            client_order_id=done.client_order_id,
            action=done.action,
            status=status,
            symbol=done.symbol,
            qty=done.qty,
            price=done.price,
            division=done.order_division,
            order_no=done.order_no,
            org_no=done.org_no,
            order_time=order_time,
            orig_order_no=done.orig_order_no,
            msg_cd=done.msg_cd,
            message=done.message,
            reconciled=reconciled,
            candidates=candidates,
        )

    def _known_order_nos(self, exclude: str) -> set[str]:
        return {
            e.order_no
            for e in self.order_setup.log.latest().values()
            if e.order_no and e.client_order_id != exclude
        }

    def _reconcile_rows(self, symbol: str | None, lane: Lane = "order") -> _Flow:
        """Today's orders (and the week before: the server's trading day may lag the wall date)."""
        cano, prdt = self._account()
        today = self.order_setup.today()
        params = executions_params(
            cano, prdt, today - timedelta(days=7), today, tr_env=self.settings.tr_env, symbol=symbol
        )
        return _ccld_rows((yield _Pages(DAILY_CCLD, params, lane)))

    def _reconcile_flow(
        self,
        entry: OrderLogEntry,
        cause: KisError,
        matcher: Callable[[list[Mapping[str, Any]]], list[Mapping[str, Any]]],
    ) -> _Flow:
        last_error: KisError | None = None
        waited = 0.0
        for delay in self.order_setup.reconcile_delays:
            yield _Wait(delay)
            waited += delay
            try:
                rows = yield from self._reconcile_rows(entry.symbol)
            except KisError as exc:  # keep polling: the outage that hid the answer may pass
                last_error = exc
                continue
            found = matcher(rows)
            if len(found) == 1:
                row = found[0]
                return self._finish(
                    entry,
                    "accepted",
                    order_no=str(row.get("odno", "")).strip(),
                    org_no=str(row.get("ord_gno_brno", "")).strip() or None,
                    order_time=str(row.get("ord_tmd", "")).strip() or None,
                    reconciled=True,
                    msg_cd="RECONCILED",
                    message=f"no answer ({type(cause).__name__}); found in today's orders after {waited:.1f}s",
                )
            if len(found) > 1:
                numbers = tuple(str(r.get("odno", "")).strip() for r in found)
                return self._finish(
                    entry,
                    "uncertain",
                    reconciled=True,
                    candidates=numbers,
                    msg_cd="AMBIGUOUS",
                    message=f"no answer ({type(cause).__name__}); {len(found)} matching orders "
                    f"({', '.join(numbers)}): check them before placing it again",
                )
        detail = f"; last query failed: {last_error.message}" if last_error else ""
        return self._finish(
            entry,
            "uncertain",
            reconciled=True,
            msg_cd="NOT_FOUND",
            message=f"no answer ({type(cause).__name__}) and not found in today's orders after "
            f"{waited:.1f}s{detail}; it may still appear: check `kisdb executions` before placing it again",
        )

    def _reconcile_placement(
        self, entry: OrderLogEntry, order: OrderRequest, cause: KisError
    ) -> _Flow:
        known = self._known_order_nos(entry.client_order_id)
        return (
            yield from self._reconcile_flow(
                entry, cause, lambda rows: match_placement(rows, order, known)
            )
        )

    # -- modify / cancel -------------------------------------------------------------------------
    def _find_open(self, order_no: str) -> _Flow:
        frame = yield from self._modifiable_flow("order")
        for row in frame.iter_rows(named=True):
            if _same_order_no(row["order_no"] or "", order_no):
                return row
        raise InvalidOrder(
            f"order {order_no} has nothing left to modify or cancel (filled, cancelled, "
            "or not an open order of this account today)"
        )

    def _change_flow(self, change: OrderChange, live: bool, source: str) -> _Flow:
        require_opt_in(self.settings.env, live)  # before any query: say no early
        original = yield from self._find_open(change.order_no)
        remaining = int(original["modifiable_qty"] or 0)
        if change.qty is not None and change.qty > remaining:
            raise InvalidOrder(
                f"order {change.order_no} has {remaining} left; cannot {change.kind} {change.qty}"
            )
        qty = change.qty if change.qty is not None else remaining
        division = change.division or original["division"] or "00"
        if change.kind == "modify":
            price = change.price if DIVISIONS[division].price != "none" else None
            if DIVISIONS[division].price == "required" and price is None:
                raise InvalidOrder(f"division {division} needs a price")
        else:
            # KIS samples disagree on a cancel's ORD_UNPR ("0" vs the order's price); the original
            # price satisfies both readings, as does its remaining qty for ORD_QTY.
            price = original["price"]
        now = datetime.now(UTC)
        entry = OrderLogEntry(
            client_order_id=new_client_order_id(),
            created_at=now,
            updated_at=now,
            env=self.settings.env,
            action=change.kind,
            symbol=original["symbol"],
            qty=qty,
            price=price,
            order_division=division,
            orig_order_no=change.order_no,
            source=source,
        )
        try:
            yield from self._guard_flow(change.kind, original["symbol"], qty, price, live)
        except OrderBlocked as exc:
            self._blocked(entry, exc)
            raise
        self._write_ahead(entry)
        cano, prdt = self._account()
        body = {
            "CANO": cano,
            "ACNT_PRDT_CD": prdt,
            "KRX_FWDG_ORD_ORGNO": str(original["branch"] or ""),
            "ORGN_ODNO": change.order_no,
            "ORD_DVSN": division,
            "RVSE_CNCL_DVSN_CD": "01" if change.kind == "modify" else "02",
            "ORD_QTY": str(qty),
            "ORD_UNPR": str(price or 0),
            "QTY_ALL_ORD_YN": "Y" if change.qty is None else "N",
            "EXCG_ID_DVSN_CD": "KRX",
        }
        log.info(
            "sending %s of order %s x%d for account %s [%s]",
            change.kind,
            change.order_no,
            qty,
            self._masked(),
            entry.client_order_id,
        )
        try:
            response = yield _Call(ORDER_CHANGE, body=body, hashkey=self.order_setup.use_hashkey)
        except KisError as exc:
            if _uncertain(exc):
                known = self._known_order_nos(entry.client_order_id)
                return (
                    yield from self._reconcile_flow(
                        entry, exc, lambda rows: match_change(rows, change.order_no, known)
                    )
                )
            status, changes = _failure(exc)
            return self._finish(entry, status, **changes)
        order_no, org_no, order_time = parse_ack(response.body)
        return self._finish(
            entry,
            "accepted",
            order_no=order_no,
            org_no=org_no,
            order_time=order_time,
            msg_cd=response.msg_cd,
            message=str(response.body.get("msg1", "")).strip(),
        )


def _failure(exc: KisError) -> tuple[Status, dict[str, Any]]:
    """A definite answer that the order was not placed: KIS refused it (rejected), or it never
    left (failed: rate limit, token, configuration, connection refused)."""
    if (
        isinstance(exc, KisApiError)
        and not exc.transient
        and exc.msg_cd
        and not exc.msg_cd.startswith("EGW")
    ):
        return "rejected", {"msg_cd": exc.msg_cd, "message": exc.msg1}
    return "failed", {
        "msg_cd": getattr(exc, "msg_cd", None) or type(exc).__name__,
        "message": exc.message,
    }


# -- drivers ---------------------------------------------------------------------------------------
class OrdersMixin(_OrderFlows):
    """Orders and account queries for the sync `KisClient`."""

    call: Callable[..., Any]
    paginate: Callable[..., Iterator[Any]]

    def _run(self, flow: _Flow) -> Any:
        try:
            step = next(flow)
            while True:
                try:
                    if isinstance(step, _Wait):
                        time.sleep(step.seconds)
                        reply: Any = None
                    elif isinstance(step, _Pages):
                        reply = list(self.paginate(step.endpoint, step.params, lane=step.lane))
                    else:
                        reply = self.call(
                            step.endpoint,
                            params=step.params,
                            body=step.body,
                            lane=step.lane,
                            hashkey=step.hashkey,
                        )
                except KisError as exc:
                    step = flow.throw(exc)
                    continue
                step = flow.send(reply)
        except StopIteration as stop:
            return stop.value

    def place(
        self, order: OrderRequest, *, live: bool = False, source: str = "python"
    ) -> OrderResult:
        """Send one new order (never retried); see the module docstring for the checks."""
        return self._run(self._place_flow(order, live, source))

    def buy(
        self,
        symbol: str,
        qty: int,
        price: int | None = None,
        *,
        division: str = "",
        live: bool = False,
        source: str = "python",
    ) -> OrderResult:
        return self.place(
            OrderRequest("buy", symbol, qty, price, division), live=live, source=source
        )

    def sell(
        self,
        symbol: str,
        qty: int,
        price: int | None = None,
        *,
        division: str = "",
        live: bool = False,
        source: str = "python",
    ) -> OrderResult:
        return self.place(
            OrderRequest("sell", symbol, qty, price, division), live=live, source=source
        )

    def modify(
        self,
        order_no: str,
        *,
        price: int | None = None,
        qty: int | None = None,
        division: str | None = None,
        live: bool = False,
        source: str = "python",
    ) -> OrderResult:
        """Change an open order's price/division; `qty` None = the whole remaining quantity."""
        change = OrderChange("modify", order_no, qty, price, division)
        return self._run(self._change_flow(change, live, source))

    def cancel(
        self, order_no: str, *, qty: int | None = None, live: bool = False, source: str = "python"
    ) -> OrderResult:
        """Cancel an open order, whole (`qty` None) or partly."""
        return self._run(self._change_flow(OrderChange("cancel", order_no, qty), live, source))

    def modifiable_orders(self, *, lane: Lane = "live") -> pl.DataFrame:
        return self._run(self._modifiable_flow(lane))

    def balance(self, *, lane: Lane = "live") -> Balance:
        return self._run(self._balance_flow(lane))

    def executions(
        self,
        start: date | None = None,
        end: date | None = None,
        *,
        symbol: str | None = None,
        side: str | None = None,
        filled: str | None = None,
        lane: Lane = "live",
    ) -> pl.DataFrame:
        """Orders and fills from `start` to `end` (default: today, KST), every page."""
        return self._run(self._executions_flow(start, end, symbol, side, filled, lane))

    def buyable(
        self,
        symbol: str | None = None,
        price: int | None = None,
        *,
        division: str | None = None,
        lane: Lane = "live",
    ) -> Buyable:
        return self._run(self._buyable_flow(symbol, price, division, lane))


class AsyncOrdersMixin(_OrderFlows):
    """The same surface for `AsyncKisClient` (async def)."""

    call: Callable[..., Any]
    paginate: Callable[..., AsyncIterator[Any]]

    async def _run(self, flow: _Flow) -> Any:
        try:
            step = next(flow)
            while True:
                try:
                    if isinstance(step, _Wait):
                        await asyncio.sleep(step.seconds)
                        reply: Any = None
                    elif isinstance(step, _Pages):
                        reply = [
                            page
                            async for page in self.paginate(
                                step.endpoint, step.params, lane=step.lane
                            )
                        ]
                    else:
                        reply = await self.call(
                            step.endpoint,
                            params=step.params,
                            body=step.body,
                            lane=step.lane,
                            hashkey=step.hashkey,
                        )
                except KisError as exc:
                    step = flow.throw(exc)
                    continue
                step = flow.send(reply)
        except StopIteration as stop:
            return stop.value

    async def place(
        self, order: OrderRequest, *, live: bool = False, source: str = "python"
    ) -> OrderResult:
        return await self._run(self._place_flow(order, live, source))

    async def buy(
        self,
        symbol: str,
        qty: int,
        price: int | None = None,
        *,
        division: str = "",
        live: bool = False,
        source: str = "python",
    ) -> OrderResult:
        return await self.place(
            OrderRequest("buy", symbol, qty, price, division), live=live, source=source
        )

    async def sell(
        self,
        symbol: str,
        qty: int,
        price: int | None = None,
        *,
        division: str = "",
        live: bool = False,
        source: str = "python",
    ) -> OrderResult:
        return await self.place(
            OrderRequest("sell", symbol, qty, price, division), live=live, source=source
        )

    async def modify(
        self,
        order_no: str,
        *,
        price: int | None = None,
        qty: int | None = None,
        division: str | None = None,
        live: bool = False,
        source: str = "python",
    ) -> OrderResult:
        change = OrderChange("modify", order_no, qty, price, division)
        return await self._run(self._change_flow(change, live, source))

    async def cancel(
        self, order_no: str, *, qty: int | None = None, live: bool = False, source: str = "python"
    ) -> OrderResult:
        return await self._run(
            self._change_flow(OrderChange("cancel", order_no, qty), live, source)
        )

    async def modifiable_orders(self, *, lane: Lane = "live") -> pl.DataFrame:
        return await self._run(self._modifiable_flow(lane))

    async def balance(self, *, lane: Lane = "live") -> Balance:
        return await self._run(self._balance_flow(lane))

    async def executions(
        self,
        start: date | None = None,
        end: date | None = None,
        *,
        symbol: str | None = None,
        side: str | None = None,
        filled: str | None = None,
        lane: Lane = "live",
    ) -> pl.DataFrame:
        return await self._run(self._executions_flow(start, end, symbol, side, filled, lane))

    async def buyable(
        self,
        symbol: str | None = None,
        price: int | None = None,
        *,
        division: str | None = None,
        lane: Lane = "live",
    ) -> Buyable:
        return await self._run(self._buyable_flow(symbol, price, division, lane))
