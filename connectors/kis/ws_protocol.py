"""Sans-I/O KIS websocket protocol: messages out, frames in, AES, typed records (kis-api.md §8).

Everything here is a pure function over strings; the asyncio loop (`ws_client`) and the recorder
are only I/O around it, and tests exercise it without a socket.

Incoming text is one of:
- a data frame `<enc>|<TR_ID>|<count>|<payload>` (enc 0 plain, 1 AES-256-CBC + base64), whose
  payload holds `count` records of the TR's fields joined by `^`;
- a JSON control message: a subscribe/unsubscribe ack (possibly an error ack), or the server's
  `PINGPONG` heartbeat, which the client echoes.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Literal

from Crypto.Cipher import AES
from Crypto.Util.Padding import unpad

from connectors.kis.errors import FrameError, KisWsAckError, SubscriptionLimitError
from schemas.clock import KST
from schemas.realtime import (
    NOTICE_MIN_FIELDS,
    NOTICE_TRS,
    REALTIME_FIELDS,
    TR_NOTICES_PAPER,
    TR_NOTICES_REAL,
    TR_QUOTES,
    TR_TRADES,
)

PINGPONG = "PINGPONG"
# Registrations per app key and session (kis-api.md §3: the 42nd gets OPSP0008).
MAX_SUBSCRIPTIONS = 41

__all__ = [
    "MAX_SUBSCRIPTIONS",
    "PINGPONG",
    "Ack",
    "AckAction",
    "Control",
    "DataMessage",
    "ExecutionNotice",
    "Frame",
    "FrameError",
    "KisWsAckError",
    "PingPong",
    "Quote",
    "RawRecord",
    "Subscription",
    "SubscriptionLimitError",
    "Trade",
    "classify_ack",
    "decrypt_payload",
    "notice_tr_id",
    "parse_frame",
    "split_records",
    "subscription_message",
    "to_records",
    "validate_subscriptions",
]


# --- outgoing ---------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Subscription:
    tr_id: str
    tr_key: str  # stock code, or the HTS ID for execution notices


def notice_tr_id(tr_env: Literal["real", "paper"]) -> str:
    return TR_NOTICES_PAPER if tr_env == "paper" else TR_NOTICES_REAL


def validate_subscriptions(subs: list[Subscription]) -> list[Subscription]:
    """De-duplicate (keeping order) and refuse more than the session limit before connecting."""
    unique = list(dict.fromkeys(subs))
    if len(unique) > MAX_SUBSCRIPTIONS:
        raise SubscriptionLimitError(
            f"{len(unique)} websocket registrations requested but KIS allows {MAX_SUBSCRIPTIONS} per "
            "session (each symbol costs one per stream: trades, quotes); record fewer symbols or "
            "split them across app keys"
        )
    return unique


def subscription_message(
    approval_key: str, sub: Subscription, *, subscribe: bool = True, custtype: str = "P"
) -> str:
    """The JSON text that (un)registers one (tr_id, tr_key). Contains the approval key: never log it."""
    return json.dumps(
        {
            "header": {
                "approval_key": approval_key,
                "custtype": custtype,
                "tr_type": "1" if subscribe else "2",
                "content-type": "utf-8",
            },
            "body": {"input": {"tr_id": sub.tr_id, "tr_key": sub.tr_key}},
        },
        separators=(",", ":"),
    )


# --- incoming ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DataMessage:
    encrypted: bool  # what the wire said; after `decrypt`, payload is plaintext either way
    tr_id: str
    count: int
    payload: str

    def text(self) -> str:
        return f"{'1' if self.encrypted else '0'}|{self.tr_id}|{self.count:03d}|{self.payload}"


@dataclass(frozen=True, slots=True)
class Ack:
    tr_id: str
    tr_key: str
    encrypt: bool
    rt_cd: str
    msg_cd: str
    msg1: str
    key: str | None  # AES key/iv for this TR's encrypted frames (execution notices)
    iv: str | None

    @property
    def ok(self) -> bool:
        return self.rt_cd == "0"

    def summary(self) -> dict[str, str]:
        """For journals and logs: everything but the AES key/iv."""
        return {
            "tr_id": self.tr_id,
            "tr_key": self.tr_key,
            "rt_cd": self.rt_cd,
            "msg_cd": self.msg_cd,
            "msg1": self.msg1.strip(),
        }


@dataclass(frozen=True, slots=True)
class PingPong:
    text: str  # echoed back verbatim


@dataclass(frozen=True, slots=True)
class Control:
    """Any other JSON message (kept so nothing the server says is silently lost)."""

    message: dict[str, Any]


Frame = DataMessage | Ack | PingPong | Control


def parse_frame(text: str) -> Frame:
    """Classify and parse one websocket text message; `FrameError` if it fits no known shape."""
    if not text:
        raise FrameError("empty message")
    first = text[0]
    if first in "01":
        return _parse_data(text)
    if first == "{":
        return _parse_json(text)
    raise FrameError("neither a data frame nor JSON", text)


def _parse_data(text: str) -> DataMessage:
    parts = text.split("|", 3)
    if len(parts) != 4:
        raise FrameError("data frame has fewer than 4 '|' parts", text)
    enc, tr_id, count, payload = parts
    if enc not in ("0", "1") or not tr_id or not count.isdigit() or int(count) < 1:
        raise FrameError("bad data frame header", text)
    return DataMessage(enc == "1", tr_id, int(count), payload)


def _parse_json(text: str) -> Frame:
    try:
        message = json.loads(text)
    except ValueError:
        raise FrameError("invalid JSON", text) from None
    if not isinstance(message, dict):
        raise FrameError("JSON message is not an object", text)
    header = message.get("header")
    header = header if isinstance(header, dict) else {}
    tr_id = str(header.get("tr_id", ""))
    if tr_id == PINGPONG:
        return PingPong(text)
    body = message.get("body")
    if isinstance(body, dict) and "msg_cd" in body:
        found = body.get("output")
        output: dict[str, Any] = found if isinstance(found, dict) else {}
        return Ack(
            tr_id=tr_id,
            tr_key=str(header.get("tr_key", "")),
            encrypt=str(header.get("encrypt", "N")).upper() == "Y",
            rt_cd=str(body.get("rt_cd", "")),
            msg_cd=str(body.get("msg_cd", "")),
            msg1=str(body.get("msg1", "")),
            key=output.get("key") or None,
            iv=output.get("iv") or None,
        )
    return Control(message)


AckAction = Literal[
    "subscribed", "unsubscribed", "ignore", "drop", "refresh_key", "reconnect", "fatal"
]

# The single place that decides what an ack means for the loop (kis-api.md §4.4).
_ACK_ACTIONS: dict[str, AckAction] = {
    "OPSP0000": "subscribed",
    "OPSP0001": "unsubscribed",
    "OPSP0002": "ignore",  # ALREADY IN SUBSCRIBE: harmless after a resubscribe
    "OPSP0003": "ignore",  # UNSUBSCRIBE ERROR (not found)
    "OPSP0007": "reconnect",  # internal error
    "OPSP0008": "fatal",  # MAX SUBSCRIBE OVER: we count, so this means another session shares the key
    "OPSP0009": "reconnect",  # mci send failed
    "OPSP0010": "refresh_key",
    "OPSP0011": "refresh_key",  # invalid approval key
    "OPSP8991": "drop",  # invalid tr_id
    "OPSP8992": "drop",  # invalid tr_key (e.g. unknown stock code)
    "OPSP8993": "drop",
    # ALREADY IN USE appkey: after a drop the server may still hold our previous session for a
    # while, so retry with backoff rather than giving up (whether it is per app key or per approval
    # key is unconfirmed; reconnecting with a fresh key works in both readings).
    "OPSP8996": "reconnect",
}


def classify_ack(ack: Ack) -> AckAction:
    action = _ACK_ACTIONS.get(ack.msg_cd)
    if action is not None:
        return action
    if ack.ok:
        # Unknown success code: trust msg1 the way the official sample does.
        return "unsubscribed" if ack.msg1.upper().startswith("UNSUB") else "subscribed"
    if ack.msg_cd.startswith(("OPSP899", "OPSP999")):
        return "fatal"  # JSON parsing errors: our message is wrong, retrying cannot help
    return "drop"


# --- encryption ------------------------------------------------------------------------------


def decrypt_payload(payload_b64: str, key: str, iv: str) -> str:
    """AES-256-CBC with the ack's key/iv (UTF-8 bytes), PKCS#7, UTF-8 text (kis-api.md §8.3)."""
    try:
        raw = base64.b64decode(payload_b64, validate=False)
        cipher = AES.new(key.encode(), AES.MODE_CBC, iv.encode())
        return unpad(cipher.decrypt(raw), AES.block_size).decode("utf-8")
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise FrameError(f"cannot decrypt ({type(exc).__name__})") from None


