"""Scale-out benchmark on a shared lake (PostgreSQL catalog + S3 data on moto), two parts:

1. Speed-up: backfill wall time with 1 vs 2 workers (2 app keys) against simulators whose budget
   is high enough (1,000 requests/s) that the workers, not the budget, are the limit (issue 14's
   target: >= 1.7x).
2. Budget use: the same backfill with a real-world budget (KIS real: 20 requests/s per key) on 2
   workers with 2 keys (target: calls / (wall x total budget) >= 0.90 over the whole run), then
   2 workers sharing 1 key.

    .venv/bin/python bench/bench_scale.py [--symbols 46] [--years 10] [--budget 20]

Workers are long-lived `kisdb worker` processes (pipelines/chunk_worker.py: chunk runs in the
worker's own process, two at a time, the key held between them). The wall time runs from the
start of the fan-out's process (`python -c "backfill_fanout(...)"`: interpreter, Prefect's import,
the parent flow run, chunk submission) to its exit. Printed per scenario, from the simulators'
own arrival times: the ratio over the run, the ratio from the first request to the last
(in-flow), the start-up before the first request, the tail after the last one, and the seconds
in which a key sent nothing for 1 s or more (idle: start-up, hand-overs, chunk boundaries).

Chunks are sized by the fan-out itself (`chunk_sizes`: large first, small last). Each worker is a
separate "machine" (its own KISDB_HOME: token cache, limiter state); each key is served by its own
simulator enforcing its budget (EGW00201 beyond it). Skips with a message (exit 0) when the
environment cannot be started (no PostgreSQL, moto, prefect).
"""

from __future__ import annotations

import argparse
import itertools
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


def idle_seconds(times: list[float]) -> float:
    """Time between requests spent in gaps of GAP_SECONDS or more (a key not sending)."""
    return sum(b - a for a, b in itertools.pairwise(times) if b - a >= GAP_SECONDS)


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
    times = {key.name: key.sim.stats.times_since(started) for key in keys}
    everything = sorted(t for ts in times.values() for t in ts)
    return {
        "label": label,
        "workers": workers,
        "keys": len(keys),
        "budget": budget,
        "elapsed": elapsed,
        "result": result,
        "seen": seen,
        "first": everything[0] - started if everything else float("nan"),
        "tail": started + elapsed - everything[-1] if everything else float("nan"),
        "span": everything[-1] - everything[0] if everything else float("nan"),
        "idle": {name: idle_seconds(ts) for name, ts in times.items()},
    }


def report(runs: list[dict[str, Any]]) -> None:
    print(
        f"{'scenario':<22}{'chunks':>7}{'wall s':>8}{'requests':>9}{'req/s':>7}{'run':>6}"
        f"{'in-flow':>8}{'start s':>8}{'tail s':>7}{'key idle s':>16}{'EGW00201':>9}"
    )
    for run in runs:
        seen = run["seen"].values()
        requests = sum(s["requests"] for s in seen)
        limited = sum(s["rate_limited"] for s in seen)
        rate = requests / run["elapsed"]
        budget = run["budget"] * run["keys"]
        binding = run["budget"] < FAST_BUDGET
        in_flow = requests / (run["span"] * budget) if binding else float("nan")
        idle = "/".join(f"{v:.1f}" for v in run["idle"].values())
        print(
            f"{run['label']:<22}{run['result']['chunks']:>7}{run['elapsed']:>8.1f}{requests:>9}"
            f"{rate:>7.1f}{rate / budget if binding else float('nan'):>6.2f}{in_flow:>8.2f}"
            f"{run['first']:>8.1f}{run['tail']:>7.1f}{idle:>16}{limited:>9}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="scale-out: 1 vs 2 workers; budget use per key")
    parser.add_argument("--budget", type=float, default=20.0, help="real-world requests/s per key")
    parser.add_argument("--symbols", type=int, default=46)
    parser.add_argument("--years", type=int, default=10)
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
            f"budget {args.budget:g}/s per key: calls / (wall x total budget) over the run "
            "(target >= 0.90 with 2 keys) and from the first request to the last; EGW00201 must be 0"
        )
    finally:
        for key in fast_keys + real_keys:
            key.sim.stop()
        env.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
