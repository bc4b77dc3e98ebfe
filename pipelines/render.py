"""Frames as terminal tables that fit the terminal (pure layout + rich rendering).

The rules, after DuckDB's CLI:

* a table never gets wider than the terminal and never shows a zero-width column;
* key columns (symbol, name, date, qty, price) always stay; other columns that do not fit are
  dropped behind one `…` column, and the caption names them;
* a single row too wide for the terminal (or `--all`) is shown as a vertical record: one line per
  column;
* values are shown for people: KIS codes decoded (side, change sign, order division), timestamps
  in KST; `--format csv|json` keeps the codes (the stored data always does).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from pipelines.errors import InputError

if TYPE_CHECKING:  # imported when used: `kisdb --help` does not load Polars
    import polars as pl

SEOUL = "Asia/Seoul"
# Kept whatever the width: what a row is about (and, for ticks and minutes, when).
KEY_COLUMNS = frozenset({"symbol", "name", "date", "qty", "price", "ts", "ts_event"})
MAX_CELL = 40  # a wider value is cut with … (the full value: --format csv/json or a vertical row)
MIN_CELL = 4  # a shrunk column keeps at least this many cells ("ab…")
HIDDEN = "…"
HINT = "--columns a,b or --all"  # how to see the hidden columns (every table command has both)

# Curated default columns per command (table format); --columns / --all show the others.
VIEWS: dict[str, tuple[str, ...]] = {
    "holdings": ("symbol", "name", "qty", "avg_price", "price", "value", "pnl", "pnl_pct"),
    "cash": ("deposit", "d2_cash", "securities_value", "total_value", "today_buy_amount"),
    "order": ("action", "status", "symbol", "qty", "price", "division", "order_no", "order_time"),
    "executions": (
        "order_time",
        "order_no",
        "side",
        "symbol",
        "name",
        "qty",
        "price",
        "filled_qty",
        "avg_fill_price",
        "remaining_qty",
    ),
    "open_orders": (
        "order_no",
        "side",
        "symbol",
        "name",
        "division",
        "qty",
        "price",
        "filled_qty",
        "modifiable_qty",
        "order_time",
    ),
    "order_log": (
        "created_at",
        "action",
        "status",
        "symbol",
        "qty",
        "price",
        "order_division",
        "order_no",
        "message",
    ),
    "check": ("severity", "check", "dataset", "key", "start", "end", "detail"),
}
# A finding stays one line: what, where and why are kept (the detail cut with …).
CHECK_KEYS = frozenset({"severity", "check", "key", "detail"})

# KIS codes -> words, per column name. A column is decoded only when every value is a known code,
# so a user's own column of the same name is left alone.
_SIDES = {"01": "sell", "02": "buy", "1": "buy", "5": "sell", "3": "pre-market"}
_CHANGE_SIGNS = {"1": "limit up", "2": "up", "3": "flat", "4": "limit down", "5": "down"}


def _divisions() -> dict[str, str]:
    from connectors.kis.orders.model import DIVISIONS

    return {code: d.name for code, d in DIVISIONS.items()}


def decoders() -> dict[str, Mapping[str, str]]:
    divisions = _divisions()
    return {
        "side": _SIDES,
        "change_sign": _CHANGE_SIGNS,
        "division": divisions,
        "order_division": divisions,
    }


# -- frames: which columns, values for people ------------------------------------------------------


def split_columns(text: str | None) -> list[str] | None:
    """`--columns a,b` -> ["a", "b"] (None when not given)."""
    names = [n.strip() for n in (text or "").split(",") if n.strip()]
    return names or None


def select_columns(
    frame: pl.DataFrame,
    *,
    view: Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
    all_columns: bool = False,
) -> pl.DataFrame:
    """The frame's columns a table shows: `columns` as asked (an unknown name is an InputError
    listing the real ones), else every column with `all_columns`, else the curated `view` (the
    names the frame has), else all."""
    if columns:
        unknown = [c for c in columns if c not in frame.columns]
        if unknown:
            raise InputError(
                f"unknown column {', '.join(unknown)}: choose from {', '.join(frame.columns)}"
            )
        return frame.select(columns)
    if all_columns or not view:
        return frame
    chosen = [c for c in view if c in frame.columns]
    return frame.select(chosen) if chosen else frame


def in_kst(frame: pl.DataFrame, *, naive_ns_is_utc: bool = False) -> pl.DataFrame:
    """Every zoned timestamp converted to KST. With `naive_ns_is_utc` (a lake query), naive
    nanosecond timestamps are read as UTC first: the lake stores `ts_recv` that way because DuckDB
    has no nanosecond TIMESTAMPTZ (warehouse/tables.py)."""
    import polars as pl

    exprs = []
    for name, dtype in frame.schema.items():
        if not isinstance(dtype, pl.Datetime):
            continue
        if dtype.time_zone is not None and dtype.time_zone != SEOUL:
            exprs.append(pl.col(name).dt.convert_time_zone(SEOUL))
        elif dtype.time_zone is None and naive_ns_is_utc and dtype.time_unit == "ns":
            exprs.append(pl.col(name).dt.replace_time_zone("UTC").dt.convert_time_zone(SEOUL))
    return frame.with_columns(exprs) if exprs else frame


def decode_codes(frame: pl.DataFrame) -> pl.DataFrame:
    """KIS codes shown as words (buy/sell, up/down, limit/market…) where a column holds only
    known codes; HHMMSS order times as HH:MM:SS."""
    import polars as pl

    exprs = []
    for name, mapping in decoders().items():
        if name not in frame.columns or frame.schema[name] != pl.String:
            continue
        values = frame[name].drop_nulls().unique()
        if values.len() and values.is_in(list(mapping)).all():
            exprs.append(pl.col(name).replace_strict(mapping, default=None))
    for name, dtype in frame.schema.items():  # KIS's HHMMSS order times -> HH:MM:SS
        if name.endswith("_time") and dtype == pl.String:
            values = frame[name].drop_nulls()
            if values.len() and values.str.contains(r"^\d{6}$").all():
                exprs.append(pl.col(name).str.replace(r"^(\d{2})(\d{2})(\d{2})$", "${1}:${2}:${3}"))
    return frame.with_columns(exprs) if exprs else frame


def format_value(value: Any) -> str:
    """One cell: empty for null, KST wall time for timestamps, floats without noise."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        text = value.strftime("%Y-%m-%d %H:%M:%S")
        return text + (f".{value.microsecond:06d}".rstrip("0") if value.microsecond else "")
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.4f}".rstrip("0").rstrip(".")
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


