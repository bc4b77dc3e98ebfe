"""Current price (FHKST01010100), the last 30 daily/weekly/monthly prices (FHKST01010400) and the
period chart (FHKST03010100), kis-api.md §5.1-5.3."""

from __future__ import annotations

from datetime import date, timedelta

from simulator import fields as F
from simulator.context import Ctx, Reply
from simulator.dividends import EX_DIVIDEND_CODE, is_ex_dividend
from simulator.market import DailyBar, period_start
from simulator.marketview import Snapshot
from simulator.quotes.common import (
    change_fields,
    chart_day_fields,
    chart_period,
    chart_range,
    market_view,
    ok,
    stock,
)
from simulator.ticks import tick_size
from simulator.wire import KisReject, dec, num, parse_int, pick, rate, sign_code, ymd

ITEMCHART_ROWS = 100
DAILY_PRICE_ROWS = 30


# -- current price -------------------------------------------------------------------------------


def _history(ctx: Ctx, code: str, end: date, days: int) -> list[DailyBar]:
    return ctx.market.daily_bars(code, end - timedelta(days=days), end, False)


def inquire_price(ctx: Ctx) -> Reply:
    snap = stock(ctx)
    market = ctx.market
    inst = market.instruments[snap.code]
    shares = market.listed_shares(snap.code, snap.day)
    par = inst.par_value(snap.day)
    prev_day = market.calendar.previous_trading_day(snap.day)
    prev_bar = market.daily_bar(snap.code, prev_day)
    hist = [
        *_history(ctx, snap.code, prev_day, 380),
        *([snap.as_daily_bar()] if snap.traded else []),
    ]
    row: dict[str, str] = {
        "iscd_stat_cls_code": "55",
        "marg_rate": "20.00",
        "rprs_mrkt_kor_name": "KOSPI200" if inst.market == "KOSPI" else "KOSDAQ",
        "new_hgpr_lwpr_cls_code": "",
        "bstp_kor_isnm": "전기.전자" if inst.market == "KOSPI" else "IT 서비스",
        "temp_stop_yn": "N",
        "oprc_rang_cont_yn": "N",
        "clpr_rang_cont_yn": "N",
        "crdt_able_yn": "Y",
        "grmn_rate_cls_code": "40",
        "elw_pblc_yn": "Y",
        "stck_prpr": num(snap.price),
        **change_fields(snap.price, snap.prev_close, snap.upper, snap.lower),
        "acml_tr_pbmn": num(snap.value),
        "acml_vol": num(snap.volume),
        "prdy_vrss_vol_rate": dec(
            rate(snap.volume, prev_bar.volume) if prev_bar and prev_bar.volume else 0
        ),
        "stck_oprc": num(snap.open),
        "stck_hgpr": num(snap.high),
        "stck_lwpr": num(snap.low),
        "stck_mxpr": num(snap.upper),
        "stck_llam": num(snap.lower),
        "stck_sdpr": num(snap.prev_close),
        "wghn_avrg_stck_prc": dec(snap.value / snap.volume if snap.volume else snap.price),
        "hts_frgn_ehrt": "0.00",
        "frgn_ntby_qty": "0",
        "pgtr_ntby_qty": "0",
        "cpfn": num(shares * par // 10**8),
        "rstc_wdth_prc": num(snap.upper - snap.prev_close),
        "stck_fcam": num(par),
        "stck_sspr": num(snap.prev_close * 7 // 10),
        "aspr_unit": num(tick_size(snap.price)),
        "hts_deal_qty_unit_val": "1",
        "lstn_stcn": num(shares),
        "hts_avls": num(snap.price * shares // 10**8),
        "per": "0.00",
        "pbr": "0.00",
        "stac_month": "12",
        "vol_tnrt": dec(rate(snap.volume, shares)),
        "eps": "0.00",
        "bps": "0.00",
        "whol_loan_rmnd_rate": "0.00",
        "ssts_yn": "Y",
        "stck_shrn_iscd": snap.code,
        "fcam_cnnm": "100",
        "cpfn_cnnm": f"{shares * par // 10**8:,} 억",
        "apprch_rate": "0.00",
        "frgn_hldn_qty": "0",
        "vi_cls_code": "N",
        "ovtm_vi_cls_code": "N",
        "last_ssts_cntg_qty": "0",
        "invt_caful_yn": "N",
        "mrkt_warn_cls_code": "00",
        "short_over_yn": "N",
        "sltr_yn": "N",
        "mang_issu_cls_code": "N",
    }
    if prev_bar is not None:
        pivot = (prev_bar.high + prev_bar.low + prev_bar.close) / 3
        row.update(
            {
                "pvt_scnd_dmrs_prc": num(pivot + prev_bar.high - prev_bar.low),
                "pvt_frst_dmrs_prc": num(2 * pivot - prev_bar.low),
                "pvt_pont_val": num(pivot),
                "pvt_frst_dmsp_prc": num(2 * pivot - prev_bar.high),
                "pvt_scnd_dmsp_prc": num(pivot - prev_bar.high + prev_bar.low),
                "dmrs_val": num((prev_bar.high + prev_bar.close) / 2),
                "dmsp_val": num((prev_bar.low + prev_bar.close) / 2),
            }
        )
    for prefix, window in (
        ("d250", hist[-250:]),
        ("w52", [b for b in hist if b.date > snap.day - timedelta(days=364)]),
        ("dryy", [b for b in hist if b.date.year == snap.day.year]),
    ):
        row.update(_extremes(prefix, window, snap.price))
    return ok({"output": pick(row, F.INQUIRE_PRICE)})


def _extremes(prefix: str, bars: list[DailyBar], price: int) -> dict[str, str]:
    if not bars:
        return {}
    hi = max(bars, key=lambda b: b.high)
    lo = min(bars, key=lambda b: b.low)
    hv, lv = rate(price - hi.high, hi.high), rate(price - lo.low, lo.low)
    if prefix == "d250":
        return {
            "d250_hgpr": num(hi.high),
            "d250_hgpr_date": ymd(hi.date),
            "d250_hgpr_vrss_prpr_rate": dec(hv),
            "d250_lwpr": num(lo.low),
            "d250_lwpr_date": ymd(lo.date),
            "d250_lwpr_vrss_prpr_rate": dec(lv),
        }
    if prefix == "w52":
        return {
            "w52_hgpr": num(hi.high),
            "w52_hgpr_vrss_prpr_ctrt": dec(hv),
            "w52_hgpr_date": ymd(hi.date),
            "w52_lwpr": num(lo.low),
            "w52_lwpr_vrss_prpr_ctrt": dec(lv),
            "w52_lwpr_date": ymd(lo.date),
        }
    return {
        "stck_dryy_hgpr": num(hi.high),
        "dryy_hgpr_vrss_prpr_rate": dec(hv),
        "dryy_hgpr_date": ymd(hi.date),
        "stck_dryy_lwpr": num(lo.low),
        "dryy_lwpr_vrss_prpr_rate": dec(lv),
        "dryy_lwpr_date": ymd(lo.date),
    }


# -- daily price (last 30 periods) ---------------------------------------------------------------


def _ex_right_code(ctx: Ctx, code: str, bar: DailyBar, period: str) -> str:
    """`flng_cls_code` of a daily bar (chart and last-30 prices): 02 (배당락) on an ex-dividend
    day, else 00 (the synthetic market has no rights issues; weekly and monthly bars are not
    flagged)."""
    inst = ctx.market.instruments[code]
    if period == "D" and is_ex_dividend(inst, ctx.market.calendar, bar.date):
        return EX_DIVIDEND_CODE
    return "00"


def inquire_daily_price(ctx: Ctx) -> Reply:
    snap = stock(ctx)
    period = ctx.get("FID_PERIOD_DIV_CODE").strip().upper()
    if period not in {"D", "W", "M"}:
        raise KisReject("OPSQ2002", "FID_PERIOD_DIV_CODE 입력값을 확인하세요. (D/W/M)")
    # Here 1 = adjusted, 0 = raw (kis-api.md §5.2; the opposite of the period chart).
    adjusted = parse_int(ctx.get("FID_ORG_ADJ_PRC", "0") or "0", "FID_ORG_ADJ_PRC") == 1
    span = {"D": 70, "W": 32 * 7, "M": 32 * 31}[period]
    bars = market_view(ctx).period_bars(
        snap.code, snap.day - timedelta(days=span), snap.day, period, adjusted, ctx.now
    )
    rows = []
    for i in range(len(bars) - 1, max(len(bars) - 1 - DAILY_PRICE_ROWS, -1), -1):
        bar = bars[i]
        prev_vol = bars[i - 1].volume if i > 0 else 0
        rows.append(
            pick(
                {
                    "stck_bsop_date": ymd(bar.date),
                    "stck_oprc": num(bar.open),
                    "stck_hgpr": num(bar.high),
                    "stck_lwpr": num(bar.low),
                    "stck_clpr": num(bar.close),
                    "acml_vol": num(bar.volume),
                    "prdy_vrss_vol_rate": dec(rate(bar.volume - prev_vol, prev_vol))
                    if prev_vol
                    else "0.00",
                    **change_fields(bar.close, bar.prev_close),
                    "hts_frgn_ehrt": "0.00",
                    "frgn_ntby_qty": "0",
                    "flng_cls_code": _ex_right_code(ctx, snap.code, bar, period),
                    "acml_prtt_rate": "0.00",
                },
                F.DAILY_PRICE,
            )
        )
    return ok({"output": rows})


# -- period chart -----------------------------------------------------------------------------------


def _chart_output1(ctx: Ctx, snap: Snapshot) -> dict[str, str]:
    market = ctx.market
    prev = market.daily_bar(snap.code, market.calendar.previous_trading_day(snap.day))
    shares = market.listed_shares(snap.code, snap.day)
    par = market.instruments[snap.code].par_value(snap.day)
    book = market.quote_at(snap.code, ctx.now) if snap.traded else None
    return pick(
        {
            **chart_day_fields(snap),
            "stck_shrn_iscd": snap.code,
            "prdy_vol": num(prev.volume if prev else 0),
            "stck_mxpr": num(snap.upper),
            "stck_llam": num(snap.lower),
            "stck_oprc": num(snap.open),
            "stck_hgpr": num(snap.high),
            "stck_lwpr": num(snap.low),
            "stck_prdy_oprc": num(prev.open if prev else 0),
            "stck_prdy_hgpr": num(prev.high if prev else 0),
            "stck_prdy_lwpr": num(prev.low if prev else 0),
            "askp": num(book.asks[0][0] if book and book.asks else snap.price),
            "bidp": num(book.bids[0][0] if book and book.bids else snap.price),
            "prdy_vrss_vol": num(snap.volume - (prev.volume if prev else 0)),
            "vol_tnrt": dec(rate(snap.volume, shares)),
            "stck_fcam": num(par),
            "lstn_stcn": num(shares),
            "cpfn": num(shares * par // 10**8),
            "hts_avls": num(snap.price * shares // 10**8),
            "per": "0.00",
            "eps": "0.00",
            "pbr": "0.00",
            "itewhol_loan_rmnd_ratem name": "0.00",
        },
        F.ITEMCHART_OUTPUT1,
    )


def _split_rate(ctx: Ctx, code: str, bar: DailyBar, period: str) -> str:
    """`prtt_rate` of a chart bar: the sheet's 기준가/전일 종가 of the split day (e.g. 0.02 for
    삼성전자's 1:50 on 2018-05-04; as a ratio with 2 decimals, unconfirmed) on the bar whose period
    holds it, else 0.00. A stock split has no `flng_cls_code` of its own (01-07 are ex-rights and
    ex-dividend codes), so that stays 00; `mod_yn` is the sheet's "no trade that day, no open",
    which never happens in the synthetic market (N)."""
    split = ctx.market.instruments[code].split
    if split is None or not period_start(bar.date, period) <= split.date <= bar.date:
        return "0.00"
    day = ctx.market.daily_bar(code, split.date)
    before = ctx.market.last_close_before(code, split.date)
    if day is None or before is None:
        return "0.00"
    return dec(day.prev_close / before.close)


def inquire_daily_itemchartprice(ctx: Ctx) -> Reply:
    snap = stock(ctx)
    start, end = chart_range(ctx)
    period = chart_period(ctx)
    adj = ctx.get("FID_ORG_ADJ_PRC", "0").strip() or "0"
    if adj not in {"0", "1"}:
        raise KisReject("OPSQ2002", "FID_ORG_ADJ_PRC 입력값을 확인하세요. (0:수정주가 1:원주가)")
    bars = market_view(ctx).period_bars(snap.code, start, end, period, adj == "0", ctx.now)[
        -ITEMCHART_ROWS:
    ]
    rows = [
        pick(
            {
                "stck_bsop_date": ymd(b.date),
                "stck_clpr": num(b.close),
                "stck_oprc": num(b.open),
                "stck_hgpr": num(b.high),
                "stck_lwpr": num(b.low),
                "acml_vol": num(b.volume),
                "acml_tr_pbmn": num(b.value),
                "flng_cls_code": _ex_right_code(ctx, snap.code, b, period),
                "prtt_rate": _split_rate(ctx, snap.code, b, period),
                "mod_yn": "N",
                "prdy_vrss_sign": sign_code(b.close - b.prev_close),
                "prdy_vrss": num(b.close - b.prev_close),
                "revl_issu_reas": "",
            },
            F.ITEMCHART_OUTPUT2,
        )
        for b in reversed(bars)
    ]
    return ok({"output1": _chart_output1(ctx, snap), "output2": rows})
