"""`kisdb check`: the data-quality report (warehouse.checks); exit 1 when any error is found.

Missing trading days are reported as ranges per series: they are what the next `kisdb update`
fetches.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from pipelines.commands.sql import AllColumns, Columns, OutputFormat, emit
from pipelines.errors import InputError
from pipelines.render import CHECK_KEYS, VIEWS

if TYPE_CHECKING:  # imported when used: `kisdb --help` loads neither DuckDB nor Polars
    from warehouse.checks import CheckReport


def summary_line(report: CheckReport, context: str) -> str:
    verdict = "OK" if report.ok else "FAILED"
    return (
        f"{verdict}: {report.errors} error(s), {report.warnings} warning(s) "
        f"from {len(report.checks_run)} checks ({', '.join(report.checks_run)}); {context}"
    )


def check(
    start: Annotated[
        str | None, typer.Option(help="first date checked: 2024-01-02, 20240102, 30d, 3y")
    ] = None,
    end: Annotated[str | None, typer.Option(help="last date checked (default: all)")] = None,
    only: Annotated[
        list[str] | None,
        typer.Option(help="run only these checks (comma-separated; a wrong name lists them)"),
    ] = None,
    format: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="table | csv | json")
    ] = OutputFormat.table,
    home: Annotated[
        Path | None, typer.Option(help="KISDB_HOME (default from the environment)")
    ] = None,
    columns: Columns = None,
    all_columns: AllColumns = False,
) -> None:
    """Data-quality report: missing trading days, duplicate keys, OHLC sanity, minutes vs daily."""
    from pipelines.config import load_config
    from pipelines.embedded import market_clock
    from pipelines.ranges import parse_span
    from pipelines.runtime import open_lake
    from warehouse.checks import run_checks

    config = load_config(home)
    first, last = (
        parse_span(start, end, today=market_clock(config.kis).today())
        if start or end
        else (None, None)
    )
    lake = open_lake(config, read_only=True)
    try:
        report = run_checks(
            lake,
            start=first,
            end=last,
            only=[n.strip() for item in only or [] for n in item.split(",") if n.strip()] or None,
        )
    except ValueError as exc:  # an unknown --only name
        raise InputError(str(exc)) from None
    finally:
        lake.close()
    frame = report.to_frame()
    if format is OutputFormat.table:
        if frame.height:
            emit(
                frame,
                format,
                title="kisdb check",
                view=VIEWS["check"],
                keys=CHECK_KEYS,
                columns=columns,
                all_columns=all_columns,
            )
        Console().print(
            summary_line(report, config.describe()), style="green" if report.ok else "red"
        )
    else:
        emit(frame, format, columns=columns)
    if not report.ok:
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    app.command("check")(check)
