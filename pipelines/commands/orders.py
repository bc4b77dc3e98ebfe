"""`kisdb order buy|sell|modify|cancel|open|log`, `kisdb balance`, `kisdb executions`, `kisdb buyable`.

With KIS_ENV=real every order command needs `--live`; guards and the kill switch apply in every
environment (connectors/kis/order_guard.py). Exit codes: 0 done, 2 bad request (nothing sent),
1 refused, rejected, failed or uncertain (the table and a one-line reason say which); errors raised
here become exits in pipelines/cli.py's one table.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from pipelines.commands.sql import AllColumns, Columns, OutputFormat, emit
from pipelines.console import fail
from pipelines.errors import InputError
from pipelines.ranges import parse_span
from pipelines.render import VIEWS
from pipelines.symbols import resolve_symbol

if TYPE_CHECKING:  # imported when used: `kisdb --help` does not load Polars
    import polars as pl

order_app = typer.Typer(
    help="Place, modify and cancel domestic cash orders; see the order log.", no_args_is_help=True
)

_HOME = typer.Option(help="KISDB_HOME (default from the environment)")
_FORMAT = typer.Option("--format", "-f", help="table | csv | json")
_LIVE = typer.Option("--live", help="required with KIS_ENV=real: send a real order")


def _frame(row: dict[str, Any]) -> pl.DataFrame:
    import polars as pl

    return pl.DataFrame([row])


@contextmanager
def _client(home: Path | None) -> Iterator[Any]:
    """A connected client with the configured guards, whose order 'today' is the market's (the
    simulator's clock under sim)."""
    from pipelines.config import load_config
    from pipelines.runtime import client_for

    client = client_for(load_config(home))
    try:
        yield client
    finally:
        client.close()


def _run(home: Path | None, action: Any) -> Any:
    """Run `action(client)` on a connected client."""
    with _client(home) as client:
        return action(client)


def _order(home: Path | None, fmt: OutputFormat, action: Any) -> None:
    """Run an order `action(client)` and show its result, titled with the env and home used."""
    from pipelines.config import describe

    def run_and_show(client: Any) -> None:
        result = action(client)
        title = f"order {result.action} ({describe(client.settings)})"
        emit(_frame(result.as_row()), fmt, title=title)
        if not result.ok:
            raise fail(f"{result.status}: {result.message or result.msg_cd or 'no detail'}")

    _run(home, run_and_show)


def _place(
    side: str,
    symbol: str,
    qty: int,
    price: int | None,
    market: bool,
    division: str,
    live: bool,
    home: Path | None,
    fmt: OutputFormat,
) -> None:
    from connectors.kis.orders import OrderRequest

    if market and price is not None:
        raise InputError("give either --price or --market, not both")
    if not market and price is None and division in ("", "00", "limit"):
        raise InputError("a limit order needs --price P (or use --market)")
    code = resolve_symbol(symbol, home)
    _order(
        home,
        fmt,
        lambda c: c.place(OrderRequest(side, code, qty, price, division), live=live, source="cli"),
    )


# The arguments buy and sell share.
_Symbol = Annotated[str, typer.Argument(help="stock: 005930, A005930 or its name")]
_Qty = Annotated[int, typer.Argument(help="shares")]
_Price = Annotated[int | None, typer.Option(help="limit price (KRW, on the tick grid)")]
_Market = Annotated[bool, typer.Option("--market", help="market order")]
_Division = Annotated[
    str, typer.Option(help="ORD_DVSN code or name (limit, market, ioc, fok, ...)")
]


@order_app.command("buy")
def buy(
    symbol: _Symbol,
    qty: _Qty,
    price: _Price = None,
    market: _Market = False,
    division: _Division = "",
    live: Annotated[bool, _LIVE] = False,
    home: Annotated[Path | None, _HOME] = None,
    format: Annotated[OutputFormat, _FORMAT] = OutputFormat.table,
) -> None:
    """Buy SYMBOL QTY at --price P (limit) or --market."""
    _place("buy", symbol, qty, price, market, division, live, home, format)


@order_app.command("sell")
def sell(
    symbol: _Symbol,
    qty: _Qty,
    price: _Price = None,
    market: _Market = False,
    division: _Division = "",
    live: Annotated[bool, _LIVE] = False,
    home: Annotated[Path | None, _HOME] = None,
    format: Annotated[OutputFormat, _FORMAT] = OutputFormat.table,
) -> None:
    """Sell SYMBOL QTY at --price P (limit) or --market."""
    _place("sell", symbol, qty, price, market, division, live, home, format)


@order_app.command("modify")
def modify(
    order_no: Annotated[str, typer.Argument(help="the open order's number (ODNO)")],
    price: Annotated[int | None, typer.Option(help="new limit price")] = None,
    qty: Annotated[
        int | None, typer.Option(help="quantity to modify (default: all that is left)")
    ] = None,
    division: Annotated[str | None, typer.Option(help="new ORD_DVSN (default: keep)")] = None,
    live: Annotated[bool, _LIVE] = False,
    home: Annotated[Path | None, _HOME] = None,
    format: Annotated[OutputFormat, _FORMAT] = OutputFormat.table,
) -> None:
    """Change the price (or division) of an open order."""
    _order(
        home,
        format,
        lambda c: c.modify(
            order_no, price=price, qty=qty, division=division, live=live, source="cli"
        ),
    )


