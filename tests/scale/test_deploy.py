"""The documented schedule set-up on a fresh Prefect server: the two work pools, `prefect deploy
--all` from the repository root, a process worker, one deployment run in sim mode, the lake and
the run's name checked (docs/incoming/failures.md "Schedules")."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from scale_env import BIN, QUIET, ROOT, _spawn, _wait, free_port, kill_group

from schemas import HOLIDAYS
from warehouse.lake import Lake


@pytest.fixture
def prefect_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A Prefect server of its own (SQLite under tmp_path): the environment a user's shell has."""
    port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "KIS_", "KISDB_"))}
    env = {
        **base,
        **QUIET,
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
    }
    server = _spawn(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        {k: v for k, v in env.items() if k != "PREFECT_API_URL"},
        tmp_path / "server.log",
    )
    try:
        _wait(
            lambda: httpx.get(f"{env['PREFECT_API_URL']}/health").status_code == 200, "server", 120
        )
        yield env
    finally:
        kill_group(server)


def _prefect(args: list[str], env: dict[str, str], timeout: float = 300) -> str:
    done = subprocess.run(
        [str(BIN / "prefect"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, (
        f"prefect {' '.join(args)}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    )
    return done.stdout


def test_deploy_all_then_a_worker_runs_a_deployment_in_sim_mode(
    prefect_env: dict[str, str], tmp_path: Path
) -> None:
    for pool in ("kisdb", "kisdb-scale"):  # as documented: both pools prefect.yaml names
        _prefect(["work-pool", "create", pool, "--type", "process", "--overwrite"], prefect_env)
    _prefect(["--no-prompt", "deploy", "--all"], prefect_env)
    _prefect(["deployment", "run", "holidays/holidays"], prefect_env)

    home = tmp_path / "kisdb"
    worker_env = {**prefect_env, "KIS_ENV": "sim", "KISDB_HOME": str(home)}
    _prefect(["worker", "start", "--pool", "kisdb", "--run-once"], worker_env, timeout=600)

    api = prefect_env["PREFECT_API_URL"]
    (run,) = httpx.post(f"{api}/flow_runs/filter", json={}).json()
    assert run["state"]["type"] == "COMPLETED", run["state"]
    assert run["name"].startswith("holidays 20"), run["name"]  # "holidays 2026-12-02"
    with Lake.open(home, source="sim", read_only=True) as lake:
        assert lake.table(HOLIDAYS).height > 0
