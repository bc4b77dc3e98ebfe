"""Minute bars: domestic stocks (today's and past days'), one job per symbol and day.

A day's bars are stored in one transaction, so an interrupted run keeps whole days and the next
run fetches the missing days only; today's bars before the close are re-fetched every run.
"""

from __future__ import annotations

from datetime import date
from functools import partial

import polars as pl
from prefect import flow
from prefect.task_runners import ThreadPoolTaskRunner

from pipelines.bars import WORKERS, resolve_range
from pipelines.jobs import Job, run_jobs
from pipelines.runs import flow_run
from pipelines.state import plan, trading_days
from pipelines.summary import RunSummary
from pipelines.universe import resolve_symbols
from schemas import MINUTE_BARS


@flow(name="minute-bars", task_runner=ThreadPoolTaskRunner(max_workers=WORKERS))
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
        days = trading_days(run.rt.lake, first, last)
        client = run.rt.client
        jobs: list[Job] = []
        for symbol in names:
            key = {"symbol": symbol}
            spans = plan(run.rt.lake, MINUTE_BARS, key, first, last, days, run.settled)
            if not spans:
                run.summary.skipped += 1
            for lo, hi in spans:
                for day in (d for d in days if lo <= d <= hi):
                    call = partial(_minute_bars, client, symbol, day, run.today)
                    jobs.append(Job(MINUTE_BARS, key, day, day, call, f"minute_bars {symbol} {day}"))
        run_jobs(run.rt, jobs, run.summary, label="minute bars", settled=run.settled, run_id=run.run_id)
        return run.summary


def _minute_bars(client, symbol: str, day: date, today: date) -> pl.DataFrame:  # type: ignore[no-untyped-def]
    # Today's bars come from the today-only API (no day argument); past days from the past-days API.
    return client.minute_bars(symbol) if day == today else client.minute_bars(symbol, day)
