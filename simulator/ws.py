"""The KIS realtime (websocket) server: subscriptions, trade/quote streams, encrypted execution
notices and PINGPONG, over websockets 16 (asyncio, compression off like KIS).

Frame formats, acks and codes follow kis-api.md §8. Streams are driven by the sim clock: every
pump (50 ms wall) sends the trades printed since the last pump, several records in one frame
(`0|H0STCNT0|003|...`) when several are due; the order book goes out once per second that traded.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import json
import random
import secrets
import string
import time as _time
from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any

from Crypto.Cipher import AES
from Crypto.Util.Padding import pad as pkcs7
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from simulator.calendar import tick_size
from simulator.marketview import MarketView, day_ticks
from simulator.wire import dec, rate, sign_code

if TYPE_CHECKING:
    from simulator.account import Order
    from simulator.market import Tick
    from simulator.server import RunningSimulator

MAX_SUBSCRIPTIONS = 41
PUMP_SECONDS = 0.05
MAX_RECORDS_PER_FRAME = 100
TRADE_TR, BOOK_TR = "H0STCNT0", "H0STASP0"
NOTICE_TR = {"real": "H0STCNI0", "paper": "H0STCNI9"}
_ALNUM = string.ascii_letters + string.digits


def encrypt(text: str, key: str, iv: str) -> str:
    cipher = AES.new(key.encode(), AES.MODE_CBC, iv.encode())
    return base64.b64encode(cipher.encrypt(pkcs7(text.encode("utf-8"), AES.block_size))).decode()


def ack(tr_id: str, tr_key: str, msg_cd: str, msg1: str, *, rt_cd: str = "0", encrypt_yn: str = "N",
        key: str = "", iv: str = "") -> str:
    body: dict[str, Any] = {"rt_cd": rt_cd, "msg_cd": msg_cd, "msg1": msg1}
    if key:
        body["output"] = {"iv": iv, "key": key}
    return json.dumps({"header": {"tr_id": tr_id, "tr_key": tr_key, "encrypt": encrypt_yn}, "body": body},
                      ensure_ascii=False)


@dataclass
class TradeState:
    """Running day aggregates for one symbol's trade stream."""

    code: str
    day: date
    ticks: list[Tick]
    pos: int
    prev_close: int
    prev_volume: int
    listed: int
    open: int = 0
    high: int = 0
    low: int = 0
    volume: int = 0
    value: int = 0
    sell_count: int = 0
    buy_count: int = 0
    sell_qty: int = 0
    buy_qty: int = 0
    open_hour: str = ""
    high_hour: str = ""
    low_hour: str = ""
    book_pos: int = 0
    book_acml: int = 0

    def book_volume(self, ticks: list[Tick], pos: int) -> int:
        """Cumulative volume up to print `pos` (tracked apart from the trade stream's aggregates)."""
        self.book_acml += sum(t.qty for t in ticks[self.book_pos:pos])
        self.book_pos = pos
        return self.book_acml

    def apply(self, t: Tick) -> None:
        hhmmss = _hhmmss(t.time)
        if not self.volume:
            self.open, self.high, self.low, self.open_hour = t.price, t.price, t.price, hhmmss
            self.high_hour = self.low_hour = hhmmss
        if t.price > self.high:
            self.high, self.high_hour = t.price, hhmmss
        if t.price < self.low:
            self.low, self.low_hour = t.price, hhmmss
        self.volume += t.qty
        self.value += t.price * t.qty
        if t.side == 1:
            self.buy_count, self.buy_qty = self.buy_count + 1, self.buy_qty + t.qty
        else:
            self.sell_count, self.sell_qty = self.sell_count + 1, self.sell_qty + t.qty

    def record(self, t: Tick) -> str:
        """The 46 H0STCNT0 fields for print `t` (after apply)."""
        p, tick = t.price, tick_size(t.price)
        ask, bid = (p, p - tick) if t.side == 1 else (p + tick, p)
        change = p - self.prev_close
        fields = [
            self.code, _hhmmss(t.time), str(p), sign_code(change), str(change),
            dec(rate(change, self.prev_close)), dec(self.value / self.volume), str(self.open), str(self.high),
            str(self.low), str(ask), str(bid), str(t.qty), str(self.volume), str(self.value),
            str(self.sell_count), str(self.buy_count), str(self.buy_count - self.sell_count),
            dec(self.buy_qty / self.sell_qty * 100 if self.sell_qty else 0), str(self.sell_qty), str(self.buy_qty),
            "1" if t.side == 1 else "5", dec(rate(self.buy_qty, self.volume)),
            dec(rate(self.volume, self.prev_volume)), self.open_hour, sign_code(p - self.open),
            str(p - self.open), self.high_hour, sign_code(p - self.high), str(p - self.high), self.low_hour,
            sign_code(p - self.low), str(p - self.low), self.day.strftime("%Y%m%d"), "20", "N", "0", "0", "0", "0",
            dec(rate(self.volume, self.listed)), "0", "0.00", "0", "0", str(self.prev_close),
        ]
        return "^".join(fields)


