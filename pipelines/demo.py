"""The demo: a sequence of steps against the embedded simulator, each a function of the context.

    holidays -> securities -> daily bars (~20 symbols, 3 years) -> index bars -> minute bars
    (~5 symbols, a week) -> rankings -> ticks + quotes (a few seconds, recorded and compacted)
    -> a paper order, the balance and executions -> summary -> research answers

Add a step by appending to STEPS (name, function). The demo always runs against the in-process
simulator, into its own home (default ./.kisdb/demo), whose lake is stamped `sim`: it never
writes synthetic rows into a lake holding KIS data (that lake refuses them).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
from rich.console import Console

from pipelines import progress
from pipelines.console import RichReporter, err_console, flow_console
from pipelines.render import VIEWS, print_frame, select_columns
from pipelines.runtime import Runtime, use_runtime
from pipelines.summary import RunSummary

# Liquid names across sectors, plus 에코프로 (086520: a 1:5 split in 2024, for the event study).
# Delisted names (셀트리온헬스케어 091990, 2023) are not quoted any more; they live on in the
# securities snapshots taken while they were listed.
DEMO_SYMBOLS = (
    "005930",
    "000660",
    "035420",
    "035720",
    "005380",
    "000270",
    "051910",
    "006400",
    "068270",
    "005490",
    "105560",
    "055550",
    "012330",
    "066570",
    "017670",
    "015760",
    "096770",
    "247540",
    "086520",
    "028300",
)
DEMO_MINUTE_SYMBOLS = ("005930", "000660", "035420", "086520", "005380")
DEMO_INDICES = ("0001", "1001", "2001")
DEMO_RECORD_SYMBOLS = DEMO_MINUTE_SYMBOLS  # trades + books: 10 of a session's 41 registrations
DEMO_MARKET_SPEED = 60.0  # sim seconds per wall second while recording (see step_record_ticks)
DEMO_ORDER_SYMBOL, DEMO_ORDER_QTY = "005930", 1
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
    summary: RunSummary = field(init=False)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.summary = RunSummary(flow="demo", context=self.rt.config.describe())


def _ingest(ctx: DemoContext, result: RunSummary) -> None:
    ctx.summary.merge(result)


def step_holidays(ctx: DemoContext) -> None:
    from pipelines.holidays_flow import ingest_holidays

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
    """A few seconds of trades (H0STCNT0) and books (H0STASP0) into the journal through the
    recorder, compaction into `ticks`/`quotes`, then what SQL sees of them.

    The synthetic tape has ~2,000-3,000 prints per symbol-day (one every ~10 s per symbol), and
    the embedded simulator's clock runs in real time: a 5-second recording at speed 1 holds about
    one print. So while recording, the market clock runs DEMO_MARKET_SPEED times faster (5 s of
    wall time = 5 min of trading), then back to real time; the demo says so."""
    if ctx.record_seconds <= 0:
        ctx.notes.append("ticks: skipped (--record-seconds 0)")
        return
    import asyncio

    from pipelines.embedded import simulator_at
    from pipelines.recorder import RecorderConfig, record
    from simulator.server import OnDemandSimulator
    from warehouse.compaction import compact_day

    settings = ctx.rt.settings
    config = RecorderConfig(symbols=DEMO_RECORD_SYMBOLS, quotes=True, duration=ctx.record_seconds)
    sim = simulator_at(settings)
    if isinstance(sim, OnDemandSimulator):
        sim.start()  # now, so its start does not eat the recording's few seconds
    started_ns = time.time_ns()
    with _market_speed(sim, DEMO_MARKET_SPEED):
        begin = ctx.rt.clock.now()
        result = asyncio.run(record(settings, config, clock=ctx.rt.clock))
        end = ctx.rt.clock.now()
    if sim is not None:
        ctx.console.print(
            f"market clock x{DEMO_MARKET_SPEED:g} while recording: "
            f"{begin:%Y-%m-%d %H:%M:%S} -> {end:%H:%M:%S} KST in {ctx.record_seconds:g} s",
            highlight=False,
        )
    days = sorted({_journal_day(p) for p in result.journals})
    # Compact with this run's lake connection (one writer per process).
    compacted = [r for d in days if (r := compact_day(ctx.rt.lake, settings.home, d)) is not None]
    for r in compacted:
        for table, upserted in r.upserts.items():
            if table != "journal_rejects" or upserted.written:
                ctx.summary.add(table, upserted)
    frames = dict(sorted(result.stats.frames.items()))
    ctx.notes.append(
        f"recorded {sum(frames.values())} frames {frames} in {ctx.record_seconds:g} s; compacted "
        f"{', '.join(f'{n} {t}' for r in compacted for t, n in r.rows.items() if n)} rows"
    )
    _show_recording(ctx, started_ns)


@contextmanager
def _market_speed(sim: Any, speed: float) -> Iterator[None]:
    """Run the in-process simulator's clock at `speed` inside the block (nothing without one:
    a remote simulator or KIS itself keep their own time)."""
    if sim is None:
        yield
        return
    before = sim.clock.speed
    sim.clock.set_speed(speed)
    try:
        yield
    finally:
        sim.clock.set_speed(before)


def recording_queries(since_ns: int) -> dict[str, str]:
    """SQL over what this recording added (rows received at or after `since_ns`, UTC ns)."""
    since = f"make_timestamp_ns({since_ns})"
    return {
        "Recorded rows": f"""
            SELECT 'ticks' AS "table", count(*) AS rows, count(DISTINCT symbol) AS symbols,
                   min(ts_event) AS first_event, max(ts_event) AS last_event
            FROM ticks WHERE ts_recv >= {since}
            UNION ALL
            SELECT 'quotes', count(*), count(DISTINCT symbol), min(ts_event), max(ts_event)
            FROM quotes WHERE ts_recv >= {since}""",
        "Last 5 ticks": f"""
            SELECT ts_event, symbol, price, qty, side, cum_volume
            FROM ticks WHERE ts_recv >= {since}
            ORDER BY ts_event DESC, journal DESC, line DESC, record DESC LIMIT 5""",
        "Ticks per symbol: count and VWAP (recorded prints vs the exchange's day VWAP)": f"""
            SELECT symbol, count(*) AS ticks, sum(qty) AS volume,
                   round(sum(price * qty) / sum(qty), 1) AS vwap_recorded,
                   arg_max(vwap, ts_event) AS vwap_day, min(price) AS low, max(price) AS high
            FROM ticks WHERE ts_recv >= {since}
            GROUP BY symbol ORDER BY symbol""",
        "Latest book per symbol": f"""
            SELECT symbol, arg_max(ts_event, ts_event) AS ts_event, arg_max(bid_px_1, ts_event) AS bid,
                   arg_max(ask_px_1, ts_event) AS ask, arg_max(bid_qty_1, ts_event) AS bid_qty,
                   arg_max(ask_qty_1, ts_event) AS ask_qty
            FROM quotes WHERE ts_recv >= {since}
            GROUP BY symbol ORDER BY symbol""",
    }


def _show_recording(ctx: DemoContext, since_ns: int) -> None:
    for title, sql in recording_queries(since_ns).items():
        print_frame(
            ctx.rt.lake.con.sql(sql).pl(), console=ctx.console, title=title, naive_ns_is_utc=True
        )


def _journal_day(path: Path) -> date:
    """Journals are named by their KST day (YYYY-MM-DD somewhere in the file name)."""
    import re

    found = re.search(r"(\d{4})-?(\d{2})-?(\d{2})", path.name)
    if found is None:
        raise ValueError(f"journal {path.name} carries no date")
    return date(int(found[1]), int(found[2]), int(found[3]))


def step_paper_order(ctx: DemoContext) -> None:
    """One small market buy on the simulator's account through the orders module, then the
    balance (holdings + cash) and the day's executions; the attempt is mirrored to `order_log`."""
    from connectors.kis.orders import mask_account
    from warehouse.order_log import mirror_order_log

    client = ctx.rt.client
    result = client.buy(DEMO_ORDER_SYMBOL, DEMO_ORDER_QTY, division="market", source="demo")
    print_frame(
        select_columns(pl.DataFrame([result.as_row()]), view=VIEWS["order"]),
        console=ctx.console,
        title=f"paper order: buy {DEMO_ORDER_QTY} {DEMO_ORDER_SYMBOL} at market",
    )
    if result.message:
        ctx.console.print(f"  {result.msg_cd or ''} {result.message}", highlight=False)
    executions = _wait_for_fill(client, result.order_no) if result.ok else pl.DataFrame()
    balance = client.balance()
    account = mask_account(client.settings.cano, client.settings.product_code)
    holdings = select_columns(balance.holdings, view=VIEWS["holdings"])
    print_frame(holdings, console=ctx.console, title=f"holdings {account}")
    cash = select_columns(pl.DataFrame([balance.cash.__dict__]), view=VIEWS["cash"])
    print_frame(cash, console=ctx.console, title="cash (KRW)")
    if not executions.is_empty():
        print_frame(
            select_columns(executions, view=VIEWS["executions"]),
            console=ctx.console,
            max_rows=10,
            title="executions today",
        )
    with ctx.rt.write_lock:
        ctx.summary.add("order_log", mirror_order_log(ctx.rt.lake, ctx.home))
    ctx.notes.append(
        f"paper order {result.status}"
        + (f" (order {result.order_no})" if result.order_no else f": {result.message}")
        + f"; try: kisdb balance --home {ctx.home}"
    )


