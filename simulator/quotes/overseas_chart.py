"""Overseas index period chart: inquire-daily-chartprice (FHKST03030100, sheet 264, real and paper).

Market `N` (overseas indices) serves the synthetic indices of `Market.overseas_indices` (.DJI, COMP,
SPX) and, as the sheet allows for US stocks, our US listings by symbol; `X` (FX), `I` (treasuries)
and `S` (gold futures) are not simulated (OPSQ2001). Bars are those of completed New York sessions
up to FID_INPUT_DATE_2 (a session still under way is not shown), newest first, at most CHART_ROWS
(unconfirmed; the sheet's example holds 50); the sheet's example (not its table) fixes the field
order, so output1 has no `prdy_vol`. `mod_yn` is N (no adjustment of index levels).
"""

from __future__ import annotations

from datetime import date, timedelta

from simulator.context import Ctx, Reply
from simulator.market import IndexBar, OverseasBar
from simulator.quotes.common import chart_period, chart_range, ok
from simulator.quotes.overseas import new_york_now
from simulator.wire import KisReject, bad_code, dec, num, pick, rate, sign_code, ymd

CHART_ROWS = 100

# sheet 264: the example lists keys sorted, so the order is the field table's (the example sends
# no prdy_vol, so neither do we)
CHART_OUTPUT1: tuple[str, ...] = (
    "ovrs_nmix_prdy_vrss",
    "prdy_vrss_sign",
    "prdy_ctrt",
    "ovrs_nmix_prdy_clpr",
    "acml_vol",
    "hts_kor_isnm",
    "ovrs_nmix_prpr",
    "stck_shrn_iscd",
    "ovrs_prod_oprc",
    "ovrs_prod_hgpr",
    "ovrs_prod_lwpr",
)
CHART_OUTPUT2: tuple[str, ...] = (
    "stck_bsop_date",
    "ovrs_nmix_prpr",
    "ovrs_nmix_oprc",
    "ovrs_nmix_hgpr",
    "ovrs_nmix_lwpr",
    "acml_vol",
    "mod_yn",
)

Bar = IndexBar | OverseasBar


def _day(bar: Bar) -> date:
    return bar.date if isinstance(bar, IndexBar) else bar.local_date


def inquire_daily_chartprice(ctx: Ctx) -> Reply:
    if ctx.get("FID_COND_MRKT_DIV_CODE").strip().upper() != "N":
        raise KisReject("OPSQ2001", "FID_COND_MRKT_DIV_CODE 시장분류코드를 확인하세요.")
    code = ctx.need("FID_INPUT_ISCD").upper()
    start, end = chart_range(ctx)
    period = chart_period(ctx)
    market, cal = ctx.market, ctx.market.us_calendar
    ny = new_york_now(ctx)
    last_done = ny.date()
    if not cal.is_trading_day(last_done) or cal.session(last_done)[1] > ny:
        last_done = cal.previous_trading_day(last_done)
    end = min(end, last_done)
    listing = next((key for key in market.overseas if key[1] == code), None)

    def bars(lo: date, hi: date, p: str) -> list[Bar]:
        if code in market.overseas_indices:
            return list(market.overseas_index_bars(code, lo, hi, p))
        if listing is not None:
            return list(market.overseas_bars(*listing, lo, hi, p, False))
        raise bad_code()

    rows = bars(start, end, period)[-CHART_ROWS:] if start <= end else []
    recent = bars(last_done - timedelta(days=10), last_done, "D")
    if not recent:  # sim-now before the synthetic history begins
        raise bad_code()
    cur, prev = recent[-1], recent[-2] if len(recent) > 1 else recent[-1]
    change = cur.close - prev.close
    name = market.overseas_indices.get(code) or (market.overseas[listing].name if listing else "")
    out1 = {
        "acml_vol": num(cur.volume),
        "hts_kor_isnm": name,
        "ovrs_nmix_prdy_clpr": dec(prev.close),
        "ovrs_nmix_prdy_vrss": dec(change),
        "ovrs_nmix_prpr": dec(cur.close),
        "ovrs_prod_hgpr": dec(cur.high),
        "ovrs_prod_lwpr": dec(cur.low),
        "ovrs_prod_oprc": dec(cur.open),
        "prdy_ctrt": dec(rate(change, prev.close)),
        "prdy_vrss_sign": sign_code(round(change, 2)),
        "stck_shrn_iscd": code,
    }
    out2 = [
        pick(
            {
                "acml_vol": num(b.volume),
                "mod_yn": "N",
                "ovrs_nmix_hgpr": dec(b.high),
                "ovrs_nmix_lwpr": dec(b.low),
                "ovrs_nmix_oprc": dec(b.open),
                "ovrs_nmix_prpr": dec(b.close),
                "stck_bsop_date": ymd(_day(b)),
            },
            CHART_OUTPUT2,
        )
        for b in reversed(rows)
    ]
    return ok({"output1": pick(out1, CHART_OUTPUT1), "output2": out2})
