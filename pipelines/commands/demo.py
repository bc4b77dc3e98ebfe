"""`kisdb demo`: start the simulator, fill a fresh lake, print a summary and research answers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def demo(
    home: Annotated[
        Path | None, typer.Option("--home", help="where the demo lake goes (default ./.kisdb/demo)")
    ] = None,
    record_seconds: Annotated[
        float, typer.Option("--record-seconds", min=0, help="seconds of ticks to record (0: skip)")
    ] = 5.0,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Everything end to end against the embedded simulator, in a few minutes."""
    from pipelines.demo import run_demo

    run_demo(home or Path(".kisdb") / "demo", record_seconds=record_seconds, verbose=verbose)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
