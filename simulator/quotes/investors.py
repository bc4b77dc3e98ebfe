"""Investor flows per stock per day (종목별 투자자매매동향(일별), FHPTJ04160001; its last 30 days' three
groups also on 주식현재가 투자자, FHKST01010900) and per market per day (시장별 투자자매매동향(일별),
FHPTJ04040000), derived from the synthetic market so the datasets
agree: every share of the day's volume is bought by one investor type and sold by another, so
buys = sells = volume and the groups' nets sum to zero; a market's flows are its stocks' flows.

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
from simulator.quotes.common import change_fields, check_market, ok, stock
from simulator.wire import KisReject, dec, num, parse_ymd, pick, tr_cont_code, ymd

ROWS = 100  # days per answer (KIS does not say; the 0416 screen pages similarly)
RECENT_ROWS = (
    30  # 주식현재가 투자자: the last 30 days in one answer, no paging (the sheet gives no count)
)
PUBLISHED = time(15, 40)  # the day's figures exist from 15:40 (workbook)
_STREAM_INVESTORS = 21  # random stream id, apart from simulator.market's 11-14
MILLION = 1_000_000
THOUSAND = 1_000
MARKETS = {"0001": ("KOSPI", "KSP"), "1001": ("KOSDAQ", "KSQ")}

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


# Every investor type, in the workbook's order.
PREFIXES = (
    "frgn",
    "frgn_reg",
    "frgn_nreg",
    "prsn",
    "orgn",
    "scrt",
    "ivtr",
    "pe_fund",
    "bank",
    "insu",
    "mrbn",
    "fund",
    "etc",
    "etc_orgt",
    "etc_corp",
)
# sheet 115's response example, in its order
OUTPUT2: tuple[str, ...] = (
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
    "frgn_ntby_qty",
    "frgn_reg_ntby_qty",
    "frgn_nreg_ntby_qty",
    "prsn_ntby_qty",
    "orgn_ntby_qty",
    "scrt_ntby_qty",
    "ivtr_ntby_qty",
    "pe_fund_ntby_vol",
    "bank_ntby_qty",
    "insu_ntby_qty",
    "mrbn_ntby_qty",
    "fund_ntby_qty",
    "etc_ntby_qty",
    "etc_corp_ntby_vol",
    "etc_orgt_ntby_vol",
    "frgn_reg_ntby_pbmn",
    "frgn_ntby_tr_pbmn",
    "frgn_nreg_ntby_pbmn",
    "prsn_ntby_tr_pbmn",
    "orgn_ntby_tr_pbmn",
    "scrt_ntby_tr_pbmn",
    "pe_fund_ntby_tr_pbmn",
    "ivtr_ntby_tr_pbmn",
    "bank_ntby_tr_pbmn",
    "insu_ntby_tr_pbmn",
    "mrbn_ntby_tr_pbmn",
    "fund_ntby_tr_pbmn",
    "etc_ntby_tr_pbmn",
    "etc_corp_ntby_tr_pbmn",
    "etc_orgt_ntby_tr_pbmn",
    "frgn_seln_vol",
    "frgn_shnu_vol",
    "frgn_seln_tr_pbmn",
    "frgn_shnu_tr_pbmn",
    "frgn_reg_askp_qty",
    "frgn_reg_bidp_qty",
    "frgn_reg_askp_pbmn",
    "frgn_reg_bidp_pbmn",
    "frgn_nreg_askp_qty",
    "frgn_nreg_bidp_qty",
    "frgn_nreg_askp_pbmn",
    "frgn_nreg_bidp_pbmn",
    "prsn_seln_vol",
    "prsn_shnu_vol",
    "prsn_seln_tr_pbmn",
    "prsn_shnu_tr_pbmn",
    "orgn_seln_vol",
    "orgn_shnu_vol",
    "orgn_seln_tr_pbmn",
    "orgn_shnu_tr_pbmn",
    "scrt_seln_vol",
    "scrt_shnu_vol",
    "scrt_seln_tr_pbmn",
    "scrt_shnu_tr_pbmn",
    "ivtr_seln_vol",
    "ivtr_shnu_vol",
    "ivtr_seln_tr_pbmn",
    "ivtr_shnu_tr_pbmn",
    "pe_fund_seln_tr_pbmn",
    "pe_fund_seln_vol",
    "pe_fund_shnu_tr_pbmn",
    "pe_fund_shnu_vol",
    "bank_seln_vol",
    "bank_shnu_vol",
    "bank_seln_tr_pbmn",
    "bank_shnu_tr_pbmn",
    "insu_seln_vol",
    "insu_shnu_vol",
    "insu_seln_tr_pbmn",
    "insu_shnu_tr_pbmn",
    "mrbn_seln_vol",
    "mrbn_shnu_vol",
    "mrbn_seln_tr_pbmn",
    "mrbn_shnu_tr_pbmn",
    "fund_seln_vol",
    "fund_shnu_vol",
    "fund_seln_tr_pbmn",
    "fund_shnu_tr_pbmn",
    "etc_seln_vol",
    "etc_shnu_vol",
    "etc_seln_tr_pbmn",
    "etc_shnu_tr_pbmn",
    "etc_orgt_seln_vol",
    "etc_orgt_shnu_vol",
    "etc_orgt_seln_tr_pbmn",
    "etc_orgt_shnu_tr_pbmn",
    "etc_corp_seln_vol",
    "etc_corp_shnu_vol",
    "etc_corp_seln_tr_pbmn",
    "etc_corp_shnu_tr_pbmn",
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


def _window_end(ctx: Ctx) -> date:
    asked = parse_ymd(ctx.need("FID_INPUT_DATE_1"), "FID_INPUT_DATE_1")
    return min(asked, published_until(ctx.now.date(), ctx.now.time()))


def investor_trade_by_stock_daily(ctx: Ctx) -> Reply:
    snap = stock(ctx)
    end = _window_end(ctx)
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
    # Sheet 115 lists tr_cont in the answer: one page covers the window asked for (paged by date,
    # FID_INPUT_DATE_1), so it is a single, last page.
    reply = ok({"output1": pick(head, OUTPUT1), "output2": rows})
    return Reply(reply.body, tr_cont_code(ctx.req_tr_cont != "N", False))


# sheet 045's response example, in its order: three groups (foreign = registered + other foreign)
RECENT_PREFIXES = ("prsn", "frgn", "orgn")
RECENT_OUTPUT: tuple[str, ...] = (
    "stck_bsop_date",
    "stck_clpr",
    "prdy_vrss",
    "prdy_vrss_sign",
    *(
        _field_names(p)[side]
        for side in ("net", "net_value", "buy", "buy_value", "sell", "sell_value")
        for p in RECENT_PREFIXES
    ),
)


def inquire_investor(ctx: Ctx) -> Reply:
    """주식현재가 투자자: the stock's last 30 published days, newest first, the same figures as
    the 0416 screen's for the three groups (one synthetic source); paper too."""
    snap = stock(ctx)
    end = published_until(ctx.now.date(), ctx.now.time())
    market = ctx.market
    # 30 trading days fit in 60 calendar days.
    bars = market.daily_bars(snap.code, end - timedelta(days=60), end, False)[-RECENT_ROWS:]
    rows = [pick(_row(market.seed, snap.code, b), RECENT_OUTPUT) for b in reversed(bars)]
    return ok({"output": rows})


