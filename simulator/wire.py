"""KIS wire-format helpers shared by every handler: envelopes, string numbers, padding, errors.

Everything here is pure. Handlers raise `KisReject` for any refusal; the ASGI layer turns it into
the KIS envelope (`rt_cd`/`msg_cd`/`msg1`) with the HTTP status the simulator has chosen for it.

HTTP status choices (kis-api.md §1.7 leaves several unconfirmed; we pick one and document it):
- business/validation rejections (bad code, bad params, orders refused): HTTP 200, rt_cd "1";
- gateway errors (EGW001xx credentials, EGW0012x tokens, EGW00201 rate limit, injected 5xx): HTTP 500
  with the normal envelope. A client that parses the body on any status handles both readings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from email.utils import format_datetime
from typing import Any

from simulator.calendar import KST


@dataclass
class KisReject(Exception):
    """A refusal in KIS terms; carries no secrets (messages are fixed KIS texts)."""

    msg_cd: str
    msg1: str
    http_status: int = 200
    rt_cd: str = "1"

    def __str__(self) -> str:
        return f"{self.msg_cd} {self.msg1}"


def pad(text: str, width: int) -> str:
    """Right-pad with spaces (KIS pads msg1 and CTX cursors)."""
    return text.ljust(width)


def envelope(
    msg_cd: str,
    msg1: str,
    blocks: dict[str, Any] | None = None,
    rt_cd: str = "0",
    *,
    blocks_first: bool = True,
) -> dict[str, Any]:
    """The response body: the workbook examples put data blocks before rt_cd/msg_cd/msg1 for
    queries and after them for orders (`blocks_first=False`)."""
    head = {"rt_cd": rt_cd, "msg_cd": msg_cd, "msg1": msg1}
    if not blocks:
        return head
    return {**blocks, **head} if blocks_first else {**head, **blocks}


JSON_TYPE = "application/json; charset=utf-8"


def http_headers(
    content_type: str, length: int, kis: dict[str, str], now: datetime
) -> list[tuple[bytes, bytes]]:
    """Response header block as KIS writes it: standard headers capitalised (`Content-Type`,
    `Content-Length`, `Date`), KIS's own (`tr_id`, `tr_cont`, `gt_uid`) in lower case, in the
    workbook's order. No lowercase hyphenated name is ever sent: the official sample keeps every
    all-lowercase header name as a namedtuple field, and `content-type` is not an identifier.
    (The server writes no header of its own; uvicorn's `date`/`server` are switched off.)

    `Date` (RFC 7231) carries the simulator's clock (`now`, naive KST), not the wall's: a kisdb
    command pointed at a standalone `kisdb sim --now D` takes its "today" from it (KIS's own Date
    is its wall clock, which the simulator's clock stands for)."""
    block = [(b"Content-Type", content_type.encode()), (b"Content-Length", str(length).encode())]
    block += [(k.encode(), v.encode()) for k, v in kis.items()]
    moment = now.replace(tzinfo=KST) if now.tzinfo is None else now
    block.append((b"Date", format_datetime(moment.astimezone(UTC), usegmt=True).encode()))
    return block


def kis_headers(tr_id: str, tr_cont: str = "") -> dict[str, str]:
    """KIS's own response headers of a TR API: the request's tr_id echoed, tr_cont always present
    ("" when there is nothing to continue: clients read it unconditionally), and a fresh 32-char
    gt_uid per transaction. The workbook lists tr_cont/gt_uid in the response header of 257 REST
    sheets; its order sheets (019, 023) list only content-type, but we send the same three there
    too (unconfirmed; harmless to a client, and one that reads tr_cont unconditionally needs it)."""
    return {"tr_id": tr_id, "tr_cont": tr_cont, "gt_uid": os.urandom(16).hex()}


def error_body(reject: KisReject) -> dict[str, Any]:
    return {"rt_cd": reject.rt_cd, "msg_cd": reject.msg_cd, "msg1": reject.msg1}


def num(value: int | float) -> str:
    """Integer-valued string ("128500")."""
    return str(int(value))


def dec(value: float, places: int = 2) -> str:
    """Decimal string with fixed places ("0.39", "-1.25")."""
    text = f"{value:.{places}f}"
    return "0." + "0" * places if text.startswith("-") and float(text) == 0 else text


def signed_dec(value: float, places: int = 2) -> str:
    """Decimal with an explicit sign, as overseas `rate` ("+5.61", "-4.17")."""
    text = dec(value, places)
    return text if text.startswith("-") else "+" + text


def ymd(d: date) -> str:
    return d.strftime("%Y%m%d")


def hms(t: time | datetime) -> str:
    return t.strftime("%H%M%S")


def sign_code(change: float, at_upper: bool = False, at_lower: bool = False) -> str:
    """KIS sign codes: 1 upper limit, 2 up, 3 flat, 4 lower limit, 5 down."""
    if at_upper:
        return "1"
    if at_lower:
        return "4"
    if change > 0:
        return "2"
    if change < 0:
        return "5"
    return "3"


def rate(change: float, base: float) -> float:
    return 0.0 if base == 0 else change / base * 100.0


def parse_ymd(text: str, field: str) -> date:
    """Strict YYYYMMDD; a bad value is a KIS-style rejection, never a traceback."""
    text = text.strip()
    try:
        if len(text) != 8 or not text.isdigit():
            raise ValueError
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise KisReject("OPSQ2002", f"{field} 입력값을 확인하세요. (YYYYMMDD)") from None


def parse_hms(text: str, field: str) -> time:
    text = text.strip()
    try:
        if len(text) != 6 or not text.isdigit():
            raise ValueError
        return time(int(text[:2]), int(text[2:4]), int(text[4:]))
    except ValueError:
        raise KisReject("OPSQ2002", f"{field} 입력값을 확인하세요. (HHMMSS)") from None


def parse_int(text: str, field: str, *, minimum: int | None = None) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise KisReject("OPSQ2002", f"{field} 입력값을 확인하세요.") from None
    if minimum is not None and value < minimum:
        raise KisReject("OPSQ2002", f"{field} 입력값을 확인하세요.")
    return value


def pick(row: dict[str, str], fields: tuple[str, ...]) -> dict[str, str]:
    """Order a row by the workbook's field list; any field not computed is sent empty."""
    return {name: row.get(name, "") for name in fields}


# Messages used in several places (kis-api.md §4).
MSG_OK_QUOTE = ("MCA00000", "정상처리 되었습니다.")
MSG_OK_ACCOUNT = ("KIOK0510", "조회가 완료되었습니다")
MSG_MORE = ("KIOK0500", "조회가 계속됩니다..다음버튼을 Click 하십시오.")
MSG_LAST = ("KIOK0460", "조회 되었습니다. (마지막 자료)")
MSG_NO_ROWS = ("KIOK0560", "조회할 내용이 없습니다")
MSG_ORDER_OK = ("APBK0013", "주문 전송 완료 되었습니다.")


def bad_code() -> KisReject:
    return KisReject("MCA05918", "종목코드 오류입니다.")


def paper_unsupported() -> KisReject:
    # Code from one field fixture (kis-api.md §4.5, unconfirmed); HTTP 200 like other rejections.
    return KisReject("40580000", "모의투자 조회가 불가합니다")


def unknown_service() -> KisReject:
    return KisReject("OPSQ0002", "없는 서비스 코드 입니다.")


def tr_cont_code(first_page: bool, more: bool) -> str:
    """Response tr_cont: F first page with more, M later page with more, D last of several,
    E single page (a reading safe for clients that only tell F/M from D/E)."""
    if more:
        return "F" if first_page else "M"
    return "E" if first_page else "D"