# --- records ----------------------------------------------------------------------------------


def split_records(frame: DataMessage) -> list[list[str]]:
    """The frame's records as field lists (the payload must already be plaintext).

    Multi-record frames are the records' fields concatenated with `^`, so we chunk by the TR's
    field count. A single notice may be shorter than the table (older layout): tolerated.
    """
    values = frame.payload.split("^")
    layout = REALTIME_FIELDS.get(frame.tr_id)
    if layout is None:  # unknown TR: split evenly if we can, never guess field names
        if len(values) % frame.count:
            raise FrameError(f"{len(values)} fields do not split into {frame.count} records")
        width = len(values) // frame.count
    else:
        width = len(layout)
        if (
            frame.count == 1
            and frame.tr_id in NOTICE_TRS
            and NOTICE_MIN_FIELDS <= len(values) <= width
        ):
            return [values]
        if len(values) != width * frame.count:
            raise FrameError(
                f"{frame.tr_id}: {len(values)} fields for {frame.count} records of {width}"
            )
    return [values[i * width : (i + 1) * width] for i in range(frame.count)]


@dataclass(frozen=True, slots=True)
class Trade:
    """H0STCNT0: one print."""

    symbol: str
    ts_event: datetime  # BSOP_DATE + STCK_CNTG_HOUR, KST
    price: int
    qty: int
    change: int
    change_rate: float
    vwap: float
    open: int
    high: int
    low: int
    ask1: int
    bid1: int
    cum_volume: int
    cum_value: int
    side: str  # CCLD_DVSN: 1 buy-initiated, 5 sell-initiated, 3 pre-market
    session_code: str
    hour_class: str


