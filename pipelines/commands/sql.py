"""`kisdb sql "QUERY" [--format table|csv|json]`: run SQL on the lake (read-only) and print it.

The connection is the configured lake's (pipelines.runtime.connect): tables and friendly views (bars_daily, minutes, …) are
there, TimeZone is Asia/Seoul, and `--snapshot N` queries the lake as it was at snapshot N.
It runs one query (SELECT, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN) and reads the lake's files only:
anything else is refused in one line with exit code 2 (warehouse.confine).
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:  # imported when used: `kisdb --help` loads neither DuckDB nor Polars
    import polars as pl
    from rich.table import Table


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def render_table(
    frame: pl.DataFrame, *, max_rows: int | None = None, title: str | None = None
) -> Table:
    """A rich table of `frame` (the first `max_rows` rows; the caption says how many were cut)."""
    from rich.table import Table

    shown = frame if max_rows is None else frame.head(max_rows)
    table = Table(title=title, show_lines=False)
    for name, dtype in frame.schema.items():
        numeric = dtype.is_numeric()
        table.add_column(name, justify="right" if numeric else "left", no_wrap=numeric)
    for row in shown.iter_rows():
        table.add_row(*("" if v is None else str(v) for v in row))
    if shown.height < frame.height:
        table.caption = f"{shown.height} of {frame.height} rows shown"
    else:
        table.caption = f"{frame.height} row{'s' if frame.height != 1 else ''}"
    return table


def emit(
    frame: pl.DataFrame, fmt: OutputFormat, *, max_rows: int | None = None, title: str | None = None
) -> None:
    """Print a frame to stdout as a table, CSV or a JSON array of row objects."""
    if fmt is OutputFormat.csv:
        sys.stdout.write(frame.write_csv())
    elif fmt is OutputFormat.json:
        sys.stdout.write(frame.write_json() + "\n")
    else:
        Console().print(render_table(frame, max_rows=max_rows, title=title))
    sys.stdout.flush()


def sql(
    query: Annotated[str, typer.Argument(help="SQL to run; tables and views like bars_daily")],
    format: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="table | csv | json")
    ] = OutputFormat.table,
    home: Annotated[
        Path | None, typer.Option(help="KISDB_HOME (default from the environment)")
    ] = None,
    snapshot: Annotated[
        int | None, typer.Option(help="query the lake as of this snapshot id")
    ] = None,
    max_rows: Annotated[int, typer.Option(help="rows shown by --format table")] = 100,
) -> None:
    """Run one read-only query on the market database and print the result."""

    from pipelines.config import load_config
    from pipelines.runtime import connect
    from warehouse.confine import read_only_statement

    statement = read_only_statement(query)  # QueryRefused, or a duckdb.ParserException: exit 2
    con = connect(load_config(home), snapshot=snapshot)
    try:
        frame = con.sql(statement).pl()  # a PermissionException outside the lake: exit 2
    finally:
        con.close()
    emit(frame, format, max_rows=max_rows)


def register(app: typer.Typer) -> None:
    app.command("sql")(sql)
