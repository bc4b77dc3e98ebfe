"""The demo: a sequence of steps against the embedded simulator, each a function of the context.

    holidays -> securities -> daily bars (~20 symbols, 3 years) -> index bars -> minute bars
    (~5 symbols, a week) -> rankings -> [ticks] -> [paper order] -> summary -> research answers

Add a step by appending to STEPS (name, function). Steps that need parts not installed are
skipped with a note, so the demo keeps working while the project grows.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl
from rich.console import Console

from pipelines import progress
from pipelines.console import (
    RichReporter,
    err_console,
    fast_flows,
    prefect_env_defaults,
    quiet_prefect,
)
from pipelines.runtime import Runtime, use_runtime
from pipelines.summary import RunSummary

# Liquid names across sectors, plus 에코프로 (086520: a 1:5 split in 2024, for the event study).
# Delisted names (셀트리온헬스케어 091990, 2023) are not quoted any more; they live on in the
# securities snapshots taken while they were listed.
DEMO_SYMBOLS = (
    "005930", "000660", "035420", "035720", "005380", "000270", "051910", "006400", "068270",
    "005490", "105560", "055550", "012330", "066570", "017670", "015760", "096770", "247540",
    "086520", "028300",
)
DEMO_MINUTE_SYMBOLS = ("005930", "000660", "035420", "086520", "005380")
DEMO_INDICES = ("0001", "1001", "2001")

QUERIES: dict[str, str] = {
    "Top 5 movers over the last month (adjusted closes)": """
        WITH last AS (SELECT max(date) AS d FROM bars_daily),
        win AS (
            SELECT symbol, date, close FROM bars_daily, last
            WHERE date > d - INTERVAL 1 MONTH AND date <= d
        )
        SELECT w.symbol, any_value(s.name) AS name,
               arg_min(w.close, w.date) AS first_close, arg_max(w.close, w.date) AS last_close,
               round(100.0 * (arg_max(w.close, w.date) / arg_min(w.close, w.date) - 1), 2) AS pct
        FROM win w LEFT JOIN securities_latest s USING (symbol)
        GROUP BY w.symbol ORDER BY abs(pct) DESC LIMIT 5""",
    "20-day average volume (top 10)": """
        SELECT symbol, round(avg(volume))::BIGINT AS avg_volume_20d, count(*) AS days
        FROM (
            SELECT symbol, volume,
                   row_number() OVER (PARTITION BY symbol ORDER BY date DESC) AS rn
            FROM bars_daily
        ) WHERE rn <= 20
        GROUP BY symbol ORDER BY avg_volume_20d DESC LIMIT 10""",
    "VWAP per day from minute bars (typical price)": """
        SELECT symbol, date,
               round(sum((high + low + close) / 3.0 * volume) / nullif(sum(volume), 0), 1) AS vwap,
               sum(volume) AS volume, count(*) AS bars
        FROM minutes GROUP BY symbol, date ORDER BY symbol, date""",
}


@dataclass
class DemoContext:
    rt: Runtime
    home: Path
    record_seconds: float
    console: Console
    summary: RunSummary = field(default_factory=lambda: RunSummary(flow="demo"))
    notes: list[str] = field(default_factory=list)


def _ingest(ctx: DemoContext, result: RunSummary) -> None:
    ctx.summary.merge(result)


def step_holidays(ctx: DemoContext) -> None:
    from pipelines.holidays import ingest_holidays

    _ingest(ctx, ingest_holidays(start="3y"))


def step_securities(ctx: DemoContext) -> None:
    from pipelines.securities import ingest_securities

    _ingest(ctx, ingest_securities())


def step_daily_bars(ctx: DemoContext) -> None:
    from pipelines.bars import ingest_period_bars

    _ingest(ctx, ingest_period_bars(symbols=list(DEMO_SYMBOLS), start="3y", periods=["D"]))


def step_index_bars(ctx: DemoContext) -> None:
    from pipelines.bars import ingest_index_bars

    _ingest(ctx, ingest_index_bars(codes=list(DEMO_INDICES), start="3y"))


def step_minute_bars(ctx: DemoContext) -> None:
    from pipelines.minutes import ingest_minute_bars

    _ingest(ctx, ingest_minute_bars(symbols=list(DEMO_MINUTE_SYMBOLS), start="7d"))


def step_rankings(ctx: DemoContext) -> None:
    from pipelines.rankings import ingest_rankings

    _ingest(ctx, ingest_rankings())


def step_record_ticks(ctx: DemoContext) -> None:
    """A few seconds of H0STCNT0 ticks into the journal, then compaction into `ticks`."""
    if ctx.record_seconds <= 0:
        return
    if importlib.util.find_spec("pipelines.recorder") is None:
        ctx.notes.append("recorder not installed: skipped recording ticks")
        return
    import asyncio

    from pipelines.recorder import RecorderConfig, record
    from warehouse.compaction import compact_day

    config = RecorderConfig(symbols=DEMO_MINUTE_SYMBOLS[:2], duration=ctx.record_seconds)
    result = asyncio.run(record(ctx.rt.settings, config))
    # Compact with this run's lake connection (one writer per process).
    days = sorted({_journal_day(p) for p in result.journals})
    compacted = [r for d in days if (r := compact_day(ctx.rt.lake, ctx.rt.settings.home, d)) is not None]
    ctx.notes.append(
        f"recorded {sum(result.stats.frames.values())} frames in {ctx.record_seconds:g} s; "
        f"compacted {sum(sum(r.rows.values()) for r in compacted)} rows"
    )


def _journal_day(path: Path) -> date:
    """Journals are named by their KST day (YYYY-MM-DD somewhere in the file name)."""
    import re

    found = re.search(r"(\d{4})-?(\d{2})-?(\d{2})", path.name)
    if found is None:
        raise ValueError(f"journal {path.name} carries no date")
    return date(int(found[1]), int(found[2]), int(found[3]))


def step_paper_order(ctx: DemoContext) -> None:
    """One small buy on the simulator's paper account, through the order flow."""
    if importlib.util.find_spec("pipelines.orders_flow") is None:
        ctx.notes.append("order flow not installed: skipped the paper order")
        return
    from pipelines.orders_flow import rebalance_flow

    placed = rebalance_flow(targets={"005930": 1}, dry_run=False)
    ctx.notes.append(f"paper order flow: {len(placed)} order(s) placed")


