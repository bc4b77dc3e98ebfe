"""Minute bars: domestic stocks (today's and past days'), indices, overseas symbols.

Stocks: one job per missing range of a symbol (`fetch_ranges`): the past days of a range in one
past-days fetch, whose 120-bar pages run on across days, so a year of minutes costs
ceil(bars / 120) calls (a job per day would pay a part-filled last page every day: 4 calls for
381 bars instead of 3.2); today's bars through today's API. A range's bars are stored in one
transaction, so an interrupted run keeps whole ranges and the next run fetches the rest; today's
bars before the close are re-fetched every run.

Indices: KIS answers with the latest bars only (at most 102, ~1.7 h, no continuation), so the
flow takes a snapshot per index and the deployment runs a few times a session; every run
upserts what it got (a partial last bar is overwritten by the next run).

Overseas: each symbol resumes from its last stored bar (inclusive: that bar may have been partial)
and pages back no further; a first run goes back to `start` (KIS keeps about a month).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from datetime import date, datetime, time
from functools import partial
from zoneinfo import ZoneInfo

import polars as pl

from connectors.kis.api import KisClient
from connectors.kis.market_data.overseas import EXCHANGE_ZONES
from pipelines.bars import DEFAULT_INDICES, WORKERS, overseas_sessions, resolve_range
from pipelines.engine import flow
from pipelines.errors import InputError
from pipelines.jobs import FetchJob, run_jobs
from pipelines.runs import flow_run
from pipelines.summary import RunSummary
from pipelines.universe import index_codes, overseas_symbols, resolve_symbols
from schemas import INDEX_MINUTE_BARS, MINUTE_BARS, OVERSEAS_MINUTE_BARS
from warehouse.planning import plan, stored_bounds, trading_days_or_weekdays

# The minute tables hold one-minute bars only (their key has no bar length).
INDEX_BAR_SECONDS = 60
OVERSEAS_BAR_MINUTES = 1


@flow("minute-bars", workers=WORKERS)
def ingest_minute_bars(
    symbols: list[str] | None = None,
    universe: str | None = None,
    start: str | None = None,
    end: str | None = None,
    home: str | None = None,
) -> RunSummary:
    """One-minute bars per trading day in [start, end] (default: the last 7 calendar days)."""
    with flow_run("minute-bars", home) as run:
        first, last = resolve_range(run, start, end, "7d")
        names = resolve_symbols(symbols, universe, run.rt.lake, on=last)
        days = trading_days_or_weekdays(run.rt.lake, first, last)
        client = run.rt.client
        jobs: list[FetchJob] = []
        keys = [{"symbol": symbol} for symbol in names]
        planned = plan(run.rt.lake, MINUTE_BARS, keys, first, last, days, run.settled)
        for key, spans in zip(keys, planned, strict=True):
            symbol = key["symbol"]
            if not spans:
                run.summary.skipped += 1
            for lo, hi in fetch_ranges(spans, days, run.today):
                call = partial(_minute_bars, client, symbol, lo, hi, run.today)
                label = f"minute_bars {symbol} {lo}..{hi}"
                jobs.append(FetchJob(MINUTE_BARS, key, lo, hi, call, label))
        run_jobs(
            run.rt,
            jobs,
            run.summary,
            label="minute bars",
            settled=run.settled,
            finality=run.finality,
            run_id=run.run_id,
        )
        return run.summary


def fetch_ranges(
    spans: Sequence[tuple[date, date]], days: Sequence[date], today: date
) -> list[tuple[date, date]]:
    """The fetches of one symbol's missing `spans` (pure; `days` ascending): each span's days
    before today as one range, today on its own (today's bars come from another API)."""
    ranges = []
    for lo, hi in spans:
        first, last = bisect_left(days, lo), bisect_right(days, hi) - 1
        if last >= first and days[last] >= today:
            last = bisect_left(days, today) - 1
        if last >= first:
            ranges.append((days[first], days[last]))
        if lo <= today <= hi:
            ranges.append((today, today))
    return ranges


def _minute_bars(
    client: KisClient, symbol: str, start: date, end: date, today: date
) -> pl.DataFrame:
    # Today's bars come from the today-only API (no day argument); past days from the past-days API.
    if start == end == today:
        return client.minute_bars(symbol)
    return client.minute_bars(symbol, start_day=start, end_day=end)


@flow("index-minute-bars", workers=WORKERS)
def ingest_index_minute_bars(
    codes: list[str] | None = None,
    include_past: bool = False,
    home: str | None = None,
) -> RunSummary:
    """The latest one-minute bars of each index (default KOSPI, KOSDAQ, KOSPI200): up to 102,
    today's only unless `include_past` (then the 102 reach back into previous sessions)."""
    wanted = index_codes(codes) if codes else list(DEFAULT_INDICES)
    with flow_run("index-minute-bars", home) as run:
        client = run.rt.client
        jobs = [
            FetchJob(
                INDEX_MINUTE_BARS,
                {"index_code": code},
                run.today,
                run.today,
                partial(
                    client.index_minute_bars, code, INDEX_BAR_SECONDS, include_past=include_past
                ),
                f"index_minute_bars {code}",
            )
            for code in wanted
        ]
        # A snapshot of the latest bars never makes a day complete: no ledger range.
        run_jobs(
            run.rt,
            jobs,
            run.summary,
            label="index minute bars",
            settled=date.min,
            finality=run.finality,
            run_id=run.run_id,
        )
        return run.summary


@flow("overseas-minute-bars", workers=WORKERS)
def ingest_overseas_minute_bars(
    symbols: list[str],
    start: str | None = None,
    home: str | None = None,
) -> RunSummary:
    """One-minute bars of EXCHANGE:TICKER symbols since the last stored bar of each (first run:
    since `start`, exchange-local midnight; default 7 days back)."""
    wanted = overseas_symbols(symbols)
    if not wanted:
        raise InputError("no overseas symbols: pass e.g. NAS:AAPL,NYS:KO")
    with flow_run("overseas-minute-bars", home) as run:
        first, last = resolve_range(run, start, None, "7d")
        # From the last final bar: the provisional ones (a session still open) are re-read.
        stored = stored_bounds(
            run.rt.lake,
            OVERSEAS_MINUTE_BARS,
            ("exchange", "symbol"),
            column="ts",
            where="final IS NOT FALSE",
        )
        client = run.rt.client
        jobs = []
        for exchange, symbol in wanted:
            since = resume_from(stored.get((exchange, symbol)), first, exchange)
            jobs.append(
                FetchJob(
                    OVERSEAS_MINUTE_BARS,
                    {"exchange": exchange, "symbol": symbol},
                    first,
                    last,
                    partial(
                        client.overseas_minute_bars,
                        exchange,
                        symbol,
                        OVERSEAS_BAR_MINUTES,
                        since=since,
                    ),
                    f"overseas_minute_bars {exchange}:{symbol} since {since:%Y-%m-%d %H:%M %Z}",
                )
            )
        # KIS keeps about a month and the newest bar is always re-read: no ledger range either.
        run_jobs(
            run.rt,
            jobs,
            run.summary,
            label="overseas minute bars",
            settled=date.min,
            finality=overseas_sessions(run)[1],
            run_id=run.run_id,
        )
        return run.summary


def resume_from(bounds: tuple[datetime, datetime] | None, first: date, exchange: str) -> datetime:
    """Where a symbol's fetch starts: its last stored bar (re-read: it may have been partial), or
    exchange-local midnight of `first` when nothing is stored (pure)."""
    if bounds is not None and bounds[1] is not None:
        return bounds[1]
    return datetime.combine(first, time(), tzinfo=ZoneInfo(EXCHANGE_ZONES[exchange]))
