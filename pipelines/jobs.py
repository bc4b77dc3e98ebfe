"""Run a list of fetch jobs: fetch concurrently, store each key as it arrives, tally the result.

A job is one key's missing range (a symbol's daily bars since the last stored date, one day of a
symbol's minute bars, ...). Fetches are Prefect tasks submitted to the flow's thread pool; the
connector's limiter keeps them within the app key's budget. Results are stored from this thread:
whatever finished since the last store goes in one transaction (one commit, one Parquet file,
instead of one per key: a PostgreSQL catalog on another machine costs ~0.1 s a commit), so an
interrupted run keeps every stored key whole and a re-run fetches only the rest. A failing key
does not stop the others; the first failure is raised at the end. A server that cannot be reached
(`KisUnreachable`: every attempt failed for the outage budget) stops the run: nothing more is
submitted, and that error is raised once the fetches in flight are back.

Memory stays flat in the number of jobs: at most IN_FLIGHT fetches are submitted ahead of the
stores, and a stored frame is dropped with its future. (Submitting every job at once kept every
finished frame alive until the end: a Prefect future holds its result, and the futures were all
referenced until the loop ended; +0.3 MB a symbol on a five-year daily backfill.)
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from connectors.kis.errors import KisUnreachable
from pipelines import interrupts, progress
from pipelines.errors import RunFailed
from pipelines.runtime import Runtime
from pipelines.summary import RunSummary
from pipelines.tasks import Fetched, fetch, record_failure, store
from schemas import Dataset
from schemas.sessions import Finality

# Fetches submitted ahead of the stores: enough to keep a flow's pool (4 workers) busy while this
# thread stores, few enough that finished frames never pile up.
IN_FLIGHT = 12


@dataclass(frozen=True)
class FetchJob:
    """One series' range to fetch and store: `call()` returns the rows of `dataset` for `key`."""

    dataset: Dataset
    # The series, e.g. {"symbol": "005930", "period": "D", "adjusted": True}.
    key: Mapping[str, object]
    start: date
    end: date
    call: Callable[[], pl.DataFrame]
    label: str = ""

    @property
    def title(self) -> str:
        if self.label:
            return self.label
        series = " ".join(str(v) for v in self.key.values())
        return f"{self.dataset.name} {series} {self.start}..{self.end}"


class JobsFailed(RunFailed):
    """Some jobs failed after their retries; the others were stored. One line: the first error.

    Holds only text, so the exception pickles (Prefect stores a failed run's exception).
    """

    def __init__(self, message: str, errors: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.errors = list(errors)

    @classmethod
    def of(cls, failures: Sequence[tuple[FetchJob, BaseException]], total: int) -> JobsFailed:
        job, first = failures[0]
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        message = f"{len(failures)} of {total} fetches failed; {job.title}: {first}{more}"
        return cls(message, [f"{j.title}: {e}" for j, e in failures])


def _store(
    rt: Runtime,
    group: list[tuple[FetchJob, pl.DataFrame]],
    summary: RunSummary,
    settled: date,
    finality: Finality | None,
    run_id: str | None,
) -> None:
    """Store one dataset's finished jobs in one transaction (a remote catalog pays per commit)."""
    dataset = group[0][0].dataset
    frame = pl.concat([f for _, f in group], how="vertical")
    fetched = [Fetched(j.key, j.start, j.end, f.height) for j, f in group]
    with rt.write_lock:
        result = store(
            rt.lake,
            dataset,
            frame,
            fetched=fetched,
            settled=settled,
            finality=finality,
            run_id=run_id,
        )
    summary.add(dataset.name, result, keys=len(group))
    interrupts.stored(len(group))


def run_jobs(
    rt: Runtime,
    jobs: Sequence[FetchJob],
    summary: RunSummary,
    *,
    label: str,
    settled: date,
    finality: Finality | None = None,
    run_id: str | None = None,
    window: int = IN_FLIGHT,
) -> None:
    """Fetch and store `jobs`; `settled` bounds what the ledger records complete, `finality`
    (needed for bar datasets) which bars are stored final (pipelines.tasks.store)."""
    reporter = progress.current()
    reporter.start(label, len(jobs))
    failures: list[tuple[FetchJob, BaseException]] = []
    unreachable: KisUnreachable | None = None
    waiting = iter(jobs)
    in_flight: dict[Any, FetchJob] = {}  # future -> its job, until stored
    finished: queue.SimpleQueue[Any] = queue.SimpleQueue()  # futures, as they finish

    def submit_next() -> None:
        job = None if unreachable else next(waiting, None)
        if job is not None:
            future = fetch.submit(job.title, job.call)
            in_flight[future] = job
            future.add_done_callback(finished.put)

    try:
        for _ in range(window):
            submit_next()
        while in_flight:
            done = [interrupts.get(finished)]
            while len(done) < window:  # and whatever else finished meanwhile: one store for all
                try:
                    done.append(finished.get_nowait())
                except queue.Empty:
                    break
            landed: dict[str, list[tuple[FetchJob, pl.DataFrame]]] = {}
            for future in done:
                job = in_flight.pop(future)
                submit_next()  # keep the pool busy while this thread stores
                try:
                    frame = future.result()
                except Exception as exc:  # noqa: BLE001 - reported below, other keys go on
                    if isinstance(exc, KisUnreachable):
                        unreachable = unreachable or exc
                    failures.append((job, exc))
                    summary.errors.append(f"{job.title}: {exc}")
                    with rt.write_lock:
                        record_failure(
                            rt.lake, job.dataset, job.key, job.start, job.end, exc, run_id
                        )
                    reporter.advance()
                    continue
                landed.setdefault(job.dataset.name, []).append((job, frame))
                del frame
            del done, future  # the futures hold the frames: drop both once stored
            while landed:  # popped, so each group's frames go as soon as they are stored
                group = landed.popitem()[1]
                _store(rt, group, summary, settled, finality, run_id)
                reporter.advance(len(group))
                del group
    finally:
        reporter.done()
    if unreachable is not None:
        raise unreachable
    if failures:
        raise JobsFailed.of(failures, len(jobs))
