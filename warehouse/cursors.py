"""Incremental state, read from the tables themselves (never from side files).

`latest` is the cursor (the newest stored date of one series); `gaps` answers "which trading-day
ranges of this series are missing between start and end" and drives backfills and `kisdb check`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from schemas.base import Dataset
from schemas.datasets import HOLIDAYS
from warehouse import tables
from warehouse.lake import CATALOG, Lake, LakeError
from warehouse.ledger import complete_ranges, ledger_key


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
    column = tables.date_column(dataset)
    if column is None:
        raise ValueError(f"{dataset.name} has no date column to find gaps in")
    unknown = [k for k in key if k not in dataset.column_index]
    if unknown:
        raise ValueError(f"{dataset.name} has no column(s) {unknown}")
    days = (
        [d for d in trading_days if start <= d <= end]
        if trading_days is not None
        else trading_days_between(lake, start, end)
    )
    where = " AND ".join(
        [f"{tables.quote(k)} = ?" for k in key] + [f"{tables.quote(column)} BETWEEN ? AND ?"]
    )
    rows = lake.con.execute(
        f"SELECT DISTINCT {tables.quote(column)} FROM {tables.qualified(dataset.name, CATALOG)} "
        f"WHERE {where}",
        [*key.values(), start, end],
    ).fetchall()
    present = {r[0] for r in rows}
    if use_ledger:
        for lo, hi in complete_ranges(lake, dataset, ledger_key(dataset, key)):
            present.update(d for d in days if lo <= d <= hi)
    return missing_ranges(days, present)
