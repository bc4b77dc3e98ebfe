"""Period bars (D/W/M/Y): domestic stocks (adjusted and raw), indices, overseas symbols.

Each flow plans, per series, the ranges still missing (warehouse gaps + the ledger; today's bars
before the close are always re-fetched), fetches them concurrently and stores each as it arrives.
A second run with nothing new makes no KIS call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta
from functools import partial

import polars as pl

from pipelines.corporate_actions import AdjustedGuard
from pipelines.engine import flow
from pipelines.errors import InputError
from pipelines.jobs import FetchJob, run_jobs
from pipelines.ranges import check_range, parse_date
from pipelines.runs import Run, flow_run
from pipelines.summary import RunSummary
from pipelines.universe import index_codes, overseas_symbols, resolve_symbols
from schemas import CORPORATE_ACTIONS, INDEX_BARS, OVERSEAS_BARS, PERIOD_BARS, Dataset
from schemas.periods import PERIODS, period_start
from schemas.sessions import Finality, next_open
from warehouse.planning import action_dates, adjusted_anchors, plan, trading_days_or_weekdays

OVERSEAS_PERIODS = ("D", "W", "M")
DEFAULT_INDICES = ("0001", "1001", "2001")
# Concurrent fetches per flow: enough to keep the limiter's budget busy; the limiter paces them.
WORKERS = 4
# How far back bars go when no start is given (the holidays part of `update` covers it too).
DEFAULT_START = "1y"


def check_periods(periods: Sequence[str] | None, allowed: Sequence[str]) -> list[str]:
    chosen = [p.upper() for p in (periods or ["D"])]
    bad = [p for p in chosen if p not in allowed]
    if bad:
        raise InputError(f"unknown period {', '.join(bad)}: choose from {', '.join(allowed)}")
    return chosen


def resolve_range(
    run: Run, start: str | date | None, end: str | date | None, default_start: str
) -> tuple[date, date]:
    today = run.today
    first = parse_date(start or default_start, name="start", today=today)
    last = parse_date(end, name="end", today=today) or today
    assert first is not None
    if last > today:
        last = today  # nothing exists after today; asking for it would only cost calls
    check_range(first, last)
    return first, last


def overseas_sessions(run: Run) -> tuple[date, Finality]:
    """(settled, finality) in exchange-local dates: a US session ends after midnight KST, so the
    day before the KRX settled day is the last closed one; weekdays stand for sessions."""
    settled = run.settled - timedelta(days=1)
    return settled, Finality(next_open(settled, lambda d: d.weekday() < 5), run.now)


Series = tuple[Mapping[str, object], Callable[[date, date], pl.DataFrame]]


def series_jobs(
    run: Run,
    dataset: Dataset,
    series: Sequence[Series],
    first: date,
    last: date,
    days: Sequence[date],
    *,
    settled: date | None = None,
) -> list[FetchJob]:
    """One job per missing range of each (key, fetch call) series, planned in one pass."""
    keys = [key for key, _ in series]
    planned = plan(run.rt.lake, dataset, keys, first, last, days, settled or run.settled)
    jobs = []
    for (key, call), spans in zip(series, planned, strict=True):
        if not spans:
            run.summary.skipped += 1
        period = str(key.get("period", "D"))
        for lo, hi in spans:
            # A W/M/Y bar covers its whole period: fetch from the period's start so it is complete.
            fetch_from = max(period_start(lo, period), first)
            label = f"{dataset.name} {' '.join(str(v) for v in key.values())} {fetch_from}..{hi}"
            jobs.append(FetchJob(dataset, key, lo, hi, partial(call, fetch_from, hi), label))
    return jobs


@flow("bars", workers=WORKERS)
def ingest_period_bars(
    symbols: list[str] | None = None,
    universe: str | None = None,
    start: str | None = None,
    end: str | None = None,
    periods: list[str] | None = None,
    adjusted: list[bool] | None = None,
    home: str | None = None,
) -> RunSummary:
    """Domestic stock period bars for symbols (or a universe file, or the securities table)."""
    chosen = check_periods(periods, PERIODS)
    prices = adjusted if adjusted is not None else [True, False]
    with flow_run("bars", home) as run:
        first, last = resolve_range(run, start, end, DEFAULT_START)
        names = resolve_symbols(symbols, universe, run.rt.lake, on=last)
        days = trading_days_or_weekdays(run.rt.lake, first, last)
        client = run.rt.client
        # Adjusted series go through the guard: restated whole after a corporate action.
        anchors = adjusted_anchors(run.rt.lake, names, chosen) if True in prices else {}
        oldest = min((a.newest for a in anchors.values()), default=last)
        guard = AdjustedGuard(anchors, action_dates(run.rt.lake, names, oldest))

        def fetch(symbol: str, period: str, adj: bool) -> Callable[[date, date], pl.DataFrame]:
            call = partial(client.period_bars, symbol, period=period, adjusted=adj)
            return partial(guard.fetch, call, symbol, period) if adj else call

        series: list[Series] = [
            ({"symbol": symbol, "period": period, "adjusted": adj}, fetch(symbol, period, adj))
            for symbol in names
            for period in chosen
            for adj in prices
        ]
        jobs = series_jobs(run, PERIOD_BARS, series, first, last, days)
        try:
            run_jobs(
                run.rt,
                jobs,
                run.summary,
                label="daily bars",
                settled=run.settled,
                finality=run.finality,
                run_id=run.run_id,
            )
        finally:
            if guard.events:
                with run.rt.write_lock:
                    result = run.rt.lake.upsert(CORPORATE_ACTIONS, pl.concat(guard.events))
                run.summary.add(CORPORATE_ACTIONS.name, result)
        return run.summary


@flow("index-bars", workers=WORKERS)
def ingest_index_bars(
    codes: list[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    periods: list[str] | None = None,
    home: str | None = None,
) -> RunSummary:
    """Index period bars (KOSPI 0001, KOSDAQ 1001, KOSPI200 2001 by default)."""
    chosen = check_periods(periods, PERIODS)
    wanted = index_codes(codes) if codes else list(DEFAULT_INDICES)
    with flow_run("index-bars", home) as run:
        first, last = resolve_range(run, start, end, DEFAULT_START)
        days = trading_days_or_weekdays(run.rt.lake, first, last)
        client = run.rt.client
        series: list[Series] = [
            (
                {"index_code": code, "period": period},
                partial(client.index_bars, code, period=period),
            )
            for code in wanted
            for period in chosen
        ]
        jobs = series_jobs(run, INDEX_BARS, series, first, last, days)
        run_jobs(
            run.rt,
            jobs,
            run.summary,
            label="index bars",
            settled=run.settled,
            finality=run.finality,
            run_id=run.run_id,
        )
        return run.summary


@flow("overseas-bars", workers=WORKERS)
def ingest_overseas_bars(
    symbols: list[str],
    start: str | None = None,
    end: str | None = None,
    periods: list[str] | None = None,
    adjusted: list[bool] | None = None,
    home: str | None = None,
) -> RunSummary:
    """Overseas daily/weekly/monthly bars for EXCHANGE:TICKER symbols (NAS:AAPL, NYS:KO, ...)."""
    chosen = check_periods(periods, OVERSEAS_PERIODS)
    wanted = overseas_symbols(symbols)
    if not wanted:
        raise InputError("no overseas symbols: pass e.g. NAS:AAPL,NYS:KO")
    prices = adjusted if adjusted is not None else [True]
    with flow_run("overseas-bars", home) as run:
        first, last = resolve_range(run, start, end, DEFAULT_START)
        # Exchange-local dates: weekdays (the ledger absorbs US holidays after one fetch), and a
        # US session ends after midnight KST, so the day before yesterday is the last settled one.
        days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        days = [d for d in days if d.weekday() < 5]
        settled, finality = overseas_sessions(run)
        client = run.rt.client
        series: list[Series] = [
            (
                {"exchange": exchange, "symbol": symbol, "period": period, "adjusted": adj},
                partial(client.overseas_bars, exchange, symbol, period=period, adjusted=adj),
            )
            for exchange, symbol in wanted
            for period in chosen
            for adj in prices
        ]
        jobs = series_jobs(run, OVERSEAS_BARS, series, first, last, days, settled=settled)
        run_jobs(
            run.rt,
            jobs,
            run.summary,
            label="overseas bars",
            settled=settled,
            finality=finality,
            run_id=run.run_id,
        )
        return run.summary