def _wait_for_fill(client: Any, order_no: str | None, timeout: float = 5.0) -> pl.DataFrame:
    """The day's executions once `order_no` is filled (the simulator matches within ~0.2 s), or
    as they stand after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        frame: pl.DataFrame = client.executions()
        mine = frame.filter(pl.col("order_no") == order_no) if order_no else frame
        done = not mine.is_empty() and bool((mine["remaining_qty"] == 0).all())
        if done or time.monotonic() >= deadline:
            return frame.sort("order_time", descending=True)
        time.sleep(0.3)


def step_research(ctx: DemoContext) -> None:
    con = ctx.rt.lake.con
    for title, sql in QUERIES.items():
        frame: pl.DataFrame = con.sql(sql).pl()
        print_frame(frame, console=ctx.console, max_rows=12, title=title)


Step = Callable[[DemoContext], None]
STEPS: list[tuple[str, Step]] = [
    ("holidays", step_holidays),
    ("securities", step_securities),
    ("daily bars", step_daily_bars),
    ("index bars", step_index_bars),
    ("minute bars", step_minute_bars),
    ("rankings", step_rankings),
    ("ticks and quotes", step_record_ticks),
    ("paper order", step_paper_order),
]


def run_demo(
    home: Path,
    *,
    record_seconds: float = 5.0,
    verbose: bool = False,
    console: Console | None = None,
    steps: list[tuple[str, Step]] | None = None,
) -> DemoContext:
    """Run the demo into `home` (a sim lake) and print what it did; returns the context."""
    out = console or Console()
    home = home.expanduser().resolve()
    started = time.monotonic()
    # The demo always talks to the embedded simulator, whatever KIS_* the environment holds.
    with use_runtime(
        home, env="sim", base_url=None, ws_url=None, app_key=None, app_secret=None, account=None
    ) as rt:
        calls_before = rt.client.calls
        ctx = DemoContext(rt=rt, home=home, record_seconds=record_seconds, console=out)
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        # Results and the live bar share one console when stdout is a terminal: rich then prints
        # each table once above the bar (two consoles on one terminal overwrite each other).
        # Piped, stdout gets plain tables and the bar goes to stderr if that is a terminal.
        live = out if out.is_terminal else err_console
        bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=live,
            transient=True,
            disable=not live.is_terminal,
        )
        reporter = RichReporter(bars, keep_done=False)
        with flow_console(verbose), bars, progress.reporting(reporter):
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
        out.print(
            f'lake: {home} — try: kisdb sql --home {home} "SELECT * FROM bars_daily LIMIT 5"',
            highlight=False,
        )
    return ctx
