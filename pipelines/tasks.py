"""Tasks: thin calls into the connector (fetch) and the warehouse (store); Prefect tasks in a
Prefect run, plain calls on a local thread pool otherwise (pipelines/engine.py).

Fetch tasks run concurrently (the flows submit them to a thread pool); the connector's shared rate
limiter paces the requests, so the pool size only bounds memory and open sockets. Stores run in the
flow's own thread, each a transaction over whole keys (the ranges that finished fetching meanwhile),
so a crash leaves every key either written or not.

Fetch tasks are not retried by Prefect: the connector already retries each request's transient
errors (timeouts, 5xx, rate limits; `Settings.max_retries`, connectors/kis/backoff.py) and refetches
a truncated range, so a task retry would multiply that budget (a persistent 5xx cost 5 x 4 = 20
attempts per page). Frames go in and out of tasks, so every task uses `NO_CACHE` (hashing a big
frame for the cache key costs ~0.4 s a call).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import polars as pl

from pipelines.engine import NO_CACHE_POLICY, task
from schemas import FETCH_LEDGER, INDEX_MINUTE_BARS, Dataset
from schemas.sessions import Finality
from warehouse import tables
from warehouse.lake import Lake, UpsertResult
from warehouse.ledger import fetch_row, record_fetch, record_fetches


@task(
    name="fetch",
    task_run_name="{label}",
    timeout_seconds=600,
    cache_policy=NO_CACHE_POLICY,
    persist_result=False,
)
async def fetch(label: str, call: Callable[[], pl.DataFrame]) -> pl.DataFrame:
    """Run one connector call (a partial of e.g. `client.period_bars`) and return its frame.

    `label` names the task run in the UI ("period_bars 005930 D adj 2024-01-02..2026-11-24").
    The blocking call runs in a thread awaited here: Prefect's timeout can only interrupt an
    await, not a blocking call in a worker thread (each request has its own HTTP timeout too).
    """
    return await asyncio.to_thread(call)


@dataclass(frozen=True)
class Fetched:
    """One job's fetched range, as the ledger records it once its rows are stored."""

    key: Mapping[str, object]
    start: date
    end: date
    rows: int


@task(
    name="store",
    task_run_name="store {dataset.name}",
    cache_policy=NO_CACHE_POLICY,
    timeout_seconds=300,
    persist_result=False,
)
def store(
    lake: Lake,
    dataset: Dataset,
    frame: pl.DataFrame,
    *,
    fetched: Sequence[Fetched],
    settled: date,
    finality: Finality | None = None,
    run_id: str | None = None,
) -> UpsertResult:
    """Upsert the rows of the `fetched` ranges (one transaction), then note them in the ledger.

    The ledger rows come after the data: a crash in between only means a harmless re-fetch.
    Only the settled part of a range is recorded as complete; today's bars before the close are
    not. Bars (datasets with `final`) are marked by `finality`; a period series' earlier
    provisional rows the fresh answer no longer has (a weekly bar labelled with an earlier day)
    go in the same transaction.
    """
    if "final" in dataset.column_index:
        if finality is None:
            raise ValueError(f"storing {dataset.name} needs a Finality to mark final bars")
        frame = frame.with_columns(final_of(dataset, finality))
    replace = "final IS FALSE" if "period" in dataset.column_index else None
    result = lake.upsert(dataset, frame, replace=replace)
    now = datetime.now(UTC)
    entries = [
        fetch_row(
            dataset,
            f.key,
            f.start,
            min(f.end, settled),
            complete=True,
            rows=f.rows,
            run_id=run_id,
            fetched_at=now,
        )
        for f in fetched
        if f.start <= settled
    ]
    if entries:
        record_fetches(lake, pl.DataFrame(entries, schema=FETCH_LEDGER.schema))
    return result


def final_of(dataset: Dataset, finality: Finality) -> pl.Expr:
    """The `final` column of a bar dataset's rows: by period (a minute bar's is its day: the day
    is re-fetched after the close), except index minute bars, which come as snapshots of the
    latest bars that are never re-read: final once their minute has passed."""
    if dataset.name == INDEX_MINUTE_BARS.name:
        return finality.minute_final("ts")
    day = tables.date_column(dataset)
    assert day is not None, f"{dataset.name} has no date column"
    return finality.period_final(day, "period" if "period" in dataset.column_index else None)


def record_failure(
    lake: Lake,
    dataset: Dataset,
    key: Mapping[str, object],
    start: date,
    end: date,
    error: BaseException,
    run_id: str | None = None,
) -> None:
    record_fetch(
        lake,
        dataset,
        key,
        start,
        end,
        complete=False,
        rows=0,
        run_id=run_id,
        error=str(error)[:500],
    )
