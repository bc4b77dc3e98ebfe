"""Backfills split over two Prefect workers on a shared lake (PostgreSQL catalog + S3 data)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from scale_env import ROOT, ScaleEnv, SimKey, counts_delta, sim_counts, write_keys_file
from scale_helpers import BUDGET, worker_env

SYMBOLS = ["005930", "000660", "035420", "035720", "005380", "000270", "051910", "006400"]
RANGE = {"start": "2024-01-01", "end": "2025-12-31"}
FANOUT = {"symbols": SYMBOLS, **RANGE, "symbols_per_chunk": 4, "years_per_chunk": 1}


@pytest.fixture(scope="module")
def reference(
    scale_env: ScaleEnv, sim_keys: list[SimKey], tmp_path_factory: pytest.TempPathFactory
) -> pl.DataFrame:
    """The same backfill by the ordinary flow in one process on a local DuckDB-file lake."""
    key = sim_keys[0]
    key.sim.reset_token_window()
    extra = {
        "KIS_ENV": "sim",
        "KIS_BASE_URL": key.sim.base_url,
        "KIS_APP_KEY": key.app_key,
        "KIS_APP_SECRET": key.app_secret,
        "KIS_RATE_LIMIT": str(BUDGET),
    }
    done = scale_env.single("reference", {"symbols": SYMBOLS, **RANGE}, extra)
    assert done["rows"] > 0
    out = scale_env.dump(
        "period_bars", tmp_path_factory.mktemp("ref") / "ref.parquet", name="reference"
    )
    return pl.read_parquet(out)


def run_fanout(
    env: ScaleEnv,
    keys: list[SimKey],
    workers: int,
    tmp: Path,
    prefix: str,
    during: Any = None,
) -> dict[str, Any]:
    """A fresh shared lake, `workers` workers, one fan-out; what the simulators saw meanwhile."""
    env.reset_lake(prefix)
    extra = worker_env(write_keys_file(tmp / f"{prefix}-keys.json", keys))
    for key in keys:
        key.sim.reset_token_window()
    before = sim_counts(keys)
    names = [f"{prefix}-w{i}" for i in range(1, workers + 1)]
    for name in names:
        env.start_worker(name, extra)
    try:
        started = time.monotonic()
        result = env.fanout(FANOUT, extra) if during is None else during(env, names, extra)
        elapsed = time.monotonic() - started
    finally:
        for name in names:
            env.stop_worker(name)
    seen = counts_delta(before, sim_counts(keys))
    table = pl.read_parquet(env.dump("period_bars", tmp / f"{prefix}.parquet"))
    return {"result": result, "elapsed": elapsed, "seen": seen, "table": table}


def test_two_workers_two_keys_land_exactly_the_single_process_rows(
    scale_env: ScaleEnv, sim_keys: list[SimKey], reference: pl.DataFrame, tmp_path: Path
) -> None:
    run = run_fanout(scale_env, sim_keys, 2, tmp_path, "two-keys")
    assert run["result"]["chunks"] == 4
    assert_frame_equal(run["table"], reference)
    for name, seen in run["seen"].items():
        assert seen["rate_limited"] == 0, name
        assert seen["requests"] > 0, name  # both keys did work
        assert seen["requests"] / run["elapsed"] <= BUDGET, name
        # One token per key for the whole run: it travels with the lease between machines.
        assert seen["token_requests"] <= 1, name


def test_two_workers_one_key_share_one_budget(
    scale_env: ScaleEnv, sim_keys: list[SimKey], reference: pl.DataFrame, tmp_path: Path
) -> None:
    run = run_fanout(scale_env, sim_keys[:1], 2, tmp_path, "one-key")
    assert_frame_equal(run["table"], reference)
    seen = run["seen"]["alpha"]
    # The simulator answers EGW00201 to any second over the budget: none happened.
    assert seen["rate_limited"] == 0
    assert seen["requests"] / run["elapsed"] <= BUDGET
    assert seen["token_requests"] <= 1  # 0 when an earlier run left a valid token


def _kill_one_worker_mid_run(env: ScaleEnv, names: list[str], extra: dict[str, str]) -> Any:
    """Start the fan-out, kill the first worker (and its flow run) while it runs a chunk."""
    code = (
        "import json; from pipelines.scale import backfill_fanout; "
        f"print(json.dumps(backfill_fanout(**{FANOUT!r})))"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", code],
        env=env.client_env("parent", extra),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    log = env.root / f"{names[0]}.log"
    deadline = time.monotonic() + 120
    # A chunk in progress = the worker (chunks run in its own process) leased its key inside a
    # chunk run, whose heartbeats had started by then: the automation can mark the run Crashed.
    while time.monotonic() < deadline:
        if log.exists() and "leased app key" in log.read_text(errors="replace"):
            time.sleep(3)
            break
        time.sleep(0.2)
    else:
        parent.kill()
        pytest.fail("the first worker never ran a chunk")
    env.stop_worker(names[0])
    out, err = parent.communicate(timeout=600)
    assert parent.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def test_killed_worker_chunk_is_retried_and_result_exact(
    scale_env: ScaleEnv, sim_keys: list[SimKey], reference: pl.DataFrame, tmp_path: Path
) -> None:
    run = run_fanout(scale_env, sim_keys, 2, tmp_path, "killed", during=_kill_one_worker_mid_run)
    assert run["result"]["retried"] >= 1
    assert_frame_equal(run["table"], reference)
    for name, seen in run["seen"].items():
        assert seen["rate_limited"] == 0, name
