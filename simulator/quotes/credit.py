"""Credit balances per stock per day (국내주식 신용잔고 일별추이, FHPST04760000), derived from the
synthetic market: each day a small share of the volume is bought on margin (융자) and a smaller
share borrowed to sell (대주), a share of what is outstanding is repaid, and the balance carries
over (+ new - repaid; multiplied on a split day), so it never goes negative. Amounts are at the
close, in 10,000 KRW as KIS sends them.

The request names a settlement date (trade date + 2 trading days); the answer runs back from it.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from simulator import paths
from simulator.context import Ctx, Reply
from simulator.market import Market
from simulator.quotes.common import change_fields, ok, stock
from simulator.quotes.investors import published_until
from simulator.wire import dec, num, parse_ymd, pick, rate, ymd

ROWS = 30  # days per answer, as in the workbook's example
_STREAM_CREDIT = 23  # random stream id, apart from simulator.market's and the other quotes'
MAN_WON = 10_000
KINDS = ("loan", "stln")  # 융자 (margin loans), 대주 (stock loans)
# Per kind: daily new credit as a share of volume, and the share of the balance repaid a day.
NEW_SHARE = {"loan": (0.01, 0.04), "stln": (0.0005, 0.003)}
REPAID_SHARE = {"loan": (0.02, 0.07), "stln": (0.02, 0.10)}

OUTPUT = (
    "deal_date",
    "stck_prpr",
    "prdy_vrss_sign",
    "prdy_vrss",
    "prdy_ctrt",
    "acml_vol",
    "stlm_date",
    *(
        f"whol_{kind}_{field}"
        for kind in KINDS
        for field in (
            "new_stcn",
            "rdmp_stcn",
            "rmnd_stcn",
            "new_amt",
            "rdmp_amt",
            "rmnd_amt",
            "rmnd_rate",
            "gvrt",
        )
    ),
    "stck_oprc",
    "stck_hgpr",
    "stck_lwpr",
)


@dataclass(frozen=True)
class CreditDay:
    day: date
    new: dict[str, int]  # shares, per kind
    repaid: dict[str, int]
    balance: dict[str, int]


@lru_cache(maxsize=64)
def credit_path(market: Market, code: str) -> tuple[list[date], list[CreditDay]]:
    """Every listed day's credit, from the listing on (a balance depends on all days before)."""
    bars = market.daily_bars(code, market.first_date, market.last_date, False)
    rng = paths.rng_for(market.seed, _STREAM_CREDIT, code)
    split = market.instruments[code].split
    draws = {
        kind: (
            rng.uniform(*NEW_SHARE[kind], size=len(bars)),
            rng.uniform(*REPAID_SHARE[kind], size=len(bars)),
        )
        for kind in KINDS
    }
    balance = dict.fromkeys(KINDS, 0)
    out = []
    for i, bar in enumerate(bars):
        if split is not None and bar.date == split.date:
            balance = {kind: b * split.ratio for kind, b in balance.items()}
        new, repaid = {}, {}
        for kind in KINDS:
            new[kind] = int(bar.volume * draws[kind][0][i])
            repaid[kind] = int(balance[kind] * draws[kind][1][i])
            balance[kind] += new[kind] - repaid[kind]
        out.append(CreditDay(bar.date, new, repaid, dict(balance)))
    return [d.day for d in out], out


def daily_credit_balance(ctx: Ctx) -> Reply:
    snap = stock(ctx)
    market = ctx.market
    settlement = parse_ymd(ctx.need("FID_INPUT_DATE_1"), "FID_INPUT_DATE_1")
    calendar = market.calendar

    def settles(d: date) -> date:
        return calendar.next_trading_day(calendar.next_trading_day(d))

    days, path = credit_path(market, snap.code)
    last = min(settlement, published_until(ctx.now.date(), ctx.now.time()))
    j = bisect.bisect_right(days, last)
    while j > 0 and settles(days[j - 1]) > settlement:
        j -= 1
    rows = []
    for credit in reversed(path[max(0, j - ROWS) : j]):
        bar = market.daily_bar(snap.code, credit.day)
        assert bar is not None  # the path has a day only where there is a bar
        shares = market.listed_shares(snap.code, credit.day)
        row = {
            "deal_date": ymd(credit.day),
            "stck_prpr": num(bar.close),
            **change_fields(bar.close, bar.prev_close),
            "acml_vol": num(bar.volume),
            "stlm_date": ymd(settles(credit.day)),
            "stck_oprc": num(bar.open),
            "stck_hgpr": num(bar.high),
            "stck_lwpr": num(bar.low),
        }
        for kind in KINDS:
            new, repaid, balance = credit.new[kind], credit.repaid[kind], credit.balance[kind]
            row |= {
                f"whol_{kind}_new_stcn": num(new),
                f"whol_{kind}_rdmp_stcn": num(repaid),
                f"whol_{kind}_rmnd_stcn": num(balance),
                f"whol_{kind}_new_amt": num(round(new * bar.close / MAN_WON)),
                f"whol_{kind}_rdmp_amt": num(round(repaid * bar.close / MAN_WON)),
                f"whol_{kind}_rmnd_amt": num(round(balance * bar.close / MAN_WON)),
                f"whol_{kind}_rmnd_rate": dec(rate(balance, shares)),
                f"whol_{kind}_gvrt": dec(rate(new, bar.volume)),
            }
        rows.append(pick(row, OUTPUT))
    return ok({"output": rows})
