"""Scale-out backfills: split symbols (x years) into chunks, run each chunk as its own flow run.

    backfill_fanout(symbols=[...], start="2021-01-01", end="2025-12-31")   # chunks sized from the budget

`backfill_fanout` plans the chunks (pure: `plan_chunks`, `chunk_sizes`: large chunks first, small
ones last, each over the whole date range), prepares the lake once (tables created before any
worker writes, so workers never race on CREATE TABLE), and submits one `backfill-chunk` deployment
run per chunk with `run_deployment`; the pool's workers claim them. The workers are long-lived
`kisdb worker` processes (pipelines/chunk_worker.py) that run chunk runs in their own process, two
at a time, and keep the lake and their app key's lease between them; Prefect's process worker
(a new process per chunk run) still works, at ~5 s a chunk.

Chunks are spread over the configured app keys (KIS_APP_KEYS_FILE, see connectors/kis/keyring.py):
chunk i prefers key i mod n and takes another free key when that one is busy (a worker's chunks
use the key it holds). A chunk run leases its key (pipelines/lease.py), so one key is used by one
machine at a time and the key's limiter owns the whole budget; different keys run in parallel.

Resumable by construction: the cursor is the lake. A chunk runs the ordinary `bars` flow, which
fetches only the ranges its series still miss (warehouse gaps + the fetch ledger), so a chunk run
again after a worker died mid-way fetches the rest and writes exactly the missing rows. The parent
resubmits a chunk whose run ended Failed or Crashed (a dead worker's run is marked Crashed by the
heartbeat automation that scripts/scale_env.py installs) up to `max_attempts` times.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.deployments import run_deployment

from connectors.kis.keyring import AppKey, pick
from pipelines import chunk_worker
from pipelines.bars import check_periods, ingest_period_bars
from pipelines.config import Config, load_config
from pipelines.errors import InputError
from pipelines.lease import lease_first_free, shared_token_cache
from pipelines.ranges import check_range, parse_date
from pipelines.runtime import Runtime, open_lake, use_runtime
from pipelines.universe import stock_symbols
from schemas.periods import PERIODS
from warehouse.lake import Lake

log = logging.getLogger(__name__)

CHUNK_FLOW = "backfill-chunk"
CHUNK_DEPLOYMENT = f"{CHUNK_FLOW}/scale"
FINAL_BAD = {"FAILED", "CRASHED", "CANCELLED"}


@dataclass(frozen=True)
class Chunk:
    index: int
    symbols: tuple[str, ...]
    start: date
    end: date
    key: str | None  # app key name (None: the single configured key or the embedded simulator)

    def parameters(self, **extra: Any) -> dict[str, Any]:
        return {
            "symbols": list(self.symbols),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "key": self.key,
            **extra,
        }

    @property
    def label(self) -> str:
        first, last = self.symbols[0], self.symbols[-1]
        names = first if first == last else f"{first}-{last}"
        return f"chunk-{self.index:03d} {names} {self.start.year}-{self.end.year}"


def year_windows(start: date, end: date, years: int) -> list[tuple[date, date]]:
    """[start, end] cut at January 1st every `years` years."""
    if years < 1:
        raise InputError("years per chunk must be at least 1")
    check_range(start, end)
    out = []
    lo = start
    while lo <= end:
        hi = min(date(lo.year + years, 1, 1) - timedelta(days=1), end)
        out.append((lo, hi))
        lo = hi + timedelta(days=1)
    return out


def plan_chunks(
    symbols: list[str],
    start: date,
    end: date,
    *,
    symbols_per_chunk: int | Sequence[int],
    years_per_chunk: int | None = None,
    keys: list[str | None] | None = None,
) -> list[Chunk]:
    """Symbols in groups (`symbols_per_chunk`: one size for all, or each group's size in order)
    x year windows (None: the whole range, the fewest calls); chunk i is assigned keys[i % n].

    Groups keep the given symbol order, so the plan is deterministic for a given input.
    """
    if not symbols:
        raise InputError("no symbols to backfill")
    sizes = (
        [symbols_per_chunk] * math.ceil(len(symbols) / max(symbols_per_chunk, 1))
        if isinstance(symbols_per_chunk, int)
        else list(symbols_per_chunk)
    )
    if min(sizes, default=0) < 1:
        raise InputError("symbols per chunk must be at least 1")
    names: list[str | None] = list(keys) if keys else [None]
    offsets = list(itertools.accumulate(sizes, initial=0))
    groups = [tuple(symbols[lo:hi]) for lo, hi in itertools.pairwise(offsets) if lo < len(symbols)]
    windows = (
        [(start, end)] if years_per_chunk is None else year_windows(start, end, years_per_chunk)
    )
    if years_per_chunk is None:
        check_range(start, end)
    chunks = []
    for group in groups:
        for lo, hi in windows:
            i = len(chunks)
            chunks.append(Chunk(i, group, lo, hi, names[i % len(names)]))
    return chunks


# Bars per year by period and rows per chart call: what one symbol-year costs in calls.
BARS_PER_YEAR = {"D": 250, "W": 53, "M": 12, "Y": 1}
ROWS_PER_CALL = 100
# The first chunks keep a key busy for at most this long, the last ones at least TAIL_SECONDS:
# large chunks while there is work for everyone, small ones at the end, so the keys finish
# together (the tail, when one key is done and another still sends, is at most a small chunk).
# A chunk costs ~1 s that the budget cannot use (claiming it, the flow run's states, planning,
# the last store), so the smallest are not tiny.
CHUNK_SECONDS = 30.0
TAIL_SECONDS = 5.0


def calls_per_symbol(
    periods: Sequence[str], adjusted: Sequence[bool], start: date, end: date
) -> int:
    """Chart calls one symbol costs over [start, end] (estimate: 250 trading days a year)."""
    years = ((end - start).days + 1) / 365.25
    return sum(
        math.ceil(BARS_PER_YEAR[p] * years / ROWS_PER_CALL) for p in periods for _ in adjusted
    )


def chunk_sizes(
    n_symbols: int,
    calls_per_symbol: int,
    budget: float,
    keys: int,
    *,
    longest: float = CHUNK_SECONDS,
    shortest: float = TAIL_SECONDS,
) -> list[int]:
    """Symbols per chunk, in submission order (guided self-scheduling): each chunk takes about
    1/(2 x keys) of what is left, within [shortest, longest] seconds of one key's budget. The
    floor is at most a quarter of a key's share of the symbols: with a budget that does not
    bind (a fast simulator), the workers still get chunks to share."""
    per_second = budget / max(calls_per_symbol, 1)  # symbols one key finishes a second
    most = max(1, int(longest * per_second))
    least = max(1, min(int(shortest * per_second), n_symbols // (4 * keys), most))
    sizes, left = [], n_symbols
    while left > 0:
        size = min(left, most, max(least, math.ceil(left / (2 * keys))))
        sizes.append(size)
        left -= size
    return sizes


def prepare_lake(config: Config) -> None:
    """Open the configured lake once: creates its tables and stamps its source before workers
    write (a concurrent first open by two workers would conflict on CREATE TABLE)."""
    open_lake(config).close()


def preference(keys: Sequence[AppKey], name: str | None) -> list[AppKey]:
    """`keys` with the one called `name` first (checked: an unknown name is an error)."""
    first = pick(keys, name)
    return sorted(keys, key=lambda k: k is not first)


def _leased_runtime(
    stack: ExitStack,
    config: Config,
    keys: list[AppKey],
    lake: Lake,
    worker: chunk_worker.WorkerResources | None,
) -> tuple[Runtime, AppKey | None]:
    """The chunk's runtime (on `stack`) on a leased key: the worker's held key, else one leased
    for this chunk; a new lease pulls the key's token, which goes back when the lease ends."""
    if not keys:
        return stack.enter_context(use_runtime(config=config, lake=lake)), None
    ids = [k.key_id for k in keys]
    taking = (
        worker.hold.taking(ids)
        if worker is not None
        else _lease_now(stack, ids, config.scale.lease_seconds)
    )
    with taking as (held, fresh):  # a worker's other chunks wait here until the token is in
        app = next(k for k in keys if k.key_id == held)
        rt = stack.enter_context(use_runtime(config=config.with_key(app), lake=lake))
        if fresh:
            sharing = shared_token_cache(rt.client.settings, ensure_token=rt.client.token)
            if worker is not None:
                worker.hold.keep(sharing)
            else:
                stack.enter_context(sharing)
    return rt, app


@contextmanager
def _lease_now(stack: ExitStack, ids: list[str], seconds: float) -> Iterator[tuple[str, bool]]:
    """A lease for one chunk run (a one-off flow-run process), held until `stack` closes."""
    yield stack.enter_context(lease_first_free(ids, lease_duration=seconds)), True


@flow(name=CHUNK_FLOW, retries=2, retry_delay_seconds=5)
def backfill_chunk(
    symbols: list[str],
    start: str,
    end: str,
    key: str | None = None,
    periods: list[str] | None = None,
    adjusted: list[bool] | None = None,
    home: str | None = None,
) -> dict[str, Any]:
    """One chunk: lease an app key (`key` if free, else whichever is free first), then the
    ordinary daily-bars flow for these symbols/dates."""
    config = load_config(home)
    keys = preference(config.app_keys(), key)
    worker = chunk_worker.current()  # a long-lived worker keeps the lake and the key between runs
    with ExitStack() as stack:
        # The lake first: opening it calls no KIS endpoint, so no reason to hold a key meanwhile.
        lake = worker.lake(config) if worker else stack.enter_context(closing(open_lake(config)))
        _, app = _leased_runtime(stack, config, keys, lake, worker)
        summary = ingest_period_bars(
            symbols=symbols, start=start, end=end, periods=periods, adjusted=adjusted, home=home
        )
    return {
        "rows": summary.rows_written,
        "calls": summary.calls,
        "key": app.name if app else None,
    }


def _states_of(run_ids: Sequence[UUID]) -> dict[UUID, str]:
    """The state of each run, in one request (not one per run: many chunks poll every second)."""
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=list(run_ids))),
            limit=len(run_ids),
        )
    return {run.id: run.state.type.value if run.state else "PENDING" for run in runs}


