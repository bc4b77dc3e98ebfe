"""The CLI without a Prefect API: no temporary Prefect server, no process left behind whatever
signal ends a command, and the same lake and ledger as a run under Prefect (pipelines/engine.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

import polars as pl
import psutil
import pytest

from schemas import FETCH_LEDGER, PERIOD_BARS
from simulator.server import RunningSimulator
from warehouse.lake import Lake

AFTER_CLOSE = datetime(2026, 11, 24, 16, 0)
SYMBOLS = "005930,000660,035420"
START = "2026-06-01"
# A run the kill tests can interrupt: ~300 calls at 40/s on the simulator, ~8 s.
LONG_SYMBOLS = "005930,000660,035420,035720,051910,005380"
LONG_START = "2019-01-01"
# What differs between two runs of the same ingest: when and by which run the ledger was written.
RUN_COLUMNS = ("fetched_at", "run_id")


def _cli_env(sim: RunningSimulator, home: Path, prefect_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "KIS_"))}
    return {
        **env,
        "KIS_ENV": "sim",
        "KIS_BASE_URL": sim.base_url,
        "KIS_WS_URL": sim.ws_url,
        "KISDB_HOME": str(home),
        "PREFECT_HOME": str(prefect_home),  # Prefect's state, were anything to start it
    }


def _kisdb(args: list[str], env: Mapping[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", *args],
        env=dict(env),
        cwd=cwd,  # away from the repository's files, as a user's shell would be
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _run(args: list[str], env: Mapping[str, str], cwd: Path) -> set[int]:
    """Run a command to its end; the pids of every descendant seen while it ran."""
    proc = _kisdb(args, env, cwd)
    seen: set[int] = set()
    while proc.poll() is None:
        seen |= _descendants(proc.pid)
        time.sleep(0.05)
    assert proc.returncode == 0, proc.stderr.read().decode() if proc.stderr else ""
    return seen


def _descendants(pid: int) -> set[int]:
    try:
        return {p.pid for p in psutil.Process(pid).children(recursive=True)}
    except psutil.NoSuchProcess:
        return set()


def _alive(pids: set[int]) -> set[int]:
    return {
        pid
        for pid in pids
        if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    }


def _lake(home: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The bars and the ledger, without the columns that name the run."""
    with Lake.open(home, source="sim") as lake:
        return lake.table(PERIOD_BARS), lake.table(FETCH_LEDGER).drop(RUN_COLUMNS)


@pytest.fixture
def sim(make_sim: Callable[..., RunningSimulator]) -> RunningSimulator:
    return make_sim(now=AFTER_CLOSE, rate_limit=0, token_issue_interval=0)


def test_without_a_prefect_api_the_cli_starts_no_server_and_writes_what_prefect_writes(
    sim: RunningSimulator, tmp_path: Path, prefect_harness: None
) -> None:
    from prefect.settings import PREFECT_API_URL

    local, prefect_home = tmp_path / "local", tmp_path / "prefect-home"
    env = _cli_env(sim, local, prefect_home)
    spawned = _run(["ingest", "holidays", "--start", START], env, tmp_path)
    spawned |= _run(["ingest", "bars", "--symbols", SYMBOLS, "--start", START], env, tmp_path)
    assert not spawned, "no child process: no temporary Prefect server"
    assert not prefect_home.exists(), "Prefect was not even started (no state, no server db)"

    # The same commands reporting to a Prefect server (the harness's): nothing spawned either.
    under_prefect = tmp_path / "under-prefect"
    env = {**_cli_env(sim, under_prefect, prefect_home), "PREFECT_API_URL": PREFECT_API_URL.value()}
    spawned = _run(["ingest", "holidays", "--start", START], env, tmp_path)
    spawned |= _run(["ingest", "bars", "--symbols", SYMBOLS, "--start", START], env, tmp_path)
    assert not spawned, "a configured server: kisdb starts no process"

    bars, ledger = _lake(local)
    assert bars.height > 0
    assert bars.equals(_lake(under_prefect)[0])
    assert ledger.equals(_lake(under_prefect)[1])


def _kill_mid_run(
    sig: signal.Signals, sim: RunningSimulator, env: Mapping[str, str], cwd: Path
) -> tuple[float, set[int]]:
    """Start a long ingest, send `sig` once it is fetching; seconds to exit, descendants seen."""
    calls = sim.stats.requests
    proc = _kisdb(["ingest", "bars", "--symbols", LONG_SYMBOLS, "--start", LONG_START], env, cwd)
    seen: set[int] = set()
    deadline = time.monotonic() + 120
    while sim.stats.requests < calls + 40:  # mid-run: fetching and storing
        assert proc.poll() is None, "the ingest ended before the signal"
        assert time.monotonic() < deadline, "the ingest never started fetching"
        seen |= _descendants(proc.pid)
        time.sleep(0.05)
    seen |= _descendants(proc.pid)
    sent = time.monotonic()
    proc.send_signal(sig)
    proc.wait(timeout=30)
    took = time.monotonic() - sent
    # SIGTERM interrupts like Ctrl-C (exit 130, pipelines/interrupts.py); SIGKILL kills.
    expected = 130 if sig == signal.SIGTERM else -sig
    assert proc.returncode == expected, proc.stderr.read().decode() if proc.stderr else ""
    return took, seen


@pytest.mark.slow  # test_interrupts and the fault suite cover the ground in make test
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_and_sigkill_end_an_ingest_leaving_no_process_and_a_consistent_lake(
    make_sim: Callable[..., RunningSimulator], tmp_path: Path
) -> None:
    sim = make_sim(now=AFTER_CLOSE, rate_limit=40, token_issue_interval=0)
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    env = _cli_env(sim, killed, tmp_path / "prefect-home")

    took, seen = _kill_mid_run(signal.SIGTERM, sim, env, tmp_path)
    assert took <= 2.0, f"SIGTERM took {took:.1f} s to end the ingest"
    assert not _alive(seen), "a process outlived the command"
    _, seen = _kill_mid_run(signal.SIGKILL, sim, env, tmp_path)
    assert not _alive(seen), "a process outlived the command"

    args = ["ingest", "bars", "--symbols", LONG_SYMBOLS, "--start", LONG_START]
    _run(args, env, tmp_path)  # the re-run finishes what the killed ones left
    _run(args, _cli_env(sim, clean, tmp_path / "prefect-home"), tmp_path)
    assert _lake(killed)[0].equals(_lake(clean)[0])
