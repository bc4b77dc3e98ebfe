"""Program trading per stock per day (종목별 프로그램매매추이(일별), FHPPG04650201), derived from
the investor flows: programs are run by foreign and institutional investors, so each day's program
buying (selling) is a share of what those investors bought (sold), never more than the volume.
"""

from __future__ import annotations

from datetime import timedelta

from simulator import paths
from simulator.context import Ctx, Reply
from simulator.market import DailyBar
from simulator.quotes.common import change_fields, ok, stock
from simulator.quotes.investors import ROWS, day_flows, published_until
from simulator.wire import num, parse_ymd, pick, ymd

_STREAM_PROGRAMS = 24  # random stream id, apart from simulator.market's and the other quotes'

OUTPUT = (
    "stck_bsop_date",
    "stck_clpr",
    "prdy_vrss",
    "prdy_vrss_sign",
    "prdy_ctrt",
    "acml_vol",
    "acml_tr_pbmn",
    "whol_smtn_seln_vol",
    "whol_smtn_shnu_vol",
    "whol_smtn_ntby_qty",
    "whol_smtn_seln_tr_pbmn",
    "whol_smtn_shnu_tr_pbmn",
    "whol_smtn_ntby_tr_pbmn",
    "whol_ntby_vol_icdc",
    "whol_ntby_tr_pbmn_icdc2",
)


def program_volumes(seed: int, code: str, bar: DailyBar) -> tuple[int, int]:
    """(shares bought, shares sold) by programs on the bar's day."""
    flows = day_flows(seed, code, bar)
    rng = paths.rng_for(seed, _STREAM_PROGRAMS, code, bar.date.toordinal())
    share = rng.beta(3.0, 6.0)
    bought = rng.binomial(flows["frgn"][0] + flows["orgn"][0], share)
    sold = rng.binomial(flows["frgn"][1] + flows["orgn"][1], share)
    return int(bought), int(sold)


def program_trade_by_stock_daily(ctx: Ctx) -> Reply:
    snap = stock(ctx)
    market = ctx.market
    asked_text = ctx.get("FID_INPUT_DATE_1").strip()
    today = published_until(ctx.now.date(), ctx.now.time())
    # An 8-digit date, or the workbook's 10-character form ("0020240308"); blank: from today.
    end = min(parse_ymd(asked_text[-8:], "FID_INPUT_DATE_1"), today) if asked_text else today
    # One more day than a page: the oldest row's change needs the day before it.
    bars = market.daily_bars(snap.code, end - timedelta(days=170), end, False)[-(ROWS + 1) :]
    rows = []
    previous: tuple[int, int] | None = None
    for bar in bars:
        average = bar.value / bar.volume if bar.volume else bar.close
        bought, sold = program_volumes(market.seed, snap.code, bar)
        buy_value, sell_value = round(bought * average), round(sold * average)
        net, net_value = bought - sold, buy_value - sell_value
        rows.append(
            {
                "stck_bsop_date": ymd(bar.date),
                "stck_clpr": num(bar.close),
                **change_fields(bar.close, bar.prev_close),
                "acml_vol": num(bar.volume),
                "acml_tr_pbmn": num(bar.value),
                "whol_smtn_seln_vol": num(sold),
                "whol_smtn_shnu_vol": num(bought),
                "whol_smtn_ntby_qty": num(net),
                "whol_smtn_seln_tr_pbmn": num(sell_value),
                "whol_smtn_shnu_tr_pbmn": num(buy_value),
                "whol_smtn_ntby_tr_pbmn": num(net_value),
                "whol_ntby_vol_icdc": num(net - previous[0]) if previous else "0",
                "whol_ntby_tr_pbmn_icdc2": num(net_value - previous[1]) if previous else "0",
            }
        )
        previous = (net, net_value)
    page = rows[-ROWS:]
    return ok({"output": [pick(r, OUTPUT) for r in reversed(page)]})
