"""Today's minute bars (FHKST03010200, 30 a call) and past days' minute bars (FHKST03010230, 120 a
call, paged by cursor or by request `tr_cont: N`)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from simulator import fields as F
from simulator.context import Ctx, Reply
from simulator.market import MinuteBar
from simulator.marketview import Snapshot
from simulator.quotes.common import chart_day_fields, market_view, ok, stock
from simulator.wire import hms, num, parse_hms, parse_ymd, pick, tr_cont_code, ymd

MINUTE_ROWS = 30
PAST_MINUTE_ROWS = 120
MINUTE_RETENTION_DAYS = 366  # "the server keeps about one year of minute bars"


def _minute_output1(snap: Snapshot) -> dict[str, str]:
    return pick(chart_day_fields(snap), F.MINUTE_OUTPUT1)


def _minute_rows(day_bars: list[MinuteBar], until: time) -> list[dict[str, str]]:
    """Rows (ascending) for the bars up to `until`, each with the cumulative traded value so far."""
    rows, cum = [], 0
    for bar in day_bars:
        cum += bar.value
        if bar.time <= until:
            rows.append(
                pick(
                    {
                        "stck_bsop_date": ymd(bar.date),
                        "stck_cntg_hour": hms(bar.time),
                        "stck_prpr": num(bar.close),
                        "stck_oprc": num(bar.open),
                        "stck_hgpr": num(bar.high),
                        "stck_lwpr": num(bar.low),
                        "cntg_vol": num(bar.volume),
                        "acml_tr_pbmn": num(cum),
                    },
                    F.MINUTE_OUTPUT2,
                )
            )
    return rows


def inquire_time_itemchartprice(ctx: Ctx) -> Reply:
    """Today's minute bars: the 30 ending at FID_INPUT_HOUR_1, newest first.

    - A time after now means now: sheet 048 "미래일시 입력 시에 현재가로 조회됩니다" (at 10:00,
      113000 answers with the bars up to 10:00). The bars themselves end at sim-now, so a later
      HOUR_1 cuts nothing.
    - `000000` and an empty HOUR_1 mean "now" too: clients send 000000 for "latest bars".
      Unconfirmed: the workbook does not mention either value (read literally, 000000 would
      be before the open and answer no bars).
    - Before the first trade of the day (or on a closed day) the rows are the last session's."""
    snap = stock(ctx)
    text = ctx.get("FID_INPUT_HOUR_1").strip()
    until = time.max if text in {"", "000000"} else parse_hms(text, "FID_INPUT_HOUR_1")
    bars = market_view(ctx).minute_bars(snap.code, snap.day, ctx.now)
    rows = _minute_rows(bars, until)[-MINUTE_ROWS:]
    return ok({"output1": _minute_output1(snap), "output2": rows[::-1]})


def inquire_time_dailychartprice(ctx: Ctx) -> Reply:
    """Past days' minute bars: 120 per call, newest first, ending at DATE_1/HOUR_1 and continuing
    into earlier trading days. Paging either by moving the date/time cursor or with request
    `tr_cont: N` and the same parameters (the server remembers where the last page ended)."""
    snap = stock(ctx)
    view = market_view(ctx)
    key = ctx.continuation_key()
    cursor = ctx.continuations.get(key) if ctx.req_tr_cont == "N" else None
    first_page = cursor is None
    if cursor is None:
        day = parse_ymd(ctx.need("FID_INPUT_DATE_1"), "FID_INPUT_DATE_1")
        cursor = (day, parse_hms(ctx.need("FID_INPUT_HOUR_1"), "FID_INPUT_HOUR_1"))
    day, until = cursor
    calendar = ctx.market.calendar
    oldest = ctx.now.date() - timedelta(days=MINUTE_RETENTION_DAYS)
    if day > ctx.now.date():
        day, until = ctx.now.date(), time(23, 59, 59)
    if not calendar.is_trading_day(day):
        day, until = calendar.previous_trading_day(day), time(23, 59, 59)
    collected: list[dict[str, str]] = []
    more = False
    while day >= oldest and day >= ctx.market.first_date:
        rows = _minute_rows(view.minute_bars(snap.code, day, ctx.now), until)
        need = PAST_MINUTE_ROWS - len(collected)
        taken = rows[::-1][:need]
        collected.extend(taken)
        if len(rows) > need:
            more = True
            last = taken[-1]["stck_cntg_hour"]
            ctx.continuations.put(
                key,
                (day, (datetime.combine(day, parse_hms(last, "")) - timedelta(seconds=1)).time()),
            )
            break
        day, until = calendar.previous_trading_day(day), time(23, 59, 59)
        if len(collected) == PAST_MINUTE_ROWS:
            more = day >= oldest
            ctx.continuations.put(key, (day, until))
            break
    return ok(
        {"output1": _minute_output1(snap), "output2": collected}, tr_cont_code(first_page, more)
    )