@order_app.command("cancel")
def cancel(
    order_no: Annotated[str, typer.Argument(help="the open order's number (ODNO)")],
    qty: Annotated[
        int | None, typer.Option(help="quantity to cancel (default: all that is left)")
    ] = None,
    live: Annotated[bool, _LIVE] = False,
    home: Annotated[Path | None, _HOME] = None,
    format: Annotated[OutputFormat, _FORMAT] = OutputFormat.table,
) -> None:
    """Cancel an open order, whole or partly (cancels pass the kill switch)."""
    _order(home, format, lambda c: c.cancel(order_no, qty=qty, live=live, source="cli"))


@order_app.command("open")
def open_orders(
    home: Annotated[Path | None, _HOME] = None,
    format: Annotated[OutputFormat, _FORMAT] = OutputFormat.table,
    columns: Columns = None,
    all_columns: AllColumns = False,
) -> None:
    """Orders that can still be modified or cancelled."""
    emit(
        _run(home, lambda c: c.modifiable_orders()),
        format,
        title="open orders",
        view=VIEWS["open_orders"],
        columns=columns,
        all_columns=all_columns,
    )


@order_app.command("log")
def order_log(
    sync: Annotated[
        bool, typer.Option("--sync", help="also mirror the log into the lake's order_log table")
    ] = False,
    home: Annotated[Path | None, _HOME] = None,
    format: Annotated[OutputFormat, _FORMAT] = OutputFormat.table,
    columns: Columns = None,
    all_columns: AllColumns = False,
) -> None:
    """Every order attempt from the write-ahead log (latest state of each; times KST)."""
    from pipelines.config import load_config
    from warehouse.order_log import order_log_frame

    config = load_config(home)
    root = config.home
    frame = order_log_frame(root / "orders").sort("created_at")
    emit(
        frame,
        format,
        title=f"order log ({config.describe()})",
        view=VIEWS["order_log"],
        columns=columns,
        all_columns=all_columns,
    )
    if sync:
        from pipelines.runtime import open_lake
        from warehouse.order_log import mirror_order_log

        with open_lake(config) as lake:
            written = mirror_order_log(lake, root).written
        Console(stderr=True).print(f"order_log: {written} row(s) written to the lake")


def balance(
    home: Annotated[Path | None, _HOME] = None,
    format: Annotated[OutputFormat, _FORMAT] = OutputFormat.table,
    columns: Annotated[
        str | None, typer.Option("--columns", help="holdings columns, e.g. symbol,qty,pnl")
    ] = None,
    all_columns: AllColumns = False,
) -> None:
    """Holdings (every page) and the cash summary."""
    from connectors.kis.orders import mask_account

    def fetch(client: Any) -> tuple[Any, str]:
        return client.balance(), mask_account(client.settings.cano, client.settings.product_code)

    result, account = _run(home, fetch)
    emit(
        result.holdings,
        format,
        title=f"holdings {account}",
        view=VIEWS["holdings"],
        columns=columns,
        all_columns=all_columns,
    )
    cash = _frame(result.cash.__dict__)
    emit(cash, format, title="cash (KRW)", view=VIEWS["cash"], all_columns=all_columns)


def executions(
    start: Annotated[
        str | None,
        typer.Option(help="first day: 2024-01-02, 20240102, 30d, 3y (default: today)"),
    ] = None,
    end: Annotated[str | None, typer.Option(help="last day (default: today)")] = None,
    symbol: Annotated[
        str | None, typer.Option(help="only this stock: 005930, A005930 or its name")
    ] = None,
    side: Annotated[str | None, typer.Option(help="buy | sell (default: both)")] = None,
    filled: Annotated[str | None, typer.Option(help="filled | unfilled (default: all)")] = None,
    home: Annotated[Path | None, _HOME] = None,
    format: Annotated[OutputFormat, _FORMAT] = OutputFormat.table,
    columns: Columns = None,
    all_columns: AllColumns = False,
) -> None:
    """Orders and fills between --start and --end (KST days), every page."""

    def fetch(client: Any) -> pl.DataFrame:
        today = client.order_setup.today()  # the market's day (the simulator's under sim)
        first, last = parse_span(start, end, today=today)
        code = resolve_symbol(symbol, home) if symbol else None
        return client.executions(first or last, last, symbol=code, side=side, filled=filled)

    emit(
        _run(home, fetch),
        format,
        title="executions",
        view=VIEWS["executions"],
        columns=columns,
        all_columns=all_columns,
    )


def buyable(
    symbol: _Symbol,
    price: Annotated[
        int | None, typer.Option(help="limit price (default: market, i.e. the upper limit)")
    ] = None,
    home: Annotated[Path | None, _HOME] = None,
    format: Annotated[OutputFormat, _FORMAT] = OutputFormat.table,
) -> None:
    """Cash available and the quantity SYMBOL could be bought for."""
    code = resolve_symbol(symbol, home)
    result = _run(home, lambda c: c.buyable(code, price))
    emit(_frame(result.__dict__), format, title="buyable")


def register(app: typer.Typer) -> None:
    app.add_typer(order_app, name="order")
    app.command("balance")(balance)
    app.command("executions")(executions)
    app.command("buyable")(buyable)
