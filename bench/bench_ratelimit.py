"""Rate-limiter benchmark: achieved requests/s ÷ budget, and rate-limit errors seen.

    python -m bench.bench_ratelimit            (~20 s)

A simulator enforcing a strict sliding one-second window of BUDGET requests per app key; PROCESSES
worker processes (THREADS threads each) share the app key and call inquire-price flat out for
DURATION seconds through KisClient. Printed: the sustained rate over the run divided by the budget
(goal >= 0.95; the limiter targets KIS_RATE_UTILISATION = 0.97 by default; a second run at 0.99
shows how close to the edge it can go) and the EGW00201 answers the
simulator gave (goal 0). The rate counts answers completed inside [start, start + DURATION].
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

from connectors.kis import Endpoint, KisClient, KisError, Settings
from simulator.server import SimConfig, start_simulator

BUDGET = 20
DURATION = 5.0
PROCESSES = 2
THREADS = 6
SIM_NOW = datetime(2026, 11, 24, 10, 30)
PRICE = Endpoint(
    "inquire_price",
    "GET",
    "/uapi/domestic-stock/v1/quotations/inquire-price",
    "FHKST01010100",
    "FHKST01010100",
)
PARAMS = {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930"}


def worker(start: float, duration: float, threads: int) -> None:
    """One worker process: settings from the environment; prints a JSON line of completion times."""
    client = KisClient(Settings.from_env(os.environ))
    done: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def run() -> None:
        while time.time() < start + duration:
            try:
                client.call(PRICE, params=PARAMS)
                with lock:
                    done.append(time.time())
            except KisError as exc:
                with lock:
                    errors.append(type(exc).__name__)

    while time.time() < start:
        time.sleep(0.001)
    pool = [threading.Thread(target=run) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    client.close()
    print(json.dumps({"done": done, "errors": errors}))


def main() -> None:
    run(Settings.rate_utilisation)  # the default utilisation
    run(0.99)  # closer to the edge: the window margin shrinks to ~10 ms


def run(utilisation: float) -> None:
    with (
        tempfile.TemporaryDirectory() as home,
        start_simulator(SimConfig(rate_limit=BUDGET, now=SIM_NOW)) as sim,
    ):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KIS_", "KISDB_"))}
        env.update(
            KIS_ENV="sim",
            KIS_BASE_URL=sim.base_url,
            KIS_WS_URL=sim.ws_url,
            KIS_APP_KEY=sim.app_key,
            KIS_APP_SECRET=sim.app_secret,
            KISDB_HOME=home,
            KIS_RATE_LIMIT=str(BUDGET),
            KIS_RATE_UTILISATION=str(utilisation),
        )
        with KisClient(Settings.from_env(env)) as client:
            client.call(PRICE, params=PARAMS)  # token issued and the symbol's prices generated
        time.sleep(1.1)  # the warm-up call leaves the window
        start = time.time() + 2.0  # workers are up by then
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.bench_ratelimit",
                    "--worker",
                    str(start),
                    str(DURATION),
                    str(THREADS),
                ],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=Path(__file__).resolve().parent.parent,
            )
            for _ in range(PROCESSES)
        ]
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            if proc.returncode != 0:
                raise RuntimeError(f"worker failed: {err.strip().splitlines()[-1:]}")
            results.append(json.loads(out.strip().splitlines()[-1]))
        stats = sim.stats.snapshot()
    completed = [t for r in results for t in r["done"] if t <= start + DURATION]
    achieved = len(completed) / DURATION
    client_errors = sum(len(r["errors"]) for r in results)
    print(
        f"ratelimit (utilisation {utilisation}): achieved {achieved:.2f} req/s of a {BUDGET}/s budget = {achieved / BUDGET:.3f} "
        f"(goal >= 0.95); rate-limit errors (EGW00201) {stats['rate_limited']} (goal 0); "
        f"client errors {client_errors}; {PROCESSES} processes x {THREADS} threads, {DURATION:.0f} s"
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker(float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]))
    else:
        main()
