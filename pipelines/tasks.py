"""Prefect tasks: thin calls into the connector (fetch) and the warehouse (store).

Fetch tasks run concurrently (the flows submit them to a thread pool); the connector's shared rate
limiter paces the requests, so the pool size only bounds memory and open sockets. Stores run in the
flow's own thread, one key per transaction, so a crash leaves every key either written or not.

Retries are for transient errors only (`KisError.transient`: timeouts, 5xx, rate-limit storms,
truncated pages); a bad symbol or a refused token fails at once. Frames go in and out of tasks,
so every task uses `NO_CACHE` (hashing a big frame for the cache key costs ~0.4 s a call).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import TaskRun
from prefect.states import State

from connectors.kis.errors import KisError
from schemas import Dataset
from warehouse.lake import Lake, UpsertResult
from warehouse.ledger import record_fetch


def retry_if_transient(task: Any, task_run: TaskRun, state: State[Any]) -> bool:
    """Prefect `retry_condition_fn`: retry only errors the connector marks transient.

    Prefect hands the failure over as a Failed state whose data is the exception.
    """
    error = state.data
    return isinstance(error, KisError) and error.transient


FETCH = {
    "retries": 3,
    "retry_delay_seconds": [2, 10, 30],
    "retry_jitter_factor": 0.5,
    "retry_condition_fn": retry_if_transient,
    "timeout_seconds": 600,
    "cache_policy": NO_CACHE,
    "persist_result": False,
}


@task(name="fetch", task_run_name="{label}", **FETCH)
async def fetch(label: str, call: Callable[[], pl.DataFrame]) -> pl.DataFrame:
    """Run one connector call (a partial of e.g. `client.period_bars`) and return its frame.

    `label` names the task run in the UI ("period_bars 005930 D adj 2024-01-02..2026-11-24").
    The blocking call runs in a thread awaited here: Prefect's timeout can only interrupt an
    await, not a blocking call in a worker thread (each request has its own HTTP timeout too).
    """
    return await asyncio.to_thread(call)


@task(
    name="store",
    task_run_name="store {dataset.name} {start}..{end}",
    cache_policy=NO_CACHE,
    timeout_seconds=300,
    persist_result=False,
)
def store(
    lake: Lake,
    dataset: Dataset,
    frame: pl.DataFrame,
    *,
    key: Mapping[str, object],
    start: date,
    end: date,
    settled: date,
    run_id: str | None = None,
) -> UpsertResult:
    """Upsert one series' rows, then note the fetch in the ledger.

    The ledger row comes after the data: a crash in between only means a harmless re-fetch. Only
    the settled part of the range is recorded as complete; today's bars before the close are not.
    """
    result = lake.upsert(dataset, frame)
    if start <= settled:
        record_fetch(
            lake,
            dataset,
            key,
            start,
            min(end, settled),
            complete=True,
            rows=frame.height,
            run_id=run_id,
        )
    return result


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
