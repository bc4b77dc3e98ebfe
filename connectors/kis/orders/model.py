"""Order values: requests (validated on construction), results, divisions and the KRX tick grid.

An order *request* (`OrderRequest`, `OrderChange`) is a validated value: a bad symbol, quantity,
price off the KRX tick grid or an unknown order division is refused (`InvalidOrder`) before
anything is logged or sent. The *tracked* outcome is an `OrderResult` (ib_async's Order vs Trade).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl

from connectors.kis.errors import InvalidOrder
from connectors.kis.order_log import OrderAction, Status
from connectors.kis.validation import is_krx_symbol

Side = Literal["buy", "sell"]

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


def check_price(label: str, price: int, table: TickTable) -> None:
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


def same_order_no(a: str, b: str) -> bool:
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
        if not is_krx_symbol(symbol):
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
            check_price("price", self.price, self.tick_table)
        if division.code == "22":
            if self.stop_price is None:
                raise InvalidOrder("a stop-limit order (22) needs a stop price")
            check_price("stop price", self.stop_price, self.tick_table)
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
            check_price("price", self.price, self.tick_table)


# -- results --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OrderResult:
    """What became of one attempt. status: accepted | rejected | uncertain | failed."""

    client_order_id: str
    action: OrderAction
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
