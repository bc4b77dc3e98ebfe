"""Incremental state, read from the tables themselves (never from side files).

`latest` is the cursor (the newest stored date of one series); `gaps` answers "which trading-day
ranges of this series are missing between start and end" and drives backfills and `kisdb check`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

import polars as pl

from schemas.base import Dataset
from schemas.datasets import HOLIDAYS
from warehouse import tables
from warehouse.lake import CATALOG, Lake, LakeError
from warehouse.ledger import complete_ranges_many, ledger_key


def latest(lake: Lake, dataset: Dataset, column: str = "date", **key: object) -> Any | None:
    """The newest stored `column` value of the series `key` (None when nothing is stored)."""
    return lake.latest(dataset, column, **key)


def missing_ranges(
    trading_days: Sequence[date], present: Iterable[date]
) -> list[tuple[date, date]]:
    """Runs of consecutive trading days (in `trading_days` order) absent from `present`.

    Pure: `missing_ranges([d1, d2, d3, d4], {d2})` -> [(d1, d1), (d3, d4)]. A run spans
    non-trading days between its members, so each range is one fetch.
    """
    have = set(present)
    runs: list[tuple[date, date]] = []
    run_start: date | None = None
    prev: date | None = None
    for day in sorted(trading_days):
        if day in have:
            if run_start is not None and prev is not None:
                runs.append((run_start, prev))
            run_start = None
        elif run_start is None:
            run_start = day
        prev = day
    if run_start is not None and prev is not None:
        runs.append((run_start, prev))
    return runs


def trading_days_between(lake: Lake, start: date, end: date) -> list[date]:
    """Market-open days from the lake's `holidays` table; refuses a range the table lacks."""
    table = tables.qualified(HOLIDAYS.name, CATALOG)
    row = lake.con.execute(f"SELECT min(date), max(date) FROM {table}").fetchone()
    if row is None or row[0] is None or row[0] > start or row[1] < end:
        have = f"{row[0]}..{row[1]}" if row and row[0] else "nothing"
        raise LakeError(
            f"the holidays table covers {have}, not {start}..{end}: "
            "ingest holidays first (`kisdb ingest holidays`) or pass trading_days"
        )
    rows = lake.con.execute(
        f"SELECT date FROM {table} WHERE market_open AND date BETWEEN ? AND ? ORDER BY date",
        [start, end],
    ).fetchall()
    return [r[0] for r in rows]


KEYS_PER_QUERY = 200


def gaps(
    lake: Lake,
    dataset: Dataset,
    key: Mapping[str, object],
    start: date,
    end: date,
    trading_days: Sequence[date] | None = None,
    *,
    use_ledger: bool = True,
) -> list[tuple[date, date]]:
    """Missing ranges of one series within [start, end], as (first, last) trading days.

    `key` names the series, e.g. {"symbol": "005930", "period": "D", "adjusted": True}.
    `trading_days` defaults to the KRX days in the lake's holidays table (pass the exchange's
    own calendar for overseas data). Days a complete fetch in the ledger covered are not gaps.
    """
    return gaps_many(lake, dataset, [key], start, end, trading_days, use_ledger=use_ledger)[0]


def gaps_many(
    lake: Lake,
    dataset: Dataset,
    keys: Sequence[Mapping[str, object]],
    start: date,
    end: date,
    trading_days: Sequence[date] | None = None,
    *,
    use_ledger: bool = True,
) -> list[list[tuple[date, date]]]:
    """`gaps` of many series of one dataset (all keyed by the same columns), two queries per
    KEYS_PER_QUERY series: a remote catalog pays tens of milliseconds a query, which per series
    would dominate a backfill."""
    if not keys:
        return []
    column = tables.date_column(dataset)
    if column is None:
        raise ValueError(f"{dataset.name} has no date column to find gaps in")
    names = list(keys[0])
    unknown = [k for k in names if k not in dataset.column_index]
    if unknown:
        raise ValueError(f"{dataset.name} has no column(s) {unknown}")
    if any(list(k) != names for k in keys):
        raise ValueError("all keys of one gaps_many call must name the same columns")
    days = (
        [d for d in trading_days if start <= d <= end]
        if trading_days is not None
        else trading_days_between(lake, start, end)
    )
    out = []
    with lake.read_transaction():
        # In batches: stored dates are held as Python objects while a batch is planned.
        for i in range(0, len(keys), KEYS_PER_QUERY):
            batch = keys[i : i + KEYS_PER_QUERY]
            present = _present_dates(lake, dataset, names, column, batch, start, end)
            covered: dict[str, list[tuple[date, date]]] = {}
            if use_ledger:
                ledger_keys = [ledger_key(dataset, k) for k in batch]
                covered = complete_ranges_many(lake, dataset, ledger_keys)
            for key in batch:
                have = present.get(tuple(key.values()), set())
                for lo, hi in covered.get(ledger_key(dataset, key), []):
                    have = have | {d for d in days if lo <= d <= hi}
                out.append(missing_ranges(days, have))
    return out


def _present_dates(
    lake: Lake,
    dataset: Dataset,
    names: list[str],
    column: str,
    keys: Sequence[Mapping[str, object]],
    start: date,
    end: date,
) -> dict[tuple[Any, ...], set[date]]:
    """{key values: stored dates in [start, end]}, narrowed in SQL by the first key column."""
    cols = ", ".join(tables.quote(k) for k in names)
    first = tables.quote(names[0])
    date_col = tables.quote(column)
    # A day holding a provisional bar (stored while its session was open) is not present yet.
    final = "bool_and(final IS NOT FALSE)" if "final" in dataset.column_index else "TRUE"
    frame = lake.con.execute(
        f"SELECT {cols}, {date_col} AS d "
        f"FROM {tables.qualified(dataset.name, CATALOG)} "
        f"WHERE {date_col} BETWEEN ? AND ? AND list_contains(?, {first}) "
        f"GROUP BY ALL HAVING {final}",
        [start, end, sorted({k[names[0]] for k in keys}, key=str)],
    ).pl()
    present: dict[tuple[Any, ...], set[date]] = {}
    for row in frame.group_by(names).agg(pl.col("d")).iter_rows():
        present[tuple(row[:-1])] = set(row[-1])
    return present