# -- layout (pure) ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """What fits: the columns shown with their widths; those dropped behind `…`."""

    shown: tuple[tuple[str, int], ...]
    hidden: tuple[str, ...]
    vertical: bool = False


def table_width(widths: Sequence[int]) -> int:
    """A boxed rich table: one space of padding either side of every cell, a border between
    columns and at both edges."""
    return sum(widths) + 3 * len(widths) + 1


def plan_layout(
    widths: Mapping[str, int],
    budget: int,
    *,
    keys: frozenset[str] = KEY_COLUMNS,
    rows: int = 2,
    keep_all: bool = False,
) -> Layout:
    """Columns (in frame order, with their natural widths) that fit `budget` terminal cells.

    Everything when it fits; else a single row (or `keep_all`) goes vertical; else the key columns
    plus as many others as fit in order, the rest behind one `…` column; key columns too wide on
    their own are shrunk, widest first, down to MIN_CELL (never zero), else vertical."""
    names = list(widths)
    capped = {n: max(1, min(w, MAX_CELL)) for n, w in widths.items()}
    if table_width(list(capped.values())) <= budget:
        return Layout(tuple(_grow(capped, widths, budget, 0).items()), ())
    if rows == 1 or keep_all:
        return Layout(tuple(capped.items()), (), vertical=True)
    dots = cell_len(HIDDEN)
    shown = [n for n in names if n in keys]
    for name in names:
        if name in shown:
            continue
        trial = [n for n in names if n in shown or n == name]
        if table_width([capped[n] for n in trial] + [dots]) <= budget:
            shown = trial
    if not shown:  # not even one column beside `…`: a record per row
        return Layout(tuple(capped.items()), (), vertical=True)
    hidden = tuple(n for n in names if n not in shown)
    sized = {n: capped[n] for n in names if n in shown}
    extra = [dots] if hidden else []
    while table_width([*sized.values(), *extra]) > budget:
        widest = max(sized, key=lambda n: sized[n], default=None)
        if widest is None or sized[widest] <= MIN_CELL:
            return Layout(tuple(capped.items()), (), vertical=True)
        sized[widest] -= 1
    reserved = table_width(extra) - 1 if extra else 0
    return Layout(tuple(_grow(sized, widths, budget, reserved).items()), hidden)


def _grow(
    sized: dict[str, int], natural: Mapping[str, int], budget: int, reserved: int
) -> dict[str, int]:
    """Give room left in `budget` back to columns cut below their natural width, in order."""
    slack = budget - reserved - table_width(list(sized.values()))
    for name, width in sized.items():
        if slack <= 0:
            break
        more = min(slack, natural[name] - width)
        if more > 0:
            sized[name] += more
            slack -= more
    return sized


