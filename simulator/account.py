"""The simulated brokerage account: cash, orders, fills, holdings; matching against the synthetic
market; persistence as one JSON file (atomic: temp file + os.replace) so successive processes see
one account.

Everything else is derived from the order and fill lists (holdings, average prices, settled cash),
so the state cannot contradict itself. Settlement is T+2 trading days: `dnca_tot_amt` is settled
cash, `nxdy_excc_amt` D+1, `prvs_rcdl_excc_amt` D+2 (after every trade so far). Fees and taxes are
zero in the simulator.

Matching: an order that is marketable on arrival takes liquidity from the 10-level book at sim-now
(so a large order fills only partly); the rest rests and fills from the synthetic trade prints that
follow, each print's quantity bounding the fill (a resting limit fills at its limit price, a market
remainder at the print price). Day orders lapse at the end of their day.
"""

from __future__ import annotations

import bisect
import json
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulator.ticks import price_band

if TYPE_CHECKING:
    from simulator.market import Market

INITIAL_CASH = 100_000_000
BRANCH = "06010"
SELL, BUY = "01", "02"


@dataclass
class Order:
    odno: str
    orgno: str
    ord_dt: str  # YYYYMMDD
    ord_tmd: str  # HHMMSS
    code: str
    name: str
    side: str  # "01" sell, "02" buy
    ord_dvsn: str
    qty: int
    price: int  # limit price; 0 for market-type
    kind: str = "new"  # "new" | "modify" | "cancel"
    orgn_odno: str = ""
    cond: str = ""  # "" | "IOC" | "FOK"
    filled_qty: int = 0
    filled_amt: int = 0
    cancelled_qty: int = 0  # by later cancel/modify orders
    lapsed_qty: int = 0  # day order expired, or IOC remainder
    cursor: str = ""  # "HH:MM:SS.ffffff|seq" of the last trade print considered

    @property
    def open_qty(self) -> int:
        if self.kind == "cancel":
            return 0
        return self.qty - self.filled_qty - self.cancelled_qty - self.lapsed_qty

    @property
    def is_market(self) -> bool:
        return self.price == 0


@dataclass
class Fill:
    odno: str
    ord_dt: str
    tmd: str
    code: str
    side: str
    qty: int
    price: int


@dataclass
class Holding:
    code: str
    name: str
    qty: int = 0
    cost: int = 0  # purchase amount of the shares held (moving average cost)
    today_buy: int = 0
    today_sell: int = 0
    prev_buy: int = 0
    prev_sell: int = 0
    last_trade: str = ""

    @property
    def avg_price(self) -> float:
        return self.cost / self.qty if self.qty else 0.0


Listener = Callable[[str, Order, dict[str, Any]], None]