def step_research(ctx: DemoContext) -> None:
    from pipelines.commands.sql import render_table

    con = ctx.rt.lake.con
    for title, sql in QUERIES.items():
        frame: pl.DataFrame = con.sql(sql).pl()
        ctx.console.print(render_table(frame, max_rows=12, title=title))


Step = Callable[[DemoContext], None]
STEPS: list[tuple[str, Step]] = [
    ("holidays", step_holidays),
    ("securities", step_securities),
    ("daily bars", step_daily_bars),
    ("index bars", step_index_bars),
    ("minute bars", step_minute_bars),
    ("rankings", step_rankings),
    ("ticks", step_record_ticks),
    ("paper order", step_paper_order),
]


def run_demo(home: Path, *, record_seconds: float = 3.0, verbose: bool = False,
             console: Console | None = None, steps: list[tuple[str, Step]] | None = None) -> DemoContext:
    """Run the demo into `home` (a sim lake) and print what it did; returns the context."""
    out = console or Console()
    prefect_env_defaults()
    quiet_prefect(verbose)
    home = home.expanduser().resolve()
    started = time.monotonic()
    # The demo always talks to the embedded simulator, whatever KIS_* the environment holds.
    with use_runtime(home, env="sim", base_url=None, ws_url=None, app_key=None,
                     app_secret=None, account=None) as rt:
        calls_before = rt.client.calls
        ctx = DemoContext(rt=rt, home=home, record_seconds=record_seconds, console=out)
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=err_console, disable=not err_console.is_terminal)
        with fast_flows(), bars, progress.reporting(RichReporter(bars)):
            for name, step in steps or STEPS:
                out.print(f"[bold]demo:[/bold] {name}", highlight=False)
                try:
                    step(ctx)
                except ImportError as exc:
                    ctx.notes.append(f"{name}: skipped ({exc})")
        ctx.summary.finish(rt.client.calls - calls_before)
        ctx.summary.duration = time.monotonic() - started
        out.print(ctx.summary.table())
        for note in ctx.notes:
            out.print(f"note: {note}", highlight=False)
        step_research(ctx)
        out.print(f"lake: {home} — try: kisdb sql --home {home} \"SELECT * FROM bars_daily LIMIT 5\"",
                  highlight=False)
    return ctx
