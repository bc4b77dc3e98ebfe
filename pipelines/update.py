"""`update`: the incremental job the schedules run. Every part fetches only what is missing.

Order matters: the calendar first (trading days drive every plan), then the stock master (the
default universe), then bars, minute bars and a rankings snapshot. A failing part does not stop
the others; the first failure is raised once all have run.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import polars as pl

from connectors.kis.errors import KisUnreachable
from pipelines.bars import (
    DEFAULT_INDICES,
    DEFAULT_START,
    ingest_index_bars,
    ingest_overseas_bars,
    ingest_period_bars,
)
from pipelines.corporate_actions import ingest_corporate_actions
from pipelines.engine import flow
from pipelines.errors import InputError, UpdateFailed
from pipelines.holidays_flow import ingest_holidays
from pipelines.minutes import (
    ingest_index_minute_bars,
    ingest_minute_bars,
    ingest_overseas_minute_bars,
)
from pipelines.ranges import parse_date
from pipelines.rankings import ingest_rankings
from pipelines.research_datasets import (
    ingest_credit_balance,
    ingest_financials,
    ingest_investor_flows,
    ingest_market_investor_flows,
    ingest_program_trades,
    ingest_short_sales,
    ingest_stock_info,
)
from pipelines.runs import Run, flow_run
from pipelines.securities import ingest_securities
from pipelines.summary import RunSummary
from pipelines.universe import (
    ALL,
    FIRST_RUN_MARKETS,
    index_codes,
    overseas_symbols,
    read_universe_file,
    stock_symbols,
)
from warehouse.planning import delisted_symbols, stored_symbols

PARTS = (
    "holidays",
    "securities",
    "corporate-actions",
    "bars",
    "index-bars",
    "overseas-bars",
    "minute-bars",
    "rankings",
    "investor-flows",
    "market-investor-flows",
    "short-sales",
    "credit-balance",
    "program-trades",
    "financials",
    "stock-info",
)
# Opt-in parts (name them in `parts`): snapshots of the latest bars, worth running intraday or
# after a session rather than in the weekly catch-up (index-minute-bars: one call per index;
# overseas-minute-bars: the `overseas` symbols, from their last stored bar).
EXTRA_PARTS = ("index-minute-bars", "overseas-minute-bars")
# The research datasets fetched per stock.
STOCK_RESEARCH_PARTS = (
    "investor-flows",
    "short-sales",
    "credit-balance",
    "program-trades",
    "financials",
    "stock-info",
)
# Parts that fetch per stock: with no symbols named they take the default universe.
PER_SYMBOL_PARTS = frozenset({"bars", "minute-bars", *STOCK_RESEARCH_PARTS})
# Parts KIS does not serve on paper (40580000): a paper update leaves them out (investor flows
# come from FHKST01010900 there: pipelines.research_datasets).
REAL_ONLY = frozenset({"market-investor-flows", *STOCK_RESEARCH_PARTS} - {"investor-flows"})


def default_symbols(run: Run) -> list[str]:
    """The symbols an update without --symbols/--universe covers: those whose bars are stored,
    or on a first run the market-cap ranking's largest names (README "Trusting the numbers").
    Stored symbols since delisted are left out: KIS refuses their charts (MCA05918), and their
    history stays as stored."""
    stored = stored_symbols(run.rt.lake)
    if stored:
        gone = delisted_symbols(run.rt.lake)
        return [s for s in stored if s not in gone]
    client = run.rt.client
    ranked = pl.concat([client.market_cap_rank(market) for market in FIRST_RUN_MARKETS])
    return sorted(set(ranked["symbol"].to_list()))


def check_inputs(
    parts: set[str],
    symbols: list[str] | None,
    universe: str | None,
    indices: list[str] | None,
    overseas: list[str] | None,
    minute_symbols: list[str] | None,
    start: str | None,
    minutes_start: str | None,
) -> None:
    """Every option the parts will use, checked before any part writes (InputError: exit 2);
    relative dates need no calendar to be well-formed, so "today" stands in for it."""
    unknown = sorted(parts - set(PARTS) - set(EXTRA_PARTS))
    if unknown:
        raise InputError(
            f"unknown part {', '.join(unknown)}: choose from {', '.join(PARTS + EXTRA_PARTS)}"
        )
    stock_symbols(symbols)
    stock_symbols(minute_symbols)
    if universe and universe != ALL:
        read_universe_file(universe)
    index_codes(indices)
    overseas_symbols(overseas)
    today = date.today()
    parse_date(start, name="start", today=today)
    parse_date(minutes_start, name="minutes start", today=today)


@flow("update")
def update(
    symbols: list[str] | None = None,
    universe: str | None = None,
    indices: list[str] | None = None,
    overseas: list[str] | None = None,
    minute_symbols: list[str] | None = None,
    start: str | None = None,
    minutes_start: str | None = None,
    rankings: bool = True,
    parts: list[str] | None = None,
    home: str | None = None,
) -> RunSummary:
    """Bring every dataset up to date. Symbols: parameters, a universe file, `universe="all"`
    (the securities table), else `default_symbols`; minute bars for `minute_symbols` (default:
    the same symbols). `parts` picks parts by name (default PARTS; EXTRA_PARTS only when named)."""
    wanted = set(parts or PARTS)
    check_inputs(wanted, symbols, universe, indices, overseas, minute_symbols, start, minutes_start)
    steps: list[tuple[str, Callable[[], RunSummary]]] = [
        # The calendar over every day bars are stored for, so `check` can judge each one.
        ("holidays", lambda: ingest_holidays(start=start or DEFAULT_START, home=home)),
        ("securities", lambda: ingest_securities(home=home)),
        # Before the bars: a scheduled split restates the adjusted series it crosses.
        ("corporate-actions", lambda: ingest_corporate_actions(start=start, home=home)),
        (
            "bars",
            lambda: ingest_period_bars(symbols=symbols, universe=universe, start=start, home=home),
        ),
        (
            "index-bars",
            lambda: ingest_index_bars(
                codes=indices or list(DEFAULT_INDICES), start=start, home=home
            ),
        ),
        (
            "minute-bars",
            lambda: ingest_minute_bars(
                symbols=minute_symbols or symbols,
                universe=None if minute_symbols else universe,
                start=minutes_start,
                home=home,
            ),
        ),
    ]
    if overseas:
        steps.insert(
            4,
            (
                "overseas-bars",
                lambda: ingest_overseas_bars(symbols=overseas, start=start, home=home),
            ),
        )
    if rankings:
        steps.append(("rankings", lambda: ingest_rankings(home=home)))
    steps.append(
        (
            "index-minute-bars",
            lambda: ingest_index_minute_bars(codes=indices or list(DEFAULT_INDICES), home=home),
        )
    )
    if overseas:
        steps.append(
            (
                "overseas-minute-bars",
                lambda: ingest_overseas_minute_bars(
                    symbols=overseas, start=minutes_start, home=home
                ),
            )
        )
    # Research datasets (issue 15): KIS serves them on the real environment only.
    steps.append(
        (
            "investor-flows",
            lambda: ingest_investor_flows(
                symbols=symbols, universe=universe, start=start, home=home
            ),
        )
    )
    steps.append(
        ("market-investor-flows", lambda: ingest_market_investor_flows(start=start, home=home))
    )
    steps.append(
        (
            "short-sales",
            lambda: ingest_short_sales(symbols=symbols, universe=universe, start=start, home=home),
        )
    )
    steps.append(
        (
            "credit-balance",
            lambda: ingest_credit_balance(
                symbols=symbols, universe=universe, start=start, home=home
            ),
        )
    )
    steps.append(
        (
            "program-trades",
            lambda: ingest_program_trades(
                symbols=symbols, universe=universe, start=start, home=home
            ),
        )
    )
    steps.append(
        ("financials", lambda: ingest_financials(symbols=symbols, universe=universe, home=home))
    )
    steps.append(
        ("stock-info", lambda: ingest_stock_info(symbols=symbols, universe=universe, home=home))
    )
    failures: list[tuple[str, BaseException]] = []
    with flow_run("update", home) as run:
        if not symbols and not universe and wanted & PER_SYMBOL_PARTS:
            symbols = default_symbols(run)  # the steps read it when they run
        for name, step in steps:
            if name not in wanted or (name in REAL_ONLY and run.rt.settings.env == "paper"):
                continue
            try:
                run.summary.merge(step())
            except KisUnreachable:
                raise  # every other part would fail the same way
            except Exception as exc:  # noqa: BLE001 - the other parts still run
                failures.append((name, exc))
                run.summary.errors.append(f"{name}: {exc}")
    if failures:
        raise UpdateFailed.of(failures)
    return run.summary
