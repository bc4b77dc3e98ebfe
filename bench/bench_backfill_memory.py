"""Backfill memory benchmark: peak RSS of a five-year daily backfill of 50, 200 and 500 symbols.

    python -m bench.bench_backfill_memory [SIZE ...]      (~2.5 min on 2 cores)

Each size runs in its own child process through the real code path: the `holidays` and `bars`
Prefect flows (`ingest_holidays`, `ingest_period_bars`: connector, rate limiter, planner, lake
upserts, ledger, raw archive) into a fresh KISDB_HOME, against one simulator (rate limit off)
in this process and a fresh Prefect API server per size (a subprocess), so neither counts in the
child's memory. The child's peak RSS: its own VmHWM on Linux (see `own_peak_rss_mb` for why not
the rusage), else the rusage `os.wait4` hands over as it ends, else psutil's peak working set on
Windows. Goal: flat in the number of symbols (frames are stored as they arrive and dropped), so
RSS(500)/RSS(50) ~ 1 and RSS(500) under 500 MB; the marginal KB per symbol shows any growth the
fixed cost (Python, Prefect, DuckDB, polars: ~350 MB) would hide.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

SIZES = (50, 200, 500)
SIM_NOW = datetime(2026, 11, 24, 16, 0)  # after the close: every day is settled
START, END = date(2021, 11, 24), date(2026, 11, 24)  # five years of daily bars
ROOT = Path(__file__).resolve().parents[1]


def listed_symbols(market: Any, n: int) -> list[str]:
    """The first `n` stock codes listed through the whole window (sorted: reproducible)."""
    codes = [
        c
        for c in sorted(market.instruments)
        if market.is_listed(c, START) and market.is_listed(c, END)
    ]
    if len(codes) < n:
        raise SystemExit(
            f"the simulator lists {len(codes)} symbols through {START}..{END}, need {n}"
        )
    return codes[:n]


def own_peak_rss_mb() -> float | None:
    """This process's peak RSS since exec (Linux VmHWM), None where /proc has no such line.

    Better than the rusage of the child: Python spawns with vfork, and exec records the high-water
    mark of the mm it leaves (the parent's, shared until exec) in the child's ru_maxrss, so that
    figure never falls below the parent's RSS at spawn (here ~600 MB: the simulator's caches)."""
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def run_child(args: list[str], env: dict[str, str]) -> tuple[dict[str, Any], float]:
    """Run the child; (its JSON report, its peak RSS in MB: its own VmHWM where the OS keeps it,
    else the rusage the OS hands over as it ends, else the peak working set on Windows)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.bench_backfill_memory", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    if hasattr(os, "wait4"):
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        # ru_maxrss: kilobytes on Linux, bytes on macOS.
        peak = usage.ru_maxrss / (2**20 if sys.platform == "darwin" else 2**10)
    else:  # Windows: poll the peak working set, which the OS keeps for us
        import psutil

        child = psutil.Process(proc.pid)
        peak_bytes = 0
        while proc.poll() is None:
            try:
                peak_bytes = max(peak_bytes, child.memory_info().peak_wset)
            except psutil.Error:
                break
            time.sleep(0.05)
        out = proc.stdout.read()
        peak = peak_bytes / 2**20
    proc.stdout.close()
    if proc.returncode != 0:
        raise SystemExit(f"backfill child {args} failed with exit code {proc.returncode}")
    report: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return report, report.get("vm_hwm_mb") or peak


