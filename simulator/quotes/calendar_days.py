"""The holiday calendar (CTCA0903R): business, trading, opening and settlement flags per day."""

from __future__ import annotations

from datetime import date, timedelta

from simulator import fields as F
from simulator.calendar import weekday_code
from simulator.context import Ctx, Reply
from simulator.wire import (
    MSG_LAST,
    MSG_MORE,
    MSG_NO_ROWS,
    envelope,
    pad,
    parse_ymd,
    pick,
    ymd,
)

HOLIDAY_ROWS = 24


def chk_holiday(ctx: Ctx) -> Reply:
    """Calendar days from BASS_DT, 24 per call (the sheet's example: 20221227..20230119).

    - No tr_cont continuation: sheet 076 marks tr_cont "tr_cont를 이용한 다음조회 불가 API" in both
      the request and the response header. One answer per call, response tr_cont always "";
      a request tr_cont N and CTX_AREA_NK/FK are ignored (the sheet says to send them blank).
      Callers continue with BASS_DT = last returned date + 1.
    - msg_cd KIOK0500 ("조회가 계속됩니다") while days remain, as the example; KIOK0460 on the last
      answer. ctx_area_fk/nk carry the first/last date padded to 20 (the example's values).
    - The calendar ends on Dec 31 of the year after sim-today (unconfirmed: KIS's horizon is
      the published KRX calendar); past it, KIOK0560 with no rows."""
    start = parse_ymd(ctx.need("BASS_DT"), "BASS_DT")
    horizon = date(ctx.now.year + 1, 12, 31)
    days = [
        start + timedelta(days=i)
        for i in range(HOLIDAY_ROWS)
        if start + timedelta(days=i) <= horizon
    ]
    if not days:
        return Reply(
            envelope(
                *MSG_NO_ROWS, {"ctx_area_nk": pad("", 20), "ctx_area_fk": pad("", 20), "output": []}
            ),
        )
    rows = []
    yn = {True: "Y", False: "N"}
    for d in days:
        flags = ctx.market.calendar.day_flags(d)
        rows.append(
            pick(
                {
                    "bass_dt": ymd(d),
                    "wday_dvsn_cd": weekday_code(d),
                    "bzdy_yn": yn[flags.bzdy_yn],
                    "tr_day_yn": yn[flags.tr_day_yn],
                    "opnd_yn": yn[flags.opnd_yn],
                    "sttl_day_yn": yn[flags.sttl_day_yn],
                },
                F.HOLIDAY,
            )
        )
    more = days[-1] < horizon
    msg = MSG_MORE if more else MSG_LAST
    body = envelope(
        *msg,
        {
            "ctx_area_nk": pad(ymd(days[-1]), 20),
            "ctx_area_fk": pad(ymd(days[0]), 20),
            "output": rows,
        },
    )
    return Reply(body)
