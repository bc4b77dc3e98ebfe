"""The fault suite: a user's bad day, each scene compared with a clean run (issue 16).

- `kisdb ingest` killed with SIGKILL at random moments, then run to the end: the same rows and the
  same ledger coverage as an undisturbed run, and no process of the killed command left behind.
- `kisdb record` killed and restarted while the server drops the socket and cuts frames short:
  every print of the tape the journal lacks lies in a gap `compact` lists.
- Orders under latency and 5xx storms: the orders at the simulator are exactly those the log says
  were accepted, none twice.
The SQL attacks (tests/test_sql_security.py) and copying a home (tests/test_home_copy.py) are part
of the suite too: `make test-scale` runs those files alongside this one.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import psutil
import pytest
from polars.testing import assert_frame_equal
from scale_env import ROOT

from connectors.kis.api import KisClient
from connectors.kis.order_guard import OrderGuards
from connectors.kis.order_log import JsonlOrderLog
from connectors.kis.settings import Secret, Settings
from pipelines.config import config_from_values
from pipelines.recorder.flows import compact
from schemas.datasets import FETCH_LEDGER, PERIOD_BARS, TICKS
from simulator.marketview import MarketView
from simulator.server import RunningSimulator, SimConfig, start_simulator
from warehouse.journal import Gap
from warehouse.lake import Lake

KISDB = str(ROOT / ".venv" / "bin" / "kisdb")
SEED = int(os.environ.get("KISDB_FAULT_SEED", time.time_ns() % 10_000))
SYMBOLS = "005930,000660"


@pytest.fixture
def rng() -> random.Random:
    print(f"fault suite seed {SEED} (KISDB_FAULT_SEED={SEED} replays it)")
    return random.Random(SEED)


def cli_env(sim: RunningSimulator, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIS_", "KISDB_"))}
    env.update(
        KIS_ENV="sim",
        KIS_BASE_URL=sim.base_url,
        KIS_WS_URL=sim.ws_url,
        KISDB_HOME=str(home),
        KISDB_CONFIG=str(home.parent / "absent.toml"),
        PREFECT_HOME=str(home.parent / f"prefect-{home.name}"),
    )
    return env


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def kill_9_at(args: list[str], env: dict[str, str], after: float) -> list[psutil.Process]:
    """Start `kisdb args`, SIGKILL it `after` seconds in; the processes it had started by then
    that are still running a few seconds later (none, if nothing is left behind)."""
    proc = subprocess.Popen(
        [KISDB, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    time.sleep(after)
    tree = descendants(proc.pid)
    print(f"kill -9 {args[0]} after {after:.1f}s; its processes: {[p.pid for p in tree]}")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _, alive = psutil.wait_procs(tree, timeout=10)
    for stray in alive:  # do not let one failure leak servers into the rest of the run
        stray.kill()
    return alive


def run(args: list[str], env: dict[str, str], timeout: float = 240) -> float:
    started = time.monotonic()
    done = subprocess.run(
        [KISDB, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return time.monotonic() - started


# -- kill -9 an ingest -----------------------------------------------------------------------------
def coverage(home: Path) -> dict[tuple[str, str], set[date]]:
    """The days each (dataset, key) has complete fetches for, whatever the runs' chunking."""
    with Lake.open(home, source=None, read_only=True) as lake:
        ledger = lake.table(FETCH_LEDGER).filter(pl.col("complete"))
    out: dict[tuple[str, str], set[date]] = {}
    for row in ledger.iter_rows(named=True):
        days = out.setdefault((row["dataset"], row["key"]), set())
        day = row["start"]
        while day <= row["end"]:
            days.add(day)
            day += timedelta(days=1)
    return out


def bars(home: Path) -> pl.DataFrame:
    with Lake.open(home, source=None, read_only=True) as lake:
        return lake.table(PERIOD_BARS).sort(*PERIOD_BARS.primary_key)


def test_kill_9_ingest_then_finish_equals_a_clean_run(tmp_path: Path, rng: random.Random) -> None:
    sim = start_simulator(SimConfig(now=datetime(2026, 11, 24, 16, 0), rate_limit=0))
    try:
        args = ["ingest", "bars", "--symbols", SYMBOLS, "--start", "2025-03-01"]
        clean, faulty = tmp_path / "clean", tmp_path / "faulty"
        took = run(args, cli_env(sim, clean))
        print(f"clean ingest: {took:.1f}s")
        left: list[psutil.Process] = []
        for _ in range(2):
            left += kill_9_at(args, cli_env(sim, faulty), rng.uniform(0.2, 0.9) * took)
        run(args, cli_env(sim, faulty))
    finally:
        sim.stop()
    assert_frame_equal(
        bars(faulty).drop("ingested_at", strict=False),
        bars(clean).drop("ingested_at", strict=False),
    )
    assert coverage(faulty) == coverage(clean)
    assert not left, f"processes left behind by killed commands: {left}"


