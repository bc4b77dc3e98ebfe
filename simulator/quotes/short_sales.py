"""Short selling per stock per day (국내주식 공매도 일별추이, FHPST04830000), derived from the
investor flows: short sellers are foreign and institutional investors, so each day's short volume
is a draw from what those investors sold (never more than they sold, never more than the volume).
"""

from __future__ import annotations

from datetime import timedelta

from simulator import paths
from simulator.context import Ctx, Reply
from simulator.market import DailyBar
from simulator.quotes.common import change_fields, ok, stock
from simulator.quotes.investors import ROWS, day_flows, published_until
from simulator.wire import dec, num, parse_ymd, pick, rate, ymd

_STREAM_SHORTS = 22  # random stream id, apart from simulator.market's and investors'

OUTPUT1 = ("stck_prpr", "prdy_vrss", "prdy_vrss_sign", "prdy_ctrt", "acml_vol", "prdy_vol")
OUTPUT2 = (
    "stck_bsop_date",
    "stck_clpr",
    "prdy_vrss",
    "prdy_vrss_sign",
    "prdy_ctrt",
    "acml_vol",
    "stnd_vol_smtn",
    "ssts_cntg_qty",
    "ssts_vol_rlim",
    "acml_ssts_cntg_qty",
    "acml_ssts_cntg_qty_rlim",
    "acml_tr_pbmn",
    "stnd_tr_pbmn_smtn",
    "ssts_tr_pbmn",
    "ssts_tr_pbmn_rlim",
    "acml_ssts_tr_pbmn",
    "acml_ssts_tr_pbmn_rlim",
    "stck_oprc",
    "stck_hgpr",
    "stck_lwpr",
    "avrg_prc",
)


def short_volume(seed: int, code: str, bar: DailyBar) -> int:
    """Shares sold short on the bar's day: a few percent of what foreigners and institutions sold."""
    flows = day_flows(seed, code, bar)
    pool = flows["frgn"][1] + flows["orgn"][1]
    rng = paths.rng_for(seed, _STREAM_SHORTS, code, bar.date.toordinal())
    return int(rng.binomial(pool, rng.beta(2.0, 30.0)))


def daily_short_sale(ctx: Ctx) -> Reply:
    snap = stock(ctx)
    market = ctx.market
    first_text = ctx.get("FID_INPUT_DATE_1").strip()
    first = parse_ymd(first_text, "FID_INPUT_DATE_1") if first_text else market.first_date
    asked = parse_ymd(ctx.need("FID_INPUT_DATE_2"), "FID_INPUT_DATE_2")
    end = min(asked, published_until(ctx.now.date(), ctx.now.time()))
    # The newest ROWS trading days of the window (100 trading days fit in 160 calendar days).
    lo = max(first, end - timedelta(days=160))
    bars = market.daily_bars(snap.code, lo, end, False)[-ROWS:]
    rows = []
    total_volume = total_value = total_short = total_short_value = 0
    for bar in bars:
        average = bar.value / bar.volume if bar.volume else bar.close
        short = short_volume(market.seed, snap.code, bar)
        short_value = round(short * average)
        total_volume += bar.volume
        total_value += bar.value
        total_short += short
        total_short_value += short_value
        row = {
            "stck_bsop_date": ymd(bar.date),
            "stck_clpr": num(bar.close),
            **change_fields(bar.close, bar.prev_close),
            "acml_vol": num(bar.volume),
            "stnd_vol_smtn": num(total_volume),
            "ssts_cntg_qty": num(short),
            "ssts_vol_rlim": dec(rate(short, bar.volume)),
            "acml_ssts_cntg_qty": num(total_short),
            "acml_ssts_cntg_qty_rlim": dec(rate(total_short, total_volume)),
            "acml_tr_pbmn": num(bar.value),
            "stnd_tr_pbmn_smtn": num(total_value),
            "ssts_tr_pbmn": num(short_value),
            "ssts_tr_pbmn_rlim": dec(rate(short_value, bar.value)),
            "acml_ssts_tr_pbmn": num(total_short_value),
            "acml_ssts_tr_pbmn_rlim": dec(rate(total_short_value, total_value)),
            "stck_oprc": num(bar.open),
            "stck_hgpr": num(bar.high),
            "stck_lwpr": num(bar.low),
            "avrg_prc": num(average),
        }
        rows.append(pick(row, OUTPUT2))
    prev = market.daily_bar(snap.code, market.calendar.previous_trading_day(snap.day))
    head = {
        "stck_prpr": num(snap.price),
        **change_fields(snap.price, snap.prev_close),
        "acml_vol": num(snap.volume),
        "prdy_vol": num(prev.volume if prev else 0),
    }
    return ok({"output1": pick(head, OUTPUT1), "output2": list(reversed(rows))})
