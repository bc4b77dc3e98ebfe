"""The connector core against the real simulator, including several real processes sharing one
app key: one token for all, a machine-wide rate limit with zero EGW00201, priority lanes."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from connectors.kis import Endpoint, KisAuthError, KisClient, Settings
from connectors.kis.auth import read_ledger
from simulator.server import RunningSimulator
from tests.helpers import counter_reaches, wait_until

PRICE = Endpoint(
    "inquire_price",
    "GET",
    "/uapi/domestic-stock/v1/quotations/inquire-price",
    "FHKST01010100",
    "FHKST01010100",
)
PRICE_PARAMS = {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930"}

# A worker process: says it is ready (imports done, client built), waits for the common start
# instant the test writes once every worker is ready, then calls inquire-price from THREADS
# threads in LANE until START + DURATION; prints one JSON line with its counts and latencies.
WORKER = """
import json, os, sys, threading, time
from pathlib import Path
from connectors.kis import KisClient, Endpoint, Settings, KisError
PRICE = Endpoint("inquire_price", "GET", "/uapi/domestic-stock/v1/quotations/inquire-price", "FHKST01010100", "FHKST01010100")
barrier, duration = Path(os.environ["W_BARRIER"]), float(os.environ["W_DURATION"])
threads, lane = int(os.environ["W_THREADS"]), os.environ["W_LANE"]
client = KisClient(Settings.from_env(os.environ))
(barrier / f"ready-{os.getpid()}").touch()
go = barrier / "go"
while not go.exists(): time.sleep(0.005)  # a start line shared by processes (no tests/ here)
start = float(go.read_text())
done, errors, lock = [], [], threading.Lock()
def work():
    while True:  # at least one call, then until the end instant
        try:
            client.call(PRICE, params={"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930"}, lane=lane)
            with lock: done.append(time.time())
        except KisError as exc:
            with lock: errors.append(type(exc).__name__)
        if time.time() >= start + duration: break
