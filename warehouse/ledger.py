"""The completeness ledger (`fetch_ledger`): what each ingest fetched, when, and whether complete.

One row per fetch of one key (symbol, index code, exchange:symbol, ranking) over a date range.
A range fetched completely counts as covered even on trading days that came back empty (a
suspended or not-yet-listed stock), so gaps (cursors.gaps, `kisdb check`) only name days that
are both absent and never fetched completely: exactly what the next `update` should fetch.

Key strings are built by `ledger_key` in primary-key order, e.g. period_bars
{symbol: 005930, period: D, adjusted: True} -> "005930:D:true". Writers and readers must both use it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime

import polars as pl

from schemas.base import Dataset
from schemas.datasets import FETCH_LEDGER
from warehouse import tables
from warehouse.lake import CATALOG, Lake, UpsertResult


def _format(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def series_key(dataset: Dataset) -> list[str]:
    """The primary-key columns naming one series (all but its date/time axis)."""
    axis = {tables.date_column(dataset), "ts", "date", "snapshot_ts"}
    return [k for k in dataset.primary_key if k not in axis]


def ledger_key(dataset: Dataset, key: Mapping[str, object]) -> str:
    """The ledger's `key` string for a series, its values joined by ':' in primary-key order."""
    unknown = [k for k in key if k not in dataset.column_index]
    if unknown:
        raise ValueError(f"{dataset.name} has no column(s) {unknown}")
    return ":".join(_format(key[k]) for k in dataset.primary_key if k in key)


def ledger_key_sql(dataset: Dataset, columns: list[str], alias: str = "") -> str:
    """SQL building the same string as `ledger_key` from a row's columns (for set-based checks)."""
    prefix = f"{alias}." if alias else ""
    parts = []
    for k in dataset.primary_key:
        if k not in columns:
            continue
        ref = f"{prefix}{tables.quote(k)}"
        if isinstance(dataset.column_index[k].dtype, pl.Boolean):
            parts.append(f"CASE WHEN {ref} THEN 'true' ELSE 'false' END")
        else:
            parts.append(f"CAST({ref} AS VARCHAR)")
    return f"concat_ws(':', {', '.join(parts)})" if parts else "''"


def record_fetch(
    lake: Lake,
    dataset: Dataset | str,
    key: Mapping[str, object] | str,
    start: date,
    end: date,
    *,
    complete: bool,
    rows: int | None = None,
    calls: int | None = None,
    run_id: str | None = None,
    error: str | None = None,
    fetched_at: datetime | None = None,
) -> UpsertResult:
    """Write one ledger row (an upsert, so re-recording the same fetch is harmless)."""
    row = fetch_row(
        dataset,
        key,
        start,
        end,
        complete=complete,
        rows=rows,
        calls=calls,
        run_id=run_id,
        error=error,
        fetched_at=fetched_at,
    )
    return record_fetches(lake, pl.DataFrame([row], schema=FETCH_LEDGER.schema))


def fetch_row(
    dataset: Dataset | str,
    key: Mapping[str, object] | str,
    start: date,
    end: date,
    *,
    complete: bool,
    rows: int | None = None,
    calls: int | None = None,
    run_id: str | None = None,
    error: str | None = None,
    fetched_at: datetime | None = None,
) -> dict[str, object]:
    """One ledger row as a dict (for `record_fetches`, which writes many in one transaction)."""
    name = dataset if isinstance(dataset, str) else dataset.name
    key_text = key if isinstance(key, str) else ledger_key(_as_dataset(dataset), key)
    return {
        "dataset": name,
        "key": key_text,
        "start": start,
        "end": end,
        "fetched_at": fetched_at or datetime.now(UTC),
        "rows": rows,
        "calls": calls,
        "complete": complete,
        "run_id": run_id,
        "error": error,
    }


def record_fetches(lake: Lake, entries: pl.DataFrame) -> UpsertResult:
    """Write many ledger rows at once (one transaction), e.g. at the end of a flow run."""
    return lake.upsert(FETCH_LEDGER, entries)


def fetch_history(
    lake: Lake, dataset: Dataset | str | None = None, key: str | None = None
) -> pl.DataFrame:
    """Ledger rows, newest first, optionally for one dataset and key."""
    where, params = _where(dataset, key)
    frame = lake.con.execute(
        f"SELECT * FROM {tables.qualified(FETCH_LEDGER.name, CATALOG)} WHERE {where} "
        "ORDER BY fetched_at DESC",
        params,
    ).pl()
    return tables.from_lake(FETCH_LEDGER, frame) if frame.height else FETCH_LEDGER.empty()


def complete_ranges(lake: Lake, dataset: Dataset | str, key: str) -> list[tuple[date, date]]:
    """The merged date ranges complete fetches of this series covered."""
    return complete_ranges_many(lake, dataset, [key])[key]


def complete_ranges_many(
    lake: Lake, dataset: Dataset | str, keys: Sequence[str]
) -> dict[str, list[tuple[date, date]]]:
    """`complete_ranges` of many series of one dataset, in one query."""
    where, params = _where(dataset, None)
    rows = lake.con.execute(
        f'SELECT key, start, "end" FROM {tables.qualified(FETCH_LEDGER.name, CATALOG)} '
        f"WHERE {where} AND complete AND list_contains(?, key)",
        [*params, list(keys)],
    ).fetchall()
    found: dict[str, list[tuple[date, date]]] = {k: [] for k in keys}
    for key, lo, hi in rows:
        found[key].append((lo, hi))
    return {k: merge_ranges(v) for k, v in found.items()}


def merge_ranges(ranges: list[tuple[date, date]]) -> list[tuple[date, date]]:
    """Union of closed date ranges, sorted; overlapping or touching ranges merge."""
    merged: list[tuple[date, date]] = []
    for lo, hi in sorted(ranges):
        if merged and lo.toordinal() <= merged[-1][1].toordinal() + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def _where(dataset: Dataset | str | None, key: str | None) -> tuple[str, list[object]]:
    parts: list[str] = ["TRUE"]
    params: list[object] = []
    if dataset is not None:
        parts.append("dataset = ?")
        params.append(dataset if isinstance(dataset, str) else dataset.name)
    if key is not None:
        parts.append("key = ?")
        params.append(key)
    return " AND ".join(parts), params


def _as_dataset(dataset: Dataset | str) -> Dataset:
    from schemas.datasets import DATASETS

    if isinstance(dataset, Dataset):
        return dataset
    return DATASETS[dataset]