def main(sizes: tuple[int, ...] = SIZES) -> None:
    from pipelines.config import prefect_env_defaults

    prefect_env_defaults()  # before the Prefect server starts: it inherits the environment
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    from simulator.server import SimConfig, start_simulator

    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="kisdb-bench-mem-") as tmp,
        start_simulator(
            # Each child has a fresh home, hence no cached token: without the one-token-a-minute rule
            # the children do not wait out each other's issuance window (61 s each).
            SimConfig(
                now=SIM_NOW, rate_limit=0, token_issue_interval=0.0, generated_symbols=max(sizes)
            )
        ) as sim,
    ):
        env = {
            **os.environ,
            "KIS_ENV": "sim",
            "KIS_BASE_URL": sim.base_url,
            "KIS_WS_URL": sim.ws_url,
            "KIS_RATE_LIMIT": "100000",
            "PREFECT_HOME": str(Path(tmp) / "prefect"),
            "PREFECT_LOGGING_LEVEL": "WARNING",
        }
        for name in ("KIS_APP_KEY", "KIS_APP_SECRET", "KIS_ACCOUNT", "KISDB_HOME"):
            env.pop(name, None)
        universe = Path(tmp) / "universe.txt"
        universe.write_text(
            "\n".join(listed_symbols(sim.market, max(sizes))) + "\n", encoding="utf-8"
        )
        results: dict[int, tuple[dict[str, Any], float]] = {}
        for size in sizes:
            # A fresh Prefect server per size: a server already holding the previous runs
            # answers slower, and the child's Prefect client then buffers more events.
            with prefect_test_harness(server_startup_timeout=60):
                env["PREFECT_API_URL"] = str(PREFECT_API_URL.value())
                home = Path(tmp) / f"home-{size}"
                results[size] = run_child(["--child", str(size), str(universe), str(home)], env)
            report, peak = results[size]
            print(
                f"  {size:>4} symbols: peak RSS {peak:7.1f} MB   {report['rows']:>9,} rows  "
                f"{report['calls']:>6} calls  {report['seconds']:6.1f} s",
                flush=True,
            )
    if not results[sizes[0]][0].get("vm_hwm_mb"):
        print(
            "  (peak RSS from the child's rusage: includes the parent's RSS at spawn on Linux/vfork)"
        )
    if len(sizes) < 2:
        return
    small, large = sizes[0], sizes[-1]
    rss_small, rss_large = results[small][1], results[large][1]
    marginal = (rss_large - rss_small) / (large - small)
    print(f"backfill memory {START}..{END} daily (adjusted), peak RSS per child process:")
    print(f"RSS({large}) / RSS({small}) = {rss_large / rss_small:.2f}   (goal ~1: flat)")
    print(f"RSS({large}) / 500 MB = {rss_large / 500:.2f}   (goal < 1)")
    print(f"marginal: {marginal * 1024:.0f} KB per extra symbol   (flat: ~0)")
    print(f"({time.perf_counter() - started:.0f} s in all)")


def child(size: int, universe: Path, home: Path) -> None:
    """One backfill in this (child) process; prints a JSON line with what it did."""
    os.environ["KISDB_HOME"] = str(home)
    from pipelines.bars import ingest_period_bars
    from pipelines.console import fast_flows, quiet_prefect
    from pipelines.holidays_flow import ingest_holidays

    quiet_prefect(False)
    subset = home.with_suffix(".universe.txt")
    home.mkdir(parents=True, exist_ok=True)
    subset.write_text(
        "\n".join(universe.read_text(encoding="utf-8").split()[:size]) + "\n", encoding="utf-8"
    )
    started = time.perf_counter()
    with fast_flows():
        holidays = ingest_holidays(start=START.isoformat(), ahead=0)
        bars = ingest_period_bars(
            universe=str(subset),
            start=START.isoformat(),
            end=END.isoformat(),
            periods=["D"],
            adjusted=[True],
        )
    if bars.errors:
        raise SystemExit(f"backfill errors: {bars.errors[:3]}")
    print(
        json.dumps(
            {
                "rows": bars.rows_written,
                "calls": holidays.calls + bars.calls,
                "seconds": time.perf_counter() - started,
                "vm_hwm_mb": own_peak_rss_mb(),
            }
        )
    )


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
    else:  # `python -m bench.bench_backfill_memory [SIZE ...]`
        main(tuple(int(a) for a in sys.argv[1:]) or SIZES)
