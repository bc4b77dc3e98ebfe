"""The research datasets beyond prices (issue 15): investor flows per stock and per market,
short selling, credit balances and program trading per stock, financial statements (point in
time: a restated period is stored as a new version, never over the old one) and a daily snapshot
of each stock's basic facts (listed shares, for the market cap).

The daily datasets are planned like the daily bars (pipelines/bars.py): per series, the ranges the
warehouse and the ledger still miss; today is fetched only once it is published (KIS publishes the
day's figures from 15:40; `published_through`). Investor flows come from FHPTJ04160001 on a real
account and, for the last 30 days of three groups, from FHKST01010900 on paper. Financials and
stock_info are snapshots taken at most once a day. A second run with nothing new makes no KIS call.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from functools import partial

import polars as pl

from connectors.kis import KisClient
from connectors.kis.market_data.investors import RECENT_DAYS
from pipelines.bars import WORKERS, Series, resolve_range, series_jobs
from pipelines.engine import flow
from pipelines.errors import InputError
from pipelines.jobs import FetchJob, run_jobs
from pipelines.runs import Run, flow_run
from pipelines.summary import RunSummary
from pipelines.universe import resolve_symbols
from schemas import (
    CREDIT_BALANCE,
    FINANCIALS,
    INVESTOR_FLOWS,
    MARKET_INVESTOR_FLOWS,
    PROGRAM_TRADES,
    SHORT_SALES,
    STOCK_INFO,
    Dataset,
)
from schemas.research import FULL_SOURCE_MARK, RECENT_SOURCE_MARK, STATEMENT_ITEMS
from schemas.sessions import closed_through
from warehouse.ledger import complete_ranges_many, ledger_key
from warehouse.planning import MARKETS, stored_bounds, trading_days_or_weekdays
from warehouse.versions import changed_rows, latest_versions

# KIS publishes a day's research figures 10 minutes after the close (15:40 on a 15:30 close).
PUBLICATION_DELAY = timedelta(minutes=10)


def published_through(run: Run) -> date:
    """The last day whose research figures are out: a range fetched before 15:40 that came back
    without today must not be recorded complete through today."""
    return closed_through(run.now - PUBLICATION_DELAY, run.is_trading_day)


def _daily_series(
    run: Run,
    dataset: Dataset,
    series: Callable[[date], list[Series]],
    start: str | None,
    end: str | None,
    label: str,
    *,
    last_days: int | None = None,
) -> RunSummary:
    """Fetch what the lake misses of each series (`series(last day)`) in [start, end], never
    past the last published day, nor before the `last_days` trading days an API keeps."""
    first, last = resolve_range(run, start, end, "1y")
    published = published_through(run)
    last = min(last, published)
    days = trading_days_or_weekdays(run.rt.lake, first, last) if first <= last else []
    if last_days is not None and len(days) > last_days:
        days = days[-last_days:]
        first = days[0]
    jobs = series_jobs(run, dataset, series(last), first, last, days, settled=published)
    run_jobs(run.rt, jobs, run.summary, label=label, settled=published, run_id=run.run_id)
    return run.summary


def _per_stock(
    name: str,
    dataset: Dataset,
    method: str,
    symbols: list[str] | None,
    universe: str | None,
    start: str | None,
    end: str | None,
    home: str | None,
) -> RunSummary:
    """One series per symbol of a daily per-stock dataset, fetched by `client.<method>`."""
    with flow_run(name, home) as run:

        def series(last: date) -> list[Series]:
            names = resolve_symbols(symbols, universe, run.rt.lake, on=last)
            fetch = getattr(run.rt.client, method)
            return [({"symbol": symbol}, partial(fetch, symbol)) for symbol in names]

        return _daily_series(run, dataset, series, start, end, name.replace("-", " "))


def _recent_flows(client: KisClient, symbol: str, lo: date, hi: date) -> pl.DataFrame:
    frame = client.recent_investor_flows(symbol)
    return frame.filter(pl.col("date").is_between(lo, hi))


@flow("investor-flows", workers=WORKERS)
def ingest_investor_flows(
    symbols: list[str] | None = None,
    universe: str | None = None,
    start: str | None = None,
    end: str | None = None,
    home: str | None = None,
) -> RunSummary:
    """Buy/sell/net shares and KRW per investor type per day: all 15 types from FHPTJ04160001 on
    a real account; on paper (where KIS does not serve it) foreign, individual and institution of
    the last 30 trading days from FHKST01010900, one call a stock: run daily, a history builds up."""
    with flow_run("investor-flows", home) as run:
        paper = run.rt.settings.env == "paper"
        client = run.rt.client

        # Each source's series is keyed by its marker type (schemas.research): a day the paper
        # source filled is still missing for the full one (a lake moved to a real account
        # completes it), and the ledger tells the sources apart.
        def series(last: date) -> list[Series]:
            names = resolve_symbols(symbols, universe, run.rt.lake, on=last)
            if paper:
                return [
                    (
                        {"symbol": s, "investor": RECENT_SOURCE_MARK},
                        partial(_recent_flows, client, s),
                    )
                    for s in names
                ]
            return [
                ({"symbol": s, "investor": FULL_SOURCE_MARK}, partial(client.investor_flows, s))
                for s in names
            ]

        return _daily_series(
            run,
            INVESTOR_FLOWS,
            series,
            start,
            end,
            "investor flows",
            last_days=RECENT_DAYS if paper else None,
        )


@flow("short-sales", workers=WORKERS)
def ingest_short_sales(
    symbols: list[str] | None = None,
    universe: str | None = None,
    start: str | None = None,
    end: str | None = None,
    home: str | None = None,
) -> RunSummary:
    """Shares and KRW sold short per stock per day (FHPST04830000, real only)."""
    return _per_stock(
        "short-sales", SHORT_SALES, "short_sales", symbols, universe, start, end, home
    )


@flow("credit-balance", workers=WORKERS)
def ingest_credit_balance(
    symbols: list[str] | None = None,
    universe: str | None = None,
    start: str | None = None,
    end: str | None = None,
    home: str | None = None,
) -> RunSummary:
    """Margin and stock loans opened, repaid and outstanding per stock per day (FHPST04760000)."""
    return _per_stock(
        "credit-balance", CREDIT_BALANCE, "credit_balance", symbols, universe, start, end, home
    )


@flow("program-trades", workers=WORKERS)
def ingest_program_trades(
    symbols: list[str] | None = None,
    universe: str | None = None,
    start: str | None = None,
    end: str | None = None,
    home: str | None = None,
) -> RunSummary:
    """Shares and KRW bought/sold by program trading per stock per day (FHPPG04650201)."""
    return _per_stock(
        "program-trades", PROGRAM_TRADES, "program_trades", symbols, universe, start, end, home
    )


@flow("market-investor-flows", workers=WORKERS)
def ingest_market_investor_flows(
    markets: list[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    home: str | None = None,
) -> RunSummary:
    """Net shares and KRW per investor type per day of KOSPI and KOSDAQ (FHPTJ04040000)."""
    wanted = [m.upper() for m in markets or MARKETS]
    bad = [m for m in wanted if m not in MARKETS]
    if bad:
        raise InputError(f"unknown market {', '.join(bad)}: choose from {', '.join(MARKETS)}")
    with flow_run("market-investor-flows", home) as run:

        def series(_last: date) -> list[Series]:
            fetch = run.rt.client.market_investor_flows
            return [({"market": market}, partial(fetch, market)) for market in wanted]

        return _daily_series(
            run, MARKET_INVESTOR_FLOWS, series, start, end, "market investor flows"
        )


STATEMENTS = tuple(STATEMENT_ITEMS)
PERIOD_KINDS = ("annual", "quarterly")


@flow("financials", workers=WORKERS)
def ingest_financials(
    symbols: list[str] | None = None,
    universe: str | None = None,
    home: str | None = None,
) -> RunSummary:
    """Balance sheet, income statement and ratios, annual and quarterly, for each symbol
    (FHKST66430100/200/300, six calls a symbol, once a day); stores only new periods and
    restatements."""
    with flow_run("financials", home) as run:
        today = run.today
        names = resolve_symbols(symbols, universe, run.rt.lake, on=today)
        # Checked today already (the ledger says so, even when nothing had changed): skip.
        keys = {s: ledger_key(FINANCIALS, {"symbol": s}) for s in names}
        checked = complete_ranges_many(run.rt.lake, FINANCIALS, list(keys.values()))
        todo = [s for s in names if not any(lo <= today <= hi for lo, hi in checked[keys[s]])]
        run.summary.skipped += len(names) - len(todo)
        # Read before any fetch: the jobs compare in memory, off the lake's connection.
        latest = latest_versions(run.rt.lake, FINANCIALS, "seen_date", todo)
        client = run.rt.client

        def fetch_symbol(symbol: str) -> pl.DataFrame:
            fresh = pl.concat(
                [
                    client.financials(symbol, statement, kind)
                    for statement in STATEMENTS
                    for kind in PERIOD_KINDS
                ]
            )
            known = latest.filter(pl.col("symbol") == symbol)
            return changed_rows(fresh, known, FINANCIALS, "seen_date")

        jobs = [
            FetchJob(
                FINANCIALS,
                {"symbol": symbol},
                today,
                today,
                partial(fetch_symbol, symbol),
                f"financials {symbol}",
            )
            for symbol in todo
        ]
        # The ledger notes today's check of each symbol as complete.
        run_jobs(run.rt, jobs, run.summary, label="financials", settled=today, run_id=run.run_id)
        return run.summary


@flow("stock-info", workers=WORKERS)
def ingest_stock_info(
    symbols: list[str] | None = None,
    universe: str | None = None,
    home: str | None = None,
) -> RunSummary:
    """Today's snapshot of each stock's basic facts (CTPF1002R, one call a stock not yet
    snapshotted today): listed shares over time give `market_cap_daily`."""
    with flow_run("stock-info", home) as run:
        today = run.today
        names = resolve_symbols(symbols, universe, run.rt.lake, on=today)
        latest = stored_bounds(run.rt.lake, STOCK_INFO, ["symbol"], column="snapshot_date")
        todo = [s for s in names if latest.get((s,), (None, None))[1] != today]
        run.summary.skipped += len(names) - len(todo)
        client = run.rt.client
        jobs = [
            FetchJob(
                STOCK_INFO,
                {"symbol": symbol},
                today,
                today,
                partial(client.stock_info, symbol),
                f"stock_info {symbol}",
            )
            for symbol in todo
        ]
        run_jobs(run.rt, jobs, run.summary, label="stock info", settled=date.min, run_id=run.run_id)
        return run.summary
