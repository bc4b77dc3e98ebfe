"""US current prices: price (HHDFS00000300, sheet 256, real and paper), price-detail
(HHDFS76200200, sheet 262) and the 10-level book inquire-asking-price (HHDFS76200100, sheet 266),
both real-only.

"Now" for a listing is its New York session: during it, the completed minutes so far (the minute
API's bars, so the two agree); before the open, after the close and on closed days, the last
session. `base` is the previous session's close. Values the synthetic market does not carry are
fixed and documented: the exchange rate (`t_rate`, USD_KRW, used for the `t_x*` KRW fields),
valuation ratios (`perx`/`pbrx`/`epsx`/`bpsx` 0.00) and share counts (`shar`/`mcap`/`tomv` 0); no
price limits (`uplp`/`dnlp` 0). `ordy` says 매도불가 (the overseas account holds nothing). The book
is `Market.overseas_book` around the last price; `dbid*`/`dask*` (size changes) are 0 and the
book's `dymd`/`dhms` are the New York date and time it stands for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from simulator.context import Ctx, Reply
from simulator.quotes.common import ok
from simulator.quotes.overseas import ZDIV, instrument, new_york_now, px
from simulator.wire import dec, num, pick, rate, sign_code, signed_dec, ymd

USD_KRW = 1350.0  # the simulator's fixed exchange rate (unconfirmed: no FX in the synthetic market)
TICK = 0.01

# sheet 256 response example, output
PRICE: tuple[str, ...] = (
    "rsym",
    "zdiv",
    "base",
    "pvol",
    "last",
    "sign",
    "diff",
    "rate",
    "tvol",
    "tamt",
    "ordy",
)
# sheet 262 response example, output
PRICE_DETAIL: tuple[str, ...] = (
    "rsym",
    "zdiv",
    "curr",
    "vnit",
    "open",
    "high",
    "low",
    "last",
    "base",
    "pvol",
    "pamt",
    "uplp",
    "dnlp",
    "h52p",
    "h52d",
    "l52p",
    "l52d",
    "perx",
    "pbrx",
    "epsx",
    "bpsx",
    "shar",
    "mcap",
    "tomv",
    "t_xprc",
    "t_xdif",
    "t_xrat",
    "p_xprc",
    "p_xdif",
    "p_xrat",
    "t_rate",
    "p_rate",
    "t_xsgn",
    "p_xsng",
    "e_ordyn",
    "e_hogau",
    "e_icod",
    "e_parp",
    "tvol",
    "tamt",
    "etyp_nm",
)
# sheet 266 response example, output1, output2 and output3
ASKING_OUTPUT1: tuple[str, ...] = (
    "rsym",
    "zdiv",
    "curr",
    "base",
    "open",
    "high",
    "low",
    "last",
    "dymd",
    "dhms",
    "bvol",
    "avol",
    "bdvl",
    "advl",
    "code",
    "ropen",
    "rhigh",
    "rlow",
    "rclose",
)
ASKING_OUTPUT2: tuple[str, ...] = tuple(
    f"{name}{i}" for i in range(1, 11) for name in ("pbid", "pask", "vbid", "vask", "dbid", "dask")
)
ASKING_OUTPUT3: tuple[str, ...] = ("vstm", "vetm", "csbp", "cshi", "cslo", "iep", "iev")


@dataclass(frozen=True)
class UsNow:
    """A US listing's session so far (or its last session): prices in USD."""

    day: date
    at: datetime  # New York local time the state stands for (naive)
    open: float
    high: float
    low: float
    last: float
    volume: int
    value: float
    base: float  # previous session's close
    prev_volume: int
    prev_value: float


def us_now(ctx: Ctx, exchange: str, symbol: str) -> UsNow:
    market, cal = ctx.market, ctx.market.us_calendar
    ny = new_york_now(ctx)
    day = ny.date()
    if not cal.is_trading_day(day) or ny < cal.session(day)[0]:
        day = cal.previous_trading_day(day)
    open_at, close_at = cal.session(day)
    done = [
        b
        for b in market.overseas_minute_bars(exchange, symbol, day)
        if datetime.combine(day, b.local_time or open_at.time()) + timedelta(minutes=1)
        <= ny.replace(tzinfo=None)
    ]
    prev = market.overseas_bars(
        exchange, symbol, day - timedelta(days=10), cal.previous_trading_day(day), "D", False
    )
    base = market.overseas_close_before(exchange, symbol, day)
    prev_volume, prev_value = (prev[-1].volume, prev[-1].value) if prev else (0, 0.0)
    if not done:  # the session has just opened: nothing traded yet
        at = open_at.replace(tzinfo=None)
        return UsNow(day, at, base, base, base, base, 0, 0.0, base, prev_volume, prev_value)
    at = min(ny, close_at).replace(tzinfo=None)
    return UsNow(
        day,
        at,
        done[0].open,
        max(b.high for b in done),
        min(b.low for b in done),
        done[-1].close,
        sum(b.volume for b in done),
        sum(b.value for b in done),
        base,
        prev_volume,
        prev_value,
    )


