"""Investor flows per stock per day (종목별 투자자매매동향(일별), FHPTJ04160001), derived from the
synthetic market so the datasets agree: every share of the day's volume is bought by one investor
type and sold by another, so buys = sells = volume and the groups' nets sum to zero.

Deterministic per (seed, stock, day): the day's volume is dealt out to the twelve leaf investor
types with a multinomial draw on each side; groups (foreign, institution, other) sum their parts.
Values are the shares at the day's average price, in millions of KRW as KIS sends them.
"""

from __future__ import annotations

from datetime import date, time, timedelta

import numpy as np

from simulator import paths
from simulator.context import Ctx, Reply
from simulator.market import DailyBar
from simulator.quotes.common import change_fields, ok, stock
from simulator.wire import num, parse_ymd, pick, ymd

ROWS = 100  # days per answer (KIS does not say; the 0416 screen pages similarly)
PUBLISHED = time(15, 40)  # the day's figures exist from 15:40 (workbook)
_STREAM_INVESTORS = 21  # random stream id, apart from simulator.market's 11-14
MILLION = 1_000_000

# Leaf investor types (wire prefix) with their typical share of a day's buying and selling.
LEAVES: dict[str, float] = {
    "frgn_reg": 0.26,
    "frgn_nreg": 0.004,
    "prsn": 0.46,
    "scrt": 0.03,
    "ivtr": 0.03,
    "pe_fund": 0.02,
    "bank": 0.004,
    "insu": 0.012,
    "mrbn": 0.002,
    "fund": 0.06,
    "etc_corp": 0.09,
    "etc_orgt": 0.004,
}
GROUPS: dict[str, tuple[str, ...]] = {
    "frgn": ("frgn_reg", "frgn_nreg"),
    "orgn": ("scrt", "ivtr", "pe_fund", "bank", "insu", "mrbn", "fund"),
    "etc": ("etc_corp", "etc_orgt"),
}
_CONCENTRATION = 60.0  # Dirichlet concentration: how far a day strays from the typical shares

OUTPUT1 = (
    "stck_prpr",
    "prdy_vrss",
    "prdy_vrss_sign",
    "prdy_ctrt",
    "acml_vol",
    "prdy_vol",
    "rprs_mrkt_kor_name",
)


def _field_names(prefix: str) -> dict[str, str]:
    """side -> wire field for one investor type (the workbook names a few irregularly)."""
    if prefix in {"frgn_reg", "frgn_nreg"}:
        return {
            "buy": f"{prefix}_bidp_qty",
            "sell": f"{prefix}_askp_qty",
            "net": f"{prefix}_ntby_qty",
            "buy_value": f"{prefix}_bidp_pbmn",
            "sell_value": f"{prefix}_askp_pbmn",
            "net_value": f"{prefix}_ntby_pbmn",
        }
    unit = "vol" if prefix in {"pe_fund", "etc_corp", "etc_orgt"} else "qty"
    return {
        "buy": f"{prefix}_shnu_vol",
        "sell": f"{prefix}_seln_vol",
        "net": f"{prefix}_ntby_{unit}",
        "buy_value": f"{prefix}_shnu_tr_pbmn",
        "sell_value": f"{prefix}_seln_tr_pbmn",
        "net_value": f"{prefix}_ntby_tr_pbmn",
    }


PREFIXES = ("frgn", "frgn_reg", "frgn_nreg", "prsn", "orgn", *LEAVES.keys() - {"prsn"}, "etc")
OUTPUT2 = (
    "stck_bsop_date",
    "stck_clpr",
    "prdy_vrss",
    "prdy_vrss_sign",
    "prdy_ctrt",
    "acml_vol",
    "acml_tr_pbmn",
    "stck_oprc",
    "stck_hgpr",
    "stck_lwpr",
    *sorted({f for p in PREFIXES for f in _field_names(p).values()}),
    "bold_yn",
)


def day_flows(seed: int, code: str, bar: DailyBar) -> dict[str, tuple[int, int]]:
    """prefix -> (shares bought, shares sold) for every investor type, leaves and groups."""
    rng = paths.rng_for(seed, _STREAM_INVESTORS, code, bar.date.toordinal())
    typical = np.array(list(LEAVES.values()))
    sides = [
        rng.multinomial(bar.volume, rng.dirichlet(typical / typical.sum() * _CONCENTRATION))
        for _ in ("buy", "sell")
    ]
    flows = {prefix: (int(sides[0][i]), int(sides[1][i])) for i, prefix in enumerate(LEAVES.keys())}
    for group, parts in GROUPS.items():
        flows[group] = (sum(flows[p][0] for p in parts), sum(flows[p][1] for p in parts))
    return flows


def _row(seed: int, code: str, bar: DailyBar) -> dict[str, str]:
    average = bar.value / bar.volume if bar.volume else bar.close
    row = {
        "stck_bsop_date": ymd(bar.date),
        "stck_clpr": num(bar.close),
        **change_fields(bar.close, bar.prev_close),
        "acml_vol": num(bar.volume),
        "acml_tr_pbmn": num(bar.value),
        "stck_oprc": num(bar.open),
        "stck_hgpr": num(bar.high),
        "stck_lwpr": num(bar.low),
        "bold_yn": "N",
    }
    for prefix, (bought, sold) in day_flows(seed, code, bar).items():
        names = _field_names(prefix)
        buy_value = round(bought * average / MILLION)
        sell_value = round(sold * average / MILLION)
        row |= {
            names["buy"]: num(bought),
            names["sell"]: num(sold),
            names["net"]: num(bought - sold),
            names["buy_value"]: num(buy_value),
            names["sell_value"]: num(sell_value),
            names["net_value"]: num(buy_value - sell_value),
        }
    return row


def published_until(now_date: date, now_time: time) -> date:
    """The last day whose figures exist at that moment: today from 15:40, else yesterday."""
    return now_date if now_time >= PUBLISHED else now_date - timedelta(days=1)


def investor_trade_by_stock_daily(ctx: Ctx) -> Reply:
    snap = stock(ctx)
    asked = parse_ymd(ctx.need("FID_INPUT_DATE_1"), "FID_INPUT_DATE_1")
    end = min(asked, published_until(ctx.now.date(), ctx.now.time()))
    market = ctx.market
    # ROWS trading days end at `end`: 100 trading days fit in 160 calendar days.
    bars = market.daily_bars(snap.code, end - timedelta(days=160), end, False)[-ROWS:]
    rows = [pick(_row(market.seed, snap.code, b), OUTPUT2) for b in reversed(bars)]
    prev = market.daily_bar(snap.code, market.calendar.previous_trading_day(snap.day))
    inst = market.instruments[snap.code]
    head = {
        "stck_prpr": num(snap.price),
        **change_fields(snap.price, snap.prev_close),
        "acml_vol": num(snap.volume),
        "prdy_vol": num(prev.volume if prev else 0),
        "rprs_mrkt_kor_name": "KOSPI" if inst.market == "KOSPI" else "KOSDAQ",
    }
    return ok({"output1": pick(head, OUTPUT1), "output2": rows})
