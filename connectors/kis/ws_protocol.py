"""Sans-I/O KIS websocket protocol: messages out, frames in, AES (kis-api.md §8).

Everything here is a pure function over strings; the asyncio loop (`ws_client`) and the recorder
are only I/O around it, and tests exercise it without a socket.

Incoming text is one of:
- a data frame `<enc>|<TR_ID>|<count>|<payload>` (enc 0 plain, 1 AES-256-CBC + base64), whose
  payload holds `count` records of the TR's fields joined by `^` (the recorder journals frames
  as they come; `warehouse.compaction` splits them into typed rows);
- a JSON control message: a subscribe/unsubscribe ack (possibly an error ack), or the server's
  `PINGPONG` heartbeat, which the client echoes.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Literal

from Crypto.Cipher import AES
from Crypto.Util.Padding import unpad

from connectors.kis.errors import FrameError, KisWsAckError, SubscriptionLimitError
from schemas.realtime import TR_NOTICES_PAPER, TR_NOTICES_REAL

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
    "Frame",
    "FrameError",
    "KisWsAckError",
    "PingPong",
    "Subscription",
    "SubscriptionLimitError",
    "classify_ack",
    "decrypt_payload",
    "notice_tr_id",
    "parse_frame",
    "subscription_message",
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
