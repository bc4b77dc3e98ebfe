"""`kisdb ingest holidays|securities|bars|index-bars|minute-bars|index-minute-bars|overseas-bars|
overseas-minute-bars|rankings|investor-flows|market-investor-flows|short-sales|credit-balance|
program-trades|financials|stock-info`.

Each command runs the same flow its deployment runs, in-process, with a progress bar, and
prints the run's summary. Dates: YYYY-MM-DD, YYYYMMDD, today, or relative (30d, 6m, 3y).
"""

from __future__ import annotations

from enum import StrEnum
from importlib import import_module
from pathlib import Path
from typing import Annotated, Any

import typer

from pipelines.console import run_flow

ingest_app = typer.Typer(
    name="ingest",
    help="Fetch one dataset (only what is missing) into the lake.",
    no_args_is_help=True,
    add_completion=False,
)

Home = Annotated[Path | None, typer.Option("--home", help="KISDB_HOME override")]
Start = Annotated[
    str | None, typer.Option("--start", help="first date: 2024-01-02, 20240102, 30d, 3y")
]
End = Annotated[str | None, typer.Option("--end", help="last date (default today)")]
Symbols = Annotated[
    str | None,
    typer.Option("--symbols", "-s", help="comma-separated: 005930,A000660 or names (삼성전자)"),
]
Universe = Annotated[
    Path | None,
    typer.Option(
        "--universe", "-u", help="file with one symbol per line, or all (the securities table)"
    ),
]
Periods = Annotated[str, typer.Option("--period", "-p", help="comma-separated: D,W,M,Y")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="show Prefect's logs")]


class Prices(StrEnum):
    both = "both"
    adjusted = "adjusted"
    raw = "raw"


def _adjusted(prices: Prices) -> list[bool]:
    return {"both": [True, False], "adjusted": [True], "raw": [False]}[prices.value]


def _list(text: str | None) -> list[str] | None:
    return [p.strip() for p in text.split(",") if p.strip()] if text else None


def _symbols(symbols: str | None, home: Path | None) -> list[str] | None:
    """--symbols as codes (names looked up in the securities table)."""
    if not symbols:
        return None
    from pipelines.config import load_config
    from pipelines.symbols import resolve_symbols

    return resolve_symbols(symbols, load_config(home))


def _home(home: Path | None) -> str | None:
    return str(home.expanduser()) if home else None


def _universe(universe: Path | None) -> str | None:
    return str(universe) if universe else None


def _run_flow(flow: str, verbose: bool, home: Path | None, **params: Any) -> None:
    """Run the flow named "module:function", imported only now so `--help` stays fast."""
    module, name = flow.split(":")
    run_flow(getattr(import_module(module), name), verbose=verbose, home=_home(home), **params)


def _symbols_command(name: str, flow: str, doc: str, *, dated: bool = True) -> None:
    """Register `kisdb ingest NAME`: FLOW over --symbols/--universe (the securities table when
    neither is given), between --start and --end when the dataset is dated."""

    def dated_command(
        symbols: Symbols = None,
        universe: Universe = None,
        start: Start = None,
        end: End = None,
        home: Home = None,
        verbose: Verbose = False,
    ) -> None:
        _run_flow(
            flow,
            verbose,
            home,
            symbols=_symbols(symbols, home),
            universe=_universe(universe),
            start=start,
            end=end,
        )

    def snapshot_command(
        symbols: Symbols = None,
        universe: Universe = None,
        home: Home = None,
        verbose: Verbose = False,
    ) -> None:
        _run_flow(
            flow, verbose, home, symbols=_symbols(symbols, home), universe=_universe(universe)
        )

    command = dated_command if dated else snapshot_command
    command.__doc__ = doc
    ingest_app.command(name)(command)


@ingest_app.command("holidays")
def holidays(
    start: Start = None,
    end: End = None,
    ahead: Annotated[int, typer.Option(min=0, help="days after today to fetch")] = 30,
    home: Home = None,
    verbose: Verbose = False,
) -> None:
    """The KRX calendar (chk-holiday): from today (or --start) to today + --ahead days."""
    from pipelines.holidays_flow import ingest_holidays

    run_flow(ingest_holidays, verbose=verbose, start=start, end=end, ahead=ahead, home=_home(home))


@ingest_app.command("securities")
def securities(
    markets: Annotated[str, typer.Option(help="KOSPI,KOSDAQ")] = "KOSPI,KOSDAQ",
    force: Annotated[bool, typer.Option(help="re-download today's snapshot")] = False,
    home: Home = None,
    verbose: Verbose = False,
) -> None:
    """Today's snapshot of the KOSPI/KOSDAQ stock master files."""
    from pipelines.securities import ingest_securities

    run_flow(
        ingest_securities, verbose=verbose, markets=_list(markets), force=force, home=_home(home)
    )


@ingest_app.command("bars")
def bars(
    symbols: Symbols = None,
    universe: Universe = None,
    start: Start = None,
    end: End = None,
    period: Periods = "D",
    prices: Annotated[Prices, typer.Option(help="adjusted, raw or both")] = Prices.both,
    home: Home = None,
    verbose: Verbose = False,
) -> None:
    """Stock period bars. Symbols from --symbols, --universe, or the securities table."""
    from pipelines.bars import ingest_period_bars

    run_flow(
        ingest_period_bars,
        verbose=verbose,
        symbols=_symbols(symbols, home),
        universe=_universe(universe),
        start=start,
        end=end,
        periods=_list(period),
        adjusted=_adjusted(prices),
        home=_home(home),
    )