def _change(now: UsNow) -> dict[str, str]:
    diff = now.last - now.base
    return {
        "sign": sign_code(round(diff, ZDIV)),
        "diff": px(abs(diff)),
        "rate": signed_dec(rate(diff, now.base)),
    }


def price(ctx: Ctx) -> Reply:
    exchange, symbol = instrument(ctx)
    now = us_now(ctx, exchange, symbol)
    row = {
        "rsym": f"D{exchange}{symbol}",
        "zdiv": str(ZDIV),
        "base": px(now.base),
        "pvol": num(now.prev_volume),
        "last": px(now.last),
        **_change(now),
        "tvol": num(now.volume),
        "tamt": num(now.value),
        "ordy": "매도불가",
    }
    return ok({"output": pick(row, PRICE)})


def price_detail(ctx: Ctx) -> Reply:
    exchange, symbol = instrument(ctx)
    now = us_now(ctx, exchange, symbol)
    # Raw prices: the 52-week range is not split-adjusted (unconfirmed).
    year = ctx.market.overseas_bars(
        exchange, symbol, now.day - timedelta(days=365), now.day, "D", False
    )
    high = max(year, key=lambda b: b.high, default=None)
    low = min(year, key=lambda b: b.low, default=None)
    diff = now.last - now.base
    row = {
        "rsym": f"D{exchange}{symbol}",
        "zdiv": str(ZDIV),
        "curr": "USD",
        "vnit": "1",
        "open": px(now.open),
        "high": px(now.high),
        "low": px(now.low),
        "last": px(now.last),
        "base": px(now.base),
        "pvol": num(now.prev_volume),
        "pamt": num(now.prev_value),
        "uplp": px(0),
        "dnlp": px(0),
        "h52p": px(max(high.high, now.high) if high else now.high),
        "h52d": ymd(high.local_date if high and high.high >= now.high else now.day),
        "l52p": px(min(low.low, now.low) if low else now.low),
        "l52d": ymd(low.local_date if low and low.low <= now.low else now.day),
        "perx": "0.00",
        "pbrx": "0.00",
        "epsx": "0.00",
        "bpsx": "0.00",
        "shar": "0",
        "mcap": "0",
        "tomv": "0",
        "t_xprc": num(round(now.last * USD_KRW)),
        "t_xdif": num(round(abs(diff) * USD_KRW)),
        "t_xrat": dec(rate(diff, now.base)),
        "p_xprc": num(round(now.base * USD_KRW)),
        "p_xdif": "0",
        "p_xrat": "0.00",
        "t_rate": dec(USD_KRW),
        "p_rate": dec(USD_KRW),
        "t_xsgn": sign_code(round(diff, ZDIV)),
        "p_xsng": "3",
        "e_ordyn": "매매 가능",
        "e_hogau": px(TICK),
        "e_parp": px(0),
        "tvol": num(now.volume),
        "tamt": num(now.value),
    }
    return ok({"output": pick(row, PRICE_DETAIL)})


def inquire_asking_price(ctx: Ctx) -> Reply:
    exchange, symbol = instrument(ctx)
    now = us_now(ctx, exchange, symbol)
    book = ctx.market.overseas_book(exchange, symbol, now.last, now.at)

    def vs_base(value: float) -> str:
        return signed_dec(rate(value - now.base, now.base))

    out1 = {
        "rsym": f"D{exchange}{symbol}",
        "zdiv": str(ZDIV),
        "curr": "USD",
        "base": px(now.base),
        "open": px(now.open),
        "high": px(now.high),
        "low": px(now.low),
        "last": px(now.last),
        "dymd": ymd(now.at.date()),
        "dhms": now.at.strftime("%H%M%S"),
        "bvol": num(sum(level[1] for level in book)),
        "avol": num(sum(level[3] for level in book)),
        "bdvl": "0",
        "advl": "0",
        "code": symbol,
        "ropen": vs_base(now.open),
        "rhigh": vs_base(now.high),
        "rlow": vs_base(now.low),
        "rclose": vs_base(now.last),
    }
    out2: dict[str, str] = {}
    for i, (bid, bid_size, ask, ask_size) in enumerate(book, start=1):
        out2 |= {
            f"pbid{i}": px(bid),
            f"pask{i}": px(ask),
            f"vbid{i}": num(bid_size),
            f"vask{i}": num(ask_size),
            f"dbid{i}": "0",
            f"dask{i}": "0",
        }
    return ok(
        {
            "output1": pick(out1, ASKING_OUTPUT1),
            "output2": pick(out2, ASKING_OUTPUT2),
            "output3": pick({}, ASKING_OUTPUT3),
        }
    )
