"""Overseas quotation handlers (kis-api.md §6.3, §6.4): daily/weekly/monthly prices (HHDFS76240000)
and minute bars (HHDFS76950200).

"Today" for a US listing is the New York date of sim-now; daily rows cover completed sessions only
(close <= sim-now) and minute bars end at sim-now. `KEYB` on the minute API is read as the exchange
local timestamp YYYYMMDDHHMMSS of the newest bar wanted (kis-api.md leaves its zone unconfirmed;
clients that derive it from the `xymd`/`xhms` of the oldest row received work either way).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from simulator import fields as F
from simulator.calendar import KST, NEW_YORK, UsCalendar
from simulator.context import Ctx, Reply
from simulator.market import OverseasBar, period_start
from simulator.quotes.common import ok
from simulator.wire import (
    KisReject,
    bad_code,
    dec,
    num,
    parse_int,
    parse_ymd,
    pick,
    rate,
    sign_code,
    signed_dec,
    ymd,
)

DAILY_ROWS = 100
MINUTE_MAX = 120
MINUTE_LOOKBACK_DAYS = 31
ZDIV = 4


def instrument(ctx: Ctx) -> tuple[str, str]:
    exchange = ctx.need("EXCD").upper()
    symbol = ctx.need("SYMB").upper()
    if (exchange, symbol) not in ctx.market.overseas:
        raise bad_code()
    return exchange, symbol


def new_york_now(ctx: Ctx) -> datetime:
    return ctx.now.replace(tzinfo=KST).astimezone(NEW_YORK)


def px(value: float) -> str:
    return dec(value, ZDIV)


def dailyprice(ctx: Ctx) -> Reply:
    exchange, symbol = instrument(ctx)
    gubn = ctx.get("GUBN", "0").strip() or "0"
    period = {"0": "D", "1": "W", "2": "M"}.get(gubn)
    if period is None:
        raise KisReject("OPSQ2002", "GUBN 입력값을 확인하세요. (0:일 1:주 2:월)")
    ny_now = new_york_now(ctx)
    # Adjusted (MODP=1) as of the New York date: a split still ahead is not applied.
    split = ctx.market.overseas_split(exchange, symbol)
    adjusted = (ctx.get("MODP", "0").strip() or "0") == "1" and (
        split is not None and split.date <= ny_now.date()
    )
    last_done = ny_now.date()
    cal = ctx.market.us_calendar
    if not cal.is_trading_day(last_done) or cal.session(last_done)[1] > ny_now:
        last_done -= timedelta(days=1)
    bymd = ctx.get("BYMD").strip()
    end = min(parse_ymd(bymd, "BYMD"), last_done) if bymd else last_done
    span = {"D": 160, "W": 100 * 7 + 7, "M": 100 * 31 + 31}[period]
    bars = ctx.market.overseas_bars(
        exchange, symbol, end - timedelta(days=span), end, period, adjusted
    )
    page = bars[-DAILY_ROWS:]
    # Each row changes from the previous bar's close; the oldest row's previous bar may lie
    # outside the fetched window, so it is looked up (the close before its period began).
    first_prev = (
        bars[-DAILY_ROWS - 1].close
        if len(bars) > DAILY_ROWS
        else (
            ctx.market.overseas_close_before(
                exchange, symbol, period_start(page[0].local_date, period), adjusted
            )
            if page
            else 0.0
        )
    )
    prev_closes = [first_prev] + [b.close for b in page[:-1]]
    pairs = list(zip(page, prev_closes, strict=True))
    rows = []
    for bar, prev in reversed(pairs):
        diff = bar.close - prev
        rows.append(
            pick(
                {
                    "xymd": ymd(bar.local_date),
                    "clos": px(bar.close),
                    "sign": sign_code(round(diff, ZDIV)),
                    "diff": px(abs(diff)),
                    "rate": signed_dec(rate(diff, prev)),
                    "open": px(bar.open),
                    "high": px(bar.high),
                    "low": px(bar.low),
                    "tvol": num(bar.volume),
                    "tamt": num(bar.value),
                    "pbid": px(bar.close),
                    "vbid": "100",
                    "pask": px(bar.close + 0.01),
                    "vask": "100",
                },
                F.OVERSEAS_DAILY_OUTPUT2,
            )
        )
    out1 = pick(
        {"rsym": f"D{exchange}{symbol}", "zdiv": str(ZDIV), "nrec": num(len(rows))},
        F.OVERSEAS_DAILY_OUTPUT1,
    )
    return ok({"output1": out1, "output2": rows})


def inquire_time_itemchartprice(ctx: Ctx) -> Reply:
    exchange, symbol = instrument(ctx)
    nmin = parse_int(ctx.get("NMIN") or "1", "NMIN", minimum=1)
    nrec = min(parse_int(ctx.get("NREC") or str(MINUTE_MAX), "NREC", minimum=1), MINUTE_MAX)
    include_past = (ctx.get("PINC", "1").strip() or "1") == "1"
    keyb = ctx.get("KEYB").strip() if (ctx.get("NEXT").strip() == "1") else ""
    ny_now = new_york_now(ctx).replace(tzinfo=None)
    newest = ny_now
    if keyb:
        try:
            newest = min(datetime.strptime(keyb, "%Y%m%d%H%M%S"), ny_now)
        except ValueError:
            raise KisReject("OPSQ2002", "KEYB 입력값을 확인하세요. (YYYYMMDDHHMMSS)") from None
    cal = ctx.market.us_calendar
    oldest_day = ny_now.date() - timedelta(days=MINUTE_LOOKBACK_DAYS)
    rows: list[dict[str, str]] = []
    day = newest.date()
    more = False
    while day >= oldest_day:
        if cal.is_trading_day(day):
            bars = [
                b for b in _bucketed(ctx, exchange, symbol, day, nmin) if _local_start(b) <= newest
            ]
            need = nrec - len(rows)
            rows.extend(_minute_row(day, b) for b in bars[::-1][:need])
            if len(bars) > need:
                more = True
                break
        if not include_past:
            break
        day -= timedelta(days=1)
        if len(rows) >= nrec:
            more = day >= oldest_day
            break
    stim, etim, sktm, ektm = session_times(cal, newest.date())
    out1 = pick(
        {
            "rsym": f"D{exchange}{symbol}",
            "zdiv": str(ZDIV),
            "stim": stim,
            "etim": etim,
            "sktm": sktm,
            "ektm": ektm,
            "next": "1" if more else "0",
            "more": "1" if more else "0",
            "nrec": num(len(rows)),
        },
        F.OVERSEAS_MINUTE_OUTPUT1,
    )
    return ok({"output1": out1, "output2": rows})


def session_times(cal: UsCalendar, day: date) -> tuple[str, str, str, str]:
    """(stim, etim, sktm, ektm): the regular session of `day` (or of the last trading day before
    it) as local New York and as KST HHMMSS, e.g. 093000/160000 and 233000/060000 (223000/050000
    under US daylight time; 130000 local on early-close days)."""
    if not cal.is_trading_day(day):
        day = cal.previous_trading_day(day)
    open_at, close_at = cal.session(day)
    return (
        open_at.strftime("%H%M%S"),
        close_at.strftime("%H%M%S"),
        open_at.astimezone(KST).strftime("%H%M%S"),
        close_at.astimezone(KST).strftime("%H%M%S"),
    )


def _bucketed(ctx: Ctx, exchange: str, symbol: str, day: date, nmin: int) -> list[OverseasBar]:
    """The day's minute bars aggregated into nmin-wide bars labelled by their clock-aligned start."""
    bars = ctx.market.overseas_minute_bars(exchange, symbol, day)
    groups: dict[int, list[OverseasBar]] = {}
    for b in bars:
        assert b.local_time is not None
        slot = (b.local_time.hour * 60 + b.local_time.minute) // nmin * nmin
        groups.setdefault(slot, []).append(b)
    out = []
    for slot, g in sorted(groups.items()):
        start = datetime.combine(day, datetime.min.time()) + timedelta(minutes=slot)
        kst = start.replace(tzinfo=NEW_YORK).astimezone(KST).replace(tzinfo=None)
        out.append(
            OverseasBar(
                day,
                start.time(),
                kst,
                g[0].open,
                max(b.high for b in g),
                min(b.low for b in g),
                g[-1].close,
                sum(b.volume for b in g),
                sum(b.value for b in g),
            )
        )
    return out


def _local_start(bar: OverseasBar) -> datetime:
    assert bar.local_time is not None  # minute bars carry their New York start time
    return datetime.combine(bar.local_date, bar.local_time)


def _minute_row(day: date, b: OverseasBar) -> dict[str, str]:
    assert b.kst is not None  # minute bars carry their KST start
    return pick(
        {
            "tymd": ymd(day),
            "xymd": ymd(b.local_date),
            "xhms": _local_start(b).strftime("%H%M%S"),
            "kymd": ymd(b.kst.date()),
            "khms": b.kst.strftime("%H%M%S"),
            "open": px(b.open),
            "high": px(b.high),
            "low": px(b.low),
            "last": px(b.close),
            "evol": num(b.volume),
            "eamt": num(b.value),
        },
        F.OVERSEAS_MINUTE_OUTPUT2,
    )
