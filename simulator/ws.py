"""The KIS realtime (websocket) server: subscriptions, trade/quote streams, encrypted execution
notices and PINGPONG, over websockets 16 (asyncio, compression off like KIS).

Frame formats, acks and codes follow kis-api.md §8. Streams are driven by the sim clock: every
cycle (50 ms wall, fixed cadence) sends the prints that fell due since the last cycle, up to
MAX_RECORDS_PER_FRAME records to a frame (`0|H0STCNT0|003|...`) as KIS batches them; the order book
changes every market second while a symbol trades (sizes move between prints too), and goes out
coalesced: at most one snapshot per cycle, whenever the market second moved on. The sim `speed`
sets how much market time a cycle covers, hence the record rate (a liquid large cap prints 30,000+
times a day, see `paths`). Trade records come pre-encoded per (code, day) from `simulator.stream`,
so a cycle only slices and joins strings.
"""

from __future__ import annotations

import asyncio
import base64
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

from simulator.marketview import MarketView
from simulator.stream import TapeCache, TradeTape, hhmmss

if TYPE_CHECKING:
    from simulator.account import Order
    from simulator.server import RunningSimulator

MAX_SUBSCRIPTIONS = 41
PUMP_SECONDS = 0.05
MAX_RECORDS_PER_FRAME = 100
TRADE_TR, BOOK_TR = "H0STCNT0", "H0STASP0"
NOTICE_TR = {"real": "H0STCNI0", "paper": "H0STCNI9"}
# Overseas execution notices: accepted like H0STCNI0 (keyed by HTS ID) but silent, as the
# simulator takes no overseas orders.
OVERSEAS_NOTICE_TR = {"real": "H0GSCNI0", "paper": "H0GSCNI9"}
_ALNUM = string.ascii_letters + string.digits


def encrypt(text: str, key: str, iv: str) -> str:
    cipher = AES.new(key.encode(), AES.MODE_CBC, iv.encode())
    return base64.b64encode(cipher.encrypt(pkcs7(text.encode("utf-8"), AES.block_size))).decode()


def ack(
    tr_id: str,
    tr_key: str,
    msg_cd: str,
    msg1: str,
    *,
    rt_cd: str = "0",
    encrypt_yn: str = "N",
    key: str = "",
    iv: str = "",
) -> str:
    body: dict[str, Any] = {"rt_cd": rt_cd, "msg_cd": msg_cd, "msg1": msg1}
    if key:
        body["output"] = {"iv": iv, "key": key}
    return json.dumps(
        {"header": {"tr_id": tr_id, "tr_key": tr_key, "encrypt": encrypt_yn}, "body": body},
        ensure_ascii=False,
    )


@dataclass
class Cursor:
    """Where one H0STCNT0/H0STASP0 registration is in its symbol's day: prints [0, pos) are out
    (and, for a book registration, the market second of the last snapshot sent)."""

    tape: TradeTape
    pos: int
    book_second: int = -1


@dataclass(eq=False)  # identity hashing: connections live in sets
class Conn:
    ws: ServerConnection
    opened: float = field(default_factory=_time.monotonic)
    app_key: str | None = None
    subs: dict[tuple[str, str], Cursor | None] = field(default_factory=dict)  # None: notices
    keys: dict[str, tuple[str, str]] = field(default_factory=dict)
    notices: deque[str] = field(default_factory=deque)
    frames: int = 0


