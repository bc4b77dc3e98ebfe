"""`kisdb worker [--pool kisdb-scale]`: a long-lived scale-out worker (pipelines/chunk_worker.py)."""

from __future__ import annotations

from typing import Annotated

import typer


def worker(
    pool: Annotated[str, typer.Option(help="the Prefect work pool of the chunk runs")] = (
        "kisdb-scale"
    ),
) -> None:
    """Run scale-out backfill chunks in this process, one after another, until SIGTERM/Ctrl-C."""
    from pipelines.chunk_worker import run

    run(pool)


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
