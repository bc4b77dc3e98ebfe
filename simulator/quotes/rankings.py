"""Rankings over the listed stocks: volume (FHPST01710000), price change (FHPST01700000) and market
cap (FHPST01740000), 30 rows each."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from simulator import fields as F
from simulator.context import Ctx, Reply
from simulator.market import DailyBar
from simulator.marketview import Snapshot
from simulator.quotes.common import change_fields, check_market, listed_snapshots, market_view, ok
from simulator.wire import KisReject, dec, hms, num, parse_int, pick, rate, sign_code, ymd

RANK_ROWS = 30


def _candidates(ctx: Ctx) -> list[Snapshot]:
    """The listed stocks behind FID_INPUT_ISCD that pass the request's price/volume/kind filters."""
    check_market(ctx)
    index_code = ctx.get("FID_INPUT_ISCD", "0000").strip() or "0000"
    return _rank_filters(ctx, listed_snapshots(ctx, index_code))


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
    snaps = _candidates(ctx)
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
                    **change_fields(s.price, s.prev_close, s.upper, s.lower),
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
    return ok({"output": out})


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
    snaps = [s for s in _candidates(ctx) if s.traded]
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
    view, market, rows = market_view(ctx), ctx.market, []
    for i, s in enumerate(snaps[:RANK_ROWS]):
        minutes = view.minute_bars(s.code, s.day, ctx.now)
        hi_bar = next((b for b in minutes if b.high == s.high), None)
        lo_bar = next((b for b in minutes if b.low == s.low), None)
        hist = market.daily_bars(
            s.code, s.day - timedelta(days=60), market.calendar.previous_trading_day(s.day), False
        )
        up, down = _streaks([*hist, s.as_daily_bar()])
        base = hist[-n_days].close if n_days and len(hist) >= n_days else s.prev_close
        rows.append(
            pick(
                {
                    "stck_shrn_iscd": s.code,
                    "data_rank": num(i + 1),
                    "hts_kor_isnm": s.name,
                    "stck_prpr": num(s.price),
                    **change_fields(s.price, s.prev_close, s.upper, s.lower),
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
    return ok({"output": rows})


def market_cap(ctx: Ctx) -> Reply:
    snaps = _candidates(ctx)
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
                **change_fields(s.price, s.prev_close, s.upper, s.lower),
                "acml_vol": num(s.volume),
                "lstn_stcn": num(n),
                "stck_avls": num(s.price * n // 10**8),
                "mrkt_whol_avls_rlim": dec(s.price * n / total * 100),
            },
            F.MARKET_CAP,
        )
        for i, (s, n) in enumerate(caps[:RANK_ROWS])
    ]
    return ok({"output": rows})
