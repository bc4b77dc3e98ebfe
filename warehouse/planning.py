"""What the lake already holds, read for planning a fetch: stored bounds, trading days, the
latest securities snapshot, and the ranges each series still misses.

Incremental state is read from the tables themselves, never from side files.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from schemas import (
    CORPORATE_ACTIONS,
    HOLIDAYS,
    PERIOD_BARS,
    PRICE_NEUTRAL_ACTIONS,
    SECURITIES,
    Dataset,
)
from warehouse import tables
from warehouse.cursors import gaps_many
from warehouse.lake import CATALOG, Lake

MARKETS = ("KOSPI", "KOSDAQ")


def _table(dataset: Dataset) -> str:
    return tables.qualified(dataset.name, CATALOG)


def stored_bounds(
    lake: Lake,
    dataset: Dataset,
    keys: Sequence[str],
    column: str = "date",
    where: str = "TRUE",
) -> dict[tuple[Any, ...], tuple[Any, Any]]:
    """{key values: (min(column), max(column))} for every key stored in the dataset (of the
    rows matching the SQL condition `where`)."""
    key_list = ", ".join(tables.quote(k) for k in keys)
    col = tables.quote(column)
    # Through polars: timestamps come back in the column's own zone, as every reader sees them.
    frame = lake.con.execute(
        f"SELECT {key_list}, min({col}), max({col}) FROM {_table(dataset)} WHERE {where} "
        f"GROUP BY {key_list}"
    ).pl()
    return {tuple(row[:-2]): (row[-2], row[-1]) for row in frame.iter_rows()}


def stored_dates(
    lake: Lake, dataset: Dataset, start: date, end: date, column: str = "date"
) -> set[date]:
    """The distinct `column` dates stored in [start, end], over all keys."""
    col = tables.quote(column)
    rows = lake.con.execute(
        f"SELECT DISTINCT {col} FROM {_table(dataset)} WHERE {col} BETWEEN ? AND ?", [start, end]
    ).fetchall()
    return {row[0] for row in rows}


def trading_days_or_weekdays(lake: Lake, start: date, end: date) -> list[date]:
    """KRX trading days in [start, end]: the holidays table where it covers the range, weekdays
    elsewhere (an approximation that can only cost an extra call, never skip a real day).

    `warehouse.cursors.trading_days_between` is the strict version (refuses an uncovered range).
    """
    rows = lake.con.execute(
        f"SELECT date, market_open FROM {_table(HOLIDAYS)} WHERE date BETWEEN ? AND ?",
        [start, end],
    ).fetchall()
    known: dict[date, bool] = {row[0]: row[1] for row in rows}
    days = []
    d = start
    while d <= end:
        is_open = known.get(d)
        if is_open is None:
            is_open = d.weekday() < 5
        if is_open:
            days.append(d)
        d += timedelta(days=1)
    return days


def trading_day_lookup(lake: Lake) -> Callable[[date], bool]:
    """`is_trading_day(d)` from the holidays table where it knows `d`, weekdays elsewhere (the
    session rules in schemas.sessions take it)."""
    rows = lake.con.execute(f"SELECT date, market_open FROM {_table(HOLIDAYS)}").fetchall()
    known: dict[date, bool] = {row[0]: row[1] for row in rows}

    def is_trading_day(d: date) -> bool:
        is_open = known.get(d)
        return d.weekday() < 5 if is_open is None else is_open

    return is_trading_day


def snapshot_symbols(
    lake: Lake, *, on: date | None = None, markets: Sequence[str] = MARKETS
) -> list[str]:
    """The symbols of the latest `securities` snapshot on or before `on` (the latest if no
    date), in the given markets, sorted."""
    wanted = [m for m in markets if m in MARKETS]
    table = _table(SECURITIES)
    where = "snapshot_date <= ?" if on else "TRUE"
    rows = lake.con.execute(
        f"SELECT symbol FROM {table} WHERE list_contains(?, market) AND snapshot_date = "
        f"(SELECT max(snapshot_date) FROM {table} WHERE {where}) ORDER BY symbol",
        [wanted, *([on] if on else [])],
    ).fetchall()
    return [row[0] for row in rows]


@dataclass(frozen=True)
class Anchor:
    """A stored adjusted series' span and its newest final close: a fresh answer that disagrees
    on that day was restated (a split or another corporate action since)."""

    first: date
    newest: date
    close: int


def adjusted_anchors(
    lake: Lake, symbols: Sequence[str], periods: Sequence[str]
) -> dict[tuple[str, str], Anchor]:
    """{(symbol, period): Anchor} of the stored adjusted stock series (final bars only)."""
    rows = lake.con.execute(
        f"SELECT symbol, period, min(date), max(date), arg_max(close, date) "
        f"FROM {_table(PERIOD_BARS)} WHERE adjusted AND final IS NOT FALSE "
        f"AND list_contains(?, symbol) AND list_contains(?, period) GROUP BY ALL",
        [list(symbols), list(periods)],
    ).fetchall()
    return {(r[0], r[1]): Anchor(r[2], r[3], r[4]) for r in rows}


def action_dates(lake: Lake, symbols: Sequence[str], after: date) -> dict[str, list[date]]:
    """{symbol: effective dates of its stored corporate actions after `after`} (not the
    price-neutral ones: a cash dividend does not restate adjusted prices)."""
    rows = lake.con.execute(
        f"SELECT symbol, list(DISTINCT date ORDER BY date) FROM {_table(CORPORATE_ACTIONS)} "
        f"WHERE date > ? AND list_contains(?, symbol) AND NOT list_contains(?, kind) "
        f"GROUP BY symbol",
        [after, list(symbols), list(PRICE_NEUTRAL_ACTIONS)],
    ).fetchall()
    return {r[0]: list(r[1]) for r in rows}


def stored_symbols(lake: Lake) -> list[str]:
    """The symbols with stock bars stored, sorted."""
    rows = lake.con.execute(f"SELECT DISTINCT symbol FROM {_table(PERIOD_BARS)} ORDER BY 1")
    return [row[0] for row in rows.fetchall()]


def delisted_symbols(lake: Lake) -> set[str]:
    """The symbols the `listings` view marks delisted (none when the lake lacks its tables)."""
    made = lake.con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE view_name = 'listings'"
    ).fetchone()
    if not made or not made[0]:
        return set()
    return {r[0] for r in lake.con.execute("SELECT symbol FROM listings WHERE delisted").fetchall()}


def universe_snapshot(lake: Lake, on: date | None = None) -> date | None:
    """The `securities` snapshot to take a universe from: the latest on or before `on` (the
    latest of all without a date), else the earliest; None when the table is empty."""
    table = _table(SECURITIES)
    row = lake.con.execute(
        f"SELECT coalesce(max(snapshot_date) FILTER (WHERE ?::DATE IS NULL OR snapshot_date <= ?), "
        f"min(snapshot_date)) FROM {table}",
        [on, on],
    ).fetchone()
    return row[0] if row else None


def plan(
    lake: Lake,
    dataset: Dataset,
    keys: Sequence[Mapping[str, object]],
    start: date,
    end: date,
    days: Sequence[date],
    settled: date,
) -> list[list[tuple[date, date]]]:
    """For each series in `keys`, the ranges to fetch so that [start, end] is complete.

    Settled days: the warehouse's gaps (days neither stored nor covered by a complete fetch in
    the ledger), read for all series at once. Unsettled days (today before the close): always
    re-fetched, as a stored bar of an open session is partial.
    """
    in_range = [d for d in days if start <= d <= end]
    settled_days = [d for d in in_range if d <= settled]
    live = [d for d in in_range if d > settled]
    found: list[list[tuple[date, date]]]
    if settled_days:
        found = gaps_many(
            lake, dataset, [dict(k) for k in keys], settled_days[0], settled_days[-1], settled_days
        )
    else:
        found = [[] for _ in keys]
    for spans in found:
        if live:
            if spans and spans[-1][1] == settled_days[-1]:
                spans[-1] = (spans[-1][0], live[-1])
            else:
                spans.append((live[0], live[-1]))
    return found
