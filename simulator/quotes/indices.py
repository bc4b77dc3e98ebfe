"""Index quotations: the period chart (FHKUP03500100), minute bars (FHKUP03500200) and the current
level with the day's advance/decline counts (FHPUP02100000)."""

from __future__ import annotations

from datetime import date, time, timedelta

from simulator import fields as F
from simulator.context import Ctx, Reply
from simulator.market import IndexBar
from simulator.marketview import aggregate_index
from simulator.quotes.common import (
    chart_period,
    chart_range,
    check_market,
    listed_snapshots,
    market_view,
    ok,
)
from simulator.wire import (
    KisReject,
    dec,
    hms,
    num,
    parse_int,
    pick,
    rate,
    sign_code,
    ymd,
)

INDEX_ROWS = 50
INDEX_MINUTE_ROWS = 102


def _index_code(ctx: Ctx) -> str:
    check_market(ctx, {"U"})
    code = ctx.get("FID_INPUT_ISCD").strip()
    if code not in ctx.market.indices:
        raise KisReject("MCA05918", "종목코드 오류입니다.")
    return code


def _index_today(ctx: Ctx, code: str) -> tuple[IndexBar, IndexBar | None]:
    """(current-day bar, previous-day bar) for an index."""
    view = market_view(ctx)
    day = view.session_day(ctx.now)
    minutes = view.index_minute_bars(code, day, ctx.now)
    prev = ctx.market.index_bars(
        code, day - timedelta(days=14), ctx.market.calendar.previous_trading_day(day), "D"
    )
    prev_bar = prev[-1] if prev else None
    if minutes:
        return aggregate_index(minutes, day, None), prev_bar
    base = prev_bar.close if prev_bar else 0.0
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
    start, end = chart_range(ctx)
    period = chart_period(ctx)
    bars = market_view(ctx).index_period_bars(code, start, end, period, ctx.now)[-INDEX_ROWS:]
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
    return ok({"output1": _index_output1(ctx, code, F.INDEXCHART_OUTPUT1), "output2": rows})


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
    view = market_view(ctx)
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
    return ok({"output1": _index_output1(ctx, code, F.INDEX_MINUTE_OUTPUT1), "output2": rows})


def inquire_index_price(ctx: Ctx) -> Reply:
    code = _index_code(ctx)
    cur, prev = _index_today(ctx, code)
    prev_close = prev.close if prev else cur.open
    snaps = listed_snapshots(ctx, code)
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
    return ok({"output": pick(row, F.INDEX_PRICE)})


# sheet 073 response example, output (a list)
INDEX_TIMEPRICE: tuple[str, ...] = (
    "bsop_hour",
    "bstp_nmix_prpr",
    "bstp_nmix_prdy_vrss",
    "prdy_vrss_sign",
    "bstp_nmix_prdy_ctrt",
    "acml_tr_pbmn",
    "acml_vol",
    "cntg_vol",
)


def inquire_index_timeprice(ctx: Ctx) -> Reply:
    """The current session's index level per FID_INPUT_HOUR_1 seconds (60/300/600), newest first:
    each row stamped with its interval's start (as FHKUP03500200's rows; unconfirmed), volume and
    value in the units of the other index APIs (shares, KRW), accumulated over the day. One answer,
    no tr_cont paging (the sheet)."""
    code = _index_code(ctx)
    seconds = parse_int(ctx.need("FID_INPUT_HOUR_1"), "FID_INPUT_HOUR_1", minimum=60)
    view = market_view(ctx)
    day = view.session_day(ctx.now)
    _, prev = _index_today(ctx, code)
    rows: list[dict[str, str]] = []
    cum_vol = cum_val = 0
    for b in _bucket(view.index_minute_bars(code, day, ctx.now), seconds // 60):
        assert b.time is not None  # minute bars carry their start
        cum_vol, cum_val = cum_vol + b.volume, cum_val + b.value
        base = prev.close if prev else b.open
        rows.append(
            pick(
                {
                    "bsop_hour": hms(b.time),
                    "bstp_nmix_prpr": dec(b.close),
                    "bstp_nmix_prdy_vrss": dec(b.close - base),
                    "prdy_vrss_sign": sign_code(round(b.close - base, 2)),
                    "bstp_nmix_prdy_ctrt": dec(rate(b.close - base, base)),
                    "acml_tr_pbmn": num(cum_val),
                    "acml_vol": num(cum_vol),
                    "cntg_vol": num(b.volume),
                },
                INDEX_TIMEPRICE,
            )
        )
    return ok({"output": rows[::-1]})