@flow(name="backfill-fanout")
def backfill_fanout(
    symbols: list[str],
    start: str,
    end: str,
    symbols_per_chunk: int | None = None,
    years_per_chunk: int | None = None,
    keys: list[str] | None = None,
    periods: list[str] | None = None,
    adjusted: list[bool] | None = None,
    deployment: str = CHUNK_DEPLOYMENT,
    max_attempts: int = 3,
    poll_seconds: float = 1.0,
    home: str | None = None,
) -> dict[str, int]:
    """Split the backfill into chunk flow runs on the pool's workers and wait for all of them.

    `symbols_per_chunk` None: sized from the key budget (KIS_RATE_LIMIT or the environment's),
    large first and small last, see `chunk_sizes`. `years_per_chunk` None: each chunk covers the
    whole range (a series cut into year windows costs a partly filled page per window).
    """
    first, last = parse_date(start, name="start"), parse_date(end, name="end")
    if first is None or last is None:
        raise InputError("a fan-out backfill needs an explicit start and end")
    config = load_config(home)
    names: list[str | None] = list(keys) if keys else [k.name for k in config.app_keys()] or [None]
    codes = stock_symbols(symbols)
    sizes: int | list[int]
    if symbols_per_chunk is None:
        lo, hi = year_windows(first, last, years_per_chunk)[0] if years_per_chunk else (first, last)
        sizes = chunk_sizes(
            len(codes),
            calls_per_symbol(
                check_periods(periods, PERIODS), adjusted or [True, False], lo, max(hi, lo)
            ),
            config.kis.rate_budget,
            len(names),
        )
        log.info("chunks of %s symbols (sized from the key budget)", sizes)
    else:
        sizes = symbols_per_chunk
    chunks = plan_chunks(
        codes,
        first,
        last,
        symbols_per_chunk=sizes,
        years_per_chunk=years_per_chunk,
        keys=names,
    )
    prepare_lake(config)
    extra = {"periods": periods, "adjusted": adjusted, "home": home}

    def submit(chunk: Chunk, attempt: int) -> UUID:
        run = run_deployment(
            deployment,
            parameters=chunk.parameters(**extra),
            timeout=0,
            flow_run_name=f"{chunk.label} try {attempt}",
        )
        return run.id

    running = {submit(c, 1): (c, 1) for c in chunks}
    submitted, failed = len(chunks), []
    while running:
        time.sleep(poll_seconds)
        states = _states_of(list(running))
        for run_id, (chunk, attempt) in list(running.items()):
            state = states.get(run_id, "PENDING")
            if state == "COMPLETED":
                del running[run_id]
            elif state in FINAL_BAD:
                del running[run_id]
                if attempt < max_attempts:
                    log.warning("%s ended %s; submitting it again", chunk.label, state)
                    running[submit(chunk, attempt + 1)] = (chunk, attempt + 1)
                    submitted += 1
                else:
                    failed.append(chunk.label)
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(chunks)} chunks failed: {', '.join(failed)}")
    return {"chunks": len(chunks), "runs": submitted, "retried": submitted - len(chunks)}