@ingest_app.command("index-bars")
def index_bars(
    codes: Annotated[
        str, typer.Option(help="index codes: 0001 KOSPI, 1001 KOSDAQ, 2001 KOSPI200")
    ] = "0001,1001,2001",
    start: Start = None,
    end: End = None,
    period: Periods = "D",
    home: Home = None,
    verbose: Verbose = False,
) -> None:
    """Index period bars."""
    from pipelines.bars import ingest_index_bars

    run_flow(
        ingest_index_bars,
        verbose=verbose,
        codes=_list(codes),
        start=start,
        end=end,
        periods=_list(period),
        home=_home(home),
    )


_symbols_command(
    "minute-bars",
    "pipelines.minutes:ingest_minute_bars",
    "One-minute bars per trading day (default: the last 7 days).",
)


@ingest_app.command("index-minute-bars")
def index_minute_bars(
    codes: Annotated[
        str, typer.Option(help="index codes: 0001 KOSPI, 1001 KOSDAQ, 2001 KOSPI200")
    ] = "0001,1001,2001",
    include_past: Annotated[
        bool, typer.Option("--include-past", help="let the 102 bars reach into previous sessions")
    ] = False,
    home: Home = None,
    verbose: Verbose = False,
) -> None:
    """The latest one-minute index bars (KIS sends at most 102: run it a few times a session)."""
    from pipelines.minutes import ingest_index_minute_bars

    run_flow(
        ingest_index_minute_bars,
        verbose=verbose,
        codes=_list(codes),
        include_past=include_past,
        home=_home(home),
    )


@ingest_app.command("overseas-minute-bars")
def overseas_minute_bars(
    symbols: Annotated[
        str, typer.Option("--symbols", "-s", help="EXCHANGE:TICKER, e.g. NAS:AAPL,NYS:KO")
    ],
    start: Annotated[
        str | None,
        typer.Option("--start", help="first run: from this day (default 7d; KIS keeps ~1 month)"),
    ] = None,
    home: Home = None,
    verbose: Verbose = False,
) -> None:
    """Overseas one-minute bars since the last stored bar of each symbol."""
    from pipelines.minutes import ingest_overseas_minute_bars

    run_flow(
        ingest_overseas_minute_bars,
        verbose=verbose,
        symbols=_list(symbols),
        start=start,
        home=_home(home),
    )


@ingest_app.command("overseas-bars")
def overseas_bars(
    symbols: Annotated[
        str, typer.Option("--symbols", "-s", help="EXCHANGE:TICKER, e.g. NAS:AAPL,NYS:KO")
    ],
    start: Start = None,
    end: End = None,
    period: Annotated[str, typer.Option("--period", "-p", help="D,W,M")] = "D",
    prices: Annotated[Prices, typer.Option(help="adjusted, raw or both")] = Prices.adjusted,
    home: Home = None,
    verbose: Verbose = False,
) -> None:
    """Overseas daily/weekly/monthly bars."""
    from pipelines.bars import ingest_overseas_bars

    run_flow(
        ingest_overseas_bars,
        verbose=verbose,
        symbols=_list(symbols),
        start=start,
        end=end,
        periods=_list(period),
        adjusted=_adjusted(prices),
        home=_home(home),
    )


@ingest_app.command("rankings")
def rankings(
    which: Annotated[
        str, typer.Option("--rankings", help="volume,fluctuation,market_cap")
    ] = "volume,fluctuation,market_cap",
    markets: Annotated[
        str, typer.Option(help="scopes: 0000 all, 0001 KOSPI, 1001 KOSDAQ, 2001 KOSPI200")
    ] = "0000",
    home: Home = None,
    verbose: Verbose = False,
) -> None:
    """A snapshot of the volume / fluctuation / market-cap rankings (30 rows each)."""
    from pipelines.rankings import ingest_rankings

    run_flow(
        ingest_rankings,
        verbose=verbose,
        rankings=_list(which),
        markets=_list(markets),
        home=_home(home),
    )


_symbols_command(
    "investor-flows",
    "pipelines.research_datasets:ingest_investor_flows",
    "Shares and KRW bought/sold per investor type per stock-day (on paper: three groups, last 30 days).",
)


@ingest_app.command("market-investor-flows")
def market_investor_flows(
    markets: Annotated[str, typer.Option(help="KOSPI,KOSDAQ")] = "KOSPI,KOSDAQ",
    start: Start = None,
    end: End = None,
    home: Home = None,
    verbose: Verbose = False,
) -> None:
    """Net shares and KRW per investor type per market-day (real environment only)."""
    from pipelines.research_datasets import ingest_market_investor_flows

    run_flow(
        ingest_market_investor_flows,
        verbose=verbose,
        markets=_list(markets),
        start=start,
        end=end,
        home=_home(home),
    )


_symbols_command(
    "short-sales",
    "pipelines.research_datasets:ingest_short_sales",
    "Shares and KRW sold short per stock-day (real environment only).",
)
_symbols_command(
    "credit-balance",
    "pipelines.research_datasets:ingest_credit_balance",
    "Margin and stock loans opened, repaid and outstanding per stock-day (real only).",
)
_symbols_command(
    "program-trades",
    "pipelines.research_datasets:ingest_program_trades",
    "Shares and KRW bought/sold by program trading per stock-day (real only).",
)
_symbols_command(
    "financials",
    "pipelines.research_datasets:ingest_financials",
    """Balance sheets, income statements and ratios (annual and quarterly) as KIS shows them
    today: new periods and restatements are stored as new versions (real only).""",
    dated=False,
)
_symbols_command(
    "stock-info",
    "pipelines.research_datasets:ingest_stock_info",
    "Today's snapshot of each stock's listed shares, par value, listing date and sector.",
    dated=False,
)


def register(app: typer.Typer) -> None:
    app.add_typer(ingest_app, name="ingest")
