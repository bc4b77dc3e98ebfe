"""Scale-out benchmark: backfill wall time with 1 vs 2 Prefect workers, and the rate achieved per
app key against its budget, on a shared lake (PostgreSQL catalog + S3 data on moto).

    .venv/bin/python bench/bench_scale.py [--budget 4] [--symbols 8] [--years 3]

Each worker is a separate "machine" (its own KISDB_HOME: token cache, limiter state). Two app keys,
each served by its own simulator that enforces `budget` requests/s (EGW00201 beyond it). With one
worker the chunks run one after another; with two, one chunk per key runs at a time. Skips with a
message (exit 0) when the environment cannot be started (no PostgreSQL, moto or prefect).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scale_env import (  # noqa: E402
    ScaleEnv,
    ScaleEnvUnavailable,
    SimKey,
    counts_delta,
    sim_counts,
    start_sim_keys,
    write_keys_file,
)

SYMBOLS = [
    "005930",
    "000660",
    "035420",
    "035720",
    "005380",
    "000270",
    "051910",
    "006400",
    "068270",
    "005490",
    "055550",
    "086790",
]
SIM_NOW = datetime(2026, 11, 24, 10, 30, 0)


def scenario(
    env: ScaleEnv,
    keys: list[SimKey],
    workers: int,
    params: dict[str, Any],
    budget: float,
    tmp: Path,
    label: str,
) -> dict[str, Any]:
    env.reset_lake(label)
    extra = {
        "KIS_ENV": "sim",
        "KIS_APP_KEYS_FILE": str(write_keys_file(tmp / f"{label}.json", keys)),
        "KIS_RATE_LIMIT": str(budget),
    }
    for key in keys:
        key.sim.reset_token_window()
    names = [f"{label}-w{i}" for i in range(1, workers + 1)]
    for name in names:
        env.start_worker(name, extra)
    before = sim_counts(keys)
    started = time.monotonic()
    try:
        result = env.fanout(params, extra)
    finally:
        elapsed = time.monotonic() - started
        for name in names:
            env.stop_worker(name)
    seen = counts_delta(before, sim_counts(keys))
    return {
        "label": label,
        "workers": workers,
        "keys": len(keys),
        "elapsed": elapsed,
        "result": result,
        "seen": seen,
    }


def report(runs: list[dict[str, Any]], budget: float) -> None:
    print(
        f"{'scenario':<22}{'wall s':>8}{'requests':>10}{'req/s':>8}{'rate/budget':>13}{'EGW00201':>10}"
    )
    for run in runs:
        requests = sum(s["requests"] for s in run["seen"].values())
        limited = sum(s["rate_limited"] for s in run["seen"].values())
        rate = requests / run["elapsed"]
        per_key = ", ".join(
            f"{k} {s['requests'] / run['elapsed'] / budget:.2f}" for k, s in run["seen"].items()
        )
        print(
            f"{run['label']:<22}{run['elapsed']:>8.1f}{requests:>10}{rate:>8.2f}"
            f"{rate / (budget * run['keys']):>13.2f}{limited:>10}   per key: {per_key}"
        )
    one, two = runs[0], runs[1]
    print(f"speed-up 2 workers vs 1 (2 keys): {one['elapsed'] / two['elapsed']:.2f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="backfill wall time with 1 vs 2 workers")
    parser.add_argument("--budget", type=float, default=4.0, help="requests/s per app key")
    parser.add_argument("--symbols", type=int, default=8)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--symbols-per-chunk", type=int, default=2)
    # `python -m bench` calls main() with no arguments: defaults, never its own sys.argv.
    args = parser.parse_args([] if argv is None else argv)
    params = {
        "symbols": SYMBOLS[: args.symbols],
        "start": f"{2025 - args.years + 1}-01-01",
        "end": "2025-12-31",
        "symbols_per_chunk": args.symbols_per_chunk,
        "years_per_chunk": 1,
    }
    try:
        env = ScaleEnv.start()
    except (ScaleEnvUnavailable, OSError) as exc:
        print(f"bench_scale skipped: scale environment unavailable ({exc})")
        return 0
    keys = start_sim_keys(["alpha", "beta"], args.budget, SIM_NOW)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            runs = [
                scenario(env, keys, 1, params, args.budget, Path(tmp), "1-worker-2-keys"),
                scenario(env, keys, 2, params, args.budget, Path(tmp), "2-workers-2-keys"),
                scenario(env, keys[:1], 2, params, args.budget, Path(tmp), "2-workers-1-key"),
            ]
        print(
            f"backfill {len(params['symbols'])} symbols x {args.years} years (daily, adjusted+raw), "
            f"{runs[0]['result']['chunks']} chunks, budget {args.budget:g}/s per key"
        )
        report(runs, args.budget)
    finally:
        for key in keys:
            key.sim.stop()
        env.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