class WsServer:
    def __init__(self, sim: RunningSimulator) -> None:
        self.sim = sim
        self.view = MarketView(sim.market)
        self.tapes = TapeCache(sim.market)
        self.conns: set[Conn] = set()
        self.sessions: dict[str, Conn] = {}
        sim.account.listeners.append(self.on_order_event)

    # -- connection life ------------------------------------------------------------------------
    async def handler(self, ws: ServerConnection) -> None:
        conn = Conn(ws)
        self.conns.add(conn)
        self.sim.stats.add("ws_connections")
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
        notices = {NOTICE_TR[self.sim.config.env], OVERSEAS_NOTICE_TR[self.sim.config.env]}
        if tr_id not in {TRADE_TR, BOOK_TR, *notices}:
            return ack(tr_id, tr_key, "OPSP8991", "SUBSCRIBE ERROR : invalid tr_id", rt_cd="1")
        encrypt_yn = "Y" if tr_id in notices else "N"
        if tr_type == "2":
            # A notice registration holds no cursor (None): test membership, not the value.
            if (tr_id, tr_key) not in conn.subs:
                return ack(tr_id, tr_key, "OPSP0003", "UNSUBSCRIBE ERROR (not found!)", rt_cd="1")
            del conn.subs[(tr_id, tr_key)]
            return ack(tr_id, tr_key, "OPSP0001", "UNSUBSCRIBE SUCCESS", encrypt_yn=encrypt_yn)
        if (tr_id, tr_key) in conn.subs:
            return ack(tr_id, tr_key, "OPSP0002", "ALREADY IN SUBSCRIBE", rt_cd="1")
        if len(conn.subs) >= MAX_SUBSCRIPTIONS:
            return ack(tr_id, tr_key, "OPSP0008", "MAX SUBSCRIBE OVER", rt_cd="1")
        if tr_id in notices:
            if tr_key != self.sim.hts_id:
                return ack(tr_id, tr_key, "OPSP8992", "SUBSCRIBE ERROR : invalid tr_key", rt_cd="1")
            conn.subs[(tr_id, tr_key)] = None
        else:
            cursor = self.new_cursor(tr_key)
            if cursor is None:
                return ack(tr_id, tr_key, "OPSP8992", "SUBSCRIBE ERROR : invalid tr_key", rt_cd="1")
            conn.subs[(tr_id, tr_key)] = cursor
        key, iv = conn.keys.setdefault(tr_id, (_random_ascii(32), _random_ascii(16)))
        return ack(
            tr_id, tr_key, "OPSP0000", "SUBSCRIBE SUCCESS", encrypt_yn=encrypt_yn, key=key, iv=iv
        )

    def new_cursor(self, code: str) -> Cursor | None:
        """A stream of `code` positioned at sim-now (None: not a listed code)."""
        now = self.sim.clock.now()
        if self.view.instrument(code, now) is None:
            return None
        tape = self.tapes.get(code, self.view.session_day(now))
        return Cursor(tape, tape.due(0, _cut_second(tape.day, now)))

    # -- streaming ------------------------------------------------------------------------------
    async def pump(self, conn: Conn) -> None:
        """Every PUMP_SECONDS of wall time, send what fell due (on a fixed cadence: the time spent
        building and sending is not added to the period)."""
        sim = self.sim
        interval = sim.config.ws_ping_interval
        next_ping = _time.monotonic() + interval if interval > 0 else float("inf")
        next_cycle = _time.monotonic()
        try:
            while True:
                next_cycle += PUMP_SECONDS
                delay = next_cycle - _time.monotonic()
                if delay < -PUMP_SECONDS:  # far behind (a slow reader): do not burst to catch up
                    next_cycle, delay = _time.monotonic(), 0.0
                await asyncio.sleep(max(delay, 0.0))
                faults = sim.faults
                if (
                    faults.ws_drop_after is not None
                    and _time.monotonic() - conn.opened >= faults.ws_drop_after
                ):
                    conn.ws.transport.abort()
                    return
                frames = self.due_frames(conn)
                if _time.monotonic() >= next_ping:
                    next_ping = _time.monotonic() + interval
                    stamp = sim.clock.now().strftime("%Y%m%d%H%M%S")
                    frames.insert(
                        0, (json.dumps({"header": {"tr_id": "PINGPONG", "datetime": stamp}}), 0)
                    )
                sent_frames = sent_records = 0
                try:
                    for frame, records in frames:
                        if records and faults.malformed and random.random() < faults.malformed:
                            frame = frame[: max(1, len(frame) // 2)]
                        await conn.ws.send(frame)
                        if records:
                            conn.frames += 1
                            sent_frames, sent_records = sent_frames + 1, sent_records + records
                            limit = faults.ws_drop_after_frames
                            if limit is not None and conn.frames >= limit:
                                conn.ws.transport.abort()
                                return
                finally:  # counted once per cycle (the stats lock is not free), sent frames only
                    if sent_frames:
                        sim.stats.add("ws_frames_sent", sent_frames)
                        sim.stats.add("ws_records_sent", sent_records)
        except (ConnectionClosed, asyncio.CancelledError):
            return

    def due_frames(self, conn: Conn) -> list[tuple[str, int]]:
        """(frame, data records in it) due now: pending notices, then each registration's prints
        since its last cycle, several records to a frame as KIS batches them."""
        out: list[tuple[str, int]] = []
        while conn.notices:
            out.append((conn.notices.popleft(), 1))
        if not conn.subs:
            return out
        now = self.sim.clock.now()
        session_day: date | None = None
        for (tr_id, code), cursor in list(conn.subs.items()):
            if cursor is None:
                continue
            spans = [self._take(cursor, now)]
            if cursor.pos >= len(cursor.tape) and cursor.tape.day < now.date():
                # The day is over and the clock is on a later one: the stream goes on at the
                # current session day's open in the same cycle (days in between are skipped only
                # when one cycle spans more than a session, i.e. at extreme speeds).
                session_day = session_day or self.view.session_day(now)
                if session_day > cursor.tape.day:
                    cursor = conn.subs[(tr_id, code)] = Cursor(self.tapes.get(code, session_day), 0)
                    spans.append(self._take(cursor, now))
            if tr_id == TRADE_TR:
                for tape, start, end in spans:
                    out.extend(
                        (f"0|{tr_id}|{count:03d}|{payload}", count)
                        for count, payload in tape.chunks(start, end, MAX_RECORDS_PER_FRAME)
                    )
            else:
                book = self._book_due(cursor, now)
                if book is not None:
                    out.append((f"0|{tr_id}|001|{book}", 1))
        return out

    def _book_due(self, cursor: Cursor, now: datetime) -> str | None:
        """The book snapshot for this cycle: one per market second from the day's first print to
        its last (the closing book once, then silence until the next open)."""
        tape, end = cursor.tape, cursor.pos
        if end == 0:
            return None  # no print yet today (the pre-open book is not simulated)
        second = min(_cut_second(tape.day, now), tape.seconds[-1])
        if second <= cursor.book_second:
            return None
        cursor.book_second = second
        return self.book_record(tape, end - 1, second)

    @staticmethod
    def _take(cursor: Cursor, now: datetime) -> tuple[TradeTape, int, int]:
        """Move `cursor` past the prints due at `now`: (its tape, first, end) of those prints."""
        start = cursor.pos
        cursor.pos = cursor.tape.due(start, _cut_second(cursor.tape.day, now))
        return cursor.tape, start, cursor.pos

    def book_record(self, tape: TradeTape, i: int, s: int) -> str:
        """The H0STASP0 record at second `s` of the tape's day, print `i` being the last one out."""
        at = datetime.combine(tape.day, time(s // 3600, s // 60 % 60, s % 60))
        book = self.sim.market.quote_at(tape.code, at)
        asks = (list(book.asks) + [(0, 0)] * 10)[:10]
        bids = (list(book.bids) + [(0, 0)] * 10)[:10]
        total_ask, total_bid = sum(q for _, q in asks), sum(q for _, q in bids)
        fields = [
            tape.code,
            hhmmss(s),
            "0",
            *[str(p) for p, _ in asks],
            *[str(p) for p, _ in bids],
            *[str(q) for _, q in asks],
            *[str(q) for _, q in bids],
            str(total_ask),
            str(total_bid),
            "0",
            "0",
            "0",
            "0",
            "0",
            "0",
            "3",
            "0.00",
            str(tape.cum_volume[i]),
            "0",
            "0",
            "0",
            "0",
            "0",
        ]
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
            self.sim.hts_id,
            acct.cano + acct.prdt,
            order.odno,
            order.orgn_odno or "",
            order.side,
            rctf,
            order.ord_dvsn,
            {"": "0", "IOC": "1", "FOK": "2"}[order.cond],
            order.code,
            f"{qty:010d}",
            f"{price:09d}",
            stamp,
            "0",
            "2" if fill else "1",
            "2" if fill else "1",
            order.orgno,
            f"{order.qty:09d}",  # ODER_QTY is 9 wide (sheet 165), CNTG_QTY 10
            "모의투자" if self.sim.config.env == "paper" else "시뮬레이터",
            "",
            "1",
            "Y",
            "",
            "10",
            "",
            order.name,
            f"{order.price:09d}",
        ]
        return "^".join(fields)


def _cut_second(day: date, now: datetime) -> int:
    """Prints of `day` stamped at or before this second (seconds since midnight) are due at `now`."""
    if day < now.date():
        return 86_400
    if day > now.date():
        return -1
    return now.hour * 3600 + now.minute * 60 + now.second


def _random_ascii(n: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(n))
