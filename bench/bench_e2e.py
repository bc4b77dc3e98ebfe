"""End-to-end rate: a whole `kisdb ingest bars` command against a simulator enforcing 20/s.

    python -m bench.bench_e2e [--symbols 47] [--years 10]            (~2 minutes)

Issue 14's target: calls ÷ (wall × budget) >= 0.95 for a backfill of >= 2,000 calls, 0 EGW00201,
where wall runs from the command's start (a new interpreter: imports, config, the lake) to its
exit. The simulator is standalone (started here, in this process, before the clock starts, as
`kisdb sim` would be): the command does not pay the embedded simulator's start, which a user
backfilling KIS does not pay either. No PREFECT_API_URL: the flow runs locally.

Printed, from the simulator's own arrival times: calls (data requests; the token request is
counted apart), wall, the end-to-end ratio, EGW00201 answers, the in-flow ratio (first to last
request), and where the rest of the wall time went: start-up before the first request (the token
included), the tail after the last one, and the stalls in between (gaps longer than STALL_GAP
between two requests: a store holding the fetches back, a pager waiting), and the limiter's
ceiling (KIS_RATE_UTILISATION, 0.97 by default) beside the pace measured outside the stalls.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

from connectors.kis.ratelimit import Pace
from connectors.kis.settings import Settings
from simulator.server import SimConfig, start_simulator

BUDGET = 20.0
SIM_NOW = datetime(2026, 11, 24, 10, 30)
LAST_YEAR = 2025
# Two requests further apart than this (at 20/s they are ~0.05 s apart) leave budget unused.
STALL_GAP = 0.2
TARGET = 0.95


def listed_codes(n: int, years: int) -> list[str]:
    """`n` stock codes listed over the whole range in the simulated market (the same seed)."""
    from simulator.market import Market

    market = Market(seed=SimConfig().seed)
    first, last = date(LAST_YEAR - years + 1, 1, 2), date(LAST_YEAR, 12, 30)
    codes = [c for c in sorted(market.instruments) if market.is_listed(c, first)]
    return [c for c in codes if market.is_listed(c, last)][:n]


def command_env(home: Path, base_url: str, ws_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "KIS_", "KISDB_"))}
    return {
        **env,
        "KIS_ENV": "sim",
        "KIS_BASE_URL": base_url,
        "KIS_WS_URL": ws_url,
        "KIS_RATE_LIMIT": f"{BUDGET:g}",
        "KISDB_HOME": str(home),
        "KISDB_CONFIG": str(home.parent / "absent.toml"),
        "KISDB_RAW_ARCHIVE": "false",
        "PREFECT_HOME": str(home.parent / "prefect"),
    }


def stalls(times: list[float]) -> tuple[int, float]:
    """(count, seconds beyond the pace) of the gaps longer than STALL_GAP between requests."""
    gaps = [b - a for a, b in zip(times, times[1:], strict=False) if b - a > STALL_GAP]
    return len(gaps), sum(g - 1 / BUDGET for g in gaps)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=47)
    parser.add_argument("--years", type=int, default=10)
    args = parser.parse_args([] if argv is None else argv)
    codes = listed_codes(args.symbols, args.years)
    command = [
        sys.executable,
        "-m",
        "pipelines.cli",
        "ingest",
        "bars",
        "--symbols",
        ",".join(codes),
        "--start",
        f"{LAST_YEAR - args.years + 1}-01-01",
        "--end",
        f"{LAST_YEAR}-12-31",
    ]
    with (
        tempfile.TemporaryDirectory(prefix="kisdb-e2e-") as tmp,
        start_simulator(SimConfig(now=SIM_NOW, rate_limit=BUDGET)) as sim,
    ):
        env = command_env(Path(tmp) / "home", sim.base_url, sim.ws_url)
        started = time.monotonic()
        done = subprocess.run(command, env=env, cwd=tmp, capture_output=True, text=True)
        ended = time.monotonic()
        if done.returncode != 0:
            raise RuntimeError(f"ingest failed ({done.returncode}):\n{done.stderr[-3000:]}")
        stats = sim.stats.snapshot()
        times = sim.stats.times_since(started)
    tokens = int(stats["by_path"].get("/oauth2/tokenP", 0))  # type: ignore[attr-defined]
    calls = int(stats["requests"]) - tokens  # type: ignore[call-overload]
    wall = ended - started
    # The data requests are the last `calls` ones: before them come the market-clock read and
    # the token request.
    data = times[len(times) - calls :]
    first, last = data[0], data[-1]
    in_flow = calls / ((last - first + 1 / BUDGET) * BUDGET)
    ratio = calls / (wall * BUDGET)
    n_stalls, stalled = stalls(data)
    first_second = sum(1 for t in data if t < first + 1.0)
    ideal = calls / BUDGET
    print(
        f"bench_e2e: kisdb ingest bars, {len(codes)} symbols x {args.years} years daily "
        f"(adjusted + raw), simulator enforcing {BUDGET:g}/s (standalone, started before timing)"
    )
    print(
        f"  calls {calls} (+{tokens} token), wall {wall:.1f} s, ideal {ideal:.1f} s at the budget"
    )
    print(f"  calls / (wall x budget) = {ratio:.3f}   (target >= {TARGET})")
    print(f"  EGW00201 answers: {stats['rate_limited']}   (target 0)")
    print(f"  in-flow (first to last request) = {in_flow:.3f}")
    print(
        f"  where the wall time went: start-up to the first data request {first - started:.2f} s, "
        f"sending {last - first:.1f} s (of which {n_stalls} stalls > {STALL_GAP} s: "
        f"{stalled:.2f} s), tail after the last request {ended - last:.2f} s; "
        f"requests in the first second: {first_second}"
    )
    # The limiter's own ceiling, and what each budget-sized window of requests took outside the
    # stalls: 1/ceiling x capacity/budget when the pace binds; longer when the answer of a
    # window's first request came back late (the next window waits for answer + 1.01 s, the safe
    # reading of KIS's per-second window) or the command's threads were late to send.
    pace = Pace.for_budget(BUDGET, Settings.rate_utilisation)
    windows = calls / pace.capacity
    print(
        f"  limiter ceiling (KIS_RATE_UTILISATION={Settings.rate_utilisation}): "
        f"{pace.rate / BUDGET:.3f} of the budget, a window of {pace.capacity} requests every "
        f"{pace.window:.3f} s; measured outside the stalls: every "
        f"{(last - first - stalled) / windows:.3f} s"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
