"""`kisdb update`: the incremental job the schedules run (holidays, securities, bars, index bars,
minute bars, rankings; index/overseas minute bars with --parts), fetching only what is missing."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from pipelines.commands.ingest import (
    Home,
    Start,
    Symbols,
    Universe,
    Verbose,
    _home,
    _list,
    _symbols,
    _universe,
)
from pipelines.console import err_console, run_flow


def update(
    symbols: Symbols = None,
    universe: Universe = None,
    indices: Annotated[str, typer.Option(help="index codes")] = "0001,1001,2001",
    overseas: Annotated[
        str | None, typer.Option(help="EXCHANGE:TICKER list, e.g. NAS:AAPL")
    ] = None,
    minute_symbols: Annotated[
        str | None, typer.Option(help="minute bars for these (default: --symbols)")
    ] = None,
    start: Start = None,
    rankings: Annotated[bool, typer.Option(help="take a rankings snapshot")] = True,
    parts: Annotated[
        str | None,
        typer.Option(
            help="only these parts, e.g. bars,minute-bars; opt-in: index-minute-bars, overseas-minute-bars"
        ),
    ] = None,
    home: Home = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="start a long first run without asking")
    ] = False,
    verbose: Verbose = False,
) -> None:
    """Bring every dataset up to date (what the schedules run).

    On an empty lake the plan is printed first; a run longer than 10 minutes asks for confirmation
    on a terminal (--yes skips the question)."""
    from pipelines.update import update as update_flow

    codes = _symbols(symbols, home)
    confirm_first_run(codes, universe, start, home, yes)

    run_flow(
        update_flow,
        verbose=verbose,
        symbols=codes,
        universe=_universe(universe),
        indices=_list(indices),
        overseas=_list(overseas),
        minute_symbols=_symbols(minute_symbols, home),
        start=start,
        rankings=rankings,
        parts=[p.lower() for p in _list(parts) or []] or None,
        home=_home(home),
    )


def confirm_first_run(
    symbols: list[str] | None,
    universe: Path | None,
    start: str | None,
    home: Path | None,
    yes: bool,
) -> None:
    """Print the first run's plan; ask before a long one when a person is at the terminal
    (schedules and pipes never ask)."""
    from pipelines.config import load_config
    from pipelines.embedded import market_clock
    from pipelines.first_run import first_run_plan

    config = load_config(_home(home))
    plan = first_run_plan(
        config,
        # A standalone simulator's day when pointed at one (its Date header), else the wall's.
        today=market_clock(config.kis).today(),
        symbols=symbols,
        universe=_universe(universe),
        start=start,
    )
    if plan is None:
        return
    for line in plan.lines(err_console.width):
        err_console.print(line, highlight=False)
    if plan.asks and not yes and sys.stdin.isatty():
        typer.confirm("Start it?", abort=True, err=True)


def register(app: typer.Typer) -> None:
    app.command("update")(update)
