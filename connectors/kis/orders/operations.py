"""Placing, changing and querying orders: the flows behind `KisClient`'s order methods.

Placing an order follows one path, written once as a flow of steps (steps.py) that both clients
drive:

    validate -> opt-in (real) -> kill switch -> limits -> daily slot -> write-ahead log entry
    -> send (never retried) -> log the answer  |  uncertain answer -> reconcile by querying
                                                  today's orders -> log what was found

Reconciliation looks for the order in inquire-daily-ccld: same symbol, side, quantity, division
and price, not already attributed to another logged attempt (reconcile.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from connectors.kis.core import _ClientLogic
from connectors.kis.endpoints import Endpoint, Lane
from connectors.kis.errors import (
    InvalidOrder,
    KisApiError,
    KisError,
    KisHttpError,
    KisOrderUncertain,
    KisServerError,
    OrderBlocked,
)
from connectors.kis.order_guard import (
    DailyOrderCounter,
    OrderGuards,
    check_kill_switch,
    check_order_limits,
    require_opt_in,
)
from connectors.kis.order_log import (
    JsonlOrderLog,
    OrderAction,
    OrderLogEntry,
    OrderLogSink,
    Status,
    new_client_order_id,
)
from connectors.kis.orders.model import (
    DIVISIONS,
    Balance,
    Buyable,
    OrderChange,
    OrderRequest,
    OrderResult,
    check_price,
    resolve_division,
    same_order_no,
)
from connectors.kis.orders.reconcile import match_change, match_placement
from connectors.kis.orders.wire import (
    BALANCE,
    BUYABLE,
    DAILY_CCLD,
    EXECUTION_COLUMNS,
    HOLDING_COLUMNS,
    MODIFIABLE,
    MODIFIABLE_COLUMNS,
    ORDER_BUY,
    ORDER_CHANGE,
    ORDER_SELL,
    executions_params,
    executions_windows,
    mask_account,
    output_rows,
    parse_ack,
    parse_buyable,
    parse_cash,
    rows_to_frame,
    to_int,
)
from connectors.kis.settings import Settings
from connectors.kis.steps import Flow, Sleep, operation
from connectors.kis.validation import is_krx_symbol
from schemas.clock import SYSTEM_CLOCK

log = logging.getLogger("connectors.kis.orders")


@dataclass
class OrderSetup:
    """Where attempts are logged, which guards apply, how reconciliation polls.

    Built from the client's settings on first use; tests and flows may replace any part with
    `client.configure_orders(...)`.
    """

    log: OrderLogSink
    guards: OrderGuards
    counter: DailyOrderCounter
    kill_switch: Path
    use_hashkey: bool = True  # optional for KIS today (kis-api.md §2.4); harmless to send
    reconcile_delays: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)
    today: Callable[[], date] = field(
        default=SYSTEM_CLOCK.today
    )  # the market's day: the client's clock


def default_setup(settings: Settings, today: Callable[[], date]) -> OrderSetup:
    directory = settings.home / "orders"
    guards = OrderGuards()  # the defaults; the composition root passes the configured ones
    return OrderSetup(
        log=JsonlOrderLog(directory),
        guards=guards,
        counter=DailyOrderCounter(directory),
        kill_switch=guards.kill_switch_path(settings.home),
        today=today,
    )


def _uncertain(exc: KisError) -> bool:
    """Whether the order may have reached KIS without us hearing the answer."""
    return isinstance(exc, KisOrderUncertain | KisServerError) or (
        isinstance(exc, KisHttpError) and exc.status >= 500
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


def new_entry(
    env: str,
    action: OrderAction,
    symbol: str,
    qty: int,
    price: int | None,
    division: str,
    *,
    source: str,
    orig_order_no: str | None = None,
) -> OrderLogEntry:
    """The log entry of a new attempt, before anything is checked or sent."""
    now = datetime.now(UTC)
    return OrderLogEntry(
        client_order_id=new_client_order_id(),
        created_at=now,
        updated_at=now,
        env=env,
        action=action,
        symbol=symbol,
        qty=qty,
        price=price,
        order_division=division,
        orig_order_no=orig_order_no,
        source=source,
    )


class Orders(_ClientLogic):
    """Orders and account queries of `KisClient` (blocking) and `AsyncKisClient` (awaitable)."""

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
            setup = default_setup(self.settings, self.clock.today)
            self.__dict__["_order_setup"] = setup
        return setup

    def _account(self) -> tuple[str, str]:
        return self.settings.cano, self.settings.product_code

    def _masked(self) -> str:
        return mask_account(*self._account())

    # -- queries ---------------------------------------------------------------------------------
    @operation
    def balance(self, *, lane: Lane = "live") -> Flow[Balance]:
        """Holdings (every page) and the cash summary."""
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
        pages = yield from self._pages_flow(BALANCE, params, lane)
        # Every page repeats the account summary; the last one is the freshest.
        cash = parse_cash(pages[-1].get("output2") if pages else None)
        return Balance(rows_to_frame(output_rows(pages), HOLDING_COLUMNS), cash)

    @operation
    def executions(
        self,
        start: date | None = None,
        end: date | None = None,
        *,
        symbol: str | None = None,
        side: str | None = None,
        filled: str | None = None,
        lane: Lane = "live",
    ) -> Flow[pl.DataFrame]:
        """Orders and fills from `start` to `end` (default: the market's today), every page."""
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
            rows.extend(output_rows((yield from self._pages_flow(endpoint, params, lane))))
        return rows_to_frame(rows, EXECUTION_COLUMNS)

    def _modifiable_flow(self, lane: Lane) -> Flow[pl.DataFrame]:
        cano, prdt = self._account()
        if self.settings.tr_env == "paper":
            # inquire-psbl-rvsecncl is real-only: derive open orders from today's unfilled orders.
            today = self.order_setup.today()
            params = executions_params(cano, prdt, today, today, tr_env="paper", filled="unfilled")
            rows = [
                {**row, "psbl_qty": row.get("rmn_qty", "")}
                for row in output_rows((yield from self._pages_flow(DAILY_CCLD, params, lane)))
                if (to_int(row.get("rmn_qty")) or 0) > 0
                and str(row.get("cncl_yn", "")).strip() != "Y"
            ]
            return rows_to_frame(rows, MODIFIABLE_COLUMNS)
        params = {"CANO": cano, "ACNT_PRDT_CD": prdt, "INQR_DVSN_1": "0", "INQR_DVSN_2": "0"}
        pages = yield from self._pages_flow(MODIFIABLE, params, lane)
        frame = rows_to_frame(output_rows(pages, "output"), MODIFIABLE_COLUMNS)
        return frame.filter(pl.col("modifiable_qty") > 0)

    def _buyable_flow(
        self, symbol: str | None, price: int | None, division: str | None, lane: Lane
    ) -> Flow[Buyable]:
        cano, prdt = self._account()
        if symbol is not None:
            symbol = symbol.strip().upper()
            if not is_krx_symbol(symbol):
                raise InvalidOrder(
                    f"symbol {symbol!r} is not a KRX short code (6 characters like 005930)"
                )
        if price is not None:
            check_price("price", price, "etf")
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
        response = yield from self._call_flow(BUYABLE, params=params, lane=lane)
        block = response.block("output")
        return parse_buyable(symbol, block[0] if isinstance(block, list) and block else block or {})

    # -- placing ---------------------------------------------------------------------------------
    def _reference_price(self, symbol: str) -> Flow[int | None]:
        """A price bounding a market-type order's value: KIS reserves cash for such a buy at the
        upper limit, which inquire-psbl-order reports as its calculation price."""
        buyable = yield from self._buyable_flow(symbol, None, "01", "order")
        return buyable.calc_price if buyable.calc_price else None

    def _guard_flow(
        self, action: OrderAction, symbol: str, qty: int, price: int | None, live: bool
    ) -> Flow[date | None]:
        """The guards; returns the day whose daily slot was reserved (None for a cancel)."""
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
        day = setup.today()
        setup.counter.reserve(guards.max_orders_per_day, day)
        return day

    def _write_ahead(self, entry: OrderLogEntry) -> None:
        self.order_setup.log.write(entry)  # raises if it cannot be made durable: nothing is sent

    def _blocked(self, entry: OrderLogEntry, exc: OrderBlocked) -> None:
        self.order_setup.log.write(
            entry.with_outcome("failed", msg_cd=f"GUARD:{exc.guard}", message=exc.message)
        )

    def _place_flow(self, order: OrderRequest, live: bool, source: str) -> Flow[OrderResult]:
        entry = new_entry(
            self.settings.env,
            order.side,
            order.symbol,
            order.qty,
            order.price,
            order.division,
            source=source,
        )
        cano, prdt = self._account()
        what = (
            f"{order.side} {order.symbol} x{order.qty} {order.price or ''} ({order.division_name})"
        )
        return (
            yield from self._send_flow(
                entry,
                live,
                what,
                ORDER_BUY if order.side == "buy" else ORDER_SELL,
                order.body(cano, prdt),
                lambda rows, known: match_placement(rows, order, known),
            )
        )

    def _send_flow(
        self,
        entry: OrderLogEntry,
        live: bool,
        what: str,
        endpoint: Endpoint,
        body: Mapping[str, str],
        matcher: Callable[[list[Mapping[str, Any]], set[str]], list[Mapping[str, Any]]],
    ) -> Flow[OrderResult]:
        """Guards, the write-ahead entry, one send (never retried), then the logged outcome;
        an uncertain answer is reconciled against today's orders with `matcher`."""
        assert entry.symbol is not None and entry.qty is not None
        try:
            slot = yield from self._guard_flow(
                entry.action, entry.symbol, entry.qty, entry.price, live
            )
        except OrderBlocked as exc:
            self._blocked(entry, exc)
            raise
        self._write_ahead(entry)
        log.info("sending %s for account %s [%s]", what, self._masked(), entry.client_order_id)
        sent_at: list[float] = []  # when the order itself went out (pre-flight auth comes first)
        try:
            response = yield from self._call_flow(
                endpoint,
                body=body,
                lane="order",
                hashkey=self.order_setup.use_hashkey,
                on_send=lambda: sent_at.append(time.monotonic()),
            )
        except KisError as exc:
            if sent_at and _uncertain(exc):
                log.warning("%s: outcome unknown (%s); reconciling", what, type(exc).__name__)
                known = self._known_order_nos(entry.client_order_id)
                return (
                    yield from self._reconcile_flow(
                        entry, exc, lambda rows: matcher(rows, known), sent_at[0]
                    )
                )
            if not sent_at and slot is not None:
                self.order_setup.counter.release(slot)  # it never left: not one of today's orders
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

    def _reconcile_rows(
        self, symbol: str | None, lane: Lane = "order"
    ) -> Flow[list[Mapping[str, Any]]]:
        """Today's orders (and the week before: the server's trading day may lag the wall date)."""
        cano, prdt = self._account()
        today = self.order_setup.today()
        params = executions_params(
            cano, prdt, today - timedelta(days=7), today, tr_env=self.settings.tr_env, symbol=symbol
        )
        return output_rows((yield from self._pages_flow(DAILY_CCLD, params, lane)))

    def _reconcile_flow(
        self,
        entry: OrderLogEntry,
        cause: KisError,
        matcher: Callable[[list[Mapping[str, Any]]], list[Mapping[str, Any]]],
        sent_at: float,
    ) -> Flow[OrderResult]:
        """Poll today's orders for the one sent at `sent_at` (time.monotonic()); the messages
        state the time elapsed since the send, answer wait and queries included."""
        last_error: KisError | None = None
        for delay in self.order_setup.reconcile_delays:
            yield Sleep(delay)
            try:
                rows = yield from self._reconcile_rows(entry.symbol)
            except KisError as exc:  # keep polling: the outage that hid the answer may pass
                last_error = exc
                continue
            found = matcher(rows)
            waited = time.monotonic() - sent_at
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
        waited = time.monotonic() - sent_at
        return self._finish(
            entry,
            "uncertain",
            reconciled=True,
            msg_cd="NOT_FOUND",
            message=f"no answer ({type(cause).__name__}) and not found in today's orders after "
            f"{waited:.1f}s{detail}; it may still appear: check `kisdb executions` before placing it again",
        )

    # -- modify / cancel -------------------------------------------------------------------------
    def _find_open(self, order_no: str) -> Flow[dict[str, Any]]:
        frame = yield from self._modifiable_flow("order")
        for row in frame.iter_rows(named=True):
            if same_order_no(row["order_no"] or "", order_no):
                return row
        raise InvalidOrder(
            f"order {order_no} has nothing left to modify or cancel (filled, cancelled, "
            "or not an open order of this account today)"
        )

    def _change_flow(self, change: OrderChange, live: bool, source: str) -> Flow[OrderResult]:
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
        symbol = original["symbol"]
        entry = new_entry(
            self.settings.env,
            change.kind,
            symbol,
            qty,
            price,
            division,
            source=source,
            orig_order_no=change.order_no,
        )
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
        return (
            yield from self._send_flow(
                entry,
                live,
                f"{change.kind} of order {change.order_no} x{qty}",
                ORDER_CHANGE,
                body,
                lambda rows, known: match_change(rows, change.order_no, known),
            )
        )

    # -- the client methods ----------------------------------------------------------------------
    @operation
    def place(
        self, order: OrderRequest, *, live: bool = False, source: str = "python"
    ) -> Flow[OrderResult]:
        """Send one new order (never retried); see the module docstring for the checks."""
        return self._place_flow(order, live, source)

    @operation
    def buy(
        self,
        symbol: str,
        qty: int,
        price: int | None = None,
        *,
        division: str = "",
        live: bool = False,
        source: str = "python",
    ) -> Flow[OrderResult]:
        return self._place_flow(OrderRequest("buy", symbol, qty, price, division), live, source)

    @operation
    def sell(
        self,
        symbol: str,
        qty: int,
        price: int | None = None,
        *,
        division: str = "",
        live: bool = False,
        source: str = "python",
    ) -> Flow[OrderResult]:
        return self._place_flow(OrderRequest("sell", symbol, qty, price, division), live, source)

    @operation
    def modify(
        self,
        order_no: str,
        *,
        price: int | None = None,
        qty: int | None = None,
        division: str | None = None,
        live: bool = False,
        source: str = "python",
    ) -> Flow[OrderResult]:
        """Change an open order's price/division; `qty` None = the whole remaining quantity."""
        return self._change_flow(
            OrderChange("modify", order_no, qty, price, division), live, source
        )

    @operation
    def cancel(
        self, order_no: str, *, qty: int | None = None, live: bool = False, source: str = "python"
    ) -> Flow[OrderResult]:
        """Cancel an open order, whole (`qty` None) or partly."""
        return self._change_flow(OrderChange("cancel", order_no, qty), live, source)

    @operation
    def modifiable_orders(self, *, lane: Lane = "live") -> Flow[pl.DataFrame]:
        return self._modifiable_flow(lane)

    @operation
    def buyable(
        self,
        symbol: str | None = None,
        price: int | None = None,
        *,
        division: str | None = None,
        lane: Lane = "live",
    ) -> Flow[Buyable]:
        return self._buyable_flow(symbol, price, division, lane)
