"""Financial statements per stock (FHKST66430100 balance sheet, FHKST66430200 income statement,
FHKST66430300 ratios), plausible and deterministic per (seed, stock): revenue scales with the
company's market value at its listing and grows year by year; margins, asset turnover and leverage
are drawn per stock. Quarterly figures are year to date, as KIS sends them.

A period is published 45 days after a quarter's end (90 after the fiscal year's), and one period
is restated: every stock's fiscal 2025 net income is revised down on RESTATED_ON, so a history
fetched before and after that day differs in exactly that period (point-in-time tests).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from simulator import paths
from simulator.context import Ctx, Reply
from simulator.market import Market
from simulator.quotes.common import ok, stock
from simulator.wire import KisReject, dec, ymd

ROWS = 30  # periods per answer, as in the workbook's examples
_STREAM_FUNDAMENTALS = 25
EOK = 100_000_000  # amounts are sent in 억원
PAR = 100  # par value per share, KRW
RESTATED_YEAR = 2025
RESTATED_ON = date(2026, 8, 14)
RESTATEMENT = 0.9  # the restated net income, as a share of the first report
NOT_PUBLISHED = "99.99"


@dataclass(frozen=True)
class Year:
    revenue: float  # KRW, the whole year
    gross_margin: float
    operating_margin: float
    net_margin: float
    assets: float  # KRW at year end
    leverage: float  # liabilities / assets


@lru_cache(maxsize=64)
def _years(market: Market, code: str) -> dict[int, Year]:
    first, last = market.first_date.year - 1, market.last_date.year
    rng = paths.rng_for(market.seed, _STREAM_FUNDAMENTALS, code)
    n = last - first + 1
    growth = rng.normal(0.06, 0.12, n)
    inst = market.instruments[code]
    start_value = inst.base_price * market.listed_shares(code, market.first_date)
    revenue = start_value * rng.uniform(0.4, 1.6)
    gross, operating = rng.uniform(0.15, 0.45), rng.uniform(0.4, 0.7)
    net, turnover, leverage = rng.uniform(0.5, 0.8), rng.uniform(0.6, 1.4), rng.uniform(0.2, 0.6)
    out = {}
    for i, year in enumerate(range(first, last + 1)):
        revenue *= 1 + growth[i]
        op = gross * operating * rng.uniform(0.6, 1.4)
        out[year] = Year(revenue, gross, op, op * net, revenue / turnover, leverage)
    return out


def published(period_end: date) -> date:
    """When a period's figures appear: 90 days after the fiscal year, else 45 days."""
    return period_end + timedelta(days=90 if period_end.month == 12 else 45)


def _quarter_ends(until: date, annual: bool) -> list[date]:
    """Fiscal period ends published by `until`, newest first."""
    ends: list[date] = []
    year, month = until.year, 12
    while len(ends) < ROWS and year >= 2014:
        end = date(year, month, 31 if month == 12 else 30 if month in (6, 9) else 31)
        if published(end) <= until:
            ends.append(end)
        if annual or month == 3:
            year, month = year - 1, 12
        else:
            month -= 3
    return ends


def _figures(market: Market, code: str, end: date, seen: date) -> dict[str, float]:
    """KRW amounts (year to date) and per-share figures of one period as known on `seen`."""
    y = _years(market, code)[end.year]
    share = end.month / 12  # year to date
    shares = market.listed_shares(code, end)
    revenue = y.revenue * share
    net = revenue * y.net_margin
    if end.year == RESTATED_YEAR and seen >= RESTATED_ON:
        net *= RESTATEMENT
    assets = y.assets * (0.9 + 0.1 * share)
    liabilities = assets * y.leverage
    equity = assets - liabilities
    previous = _years(market, code).get(end.year - 1, y)
    prev_revenue = previous.revenue * share
    return {
        "revenue": revenue,
        "cost_of_sales": revenue * (1 - y.gross_margin),
        "gross_profit": revenue * y.gross_margin,
        "operating_income": revenue * y.operating_margin,
        "ordinary_income": revenue * y.operating_margin * 1.05,
        "net_income": net,
        "assets": assets,
        "current_assets": assets * 0.45,
        "liabilities": liabilities,
        "current_liabilities": liabilities * 0.7,
        "capital": float(shares * PAR),
        "equity": equity,
        "shares": float(shares),
        "revenue_growth": (revenue - prev_revenue) / prev_revenue * 100,
        "operating_growth": (
            y.operating_margin / previous.operating_margin * revenue / prev_revenue - 1
        )
        * 100,
        "net_growth": (y.net_margin / previous.net_margin * revenue / prev_revenue - 1) * 100,
    }


