"""The research datasets beyond prices (issue 15): investor flows per stock per day.

Planned like the daily bars (pipelines/bars.py): per symbol, the ranges the warehouse and the
ledger still miss; today is fetched only once it has settled (KIS publishes the day's investor
figures from 15:40). A second run with nothing new makes no KIS call.
"""

from __future__ import annotations

from functools import partial

from prefect import flow
from prefect.task_runners import ThreadPoolTaskRunner

from pipelines.bars import WORKERS, Series, resolve_range, series_jobs
from pipelines.jobs import run_jobs
from pipelines.runs import flow_run
from pipelines.summary import RunSummary
from pipelines.universe import resolve_symbols
from schemas import INVESTOR_FLOWS
from warehouse.planning import trading_days_or_weekdays


@flow(name="investor-flows", task_runner=ThreadPoolTaskRunner(max_workers=WORKERS))
def ingest_investor_flows(
    symbols: list[str] | None = None,
    universe: str | None = None,
    start: str | None = None,
    end: str | None = None,
    home: str | None = None,
) -> RunSummary:
    """Buy/sell/net shares and KRW per investor type per day (FHPTJ04160001, real only)."""
    with flow_run("investor-flows", home) as run:
        first, last = resolve_range(run, start, end, "1y")
        # The day is published after the close: never ask for an unsettled day.
        last = min(last, run.settled)
        names = resolve_symbols(symbols, universe, run.rt.lake, on=last)
        days = trading_days_or_weekdays(run.rt.lake, first, last) if first <= last else []
        client = run.rt.client
        series: list[Series] = [
            ({"symbol": symbol}, partial(client.investor_flows, symbol)) for symbol in names
        ]
        jobs = series_jobs(run, INVESTOR_FLOWS, series, first, last, days)
        run_jobs(
            run.rt,
            jobs,
            run.summary,
            label="investor flows",
            settled=run.settled,
            run_id=run.run_id,
        )
        return run.summary
