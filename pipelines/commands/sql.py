"""`kisdb sql "QUERY" [--format table|csv|json]`: run SQL on the lake (read-only) and print it.

The connection is the configured lake's (pipelines.runtime.connect): tables and friendly views (bars_daily, minutes, …) are
there, TimeZone is Asia/Seoul, and `--snapshot N` queries the lake as it was at snapshot N.
It runs one query (SELECT, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN) and reads the lake's files only:
anything else is refused in one line with exit code 2 (warehouse.confine).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:  # imported when used: `kisdb --help` loads neither DuckDB nor Polars
    import polars as pl


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


Columns = Annotated[
    str | None, typer.Option("--columns", help="only these columns, e.g. symbol,date,close")
]
AllColumns = Annotated[
    bool, typer.Option("--all", help="every column (a wide row is shown vertically)")
]


def emit(
    frame: pl.DataFrame,
    fmt: OutputFormat,
    *,
    max_rows: int | None = None,
    title: str | None = None,
    view: Sequence[str] | None = None,
    columns: str | None = None,
    all_columns: bool = False,
    from_lake: bool = False,
    keys: frozenset[str] | None = None,
) -> None:
    """Print a frame to stdout as a table (fitting the terminal: pipelines.render; the curated
    `view` unless --columns/--all), CSV or a JSON array of row objects (every column, KIS codes
    kept). Timestamps are shown in KST; `from_lake` reads the lake's naive ns times as UTC;
    `keys` replaces the columns a narrow table keeps (default: symbol, name, date, qty, price)."""
    from pipelines.render import KEY_COLUMNS, in_kst, print_frame, select_columns, split_columns

    wanted = split_columns(columns)
    if fmt is OutputFormat.table:
        chosen = select_columns(frame, view=view, columns=wanted, all_columns=all_columns)
        print_frame(
            chosen,
            max_rows=max_rows,
            title=title,
            keep_all=all_columns,
            naive_ns_is_utc=from_lake,
            keys=keys or KEY_COLUMNS,
        )
    else:
        out = in_kst(select_columns(frame, columns=wanted), naive_ns_is_utc=from_lake)
        sys.stdout.write(out.write_csv() if fmt is OutputFormat.csv else out.write_json() + "\n")
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
    columns: Columns = None,
    all_columns: AllColumns = False,
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
    emit(frame, format, max_rows=max_rows, columns=columns, all_columns=all_columns, from_lake=True)


def register(app: typer.Typer) -> None:
    app.command("sql")(sql)
