"""`kisdb attach`: print the SQL that opens this lake in any DuckDB client (the DuckDB CLI,
DBeaver, another program), read-only, with the views kisdb creates in its own connections.

    kisdb attach > lake.sql && duckdb -init lake.sql
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def attach(
    home: Annotated[
        Path | None, typer.Option(help="KISDB_HOME (default from the environment)")
    ] = None,
) -> None:
    """SQL to open this lake in the DuckDB CLI, DBeaver, … (read-only)."""
    from pipelines.config import load_config
    from pipelines.runtime import open_lake
    from warehouse.lake import attach_script

    with open_lake(load_config(home), read_only=True) as lake:
        typer.echo(attach_script(lake.location, lake.table_names()), nl=False)


def register(app: typer.Typer) -> None:
    app.command("attach")(attach)