# -- kill -9 the recorder under socket drops and cut frames ----------------------------------------
@pytest.fixture
def market_sim() -> Iterator[RunningSimulator]:
    sim = start_simulator(
        SimConfig(
            now=datetime(2026, 11, 24, 10, 0),
            speed=30.0,
            rate_limit=0,
            faults="ws_drop_after=2s,malformed=0.1",
        )
    )
    yield sim
    sim.stop()


def holes(tape: list[int], got: pl.DataFrame) -> list[tuple[int, int]]:
    """(receive time before, receive time after) of each run of prints missing between two
    recorded ones; `tape` is the day's cumulative volumes, `got` the recorded rows of one symbol."""
    index = {cum: i for i, cum in enumerate(tape)}
    rows = got.sort("line", "record")
    positions = [index[c] for c in rows["cum_volume"]]
    stamps = rows["ts_recv"].dt.epoch("ns").to_list()
    return [
        (stamps[i], stamps[i + 1])
        for i in range(len(positions) - 1)
        if positions[i + 1] != positions[i] + 1
    ]


def listed(hole: tuple[int, int], gaps: list[Gap]) -> bool:
    before, after = hole
    return any(g.start_ns <= after and (g.end_ns is None or g.end_ns >= before) for g in gaps)


def test_kill_9_recorder_under_drops_and_cut_frames_lists_every_hole(
    market_sim: RunningSimulator, tmp_path: Path, rng: random.Random
) -> None:
    home = tmp_path / "home"
    env = cli_env(market_sim, home)
    record = ["record", "--symbols", "005930,000660", "--flush-interval", "0.2"]
    for _ in range(2):
        assert not kill_9_at([*record, "--for", "60s"], env, rng.uniform(5.0, 8.0))
    run([*record, "--for", "8s"], env)
    results = compact(config_from_values(env))
    gaps = [gap for result in results for gap in result.gaps]
    with Lake.open(home, source=None, read_only=True) as lake:
        ticks = lake.table(TICKS)
    assert ticks.height
    unlisted = []
    for (symbol,), got in ticks.group_by("symbol"):
        day = got["date"][0]
        tape = [t.qty for t in market_sim.market.ticks(str(symbol), day)]
        cums = [sum(tape[: i + 1]) for i in range(len(tape))]
        unlisted += [h for h in holes(cums, got) if not listed(h, gaps)]
    print(f"{ticks.height} prints recorded; gaps: {Counter(g.reason.split(':')[0] for g in gaps)}")
    assert not unlisted, f"prints missing outside every listed gap: {unlisted[:5]}"
    assert any("rejected" in g.reason for g in gaps) and any("crash" in g.reason for g in gaps)


# -- orders under latency and 5xx ------------------------------------------------------------------
def test_orders_under_latency_and_5xx_are_exactly_the_accepted_ones(
    tmp_path: Path, rng: random.Random
) -> None:
    sim = start_simulator(SimConfig(now=datetime(2026, 11, 24, 10, 30), rate_limit=0))
    client = KisClient(
        Settings(
            env="sim",
            base_url=sim.base_url,
            app_key=Secret(sim.app_key),
            app_secret=Secret(sim.app_secret),
            account=Secret(sim.account_number),
            home=tmp_path,
            raw_archive=False,
            timeout=0.3,
        )
    )
    try:
        client.configure_orders(
            today=lambda: sim.clock.now().date(),
            guards=OrderGuards(max_qty=None, max_notional=None, max_orders_per_day=None),
            reconcile_delays=(0.3, 0.6, 1.2, 2.4),
        )
        client.balance()
        snap = MarketView(sim.market).snapshot("005930", sim.clock.now())
        assert snap is not None
        sim.set_faults("latency=0ms..500ms,http5xx=0.2")
        results = [client.buy("005930", rng.randint(1, 50), int(snap.lower)) for _ in range(8)]
    finally:
        sim.set_faults("")
        client.close()
        sim.stop()
    accepted = [r.order_no for r in results if r.status == "accepted"]
    at_sim = [o.odno for o in sim.account.orders]
    assert sorted(accepted) == sorted(at_sim)
    assert not [n for n, k in Counter(at_sim).items() if k > 1]
    logged = {
        e.client_order_id: e.status for e in JsonlOrderLog(tmp_path / "orders").latest().values()
    }
    assert Counter(logged.values())["accepted"] == len(at_sim)
    assert all(r.status in ("accepted", "failed", "uncertain") for r in results)
