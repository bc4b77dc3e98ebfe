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
    tr_cont_code,
    ymd,
)

HOLIDAY_ROWS = 24


def chk_holiday(ctx: Ctx) -> Reply:
    """Calendar days from BASS_DT, 24 per call. Continue either with BASS_DT = last date + 1 or with
    request tr_cont N and the returned ctx_area_fk/nk (the official sample's loop). The calendar
    ends on Dec 31 of the year after sim-today, so a tr_cont loop terminates."""
    start = parse_ymd(ctx.need("BASS_DT"), "BASS_DT")
    nk = ctx.get("CTX_AREA_NK").strip()
    first_page = not (ctx.req_tr_cont == "N" and nk)
    if not first_page:
        start = parse_ymd(nk, "CTX_AREA_NK") + timedelta(days=1)
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
            "D" if not first_page else "E",
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
    return Reply(body, tr_cont_code(first_page, more))
