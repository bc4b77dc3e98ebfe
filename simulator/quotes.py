"""Domestic quotation handlers (kis-api.md §5): current price, period/minute charts, index charts,
rankings and the holiday calendar. Each takes a `Ctx` and returns a `Reply`; refusals raise
`KisReject`. Row caps and newest-first ordering follow the workbook."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from simulator import fields as F
from simulator.calendar import tick_size, weekday_code
from simulator.context import Ctx, Reply
from simulator.marketview import MarketView, Snapshot, aggregate_index
from simulator.wire import (
    MSG_LAST,
    MSG_MORE,
    MSG_NO_ROWS,
    MSG_OK_QUOTE,
    KisReject,
    bad_code,
    dec,
    envelope,
    hms,
    num,
    pad,
    parse_hms,
    parse_int,
    parse_ymd,
    pick,
    rate,
    sign_code,
    tr_cont_code,
    ymd,
)

if TYPE_CHECKING:
    from simulator.market import DailyBar, IndexBar, MinuteBar

PERIODS = {"D", "W", "M", "Y"}
STOCK_MARKETS = {"J", "NX", "UN"}
ITEMCHART_ROWS = 100
DAILY_PRICE_ROWS = 30
MINUTE_ROWS = 30
PAST_MINUTE_ROWS = 120
MINUTE_RETENTION_DAYS = 366  # "the server keeps about one year of minute bars"
INDEX_ROWS = 50
INDEX_MINUTE_ROWS = 102
RANK_ROWS = 30
HOLIDAY_ROWS = 24


def _view(ctx: Ctx) -> MarketView:
    return MarketView(ctx.market)


def _ok(blocks: dict[str, object], tr_cont: str = "") -> Reply:
    return Reply(envelope(*MSG_OK_QUOTE, blocks), tr_cont)


def _market_code(ctx: Ctx, allowed: set[str] = STOCK_MARKETS) -> None:
    if ctx.get("FID_COND_MRKT_DIV_CODE").strip().upper() not in allowed:
        raise KisReject("OPSQ2001", "FID_COND_MRKT_DIV_CODE 시장분류코드를 확인하세요.")


def _stock(ctx: Ctx) -> Snapshot:
    _market_code(ctx)
    code = ctx.get("FID_INPUT_ISCD").strip()
    view = _view(ctx)
    if view.instrument(code, ctx.now) is None:
        raise bad_code()
    snap = view.snapshot(code, ctx.now)
    if snap is None:
        raise bad_code()
    return snap


def _period(ctx: Ctx) -> str:
    period = ctx.get("FID_PERIOD_DIV_CODE").strip().upper()
    if period not in PERIODS:
        raise KisReject("OPSQ2002", "FID_PERIOD_DIV_CODE 입력값을 확인하세요. (D/W/M/Y)")
    return period


def _change_fields(price: float, prev: float, upper: int = 0, lower: int = 0) -> dict[str, str]:
    change = price - prev
    return {
        "prdy_vrss": num(change),
        "prdy_vrss_sign": sign_code(
            change, bool(upper) and price >= upper, bool(lower) and price <= lower
        ),
        "prdy_ctrt": dec(rate(change, prev)),
    }


# -- current price -------------------------------------------------------------------------------


def _history(ctx: Ctx, code: str, end: date, days: int) -> list[DailyBar]:
    return ctx.market.daily_bars(code, end - timedelta(days=days), end, False)


def inquire_price(ctx: Ctx) -> Reply:
    snap = _stock(ctx)
    market = ctx.market
    inst = market.instruments[snap.code]
    shares = market.listed_shares(snap.code, snap.day)
    prev_day = market.calendar.previous_trading_day(snap.day)
    prev_bar = market.daily_bar(snap.code, prev_day)
    hist = [*_history(ctx, snap.code, prev_day, 380), *([_bar_of(snap)] if snap.traded else [])]
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
        **_change_fields(snap.price, snap.prev_close, snap.upper, snap.lower),
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
        "cpfn": num(shares * 100 // 10**8),
        "rstc_wdth_prc": num(snap.upper - snap.prev_close),
        "stck_fcam": "100",
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
        "cpfn_cnnm": f"{shares * 100 // 10**8:,} 억",
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
    return _ok({"output": pick(row, F.INQUIRE_PRICE)})


def _bar_of(snap: Snapshot) -> DailyBar:
    from simulator.market import DailyBar

    return DailyBar(
        snap.day,
        snap.open,
        snap.high,
        snap.low,
        snap.price,
        snap.volume,
        snap.value,
        snap.prev_close,
    )


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


def inquire_daily_price(ctx: Ctx) -> Reply:
    snap = _stock(ctx)
    period = ctx.get("FID_PERIOD_DIV_CODE").strip().upper()
    if period not in {"D", "W", "M"}:
        raise KisReject("OPSQ2002", "FID_PERIOD_DIV_CODE 입력값을 확인하세요. (D/W/M)")
    # Here 1 = adjusted, 0 = raw (kis-api.md §5.2; the opposite of the period chart).
    adjusted = parse_int(ctx.get("FID_ORG_ADJ_PRC", "0") or "0", "FID_ORG_ADJ_PRC") == 1
    span = {"D": 70, "W": 32 * 7, "M": 32 * 31}[period]
    bars = _view(ctx).period_bars(
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
                    **_change_fields(bar.close, bar.prev_close),
                    "hts_frgn_ehrt": "0.00",
                    "frgn_ntby_qty": "0",
                    "flng_cls_code": "00",
                    "acml_prtt_rate": "0.00",
                },
                F.DAILY_PRICE,
            )
        )
    return _ok({"output": rows})


# -- period chart -----------------------------------------------------------------------------------


def _chart_output1(ctx: Ctx, snap: Snapshot) -> dict[str, str]:
    market = ctx.market
    prev = market.daily_bar(snap.code, market.calendar.previous_trading_day(snap.day))
    shares = market.listed_shares(snap.code, snap.day)
    book = market.quote_at(snap.code, ctx.now) if snap.traded else None
    return pick(
        {
            **_change_fields(snap.price, snap.prev_close),
            "stck_prdy_clpr": num(snap.prev_close),
            "acml_vol": num(snap.volume),
            "acml_tr_pbmn": num(snap.value),
            "hts_kor_isnm": snap.name,
            "stck_prpr": num(snap.price),
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
            "stck_fcam": "100",
            "lstn_stcn": num(shares),
            "cpfn": num(shares * 100 // 10**8),
            "hts_avls": num(snap.price * shares // 10**8),
            "per": "0.00",
            "eps": "0.00",
            "pbr": "0.00",
            "itewhol_loan_rmnd_ratem": "0.00",
        },
        F.ITEMCHART_OUTPUT1,
    )


def inquire_daily_itemchartprice(ctx: Ctx) -> Reply:
    snap = _stock(ctx)
    start = parse_ymd(ctx.need("FID_INPUT_DATE_1"), "FID_INPUT_DATE_1")
    end = parse_ymd(ctx.need("FID_INPUT_DATE_2"), "FID_INPUT_DATE_2")
    period = _period(ctx)
    adj = ctx.get("FID_ORG_ADJ_PRC", "0").strip() or "0"
    if adj not in {"0", "1"}:
        raise KisReject("OPSQ2002", "FID_ORG_ADJ_PRC 입력값을 확인하세요. (0:수정주가 1:원주가)")
    bars = _view(ctx).period_bars(snap.code, start, end, period, adj == "0", ctx.now)[
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
                "flng_cls_code": "00",
                "prtt_rate": "0.00",
                "mod_yn": "N",
                "prdy_vrss_sign": sign_code(b.close - b.prev_close),
                "prdy_vrss": num(b.close - b.prev_close),
                "revl_issu_reas": "",
            },
            F.ITEMCHART_OUTPUT2,
        )
        for b in reversed(bars)
    ]
    return _ok({"output1": _chart_output1(ctx, snap), "output2": rows})


# -- minute bars ------------------------------------------------------------------------------------


def _minute_output1(snap: Snapshot) -> dict[str, str]:
    return pick(
        {
            **_change_fields(snap.price, snap.prev_close),
            "stck_prdy_clpr": num(snap.prev_close),
            "acml_vol": num(snap.volume),
            "acml_tr_pbmn": num(snap.value),
            "hts_kor_isnm": snap.name,
            "stck_prpr": num(snap.price),
        },
        F.MINUTE_OUTPUT1,
    )


def _minute_rows(
    day_bars: list[MinuteBar], keep: Callable[[MinuteBar], bool]
) -> list[dict[str, str]]:
    """Rows (ascending) with the cumulative traded value at each bar, filtered after accumulating."""
    rows, cum = [], 0
    for bar in day_bars:
        cum += bar.value
        if keep(bar):
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
    snap = _stock(ctx)
    until = parse_hms(
        ctx.need("FID_INPUT_HOUR_1"), "FID_INPUT_HOUR_1"
    )  # a future time acts as "now"
    bars = _view(ctx).minute_bars(snap.code, snap.day, ctx.now)
    rows = _minute_rows(bars, lambda b: b.time <= until)[-MINUTE_ROWS:]
    return _ok({"output1": _minute_output1(snap), "output2": rows[::-1]})


def inquire_time_dailychartprice(ctx: Ctx) -> Reply:
    """Past days' minute bars: 120 per call, newest first, ending at DATE_1/HOUR_1 and continuing
    into earlier trading days. Paging either by moving the date/time cursor or with request
    `tr_cont: N` and the same parameters (the server remembers where the last page ended)."""
    snap = _stock(ctx)
    view = _view(ctx)
    key = ctx.continuation_key()
    cursor: tuple[date, time] | None = (
        ctx.continuations.get(key) if ctx.req_tr_cont == "N" else None
    )
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
        cut = until
        rows = _minute_rows(view.minute_bars(snap.code, day, ctx.now), lambda b, c=cut: b.time <= c)
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
    return _ok(
        {"output1": _minute_output1(snap), "output2": collected}, tr_cont_code(first_page, more)
    )


# -- index ------------------------------------------------------------------------------------------


def _index_code(ctx: Ctx) -> str:
    _market_code(ctx, {"U"})
    code = ctx.get("FID_INPUT_ISCD").strip()
    if code not in ctx.market.indices:
        raise KisReject("MCA05918", "종목코드 오류입니다.")
    return code


def _index_today(ctx: Ctx, code: str) -> tuple[IndexBar, IndexBar | None]:
    """(current-day bar, previous-day bar) for an index."""
    view = _view(ctx)
    day = view.session_day(ctx.now)
    minutes = view.index_minute_bars(code, day, ctx.now)
    prev = ctx.market.index_bars(
        code, day - timedelta(days=14), ctx.market.calendar.previous_trading_day(day), "D"
    )
    prev_bar = prev[-1] if prev else None
    if minutes:
        return aggregate_index(minutes, day, None), prev_bar
    base = prev_bar.close if prev_bar else 0.0
    from simulator.market import IndexBar

    return IndexBar(day, None, base, base, base, base, 0, 0), prev_bar


def _index_output1(ctx: Ctx, code: str, fields: tuple[str, ...]) -> dict[str, str]:
    cur, prev = _index_today(ctx, code)
    prev_close = prev.close if prev else cur.open
    change = cur.close - prev_close
    return pick(
        {
            "bstp_nmix_prdy_vrss": dec(change),
            "prdy_vrss_sign": sign_code(round(change, 2)),
            "bstp_nmix_prdy_ctrt": dec(rate(change, prev_close)),
            "prdy_nmix": dec(prev_close),
            "acml_vol": num(cur.volume),
            "acml_tr_pbmn": num(cur.value),
            "hts_kor_isnm": ctx.market.indices[code],
            "bstp_nmix_prpr": dec(cur.close),
            "bstp_cls_code": code,
            "prdy_vol": num(prev.volume if prev else 0),
            "bstp_nmix_oprc": dec(cur.open),
            "bstp_nmix_hgpr": dec(cur.high),
            "bstp_nmix_lwpr": dec(cur.low),
            "futs_prdy_oprc": dec(cur.open),
            "futs_prdy_hgpr": dec(cur.high),
            "futs_prdy_lwpr": dec(cur.low),
        },
        fields,
    )


def inquire_daily_indexchartprice(ctx: Ctx) -> Reply:
    code = _index_code(ctx)
    start = parse_ymd(ctx.need("FID_INPUT_DATE_1"), "FID_INPUT_DATE_1")
    end = parse_ymd(ctx.need("FID_INPUT_DATE_2"), "FID_INPUT_DATE_2")
    period = _period(ctx)
    bars = _view(ctx).index_period_bars(code, start, end, period, ctx.now)[-INDEX_ROWS:]
    rows = [
        pick(
            {
                "stck_bsop_date": ymd(b.date),
                "bstp_nmix_prpr": dec(b.close),
                "bstp_nmix_oprc": dec(b.open),
                "bstp_nmix_hgpr": dec(b.high),
                "bstp_nmix_lwpr": dec(b.low),
                "acml_vol": num(b.volume),
                "acml_tr_pbmn": num(b.value),
                "mod_yn": "N",
            },
            F.INDEXCHART_OUTPUT2,
        )
        for b in reversed(bars)
    ]
    return _ok({"output1": _index_output1(ctx, code, F.INDEXCHART_OUTPUT1), "output2": rows})


def _bucket(bars: list[IndexBar], minutes: int) -> list[IndexBar]:
    """Aggregate one day's 1-minute bars into `minutes`-wide bars labelled by their clock-aligned start."""
    groups: dict[int, list[IndexBar]] = {}
    for bar in bars:
        assert bar.time is not None
        slot = (bar.time.hour * 60 + bar.time.minute) // minutes * minutes
        groups.setdefault(slot, []).append(bar)
    return [
        aggregate_index(g, g[0].date, time(slot // 60, slot % 60))
        for slot, g in sorted(groups.items())
    ]


def inquire_time_indexchartprice(ctx: Ctx) -> Reply:
    code = _index_code(ctx)
    seconds = parse_int(ctx.need("FID_INPUT_HOUR_1"), "FID_INPUT_HOUR_1", minimum=1)
    minutes = max(1, seconds // 60)
    include_past = ctx.get("FID_PW_DATA_INCU_YN", "N").strip().upper() == "Y"
    exclude_close = ctx.get("FID_ETC_CLS_CODE", "0").strip() == "1"
    view = _view(ctx)
    day = view.session_day(ctx.now)
    rows: list[dict[str, str]] = []
    while len(rows) < INDEX_MINUTE_ROWS:
        bars = view.index_minute_bars(code, day, ctx.now)
        if exclude_close:
            bars = [b for b in bars if b.time is not None and b.time < time(15, 20)]
        cum, day_rows = 0, []
        for b in _bucket(bars, minutes):
            cum += b.value
            day_rows.append(
                pick(
                    {
                        "stck_bsop_date": ymd(b.date),
                        "stck_cntg_hour": hms(b.time or time()),
                        "bstp_nmix_prpr": dec(b.close),
                        "bstp_nmix_oprc": dec(b.open),
                        "bstp_nmix_hgpr": dec(b.high),
                        "bstp_nmix_lwpr": dec(b.low),
                        "cntg_vol": num(b.volume),
                        "acml_tr_pbmn": num(cum),
                    },
                    F.INDEX_MINUTE_OUTPUT2,
                )
            )
        rows.extend(day_rows[::-1][: INDEX_MINUTE_ROWS - len(rows)])
        if not include_past or day <= ctx.market.first_date:
            break
        day = ctx.market.calendar.previous_trading_day(day)
    return _ok({"output1": _index_output1(ctx, code, F.INDEX_MINUTE_OUTPUT1), "output2": rows})


def inquire_index_price(ctx: Ctx) -> Reply:
    code = _index_code(ctx)
    cur, prev = _index_today(ctx, code)
    prev_close = prev.close if prev else cur.open
    snaps = _universe(ctx, code)
    ups = [s for s in snaps if s.change > 0]
    downs = [s for s in snaps if s.change < 0]
    year = ctx.market.index_bars(code, date(cur.date.year, 1, 1), cur.date, "D")
    hi = max(year, key=lambda b: b.high) if year else cur
    lo = min(year, key=lambda b: b.low) if year else cur

    def vs(value: float) -> tuple[str, str, str]:
        diff = value - prev_close
        return dec(diff), sign_code(round(diff, 2)), dec(rate(diff, prev_close))

    o, h, lw = vs(cur.open), vs(cur.high), vs(cur.low)
    row = {
        "bstp_nmix_prpr": dec(cur.close),
        "bstp_nmix_prdy_vrss": dec(cur.close - prev_close),
        "prdy_vrss_sign": sign_code(round(cur.close - prev_close, 2)),
        "bstp_nmix_prdy_ctrt": dec(rate(cur.close - prev_close, prev_close)),
        "acml_vol": num(cur.volume),
        "prdy_vol": num(prev.volume if prev else 0),
        "acml_tr_pbmn": num(cur.value),
        "prdy_tr_pbmn": num(prev.value if prev else 0),
        "bstp_nmix_oprc": dec(cur.open),
        "prdy_nmix_vrss_nmix_oprc": o[0],
        "oprc_vrss_prpr_sign": o[1],
        "bstp_nmix_oprc_prdy_ctrt": o[2],
        "bstp_nmix_hgpr": dec(cur.high),
        "prdy_nmix_vrss_nmix_hgpr": h[0],
        "hgpr_vrss_prpr_sign": h[1],
        "bstp_nmix_hgpr_prdy_ctrt": h[2],
        "bstp_nmix_lwpr": dec(cur.low),
        "prdy_clpr_vrss_lwpr": lw[0],
        "lwpr_vrss_prpr_sign": lw[1],
        "prdy_clpr_vrss_lwpr_rate": lw[2],
        "ascn_issu_cnt": num(len(ups)),
        "uplm_issu_cnt": num(sum(1 for s in ups if s.price >= s.upper)),
        "stnr_issu_cnt": num(len(snaps) - len(ups) - len(downs)),
        "down_issu_cnt": num(len(downs)),
        "lslm_issu_cnt": num(sum(1 for s in downs if s.price <= s.lower)),
        "dryy_bstp_nmix_hgpr": dec(hi.high),
        "dryy_hgpr_vrss_prpr_rate": dec(rate(cur.close - hi.high, hi.high)),
        "dryy_bstp_nmix_hgpr_date": ymd(hi.date),
        "dryy_bstp_nmix_lwpr": dec(lo.low),
        "dryy_lwpr_vrss_prpr_rate": dec(rate(cur.close - lo.low, lo.low)),
        "dryy_bstp_nmix_lwpr_date": ymd(lo.date),
        "total_askp_rsqn": "0",
        "total_bidp_rsqn": "0",
        "seln_rsqn_rate": "0.00",
        "shnu_rsqn_rate": "0.00",
        "ntby_rsqn": "0",
    }
    return _ok({"output": pick(row, F.INDEX_PRICE)})


# -- rankings ---------------------------------------------------------------------------------------


def _universe(ctx: Ctx, index_code: str) -> list[Snapshot]:
    view = _view(ctx)
    day = view.session_day(ctx.now)
    until = ctx.now.time() if view.is_partial(day, ctx.now) else None
    wanted = {"0000": None, "0001": "KOSPI", "2001": "KOSPI", "1001": "KOSDAQ"}
    if index_code not in wanted:
        raise KisReject("OPSQ2002", "FID_INPUT_ISCD 입력값을 확인하세요. (0000/0001/1001/2001)")
    out = []
    for inst in ctx.market.ranking_universe(day, until):
        if wanted[index_code] is not None and inst.market != wanted[index_code]:
            continue
        snap = view.snapshot(inst.code, ctx.now)
        if snap is not None:
            out.append(snap)
    return out


def _rank_filters(ctx: Ctx, snaps: list[Snapshot]) -> list[Snapshot]:
    div = ctx.get("FID_DIV_CLS_CODE", "0").strip() or "0"
    lo = parse_int(ctx.get("FID_INPUT_PRICE_1") or "0", "FID_INPUT_PRICE_1")
    hi = parse_int(ctx.get("FID_INPUT_PRICE_2") or "0", "FID_INPUT_PRICE_2")
    min_vol = parse_int(ctx.get("FID_VOL_CNT") or "0", "FID_VOL_CNT")
    out = []
    for s in snaps:
        preferred = not s.code.endswith("0")  # KRX preferred shares end in 5/7/9/K…
        if (div == "1" and preferred) or (div == "2" and not preferred):
            continue
        if (lo and s.price < lo) or (hi and s.price > hi) or s.volume < min_vol:
            continue
        out.append(s)
    return out


def volume_rank(ctx: Ctx) -> Reply:
    _market_code(ctx)
    snaps = _rank_filters(ctx, _universe(ctx, ctx.get("FID_INPUT_ISCD", "0000").strip() or "0000"))
    market = ctx.market
    rows = []
    for s in snaps:
        prev = market.daily_bar(s.code, market.calendar.previous_trading_day(s.day))
        prev_vol = prev.volume if prev else 0
        shares = market.listed_shares(s.code, s.day)
        cap = s.price * shares
        rows.append(
            (
                s,
                {
                    "hts_kor_isnm": s.name,
                    "mksc_shrn_iscd": s.code,
                    "stck_prpr": num(s.price),
                    **_change_fields(s.price, s.prev_close, s.upper, s.lower),
                    "acml_vol": num(s.volume),
                    "prdy_vol": num(prev_vol),
                    "lstn_stcn": num(shares),
                    "avrg_vol": num(s.volume),
                    "n_befr_clpr_vrss_prpr_rate": dec(rate(s.change, s.prev_close)),
                    "vol_inrt": dec(rate(s.volume, prev_vol)),
                    "vol_tnrt": dec(rate(s.volume, shares)),
                    "nday_vol_tnrt": dec(rate(s.volume, shares)),
                    "avrg_tr_pbmn": num(s.value),
                    "tr_pbmn_tnrt": dec(rate(s.value, cap)),
                    "nday_tr_pbmn_tnrt": dec(rate(s.value, cap)),
                    "acml_tr_pbmn": num(s.value),
                },
            )
        )
    key = {
        "0": "acml_vol",
        "1": "vol_inrt",
        "2": "vol_tnrt",
        "3": "acml_tr_pbmn",
        "4": "tr_pbmn_tnrt",
    }
    sort_by = key.get(ctx.get("FID_BLNG_CLS_CODE", "0").strip() or "0")
    if sort_by is None:
        raise KisReject("OPSQ2002", "FID_BLNG_CLS_CODE 입력값을 확인하세요.")
    rows.sort(key=lambda r: (-float(r[1][sort_by]), r[0].code))
    out = [
        pick({**r, "data_rank": num(i + 1)}, F.VOLUME_RANK)
        for i, (_, r) in enumerate(rows[:RANK_ROWS])
    ]
    return _ok({"output": out})


def _streaks(bars: list[DailyBar]) -> tuple[int, int]:
    up = down = 0
    for b in reversed(bars):
        if b.close > b.prev_close and down == 0:
            up += 1
        elif b.close < b.prev_close and up == 0:
            down += 1
        else:
            break
    return up, down


def fluctuation(ctx: Ctx) -> Reply:
    _market_code(ctx)
    snaps = [
        s
        for s in _rank_filters(
            ctx, _universe(ctx, ctx.get("fid_input_iscd", "0000").strip() or "0000")
        )
        if s.traded
    ]
    lo_rate, hi_rate = ctx.get("fid_rsfl_rate1").strip(), ctx.get("fid_rsfl_rate2").strip()
    try:
        if lo_rate:
            snaps = [s for s in snaps if rate(s.change, s.prev_close) >= float(lo_rate)]
        if hi_rate:
            snaps = [s for s in snaps if rate(s.change, s.prev_close) <= float(hi_rate)]
    except ValueError:
        raise KisReject("OPSQ2002", "fid_rsfl_rate 입력값을 확인하세요.") from None
    sorts: dict[str, Callable[[Snapshot], float]] = {
        "0": lambda s: -rate(s.change, s.prev_close),
        "1": lambda s: rate(s.change, s.prev_close),
        "2": lambda s: -rate(s.price - s.open, s.open),
        "3": lambda s: rate(s.price - s.open, s.open),
        "4": lambda s: -rate(s.high - s.low, s.prev_close),
    }
    sort = sorts.get(ctx.get("fid_rank_sort_cls_code", "0").strip() or "0")
    if sort is None:
        raise KisReject("OPSQ2002", "fid_rank_sort_cls_code 입력값을 확인하세요. (0~4)")
    n_days = parse_int(ctx.get("fid_input_cnt_1") or "0", "fid_input_cnt_1", minimum=0)
    snaps.sort(key=lambda s: (sort(s), s.code))
    view, market, rows = _view(ctx), ctx.market, []
    for i, s in enumerate(snaps[:RANK_ROWS]):
        minutes = view.minute_bars(s.code, s.day, ctx.now)
        hi_bar = next((b for b in minutes if b.high == s.high), None)
        lo_bar = next((b for b in minutes if b.low == s.low), None)
        hist = market.daily_bars(
            s.code, s.day - timedelta(days=60), market.calendar.previous_trading_day(s.day), False
        )
        up, down = _streaks([*hist, _bar_of(s)])
        base = hist[-n_days].close if n_days and len(hist) >= n_days else s.prev_close
        rows.append(
            pick(
                {
                    "stck_shrn_iscd": s.code,
                    "data_rank": num(i + 1),
                    "hts_kor_isnm": s.name,
                    "stck_prpr": num(s.price),
                    **_change_fields(s.price, s.prev_close, s.upper, s.lower),
                    "acml_vol": num(s.volume),
                    "stck_hgpr": num(s.high),
                    "hgpr_hour": hms(hi_bar.time) if hi_bar else "",
                    "acml_hgpr_date": ymd(s.day),
                    "stck_lwpr": num(s.low),
                    "lwpr_hour": hms(lo_bar.time) if lo_bar else "",
                    "acml_lwpr_date": ymd(s.day),
                    "lwpr_vrss_prpr_rate": dec(rate(s.price - s.low, s.low)),
                    "dsgt_date_clpr_vrss_prpr_rate": dec(rate(s.price - base, base)),
                    "cnnt_ascn_dynu": num(up),
                    "hgpr_vrss_prpr_rate": dec(rate(s.price - s.high, s.high)),
                    "cnnt_down_dynu": num(down),
                    "oprc_vrss_prpr_sign": sign_code(s.price - s.open),
                    "oprc_vrss_prpr": num(s.price - s.open),
                    "oprc_vrss_prpr_rate": dec(rate(s.price - s.open, s.open)),
                    "prd_rsfl": num(s.price - base),
                    "prd_rsfl_rate": dec(rate(s.price - base, base)),
                },
                F.FLUCTUATION,
            )
        )
    return _ok({"output": rows})


def market_cap(ctx: Ctx) -> Reply:
    _market_code(ctx)
    snaps = _rank_filters(ctx, _universe(ctx, ctx.get("fid_input_iscd", "0000").strip() or "0000"))
    caps = [(s, ctx.market.listed_shares(s.code, s.day)) for s in snaps]
    total = sum(s.price * n for s, n in caps) or 1
    caps.sort(key=lambda c: (-c[0].price * c[1], c[0].code))
    rows = [
        pick(
            {
                "mksc_shrn_iscd": s.code,
                "data_rank": num(i + 1),
                "hts_kor_isnm": s.name,
                "stck_prpr": num(s.price),
                **_change_fields(s.price, s.prev_close, s.upper, s.lower),
                "acml_vol": num(s.volume),
                "lstn_stcn": num(n),
                "stck_avls": num(s.price * n // 10**8),
                "mrkt_whol_avls_rlim": dec(s.price * n / total * 100),
            },
            F.MARKET_CAP,
        )
        for i, (s, n) in enumerate(caps[:RANK_ROWS])
    ]
    return _ok({"output": rows})


# -- holidays ---------------------------------------------------------------------------------------


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
