"""`kisdb record`, `kisdb compact`, `kisdb replay`: the recorder and its journal on the CLI.

Errors are raised, and turned into exit codes by pipelines/cli.py's table."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pipelines.console import fail
from pipelines.errors import InputError

if TYPE_CHECKING:  # schemas loads Polars: not for `kisdb --help`
    from schemas.clock import Clock


def _config(home: Path | None) -> Any:
    from pipelines.config import load_config

    return load_config(home)


def _parse_day(text: str | None, config: Any) -> date:
    """--date in any form the other commands take (2024-01-02, 20240102, 1d), else today on the
    market's clock."""
    from pipelines.embedded import market_clock
    from pipelines.ranges import parse_date

    today = market_clock(config.kis).today()
    return parse_date(text, name="--date", today=today) or today


def record(
    symbols: Annotated[
        str, typer.Option("--symbols", help="comma-separated stocks: 005930,000660 or names")
    ],
    quotes: Annotated[
        bool, typer.Option("--quotes", help="also record the 10-level book (H0STASP0)")
    ] = False,
    notices: Annotated[
        bool, typer.Option("--notices", help="also record execution notices (needs KIS_HTS_ID)")
    ] = False,
    until: Annotated[str | None, typer.Option("--until", help="stop at HH:MM (KST)")] = None,
    for_: Annotated[
        str | None, typer.Option("--for", help="stop after a duration: 30s, 5m, 2h")
    ] = None,
    flush_interval: Annotated[
        float, typer.Option(help="fsync period in seconds (what a power cut may lose)")
    ] = 1.0,
    queue_size: Annotated[
        int, typer.Option(help="frames buffered between the socket and the disk")
    ] = 100_000,
    stale_after: Annotated[
        float, typer.Option(help="report the stream stale after this many seconds without frames")
    ] = 30.0,
    stats_interval: Annotated[float, typer.Option(help="seconds between stats lines")] = 5.0,
    home: Annotated[Path | None, typer.Option(help="KISDB_HOME override")] = None,
) -> None:
    """Record realtime trades (and quotes / notices) into the day's journal."""
    from pipelines.recorder import RecorderConfig, parse_duration, parse_until
    from pipelines.recorder import record as run_record
    from pipelines.runtime import resolve_config
    from pipelines.symbols import resolve_symbols
    from pipelines.universe import stock_symbols

    codes = tuple(stock_symbols(resolve_symbols(symbols, _config(home))))
    if not codes:
        raise InputError("--symbols needs at least one stock code")
    try:
        duration = parse_duration(for_) if for_ else None
    except ValueError as exc:
        raise InputError(str(exc)) from None
    app, clock = resolve_config(_config(home))  # may start the embedded simulator
    try:
        end = parse_until(until, clock.now()) if until else None
    except ValueError as exc:
        raise InputError(str(exc)) from None
    config = RecorderConfig(
        symbols=codes,
        quotes=quotes,
        notices=notices,
        until=end,
        duration=duration,
        flush_interval=flush_interval,
        queue_size=queue_size,
        stale_after=stale_after,
        stats_interval=stats_interval,
    )
    _log_to_stderr()
    result = asyncio.run(_run_with_live(run_record, app.kis, config, clock))
    stats = result.stats
    typer.echo(
        f"stopped ({result.reason}): {sum(stats.frames.values())} frames "
        f"{dict(stats.frames)}, reconnects {stats.reconnects}, dropped {stats.dropped}; "
        f"journal {', '.join(str(p) for p in result.journals) or '-'}; {app.describe()}"
    )
    for refusal in result.refused:
        typer.echo(f"  refused {refusal}")


class _Stderr:
    """sys.stderr as it is at each write: while the live table runs, rich's proxy, which prints
    the line above the table instead of through it."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def _kst(seconds: float | None) -> time.struct_time:
    from schemas.clock import KST

    return datetime.fromtimestamp(time.time() if seconds is None else seconds, KST).timetuple()


def _log_to_stderr() -> None:
    """Stats and connection events as log lines stamped in KST, whatever logging setup Prefect
    installed."""
    handler = logging.StreamHandler(_Stderr())
    formatter = logging.Formatter("%(asctime)s KST %(levelname)s %(message)s")
    formatter.converter = _kst
    handler.setFormatter(formatter)
    for name in ("kisdb.recorder", "connectors.kis.ws_client"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(logging.INFO)
        logger.propagate = False


async def _run_with_live(run_record: Any, settings: Any, config: Any, clock: Clock) -> Any:
    if not sys.stdout.isatty():
        return await run_record(settings, config, clock=clock)
    from rich.live import Live

    with Live(refresh_per_second=2, transient=True) as live:
        return await run_record(settings, config, clock=clock, live=live)


def compact(
    date_: Annotated[
        str | None, typer.Option("--date", help="KST day: 2024-01-02, 20240102, 1d (default today)")
    ] = None,
    all_days: Annotated[bool, typer.Option("--all", help="every journal day")] = False,
    home: Annotated[Path | None, typer.Option(help="KISDB_HOME override")] = None,
) -> None:
    """Parse journals into the ticks, quotes and execution_notices tables (idempotent)."""
    from rich.console import Console
    from rich.table import Table

    from pipelines.recorder.flows import compact as run_compact

    app = _config(home)
    settings = app.kis
    days = None if all_days else [_parse_day(date_, app)]
    results = run_compact(app, days)
    if not results:
        raise fail(
            f"no journal for {days[0] if days else 'any day'} under {settings.home / 'journal'}"
        )
    table = Table(
        "journal",
        "lines",
        "ticks",
        "quotes",
        "notices",
        "rejects",
        title=f"compact: {app.describe()}",
    )
    for r in results:
        table.add_row(
            r.journal,
            str(r.lines),
            str(r.rows.get("ticks", 0)),
            str(r.rows.get("quotes", 0)),
            str(r.rows.get("execution_notices", 0)),
            str(r.rejects),
        )
    Console().print(table)
    from schemas.clock import KST

    for r in results:
        for reason, count in r.reject_reasons.items():
            typer.echo(f"  {r.journal}: {count} rejected: {reason}")
        for gap in r.gaps:
            start = datetime.fromtimestamp(gap.start_ns / 1e9, KST).strftime("%H:%M:%S")
            end = (
                "end"
                if gap.end_ns is None
                else datetime.fromtimestamp(gap.end_ns / 1e9, KST).strftime("%H:%M:%S")
            )
            typer.echo(f"  {r.journal}: gap {start}-{end} KST: {gap.reason}")


def replay(
    date_: Annotated[
        str | None, typer.Option("--date", help="KST day: 2024-01-02, 20240102, 1d (default today)")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="stop after N records")] = None,
    home: Annotated[Path | None, typer.Option(help="KISDB_HOME override")] = None,
) -> None:
    """Print a day's journal as the rows compaction stores, one JSON object per line."""
    from pipelines.recorder.flows import replay as run_replay
    from warehouse.journal import journal_path

    app = _config(home)
    settings = app.kis
    day = _parse_day(date_, app)
    if not journal_path(settings.home, day).exists():
        raise fail(f"no journal for {day} under {settings.home / 'journal'}")
    for n, (table, row) in enumerate(run_replay(settings.home, day)):
        if limit is not None and n >= limit:
            break
        typer.echo(json.dumps({"table": table, **row}, default=str, ensure_ascii=False))


def register(app: typer.Typer) -> None:
    app.command("record")(record)
    app.command("compact")(compact)
    app.command("replay")(replay)