def _eok(value: float) -> str:
    return dec(value / EOK)


def _balance_sheet(f: dict[str, float]) -> dict[str, str]:
    return {
        "cras": _eok(f["current_assets"]),
        "fxas": _eok(f["assets"] - f["current_assets"]),
        "total_aset": _eok(f["assets"]),
        "flow_lblt": _eok(f["current_liabilities"]),
        "fix_lblt": _eok(f["liabilities"] - f["current_liabilities"]),
        "total_lblt": _eok(f["liabilities"]),
        "cpfn": _eok(f["capital"]),
        "cfp_surp": NOT_PUBLISHED,
        "prfi_surp": NOT_PUBLISHED,
        "total_cptl": _eok(f["equity"]),
    }


def _income_statement(f: dict[str, float]) -> dict[str, str]:
    return {
        "sale_account": _eok(f["revenue"]),
        "sale_cost": _eok(f["cost_of_sales"]),
        "sale_totl_prfi": _eok(f["gross_profit"]),
        "depr_cost": NOT_PUBLISHED,
        "sell_mang": NOT_PUBLISHED,
        "bsop_prti": _eok(f["operating_income"]),
        "bsop_non_ernn": NOT_PUBLISHED,
        "bsop_non_expn": NOT_PUBLISHED,
        "op_prfi": _eok(f["ordinary_income"]),
        "spec_prfi": NOT_PUBLISHED,
        "spec_loss": NOT_PUBLISHED,
        "thtr_ntin": _eok(f["net_income"]),
    }


def _ratios(f: dict[str, float]) -> dict[str, str]:
    return {
        "grs": dec(f["revenue_growth"]),
        "bsop_prfi_inrt": dec(max(f["operating_growth"], 0)),
        "ntin_inrt": dec(f["net_growth"]),
        "roe_val": dec(f["net_income"] / f["equity"] * 100),
        "eps": dec(round(f["net_income"] / f["shares"])),
        "sps": str(round(f["revenue"] / f["shares"])),
        "bps": dec(round(f["equity"] / f["shares"])),
        "rsrv_rate": dec((f["equity"] - f["capital"]) / f["capital"] * 100),
        "lblt_rate": dec(f["liabilities"] / f["equity"] * 100),
    }


def _statement(ctx: Ctx, rows_of: Callable[[dict[str, float]], dict[str, str]]) -> Reply:
    snap = stock(ctx)
    kind = ctx.get("FID_DIV_CLS_CODE").strip()
    if kind not in {"0", "1"}:
        raise KisReject("OPSQ2002", "FID_DIV_CLS_CODE 입력값을 확인하세요. (0:년 1:분기)")
    seen = ctx.now.date()
    listed = ctx.market.instruments[snap.code].listed
    rows = []
    for end in _quarter_ends(seen, annual=kind == "0"):
        if end < listed:
            break
        figures = _figures(ctx.market, snap.code, end, seen)
        rows.append({"stac_yymm": ymd(end)[:6], **rows_of(figures)})
    return ok({"output": rows})


def balance_sheet(ctx: Ctx) -> Reply:
    return _statement(ctx, _balance_sheet)


def income_statement(ctx: Ctx) -> Reply:
    return _statement(ctx, _income_statement)


def financial_ratio(ctx: Ctx) -> Reply:
    return _statement(ctx, _ratios)
