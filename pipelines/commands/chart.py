"""`kisdb chart 005930 --start 1y`: a candlestick chart with volume, as a self-contained HTML file
(plotly, its JavaScript inlined: opens offline), from the lake only. Prints the file's path;
`--open` also opens it in the browser. The figure is `kisdb.chart()`, the notebook's."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipelines.errors import RunFailed


def chart(
    symbol: Annotated[str, typer.Argument(help="stock code, e.g. 005930")],
    start: Annotated[
        str, typer.Option(help="first day: 2024-01-02, 20240102, 2024, or e.g. 6m / 1y / 3y")
    ] = "1y",
    end: Annotated[str | None, typer.Option(help="last day (default: the newest bar)")] = None,
    raw: Annotated[bool, typer.Option("--raw", help="unadjusted prices")] = False,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="HTML file to write (default: KISDB_HOME/charts/)"),
    ] = None,
    open_: Annotated[bool, typer.Option("--open", help="open it in the browser")] = False,
    home: Annotated[
        Path | None, typer.Option(help="KISDB_HOME (default from the environment)")
    ] = None,
) -> None:
    """A candlestick + volume chart of daily bars, as HTML."""
    import kisdb
    from pipelines.config import load_config

    try:
        fig = kisdb.chart(symbol, start, end, adjusted=not raw, home=home)
    finally:
        kisdb.close()
    bars = len(fig.data[0].x or ())
    if not bars:
        raise RunFailed(
            f"no daily bars of {symbol} in the lake from {start}; "
            f"fetch them first: kisdb ingest bars --symbols {symbol} --start {start}"
        )
    path = out or load_config(home).home / "charts" / f"{symbol}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.write_html(path, include_plotlyjs=True)
    typer.echo(str(path.resolve()))
    if open_:
        import webbrowser

        webbrowser.open(path.resolve().as_uri())


def register(app: typer.Typer) -> None:
    app.command("chart")(chart)