@dataclass(eq=False)  # identity hashing: connections live in sets
class Conn:
    ws: ServerConnection
    opened: float = field(default_factory=_time.monotonic)
    app_key: str | None = None
    subs: dict[tuple[str, str], Any] = field(default_factory=dict)
    keys: dict[str, tuple[str, str]] = field(default_factory=dict)
    notices: deque[str] = field(default_factory=deque)
    frames: int = 0


class WsServer:
    def __init__(self, sim: RunningSimulator) -> None:
        self.sim = sim
        self.view = MarketView(sim.market)
        self.conns: set[Conn] = set()
        self.sessions: dict[str, Conn] = {}
        sim.account.listeners.append(self.on_order_event)

    # -- connection life ------------------------------------------------------------------------
    async def handler(self, ws: ServerConnection) -> None:
        conn = Conn(ws)
        self.conns.add(conn)
        pump = asyncio.create_task(self.pump(conn))
        try:
            async for message in ws:
                if isinstance(message, bytes):
                    message = message.decode("utf-8", "replace")
                reply = self.on_message(conn, message)
                if reply:
                    await ws.send(reply)
        except ConnectionClosed:
            pass
        finally:
            pump.cancel()
            self.conns.discard(conn)
            if conn.app_key and self.sessions.get(conn.app_key) is conn:
                del self.sessions[conn.app_key]

    def drop_all(self) -> None:
        for conn in list(self.conns):
            conn.ws.transport.abort()

    # -- control messages -----------------------------------------------------------------------
    def on_message(self, conn: Conn, text: str) -> str | None:
        try:
            msg = json.loads(text)
            header, body = msg["header"], msg.get("body", {})
        except (ValueError, KeyError, TypeError):
            return ack("", "", "OPSP9999", "JSON PARSING ERROR : invalid json format", rt_cd="1")
        if not isinstance(header, dict):
            return ack("", "", "OPSP9999", "JSON PARSING ERROR : header not found", rt_cd="1")
        if header.get("tr_id") == "PINGPONG":
            return None  # the client's echo of our heartbeat
        try:
            tr_id = str(body["input"]["tr_id"])
            tr_key = str(body["input"]["tr_key"])
        except (KeyError, TypeError):
            return ack("", "", "OPSP9993", "JSON PARSING ERROR : input not found", rt_cd="1")
        app_key = self.sim.approvals.app_key_of(str(header.get("approval_key", "")))
        if app_key is None:
            return ack(tr_id, tr_key, "OPSP0011", "invalid approval(appkey) : NOT FOUND", rt_cd="1")
        owner = self.sessions.get(app_key)
        if owner is not None and owner is not conn:
            return ack("(null)", tr_key, "OPSP8996", "ALREADY IN USE appkey", rt_cd="1")
        self.sessions[app_key] = conn
        conn.app_key = app_key
        tr_type = str(header.get("tr_type", ""))
        if tr_type not in {"1", "2"}:
            return ack(tr_id, tr_key, "OPSP8997", "JSON PARSING ERROR : invalid tr_type", rt_cd="1")
        notice_tr = NOTICE_TR[self.sim.config.env]
        if tr_id not in {TRADE_TR, BOOK_TR, notice_tr}:
            return ack(tr_id, tr_key, "OPSP8991", "SUBSCRIBE ERROR : invalid tr_id", rt_cd="1")
        encrypt_yn = "Y" if tr_id == notice_tr else "N"
        if tr_type == "2":
            if conn.subs.pop((tr_id, tr_key), None) is None:
                return ack(tr_id, tr_key, "OPSP0003", "UNSUBSCRIBE ERROR (not found!)", rt_cd="1")
            return ack(tr_id, tr_key, "OPSP0001", "UNSUBSCRIBE SUCCESS", encrypt_yn=encrypt_yn)
        if (tr_id, tr_key) in conn.subs:
            return ack(tr_id, tr_key, "OPSP0002", "ALREADY IN SUBSCRIBE", rt_cd="1")
        if len(conn.subs) >= MAX_SUBSCRIPTIONS:
            return ack(tr_id, tr_key, "OPSP0008", "MAX SUBSCRIBE OVER", rt_cd="1")
        if tr_id == notice_tr:
            if tr_key != self.sim.hts_id:
                return ack(tr_id, tr_key, "OPSP8992", "SUBSCRIBE ERROR : invalid tr_key", rt_cd="1")
            conn.subs[(tr_id, tr_key)] = None
        else:
            state = self.new_trade_state(tr_key)
            if state is None:
                return ack(tr_id, tr_key, "OPSP8992", "SUBSCRIBE ERROR : invalid tr_key", rt_cd="1")
            conn.subs[(tr_id, tr_key)] = state
        key, iv = conn.keys.setdefault(tr_id, (_random_ascii(32), _random_ascii(16)))
        return ack(tr_id, tr_key, "OPSP0000", "SUBSCRIBE SUCCESS", encrypt_yn=encrypt_yn, key=key, iv=iv)

    def new_trade_state(self, code: str) -> TradeState | None:
        now = self.sim.clock.now()
        if self.view.instrument(code, now) is None:
            return None
        day = self.view.session_day(now)
        return self._state_for_day(code, day, now)

    def _state_for_day(self, code: str, day: date, now: datetime | None) -> TradeState:
        """Stream state for `day`, positioned at `now` (None: at the day's first print)."""
        market = self.sim.market
        ticks = day_ticks(market, code, day)
        if now is None:
            pos = 0
        else:
            cut = now.time() if day == now.date() else time(23, 59, 59, 999999)
            pos = bisect.bisect_right([t.time for t in ticks], cut)
        bar = market.daily_bar(code, day)
        prev = market.daily_bar(code, market.calendar.previous_trading_day(day))
        state = TradeState(code, day, ticks, pos, bar.prev_close if bar else 0, prev.volume if prev else 0,
                           market.listed_shares(code, day))
        for t in ticks[:pos]:
            state.apply(t)
        state.book_pos, state.book_acml = pos, state.volume
        return state

    # -- streaming ------------------------------------------------------------------------------
    async def pump(self, conn: Conn) -> None:
        sim = self.sim
        interval = sim.config.ws_ping_interval
        next_ping = _time.monotonic() + interval if interval > 0 else float("inf")
        try:
            while True:
                await asyncio.sleep(PUMP_SECONDS)
                faults = sim.faults
                if faults.ws_drop_after is not None and _time.monotonic() - conn.opened >= faults.ws_drop_after:
                    conn.ws.transport.abort()
                    return
                frames = self.due_frames(conn)
                if _time.monotonic() >= next_ping:
                    next_ping = _time.monotonic() + interval
                    stamp = sim.clock.now().strftime("%Y%m%d%H%M%S")
                    frames.insert(0, json.dumps({"header": {"tr_id": "PINGPONG", "datetime": stamp}}))
                for frame, records in frames_with_counts(frames):
                    if records and faults.malformed and random.random() < faults.malformed:
                        frame = frame[: max(1, len(frame) // 2)]
                    await conn.ws.send(frame)
                    if records:
                        conn.frames += 1
                        sim.stats.add("ws_frames_sent")
                        sim.stats.add("ws_records_sent", records)
                        limit = faults.ws_drop_after_frames
                        if limit is not None and conn.frames >= limit:
                            conn.ws.transport.abort()
                            return
        except (ConnectionClosed, asyncio.CancelledError):
            return

    def due_frames(self, conn: Conn) -> list[str]:
        out: list[str] = []
        while conn.notices:
            out.append(conn.notices.popleft())
        if not conn.subs:
            return out
        now = self.sim.clock.now()
        for (tr_id, code), state in list(conn.subs.items()):
            if not isinstance(state, TradeState):
                continue
            if state.day < now.date() and state.pos >= len(state.ticks):
                # The clock has moved on to a later day: that day's stream starts at its open.
                day = self.view.session_day(now)
                if day != state.day:
                    state = conn.subs[(tr_id, code)] = self._state_for_day(code, day, None)
            cut = now.time() if state.day == now.date() else time(23, 59, 59, 999999)
            records: list[str] = []
            ticks, pos = state.ticks, state.pos
            last_book: Tick | None = None
            while pos < len(ticks) and ticks[pos].time <= cut:
                t = ticks[pos]
                pos += 1
                if tr_id == TRADE_TR:
                    state.apply(t)
                    records.append(state.record(t))
                else:
                    last_book = t
            if last_book is not None:
                # Books are coalesced: one snapshot per pump for a symbol that traded, at its last print.
                records.append(self.book_record(code, datetime.combine(state.day, last_book.time), state, ticks, pos))
            state.pos = pos
            for i in range(0, len(records), MAX_RECORDS_PER_FRAME):
                chunk = records[i:i + MAX_RECORDS_PER_FRAME]
                out.append(f"0|{tr_id}|{len(chunk):03d}|" + "^".join(chunk))
        return out

    def book_record(self, code: str, at: datetime, state: TradeState, ticks: list[Tick], pos: int) -> str:
        book = self.sim.market.quote_at(code, at)
        asks = (list(book.asks) + [(0, 0)] * 10)[:10]
        bids = (list(book.bids) + [(0, 0)] * 10)[:10]
        total_ask, total_bid = sum(q for _, q in asks), sum(q for _, q in bids)
        fields = [code, at.strftime("%H%M%S"), "0", *[str(p) for p, _ in asks], *[str(p) for p, _ in bids],
                  *[str(q) for _, q in asks], *[str(q) for _, q in bids], str(total_ask), str(total_bid),
                  "0", "0", "0", "0", "0", "0", "3", "0.00", str(state.book_volume(ticks, pos)), "0", "0", "0", "0", "0"]
        return "^".join(fields)

    # -- execution notices ----------------------------------------------------------------------
    def on_order_event(self, kind: str, order: Order, extra: dict[str, Any]) -> None:
        tr_id = NOTICE_TR[self.sim.config.env]
        for conn in list(self.conns):
            if (tr_id, self.sim.hts_id) not in conn.subs or tr_id not in conn.keys:
                continue
            record = self.notice_record(kind, order, extra)
            key, iv = conn.keys[tr_id]
            conn.notices.append(f"1|{tr_id}|001|{encrypt(record, key, iv)}")

    def notice_record(self, kind: str, order: Order, extra: dict[str, Any]) -> str:
        acct = self.sim.account
        fill = kind == "fill"
        rctf = {"new": "0", "modify": "1", "cancel": "2"}[order.kind]
        qty = extra["qty"] if fill else order.qty
        price = extra["price"] if fill else order.price
        stamp = extra.get("time") or self.sim.clock.now().strftime("%H%M%S")
        fields = [
            self.sim.hts_id, acct.cano + acct.prdt, order.odno, order.orgn_odno or "", order.side, rctf,
            order.ord_dvsn, {"": "0", "IOC": "1", "FOK": "2"}[order.cond], order.code, f"{qty:010d}",
            f"{price:09d}", stamp, "0", "2" if fill else "1", "2" if fill else "1", order.orgno,
            f"{order.qty:010d}", "모의투자" if self.sim.config.env == "paper" else "시뮬레이터", "", "1", "Y", "",
            "10", "", order.name, f"{order.price:09d}",
        ]
        return "^".join(fields)


def frames_with_counts(frames: list[str]) -> list[tuple[str, int]]:
    """(frame, data records in it): 0 for control JSON."""
    out = []
    for frame in frames:
        if frame.startswith("{"):
            out.append((frame, 0))
        else:
            parts = frame.split("|", 3)
            out.append((frame, int(parts[2]) if len(parts) == 4 and parts[2].isdigit() else 1))
    return out


def _hhmmss(t: time) -> str:
    return f"{t.hour:02d}{t.minute:02d}{t.second:02d}"


def _random_ascii(n: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(n))
