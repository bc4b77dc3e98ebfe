"""What the lake already holds, read for planning: stored date bounds per key, trading days.

Incremental state is read from the tables themselves (DESIGN.md), never from side files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

import polars as pl

from schemas import HOLIDAYS, Dataset
from warehouse import tables
from warehouse.cursors import gaps_many
from warehouse.lake import CATALOG, Lake


def _table(name: str) -> str:
    return tables.qualified(name, CATALOG)


def query(lake: Lake, sql: str, params: Sequence[Any] | None = None) -> pl.DataFrame:
    """Run SQL over the lake; `{name}` placeholders become the qualified table names."""
    names = {n: _table(n) for n in lake.table_names()}
    return lake.con.execute(sql.format(**names), list(params or [])).pl()


def stored_bounds(
    lake: Lake, dataset: Dataset, keys: Sequence[str], column: str = "date"
) -> dict[tuple[Any, ...], tuple[Any, Any]]:
    """{key values: (min(column), max(column))} for every key stored in the dataset."""
    key_list = ", ".join(tables.quote(k) for k in keys)
    col = tables.quote(column)
    frame = query(
        lake,
        f"SELECT {key_list}, min({col}) AS lo, max({col}) AS hi FROM {{{dataset.name}}} "
        f"GROUP BY {key_list}",
    )
    return {tuple(row[:-2]): (row[-2], row[-1]) for row in frame.iter_rows()}


def trading_days(lake: Lake, start: date, end: date) -> list[date]:
    """KRX trading days in [start, end]: the holidays table where it covers the range, weekdays
    elsewhere (an approximation that can only cost an extra call, never skip a real day)."""
    frame = query(
        lake,
        f"SELECT date, market_open FROM {{{HOLIDAYS.name}}} WHERE date BETWEEN ? AND ? ORDER BY date",
        [start, end],
    )
    known = dict(zip(frame["date"].to_list(), frame["market_open"].to_list(), strict=True))
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


def holidays_covered_until(lake: Lake) -> date | None:
    value = lake.latest(HOLIDAYS, "date")
    return value if isinstance(value, date) else None


# The regular session ends 15:30 (closing auction); after this a day's bars are final.
SETTLED_AFTER = time(15, 45)


def settled_until(now: datetime) -> date:
    """The last day whose bars can no longer change: today after the close, else yesterday."""
    today = now.date()
    return today if now.time() >= SETTLED_AFTER else today - timedelta(days=1)


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
    if settled_days:
        found = gaps_many(
            lake, dataset, [dict(k) for k in keys], settled_days[0], settled_days[-1], settled_days
        )
    else:
        found = [[] for _ in keys]
    out = []
    for spans in found:
        if live:
            if spans and spans[-1][1] == settled_days[-1]:
                spans[-1] = (spans[-1][0], live[-1])
            else:
                spans.append((live[0], live[-1]))
        out.append(spans)
    return out
