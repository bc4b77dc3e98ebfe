"""Scale-out benchmark on a shared lake (PostgreSQL catalog + S3 data on moto), two parts:

1. Speed-up: backfill wall time with 1 vs 2 Prefect workers (2 app keys) against simulators whose
   budget is high enough (1,000 requests/s) that the workers, not the budget, are the limit.
2. Budget use: the same kind of backfill with a real-world budget (KIS real: 20 requests/s per key)
   on 2 workers with 2 keys, then 2 workers sharing 1 key: achieved rate / budget per key, over the
   whole run and while the key was sending (a gap of 1 s or more between two requests ends a
   sending stretch: what remains is flow-run start-up, lake writes and lease hand-overs).

    .venv/bin/python bench/bench_scale.py [--symbols 40] [--years 5] [--budget 20]

Chunks are sized by the fan-out itself (`auto_symbols_per_chunk`: ~60 s of one key's budget, at
least two chunks per key). Each worker is a separate "machine" (its own KISDB_HOME: token cache,
limiter state); each key is served by its own simulator enforcing its budget (EGW00201 beyond it).
Skips with a message (exit 0) when the environment cannot be started (no PostgreSQL, moto, prefect).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date, datetime
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

SIM_NOW = datetime(2026, 11, 24, 10, 30, 0)
FAST_BUDGET = 1000.0
GAP_SECONDS = 1.0


def listed_codes(n: int, years: int) -> list[str]:
    """`n` stock codes listed over the whole backfill range in the simulated market."""
    from simulator.market import Market
    from simulator.server import SimConfig

    market = Market(seed=SimConfig().seed)
    first, last = date(2025 - years + 1, 1, 2), date(2025, 12, 30)
    codes = [c for c in sorted(market.instruments) if market.is_listed(c, first)]
    return [c for c in codes if market.is_listed(c, last)][:n]


def sending_seconds(times: list[float], budget: float) -> float:
    """Time covered by stretches of requests with gaps under GAP_SECONDS (each request counts
    for one budget slot, 1/budget s)."""
    if not times:
        return 0.0
    total, lo, prev = 0.0, times[0], times[0]
    for t in times[1:]:
        if t - prev >= GAP_SECONDS:
            total += prev - lo + 1 / budget
            lo = t
        prev = t
    return total + prev - lo + 1 / budget


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
    for key in keys:
        times = key.sim.stats.times_since(started)
        seen[key.name]["sending"] = sending_seconds(times, budget)
    return {
        "label": label,
        "workers": workers,
        "keys": len(keys),
        "budget": budget,
        "elapsed": elapsed,
        "result": result,
        "seen": seen,
    }


def report(runs: list[dict[str, Any]]) -> None:
    print(
        f"{'scenario':<26}{'chunks':>7}{'wall s':>8}{'requests':>10}{'req/s':>8}"
        f"{'rate/budget':>13}{'sending':>9}{'EGW00201':>10}"
    )
    for run in runs:
        seen = run["seen"].values()
        requests = sum(s["requests"] for s in seen)
        limited = sum(s["rate_limited"] for s in seen)
        rate = requests / run["elapsed"]
        budget = run["budget"] * run["keys"]
        sending = sum(s["requests"] for s in seen) / max(sum(s["sending"] for s in seen), 1e-9)
        per_key = run["budget"] if run["budget"] < FAST_BUDGET else None
        print(
            f"{run['label']:<26}{run['result']['chunks']:>7}{run['elapsed']:>8.1f}{requests:>10}"
            f"{rate:>8.1f}{rate / budget if per_key else float('nan'):>13.2f}"
            f"{sending / run['budget'] if per_key else float('nan'):>9.2f}{limited:>10}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="scale-out: 1 vs 2 workers; budget use per key")
    parser.add_argument("--budget", type=float, default=20.0, help="real-world requests/s per key")
    parser.add_argument("--symbols", type=int, default=40)
    parser.add_argument("--years", type=int, default=5)
    # `python -m bench` calls main() with no arguments: defaults, never its own sys.argv.
    args = parser.parse_args([] if argv is None else argv)
    params = {
        "symbols": listed_codes(args.symbols, args.years),
        "start": f"{2025 - args.years + 1}-01-01",
        "end": "2025-12-31",
    }
    try:
        env = ScaleEnv.start()
    except (ScaleEnvUnavailable, OSError) as exc:
        print(f"bench_scale skipped: scale environment unavailable ({exc})")
        return 0
    # One simulator per key and budget (a simulator's budget is fixed when it starts).
    fast_keys = start_sim_keys(["alpha", "beta"], FAST_BUDGET, SIM_NOW)
    real_keys = start_sim_keys(["gamma", "delta"], args.budget, SIM_NOW)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            fast = [
                scenario(env, fast_keys, n, params, FAST_BUDGET, Path(tmp), f"{n}-worker(s)-fast")
                for n in (1, 2)
            ]
            real = [
                scenario(env, real_keys, 2, params, args.budget, Path(tmp), "2-workers-2-keys"),
                scenario(env, real_keys[:1], 2, params, args.budget, Path(tmp), "2-workers-1-key"),
            ]
        print(
            f"backfill {len(params['symbols'])} symbols x {args.years} years (daily, adjusted+raw);"
            f" chunks sized by the fan-out"
        )
        report(fast + real)
        print(
            f"speed-up 2 workers vs 1 (budget {FAST_BUDGET:g}/s, workers are the limit): "
            f"{fast[0]['elapsed'] / fast[1]['elapsed']:.2f}x"
        )
        print(
            f"budget {args.budget:g}/s per key: rate/budget over the run and while sending "
            "(EGW00201 must be 0)"
        )
    finally:
        for key in fast_keys + real_keys:
            key.sim.stop()
        env.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
