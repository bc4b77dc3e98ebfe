"""Command start-up: a no-op ingest and a research query against `kisdb --help`, whole processes.

    python -m bench.bench_startup            (~1 minute on 2 cores)

Issue 14's targets: `kisdb ingest securities` with nothing to do <= 2x `kisdb --help`'s wall time,
`kisdb sql` <= 1.5x. Each command runs as a subprocess (the user's view: interpreter start,
imports, the embedded simulator, the lake), in turn A B C, RUNS times after a warm-up; the
medians and their ratios are printed, with each command's CPU time (user + system, POSIX): on a
busy machine wall times swing with the load, CPU times much less. No PREFECT_API_URL: flows run
locally (pipelines/engine.py). Also printed: the embedded simulator's start and stop, measured
in this process (a command starts it only when it sends a request: simulator.server's
`start_on_demand`).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = 7
QUERY = "SELECT count(*) AS listed FROM securities"


def command_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "KIS_"))}
    return {
        **env,
        "KIS_ENV": "sim",  # the embedded simulator: the no-op ingest pays its start
        "KISDB_HOME": str(home),
        "KISDB_CONFIG": str(home / "absent.toml"),  # the developer's config must not steer it
        "PREFECT_HOME": str(home / "prefect"),
    }


def children_cpu() -> float:
    """CPU seconds (user + system) of the finished children so far (0 where unknown: Windows)."""
    try:
        import resource
    except ImportError:
        return 0.0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wall(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one command."""
    cpu = children_cpu()
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        env=env,
        cwd=cwd,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started, children_cpu() - cpu


def simulator_start_stop(state_dir: Path) -> tuple[float, float]:
    from simulator.server import SimConfig, start_simulator

    started = time.perf_counter()
    sim = start_simulator(SimConfig(state_dir=state_dir))
    up = time.perf_counter() - started
    started = time.perf_counter()
    sim.stop()
    return up, time.perf_counter() - started


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="kisdb-startup-") as tmp:
        root = Path(tmp)
        env = command_env(root / "home")
        commands = {
            "--help": ["--help"],
            "no-op ingest": ["ingest", "securities"],
            "sql": ["sql", QUERY],
        }
        wall(
            commands["no-op ingest"], env, root
        )  # today's snapshot: the next ones have nothing to do
        for args in commands.values():  # warm-up: the OS file cache, DuckDB's extension
            wall(args, env, root)
        times: dict[str, list[float]] = {name: [] for name in commands}
        cpus: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(RUNS):
            for name, args in commands.items():
                took, cpu = wall(args, env, root)
                times[name].append(took)
                cpus[name].append(cpu)
        up, down = simulator_start_stop(root / "sim-state")

    median = {name: statistics.median(runs) for name, runs in times.items()}
    cpu = {name: statistics.median(runs) for name, runs in cpus.items()}
    base, cpu_base = median["--help"], cpu["--help"] or float("nan")
    print(f"bench_startup: medians of {RUNS} runs, wall seconds (min..max), CPU seconds")
    for name, runs in times.items():
        print(
            f"  kisdb {name:<13} {median[name]:6.2f} s  ({min(runs):.2f}..{max(runs):.2f})"
            f"   CPU {cpu[name]:.2f} s"
        )
    print(
        f"  no-op ingest / --help = {median['no-op ingest'] / base:.2f}  (target <= 2.00; "
        f"CPU {cpu['no-op ingest'] / cpu_base:.2f})"
    )
    print(
        f"  sql / --help          = {median['sql'] / base:.2f}  (target <= 1.50; "
        f"CPU {cpu['sql'] / cpu_base:.2f})"
    )
    print(f"  embedded simulator: start {up:.2f} s, stop {down:.2f} s (in process)")


if __name__ == "__main__":
    main()
