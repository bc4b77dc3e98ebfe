"""Versioned (point-in-time) datasets: a row is never overwritten by a later, different one; the
later one is stored beside it under a later version date (financials: `seen_date`).

`latest_versions` reads the newest stored version of each series; `changed_rows` keeps the fresh
rows that are new or differ from it, so storing them adds a version only for a real change (a
restatement) and re-running on the same data adds nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from schemas import Dataset
from warehouse import tables
from warehouse.lake import CATALOG, Lake


def _series(dataset: Dataset, version: str) -> list[str]:
    if version not in dataset.primary_key:
        raise ValueError(f"{dataset.name}: {version!r} is not part of the primary key")
    return [k for k in dataset.primary_key if k != version]


def latest_versions(
    lake: Lake, dataset: Dataset, version: str, symbols: Sequence[str]
) -> pl.DataFrame:
    """The newest stored version of every series of these symbols."""
    series = ", ".join(tables.quote(k) for k in _series(dataset, version))
    table = tables.qualified(dataset.name, CATALOG)
    return lake.con.execute(
        f"SELECT * FROM {table} WHERE list_contains(?, symbol) "
        f"QUALIFY row_number() OVER (PARTITION BY {series} "
        f"ORDER BY {tables.quote(version)} DESC) = 1",
        [list(symbols)],
    ).pl()


def changed_rows(
    fresh: pl.DataFrame, latest: pl.DataFrame, dataset: Dataset, version: str
) -> pl.DataFrame:
    """The rows of `fresh` whose series is new or whose values differ from `latest` (nulls equal)."""
    _series(dataset, version)  # refuse a non-key version column early
    compare = [c for c in dataset.column_names if c != version]
    if latest.is_empty():
        return fresh
    return fresh.join(
        dataset.conform(latest).select(compare), on=compare, how="anti", nulls_equal=True
    )