while time.time() < start: time.sleep(0.001)
pool = [threading.Thread(target=work) for _ in range(threads)]
for t in pool: t.start()
for t in pool: t.join()
client.close()
print(json.dumps({"done": done, "errors": errors, "calls": client.calls}))
"""


def _env(sim: RunningSimulator, home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIS_", "KISDB_"))}
    env.update(
        KIS_ENV="sim",
        KIS_BASE_URL=sim.base_url,
        KIS_WS_URL=sim.ws_url,
        KIS_APP_KEY=sim.app_key,
        KIS_APP_SECRET=sim.app_secret,
        KIS_ACCOUNT=sim.account_number,
        KISDB_HOME=str(home),
    )
    env.update(extra)
    return env


def _spawn(
    env: dict[str, str], barrier: Path, duration: float, threads: int, lane: str
) -> subprocess.Popen[str]:
    barrier.mkdir(exist_ok=True)
    worker_env = {
        **env,
        "W_BARRIER": str(barrier),
        "W_DURATION": str(duration),
        "W_THREADS": str(threads),
        "W_LANE": lane,
    }
    return subprocess.Popen(
        [sys.executable, "-c", WORKER],
        env=worker_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _release(barrier: Path, workers: int, lead: float = 0.3) -> float:
    """Once `workers` processes are ready (a loaded machine may take seconds to start them), the
    instant they all start at, written atomically to the barrier."""
    wait_until(
        lambda: len(list(barrier.glob("ready-*"))) >= workers,
        timeout=60,
        what=f"{workers} worker processes ready",
    )
    start = time.time() + lead
    (barrier / "go.tmp").write_text(repr(start))
    (barrier / "go.tmp").replace(barrier / "go")
    return start


def _collect(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]
    return json.loads(out.strip().splitlines()[-1])


def _settings(sim: RunningSimulator, home: Path, **changes: Any) -> Settings:
    return Settings.from_env(_env(sim, home), **changes)


def test_processes_starting_together_issue_one_token(
    make_sim: Callable[..., RunningSimulator], tmp_path: Path
) -> None:
    sim = make_sim(rate_limit=0)
    barrier = tmp_path / "barrier"
    procs = [_spawn(_env(sim, tmp_path), barrier, 0, 1, "live") for _ in range(4)]
    _release(barrier, len(procs))
    results = [_collect(p) for p in procs]
    assert all(len(r["done"]) == 1 and not r["errors"] for r in results)
    assert sim.stats.snapshot()["tokens_issued"] == 1
    ledger = read_ledger(tmp_path)
    assert len(ledger) == 1 and ledger[0]["event"] == "token" and ledger[0]["env"] == "sim"


def test_machine_wide_rate_limit_with_zero_rejections(
    make_sim: Callable[..., RunningSimulator], tmp_path: Path
) -> None:
    budget, duration = 10, 3.0
    sim = make_sim(rate_limit=budget)
    env = _env(sim, tmp_path, KIS_RATE_LIMIT=str(budget))
    with KisClient(_settings(sim, tmp_path, rate_limit=budget)) as client:
        # Token issued and the simulator's price path for the symbol generated up front, so the
        # measured span is requests only.
        client.call(PRICE, params=PRICE_PARAMS)
    barrier = tmp_path / "barrier"
    procs = [_spawn(env, barrier, duration, 4, "live") for _ in range(3)]
    start = _release(barrier, len(procs))
    results = [_collect(p) for p in procs]
    stats = sim.stats.snapshot()
    assert stats["rate_limited"] == 0
    assert not any(r["errors"] for r in results)
    done = sorted(t for r in results for t in r["done"] if t <= start + duration)
    # Measured from the first answer (the first call may wait for a slot behind the warm-up).
    achieved = (len(done) - 1) / (start + duration - done[0])
    assert achieved >= 0.9 * budget, (
        f"{achieved:.2f}/s of {budget}/s",
        [len(r["done"]) for r in results],
        [round(t - start, 2) for t in done],
        stats,
    )
    # Nobody got much more than a fair share either: every process made progress.
    assert all(len(r["done"]) >= 5 for r in results)


def test_live_queries_overtake_a_backfill_in_another_process(
    make_sim: Callable[..., RunningSimulator], tmp_path: Path
) -> None:
    budget = 10
    sim = make_sim(rate_limit=budget)
    settings = _settings(sim, tmp_path, rate_limit=budget)
    with KisClient(settings) as client:
        client.call(PRICE, params=PRICE_PARAMS)  # warm up: token and price path
        barrier = tmp_path / "barrier"
        backfill = _spawn(
            _env(sim, tmp_path, KIS_RATE_LIMIT=str(budget)), barrier, 3.0, 8, "backfill"
        )
        start = _release(barrier, 1)
        baseline = sim.stats.requests
        wait_until(  # the backfill queue is busy
            counter_reaches(sim, "requests", baseline + 8),
            timeout=start + 10 - time.time(),
            what="the backfill worker's first requests",
        )
        waits = []
        for _ in range(6):
            t0 = time.monotonic()
            client.call(PRICE, params=PRICE_PARAMS, lane="live")
            waits.append(time.monotonic() - t0)
            time.sleep(0.2)  # pacing under test: live calls arrive now and then, not as a burst
        result = _collect(backfill)
    # Eight backfill waiters queue ~0.8 s deep; a live call takes the next slot (<= ~0.1 s away).
    # Without lanes each would wait ~0.84 s; allow a loaded machine some slack on the worst one.
    assert sorted(waits)[len(waits) // 2] < 0.25 and max(waits) < 0.6, waits
    assert len(result["done"]) >= 15 and sim.stats.snapshot()["rate_limited"] == 0


def test_token_expiry_mid_run_recovers(
    make_sim: Callable[..., RunningSimulator], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sim = make_sim(rate_limit=0, token_issue_interval=0.5)
    settings = _settings(sim, tmp_path, token_issue_interval=0.6)
    errors: list[BaseException] = []
    with KisClient(settings) as client:

        def hammer() -> None:
            try:
                for _ in range(15):
                    client.call(PRICE, params=PRICE_PARAMS)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=hammer) for _ in range(3)]
        for t in threads:
            t.start()
        wait_until(counter_reaches(sim, "requests", 6), what="the threads under way")
        sim.expire_tokens()
        for t in threads:
            t.join()
        token = client.token()
    assert not errors
    assert sim.stats.snapshot()["tokens_issued"] == 2
    assert [e["reason"] for e in read_ledger(tmp_path)] == [
        "no cached token",
        "server refused the cached token",
    ]
    with pytest.raises(KisAuthError) as info:
        KisClient(_settings(sim, tmp_path / "bad", app_secret="not-the-secret" * 3)).call(
            PRICE, params=PRICE_PARAMS
        )
    for text in (caplog.text, str(info.value), repr(info.value), repr(settings)):
        for secret in (
            sim.app_key,
            sim.app_secret,
            token,
            sim.account_number.split("-")[0],
            "not-the-secret" * 3,
        ):
            assert secret not in text
