"""A long-lived scale-out worker: one process per machine runs chunk after chunk in itself.

    kisdb worker --pool kisdb-scale            (python -m pipelines.chunk_worker --pool ...)

Prefect's process worker starts a new Python process for every flow run: interpreter, imports,
the catalog attach, the app-key lease and the token hand-over, ~5 s a chunk on a busy 2-core box,
all of it budget the key could not use. This worker polls the pool for scheduled `backfill-chunk`
runs, claims one the way Prefect's workers do (it proposes Pending; the server lets exactly one
claimant through, so two workers never run one chunk), and runs it in this process with Prefect's
flow engine: the run, its task runs, logs and heartbeats show in the UI as before, and a run whose
worker died is still marked Crashed by the heartbeat automation and resubmitted by the fan-out.

Between chunks it keeps what a chunk would otherwise rebuild: the imports, the open lake, and the
app-key lease (`KeyHold`, renewed in the background), so a key goes from one chunk to the next of
the same worker without a gap. When no chunk has come for `idle_release` seconds it releases the
key (its token pushed back to the shared cache) for other workers; SIGTERM and Ctrl-C release it
too. A SIGKILLed worker's lease expires after KISDB_KEY_LEASE_SECONDS.
"""

from __future__ import annotations

import argparse
import logging
import random
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from pipelines.config import Config, load_config
from pipelines.lease import KeyHold
from pipelines.runtime import open_lake
from warehouse.lake import Lake

log = logging.getLogger(__name__)

DEFAULT_POOL = "kisdb-scale"
# How often an idle worker asks the pool for chunks (a busy one asks again at once).
POLL_SECONDS = 0.5
# Chunk runs at a time: while one starts up or writes its last rows (~1-3 s of Prefect states,
# planning and commits), the other keeps the key sending.
SLOTS = 2
# Idle this long (no chunk claimed), a worker lets its app key go for other workers to take.
IDLE_RELEASE_SECONDS = 2.0


class WorkerResources:
    """What a worker keeps from one chunk run to the next: the key lease and the open lakes (one
    per slot: a DuckDB connection serves one thread at a time)."""

    def __init__(self, lease_duration: float) -> None:
        self.hold = KeyHold(lease_duration)
        self._lakes: dict[tuple[int, str, str | None, str | None], Lake] = {}
        self._lock = threading.Lock()

    def lake(self, config: Config) -> Lake:
        """The lake of `config` for this thread, opened on first use and kept open."""
        key = (threading.get_ident(), str(config.home), config.lake.catalog, config.lake.data_path)
        with self._lock:
            lake = self._lakes.get(key)
        if lake is None:
            lake = open_lake(config)
            with self._lock:
                self._lakes[key] = lake
        return lake

    def close(self) -> None:
        self.hold.release()
        with self._lock:
            for lake in self._lakes.values():
                lake.close()
            self._lakes.clear()


_current: WorkerResources | None = None


def current() -> WorkerResources | None:
    """The resources of the worker this code runs in (None: a one-off flow-run process)."""
    return _current


def _claim(client: Any, pool: str, flow_id: Any) -> Any:
    """The first scheduled chunk run of `pool` this worker could move to Pending, or None."""
    from prefect.exceptions import Abort
    from prefect.states import Pending
    from prefect.utilities.engine import propose_state_sync

    scheduled = client.get_scheduled_flow_runs_for_work_pool(
        pool, scheduled_before=datetime.now(UTC)
    )
    runs = sorted(
        (r.flow_run for r in scheduled if r.flow_run.flow_id == flow_id),
        key=lambda run: (run.expected_start_time or datetime.min.replace(tzinfo=UTC), run.name),
    )
    for run in runs:
        try:
            state = propose_state_sync(client, Pending(), flow_run_id=run.id)
        except Abort:
            continue  # another worker claimed it first
        if state.is_pending():
            return client.read_flow_run(run.id)
    return None


class _Slots:
    """How many slots run a chunk, and since when none has: the key goes when all idle."""

    def __init__(self) -> None:
        self.busy = 0
        self.idle_since = time.monotonic()
        self.ran = 0
        self.lock = threading.Lock()

    def start(self) -> None:
        with self.lock:
            self.busy += 1

    def end(self) -> None:
        with self.lock:
            self.busy -= 1
            self.ran += 1
            self.idle_since = time.monotonic()

    def idle_for(self) -> float:
        with self.lock:
            return 0.0 if self.busy else time.monotonic() - self.idle_since


def _slot(
    pool: str, slots: _Slots, poll: float, idle_release: float, stop: threading.Event
) -> None:
    """One slot: claim a chunk run, run it here, again; release the key when all slots idle."""
    from prefect.client.orchestration import get_client
    from prefect.flow_engine import run_flow

    from pipelines.scale import CHUNK_FLOW, backfill_chunk

    with get_client(sync_client=True) as client:
        flow_id = client.create_flow_from_name(CHUNK_FLOW)  # the id, made if not yet deployed
        while not stop.is_set():
            run = _claim(client, pool, flow_id)
            if run is None:
                if _current is not None and slots.idle_for() >= idle_release:
                    _current.hold.release()
                stop.wait(poll * random.uniform(0.5, 1.5))  # slots and workers out of step
                continue
            log.info("running %s", run.name)
            slots.start()
            try:
                run_flow(backfill_chunk, flow_run=run, return_type="state")
            finally:
                slots.end()


def serve(
    pool: str,
    *,
    slots: int = SLOTS,
    poll: float = POLL_SECONDS,
    idle_release: float = IDLE_RELEASE_SECONDS,
    stop: threading.Event | None = None,
) -> int:
    """Run the pool's chunk runs, `slots` at a time, until `stop` is set (or an interrupt);
    returns how many ran."""
    global _current
    stop = stop or threading.Event()
    _current = WorkerResources(load_config().scale.lease_seconds)
    state = _Slots()
    threads = [
        threading.Thread(
            target=_slot,
            args=(pool, state, poll, idle_release, stop),
            name=f"kisdb-slot-{i}",
            daemon=True,  # a SIGKILLed worker's runs are crashed by the heartbeat automation
        )
        for i in range(slots)
    ]
    try:
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads):
            for thread in threads:
                thread.join(0.5)  # short joins: the main thread stays interruptible
    finally:
        stop.set()
        for thread in threads:
            thread.join(5)
        resources, _current = _current, None
        resources.close()
    return state.ran


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # unwinds `serve`: the key is released, the lakes closed


def run(pool: str = DEFAULT_POOL) -> int:
    """`serve` until SIGTERM or Ctrl-C (both release the key); returns the chunk runs done."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per Prefect API call
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return serve(pool)
    except KeyboardInterrupt:
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", default=DEFAULT_POOL, help="the work pool of the chunk runs")
    args = parser.parse_args(argv)
    run(args.pool)
    return 0


if __name__ == "__main__":
    sys.exit(main())