MARKET_OUTPUT = (
    "stck_bsop_date",
    "bstp_nmix_prpr",
    "bstp_nmix_prdy_vrss",
    "prdy_vrss_sign",
    "bstp_nmix_prdy_ctrt",
    "bstp_nmix_oprc",
    "bstp_nmix_hgpr",
    "bstp_nmix_lwpr",
    "stck_prdy_clpr",
    *(_field_names(p)["net"] for p in PREFIXES),
    *(_field_names(p)["net_value"] for p in PREFIXES),
)


def _market_nets(
    ctx: Ctx, market_name: str, days: list[date]
) -> dict[date, dict[str, list[float]]]:
    """day -> prefix -> [net shares, net KRW], summed over the market's stocks listed that day."""
    nets: dict[date, dict[str, list[float]]] = {d: {} for d in days}
    market = ctx.market
    for code, inst in sorted(market.instruments.items()):
        if inst.market != market_name:
            continue
        for bar in market.daily_bars(code, days[0], days[-1], False):
            average = bar.value / bar.volume if bar.volume else bar.close
            day = nets[bar.date]
            for prefix, (bought, sold) in day_flows(market.seed, code, bar).items():
                entry = day.setdefault(prefix, [0.0, 0.0])
                entry[0] += bought - sold
                entry[1] += (bought - sold) * average
    return nets


def _balanced(nets: dict[str, list[float]], index: int, unit: int) -> dict[str, int]:
    """Nets in `unit`s, rounded so that the four groups still sum to zero (individuals take the
    rounding, as KIS's own figures always balance)."""
    out = {p: round(v[index] / unit) for p, v in nets.items()}
    out["prsn"] = -(out["frgn"] + out["orgn"] + out["etc"])
    return out


def inquire_investor_daily_by_market(ctx: Ctx) -> Reply:
    check_market(ctx, {"U"})
    index_code = ctx.get("FID_INPUT_ISCD").strip()
    if index_code not in MARKETS or ctx.get("FID_INPUT_ISCD_1").strip() != MARKETS[index_code][1]:
        raise KisReject("OPSQ2002", "FID_INPUT_ISCD 입력값을 확인하세요. (0001:KSP 1001:KSQ)")
    end = _window_end(ctx)
    levels = ctx.market.index_bars(index_code, end - timedelta(days=160), end, "D")[-ROWS:]
    if not levels:
        return ok({"output": []})
    nets = _market_nets(ctx, MARKETS[index_code][0], [b.date for b in levels])
    rows = []
    for bar in reversed(levels):
        day = nets[bar.date]
        shares = _balanced(day, 0, THOUSAND) if day else {}
        value = _balanced(day, 1, MILLION) if day else {}
        row = {
            "stck_bsop_date": ymd(bar.date),
            "bstp_nmix_prpr": dec(bar.close),
            "bstp_nmix_oprc": dec(bar.open),
            "bstp_nmix_hgpr": dec(bar.high),
            "bstp_nmix_lwpr": dec(bar.low),
        }
        for prefix in PREFIXES:
            names = _field_names(prefix)
            row[names["net"]] = num(shares.get(prefix, 0))
            row[names["net_value"]] = num(value.get(prefix, 0))
        rows.append(pick(row, MARKET_OUTPUT))
    return ok({"output": rows})
