"""`kisdb update`: the incremental job the schedules run (holidays, securities, bars, index bars,
minute bars, rankings; index/overseas minute bars with --parts), fetching only what is missing."""

from __future__ import annotations

from typing import Annotated

import typer

from pipelines.commands.ingest import Home, Start, Symbols, Universe, Verbose, _home, _list
from pipelines.console import run_flow


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
    verbose: Verbose = False,
) -> None:
    """Bring every dataset up to date (what the schedules run)."""
    from pipelines.update import update as update_flow

    run_flow(
        update_flow,
        verbose=verbose,
        symbols=_list(symbols),
        universe=str(universe) if universe else None,
        indices=_list(indices),
        overseas=_list(overseas),
        minute_symbols=_list(minute_symbols),
        start=start,
        rankings=rankings,
        parts=[p.lower() for p in _list(parts) or []] or None,
        home=_home(home),
    )


def register(app: typer.Typer) -> None:
    app.command("update")(update)