@dataclass
class Account:
    market: Market
    number: str  # "50000000-01"
    state_path: Path | None = None
    initial_cash: int = INITIAL_CASH
    next_odno: int = 1
    orders: list[Order] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)
    listeners: list[Listener] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)

    # -- persistence --------------------------------------------------------------------------
    @classmethod
    def open(cls, market: Market, number: str, state_dir: Path | None) -> Account:
        path = Path(state_dir) / f"account-{number}.json" if state_dir else None
        acct = cls(market, number, path)
        if path is not None and path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
            acct.initial_cash = int(data["initial_cash"])
            acct.next_odno = int(data["next_odno"])
            acct.orders = [Order(**o) for o in data["orders"]]
            acct.fills = [Fill(**f) for f in data["fills"]]
        return acct

    def save(self) -> None:
        if self.state_path is None:
            return
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "version": 1,
            "account": self.number,
            "initial_cash": self.initial_cash,
            "next_odno": self.next_odno,
            "orders": [asdict(o) for o in self.orders],
            "fills": [asdict(f) for f in self.fills],
        }
        fd, tmp = tempfile.mkstemp(prefix=".account-", dir=self.state_path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, ensure_ascii=False)
            os.replace(tmp, self.state_path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @property
    def cano(self) -> str:
        return self.number.split("-")[0]

    @property
    def prdt(self) -> str:
        return self.number.split("-")[1] if "-" in self.number else "01"

    # -- derived state --------------------------------------------------------------------------
    def _settle_date(self, trade: date, days: int) -> date:
        cal = self.market.calendar
        d = trade
        for _ in range(days):
            d = cal.next_trading_day(d)
        return d

    def cash(self, today: date, horizon: int) -> int:
        """Cash settled by `horizon` trading days after today (0 = settled now)."""
        limit = self._settle_date(today, horizon) if horizon else today
        total = self.initial_cash
        for f in self.fills:
            if self._settle_date(_d(f.ord_dt), 2) <= limit or horizon >= 2:
                total += f.qty * f.price * (1 if f.side == SELL else -1)
        return total

    def reserved_cash(self) -> int:
        out = 0
        for o in self.orders:
            if o.side == BUY and o.open_qty > 0:
                out += o.open_qty * (o.price or self._upper(o.code, _d(o.ord_dt)))
        return out

    def orderable_cash(self, today: date) -> int:
        return self.cash(today, 2) - self.reserved_cash()

    def _upper(self, code: str, d: date) -> int:
        bar = self.market.daily_bar(code, d)
        return price_band(bar.prev_close)[1] if bar else 0

    def holdings(self, today: date) -> dict[str, Holding]:
        cal = self.market.calendar
        prev = cal.previous_trading_day(today)
        out: dict[str, Holding] = {}
        for f in sorted(self.fills, key=lambda f: (f.ord_dt, f.tmd)):
            h = out.get(f.code)
            if h is None:
                h = out[f.code] = Holding(f.code, self.market.instruments[f.code].name)
            if f.side == BUY:
                h.qty += f.qty
                h.cost += f.qty * f.price
            else:
                h.cost = h.cost - round(h.avg_price * f.qty) if h.qty > f.qty else 0
                h.qty -= f.qty
            day = _d(f.ord_dt)
            if day == today:
                h.today_buy += f.qty if f.side == BUY else 0
                h.today_sell += f.qty if f.side == SELL else 0
            elif day == prev:
                h.prev_buy += f.qty if f.side == BUY else 0
                h.prev_sell += f.qty if f.side == SELL else 0
            h.last_trade = f.ord_dt
        # Sold-out rows stay until D+2 (workbook note on inquire-balance).
        keep_since = self._back(today, 2)
        return {c: h for c, h in sorted(out.items()) if h.qty > 0 or _d(h.last_trade) >= keep_since}

    def _back(self, d: date, days: int) -> date:
        for _ in range(days):
            d = self.market.calendar.previous_trading_day(d)
        return d

    def sellable(self, code: str, today: date) -> int:
        held = self.holdings(today).get(code)
        pending = sum(o.open_qty for o in self.orders if o.code == code and o.side == SELL)
        return (held.qty if held else 0) - pending

    def find(self, odno: str) -> Order | None:
        odno = odno.strip().zfill(10)
        return next((o for o in self.orders if o.odno == odno), None)

    # -- mutations ------------------------------------------------------------------------------
    def new_odno(self) -> str:
        odno = f"{self.next_odno:010d}"
        self.next_odno += 1
        return odno

    def place(self, order: Order, now: datetime, phase: str) -> None:
        """Record an accepted order, match what the book allows now, notify listeners."""
        with self.lock:
            self.orders.append(order)
            order.cursor = _cursor(now.time(), 1 << 30) if phase == "open" else ""
            self._notify("ack", order, {})
            if phase == "open":
                self._take_book(order, now)
                if order.cond:
                    order.lapsed_qty += order.open_qty  # IOC/FOK: nothing rests
            self.save()

    def amend(self, new: Order, original: Order, qty: int, now: datetime, phase: str) -> None:
        """A modify or cancel order: takes `qty` off the original; a modify rests at its new price."""
        with self.lock:
            original.cancelled_qty += qty
            self.orders.append(new)
            new.cursor = _cursor(now.time(), 1 << 30) if phase == "open" else ""
            self._notify("ack", new, {})
            if new.kind == "modify" and phase == "open":
                self._take_book(new, now)
            self.save()

    def _take_book(self, order: Order, now: datetime) -> None:
        book = self.market.quote_at(order.code, now)
        levels = book.asks if order.side == BUY else book.bids
        if order.cond == "FOK":
            reachable = sum(q for p, q in levels if order.is_market or _crosses(order, p))
            if reachable < order.open_qty:
                return
        for price, qty in levels:
            if order.open_qty <= 0 or not (order.is_market or _crosses(order, price)):
                break
            self._fill(order, min(qty, order.open_qty), price, now.time())

    def _fill(self, order: Order, qty: int, price: int, at: time) -> None:
        order.filled_qty += qty
        order.filled_amt += qty * price
        fill = Fill(
            order.odno, order.ord_dt, at.strftime("%H%M%S"), order.code, order.side, qty, price
        )
        self.fills.append(fill)
        self._notify("fill", order, {"qty": qty, "price": price, "time": fill.tmd})

    def process(self, now: datetime) -> None:
        """Match resting orders against the trade prints up to `now`; lapse orders of past days."""
        with self.lock:
            changed = False
            for order in self.orders:
                if order.open_qty <= 0:
                    continue
                day = _d(order.ord_dt)
                if day > now.date():
                    continue
                until = now.time() if day == now.date() else time(23, 59, 59, 999999)
                changed |= self._match_prints(order, day, until)
                if day < now.date() and order.open_qty > 0:
                    order.lapsed_qty += order.open_qty
                    changed = True
            if changed:
                self.save()

    def _match_prints(self, order: Order, day: date, until: time) -> bool:
        prints = self.market.tick_columns(order.code, day)
        if prints is None:
            return False
        seconds = prints.seconds
        # Prints are in (time, seq) order, so the unseen ones up to `until` are one contiguous run.
        first = bisect.bisect_right(
            range(len(seconds)), order.cursor, key=lambda i: _cursor(_clock(seconds[i]), i + 1)
        )
        end = bisect.bisect_right(seconds, until.hour * 3600 + until.minute * 60 + until.second)
        changed = False
        last = order.cursor
        for i in range(first, end):
            at, price, qty = _clock(seconds[i]), int(prints.price[i]), int(prints.qty[i])
            last = _cursor(at, i + 1)
            if order.is_market or _crosses(order, price):
                self._fill(
                    order, min(qty, order.open_qty), price if order.is_market else order.price, at
                )
                changed = True
                if order.open_qty <= 0:
                    break
        if last != order.cursor:
            order.cursor = last
            changed = True
        return changed

    def _notify(self, kind: str, order: Order, extra: dict[str, Any]) -> None:
        for listener in list(self.listeners):
            listener(kind, order, extra)


def _crosses(order: Order, price: int) -> bool:
    return price <= order.price if order.side == BUY else price >= order.price


def _clock(seconds: int) -> time:
    return time(seconds // 3600, seconds // 60 % 60, seconds % 60)


def _cursor(t: time, seq: int) -> str:
    return f"{t.strftime('%H:%M:%S.%f')}|{seq:012d}"


def _d(text: str) -> date:
    return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