@dataclass(frozen=True, slots=True)
class Quote:
    """H0STASP0: one 10-level book snapshot (index 0 = best level)."""

    symbol: str
    ts_event: datetime  # receive day + BSOP_HOUR, KST
    hour_class: str
    ask_px: tuple[int, ...]
    bid_px: tuple[int, ...]
    ask_qty: tuple[int, ...]
    bid_qty: tuple[int, ...]
    total_ask_qty: int
    total_bid_qty: int
    cum_volume: int


@dataclass(frozen=True, slots=True)
class ExecutionNotice:
    """H0STCNI0/9: an order acknowledgement (is_fill False) or a fill."""

    ts_event: datetime
    account_tail: str  # last 2 characters only: the account number stays out of records
    order_no: str
    orig_order_no: str
    side: str  # 01 sell, 02 buy
    kind: str  # 0 new, 1 modify, 2 cancel
    order_type: str
    symbol: str
    is_fill: bool
    rejected: bool
    accept_code: str
    fill_qty: int | None  # only on fills (slots 9/10 carry order data on acks in one layout)
    fill_price: int | None
    order_qty: int | None
    order_price: int | None
    name: str


@dataclass(frozen=True, slots=True)
class RawRecord:
    """A record of a TR we have no field list for: kept by position."""

    tr_id: str
    values: tuple[str, ...]


Record = Trade | Quote | ExecutionNotice | RawRecord


def _int(text: str) -> int:
    return int(text) if text else 0


def _opt_int(text: str | None) -> int | None:
    return int(text) if text and text.strip() else None


def _ts(day: date, hhmmss: str) -> datetime:
    if len(hhmmss) != 6 or not hhmmss.isdigit():
        raise FrameError(f"bad time {hhmmss!r}")
    return datetime.combine(day, time(int(hhmmss[:2]), int(hhmmss[2:4]), int(hhmmss[4:])), KST)


def _trade(v: list[str]) -> Trade:
    d = v[33]
    day = date(int(d[:4]), int(d[4:6]), int(d[6:8]))
    return Trade(
        v[0],
        _ts(day, v[1]),
        int(v[2]),
        int(v[12]),
        _int(v[4]),
        float(v[5] or 0),
        float(v[6] or 0),
        _int(v[7]),
        _int(v[8]),
        _int(v[9]),
        _int(v[10]),
        _int(v[11]),
        _int(v[13]),
        _int(v[14]),
        v[21],
        v[34],
        v[43],
    )


def _quote(v: list[str], day: date) -> Quote:
    return Quote(
        v[0],
        _ts(day, v[1]),
        v[2],
        tuple(_int(x) for x in v[3:13]),
        tuple(_int(x) for x in v[13:23]),
        tuple(_int(x) for x in v[23:33]),
        tuple(_int(x) for x in v[33:43]),
        _int(v[43]),
        _int(v[44]),
        _int(v[53]),
    )


def _notice(v: list[str], day: date) -> ExecutionNotice:
    is_fill = v[13] == "2"
    return ExecutionNotice(
        ts_event=_ts(day, v[11]),
        account_tail=v[1][-2:],
        order_no=v[2],
        orig_order_no=v[3],
        side=v[4],
        kind=v[5],
        order_type=v[6],
        symbol=v[8],
        is_fill=is_fill,
        rejected=v[12] == "1",
        accept_code=v[14],
        fill_qty=_opt_int(v[9]) if is_fill else None,
        fill_price=_opt_int(v[10]) if is_fill else None,
        order_qty=_opt_int(v[16]),
        order_price=_opt_int(v[25]) if len(v) > 25 else None,
        name=v[24] if len(v) > 24 else "",
    )


def to_records(frame: DataMessage, day: date) -> list[Record]:
    """Typed records of a plaintext data frame. `day` (KST) dates TRs whose fields carry only a
    time. Raises `FrameError` on a malformed frame or value."""
    try:
        rows = split_records(frame)
        if frame.tr_id == TR_TRADES:
            return [_trade(v) for v in rows]
        if frame.tr_id == TR_QUOTES:
            return [_quote(v, day) for v in rows]
        if frame.tr_id in NOTICE_TRS:
            return [_notice(v, day) for v in rows]
    except (ValueError, IndexError) as exc:
        if isinstance(exc, FrameError):
            raise
        raise FrameError(f"{frame.tr_id}: bad value ({exc})") from None
    return [RawRecord(frame.tr_id, tuple(v)) for v in rows]