# -- rendering -------------------------------------------------------------------------------------


def render_frame(
    frame: pl.DataFrame,
    *,
    width: int,
    max_rows: int | None = None,
    title: str | None = None,
    keep_all: bool = False,
    keys: frozenset[str] = KEY_COLUMNS,
) -> RenderableType:
    """`frame` (already in display form: see `display_frame`) as a table at most `width` cells wide."""
    shown = frame if max_rows is None else frame.head(max_rows)
    cells = {name: [format_value(v) for v in shown[name]] for name in frame.columns}
    widths = {
        name: max([cell_len(name), *(cell_len(c) for c in column)])
        for name, column in cells.items()
    }
    layout = plan_layout(widths, width, keys=keys, rows=shown.height, keep_all=keep_all)
    caption = _caption(frame.height, shown.height, layout.hidden)
    if layout.vertical:
        return _records(cells, shown.height, width=width, title=title, caption=caption)
    numeric = {name for name, dtype in frame.schema.items() if dtype.is_numeric()}
    table = Table(title=title, caption=caption, title_justify="left", caption_justify="left")
    order = [n for n, _ in layout.shown]
    if layout.hidden:
        order.insert(_gap(frame.columns, order), HIDDEN)
    sizes = dict(layout.shown)
    for name in order:
        size = sizes.get(name, cell_len(HIDDEN))
        table.add_column(
            name if cell_len(name) <= size else _cut(name, size),
            justify="right" if name in numeric else "left",
            width=size,
            no_wrap=True,
            overflow="ellipsis",
        )
    for i in range(shown.height):
        table.add_row(*(HIDDEN if n == HIDDEN else cells[n][i] for n in order))
    return table


def _gap(columns: Sequence[str], shown: Sequence[str]) -> int:
    """Where the `…` column goes among `shown`: at the first place hidden columns were taken out
    between two shown ones, else after the last shown (or first, when all hidden ones lead)."""
    position = {name: i for i, name in enumerate(columns)}
    for i in range(1, len(shown)):
        if position[shown[i]] - position[shown[i - 1]] > 1:
            return i
    return len(shown) if position[shown[-1]] < len(columns) - 1 else 0


def _cut(text: str, size: int) -> str:
    out = Text(text)
    out.truncate(size, overflow="ellipsis")
    return out.plain


def _caption(total: int, shown: int, hidden: Sequence[str]) -> str:
    text = f"{total} row{'s' if total != 1 else ''}"
    if shown < total:
        text = f"{shown} of {total} rows shown"
    if hidden:
        text += f"; {len(hidden)} more column{'s' if len(hidden) != 1 else ''} ({HINT}): "
        text += ", ".join(hidden)
    return text


def _records(
    cells: Mapping[str, list[str]],
    rows: int,
    *,
    width: int,
    title: str | None,
    caption: str,
) -> RenderableType:
    """One block per row, one line per column (DuckDB's `.mode line`); long values wrap."""
    label = max((cell_len(n) for n in cells), default=1)
    parts: list[RenderableType] = []
    if title:
        parts.append(Text(title, style="italic"))
    for i in range(rows):
        if rows > 1:
            parts.append(Text(f"── row {i + 1} ──", style="dim"))
        grid = Table.grid(padding=(0, 1))
        grid.add_column(justify="right", style="bold", no_wrap=True, width=min(label, width // 3))
        grid.add_column(overflow="fold")
        for name, column in cells.items():
            grid.add_row(name, column[i])
        parts.append(grid)
    parts.append(Text(caption, style="dim"))
    return Group(*parts)


def display_frame(frame: pl.DataFrame, *, naive_ns_is_utc: bool = False) -> pl.DataFrame:
    """The values a table shows: KST timestamps and decoded KIS codes."""
    return decode_codes(in_kst(frame, naive_ns_is_utc=naive_ns_is_utc))


def print_frame(
    frame: pl.DataFrame,
    *,
    console: Console | None = None,
    max_rows: int | None = None,
    title: str | None = None,
    keep_all: bool = False,
    naive_ns_is_utc: bool = False,
    keys: frozenset[str] = KEY_COLUMNS,
) -> None:
    """Print `frame` as a table fitting the console (a new Console reads COLUMNS now); `keys`
    are the columns kept whatever the width."""
    out = console or Console()
    out.print(
        render_frame(
            display_frame(frame, naive_ns_is_utc=naive_ns_is_utc),
            width=out.size.width,
            max_rows=max_rows,
            title=title,
            keep_all=keep_all,
            keys=keys,
        )
    )
