"""Simulator throughput: REST requests/s (goal 1,000/s) and websocket records/s (goal 50,000/s).

    python -m bench.bench_simulator

The simulator runs in its own process (as `kisdb sim`), so client and server do not share a GIL.
REST: several concurrent keep-alive httpx clients (threads in two client processes) call
inquire-price and the period chart over 20 symbols with the rate limit disabled. Websocket: one client subscribed to trades and quotes of 20 symbols
with the sim clock at 200,000x (session mode: each close rolls to the next open) counts data records (each `^`-record of a multi-record frame counts).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import websockets

from simulator.server import DEFAULT_APP_KEY, DEFAULT_APP_SECRET

REST_GOAL = 1_000.0
WS_GOAL = 50_000.0
REST_SECONDS = 4.0
WS_SECONDS = 4.0
WS_SPEED = 200_000.0  # a whole session in ~0.12 s: the stream is bounded by the server, not the tape
CLIENT_PROCESSES = 2
CONCURRENCY = 4
NOW = "2026-11-24T09:05:00"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def simulator(speed: float, pinned: bool = True) -> Iterator[tuple[str, str]]:
    port, ws_port = _free_port(), _free_port()
    clock = ["--now", NOW] if pinned else []  # session mode rolls from close to the next open
    proc = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "sim", "--port", str(port), "--ws-port",
                             str(ws_port), "--rate-limit", "0", "--speed", str(speed), *clock],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + "/", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("simulator did not start") from None
                time.sleep(0.2)
        yield base, f"ws://127.0.0.1:{ws_port}"
    finally:
        proc.terminate()
        proc.wait(10)


def _token(base: str) -> str:
    r = httpx.post(base + "/oauth2/tokenP", json={"grant_type": "client_credentials", "appkey": DEFAULT_APP_KEY,
                                                  "appsecret": DEFAULT_APP_SECRET})
    return str(r.json()["access_token"])


CODES = ["005930", "000660", "035420", "035720", "005380", "051910", "006400", "068270", "105560", "055550",
         "003550", "012330", "028260", "066570", "096770", "017670", "030200", "034730", "015760", "032830"]


def _hammer(base: str, token: str, seconds: float, worker_id: int) -> int:
    headers = {"authorization": f"Bearer {token}", "appkey": DEFAULT_APP_KEY, "appsecret": DEFAULT_APP_SECRET,
               "custtype": "P"}
    calls = [("/uapi/domestic-stock/v1/quotations/inquire-price", "FHKST01010100",
              {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": code}) for code in CODES]
    calls += [("/uapi/domestic-stock/v1/quotations/inquire-daily-itemchartprice", "FHKST03010100",
               {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": code, "FID_INPUT_DATE_1": "20250101",
                "FID_INPUT_DATE_2": "20261124", "FID_PERIOD_DIV_CODE": "D", "FID_ORG_ADJ_PRC": "0"}) for code in CODES]
    done, i = 0, worker_id
    stop = time.monotonic() + seconds
    with httpx.Client(base_url=base, headers=headers) as client:
        while time.monotonic() < stop:
            path, tr_id, params = calls[i % len(calls)]
            i += 7
            r = client.get(path, params=params, headers={"tr_id": tr_id})
            if r.status_code == 200 and r.json()["rt_cd"] == "0":
                done += 1
    return done


def _client_process(base: str, token: str, seconds: float, out: mp.Queue, proc_id: int) -> None:
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        results = pool.map(lambda w: _hammer(base, token, seconds, proc_id * CONCURRENCY + w), range(CONCURRENCY))
        out.put(sum(results))


def rest_rate() -> float:
    with simulator(speed=1.0) as (base, _):
        token = _token(base)
        queue: mp.Queue = mp.Queue()
        procs = [mp.Process(target=_client_process, args=(base, token, REST_SECONDS, queue, n))
                 for n in range(CLIENT_PROCESSES)]
        start = time.monotonic()
        for p in procs:
            p.start()
        total = sum(queue.get(timeout=60) for _ in procs)
        elapsed = time.monotonic() - start
        for p in procs:
            p.join()
    return total / max(elapsed, REST_SECONDS)


async def _ws_count(base: str, ws_url: str, seconds: float) -> int:
    key = httpx.post(base + "/oauth2/Approval", json={"grant_type": "client_credentials", "appkey": DEFAULT_APP_KEY,
                                                      "secretkey": DEFAULT_APP_SECRET}).json()["approval_key"]
    codes = ["005930", "000660", "035420", "035720", "005380", "051910", "006400", "068270", "105560", "055550",
             "003550", "012330", "028260", "066570", "096770", "017670", "030200", "034730", "015760", "032830"]
    records = 0
    async with websockets.connect(ws_url, compression=None, max_size=None) as ws:
        for code in codes:
            for tr in ("H0STCNT0", "H0STASP0"):
                await ws.send(json.dumps({"header": {"approval_key": key, "custtype": "P", "tr_type": "1",
                                                     "content-type": "utf-8"},
                                          "body": {"input": {"tr_id": tr, "tr_key": code}}}))
        stop = time.monotonic() + seconds
        while time.monotonic() < stop:
            frame = await ws.recv()
            if frame[0] == "0":
                records += int(frame[frame.index("|", 2) + 1:frame.index("|", 2) + 4])
    return records


def ws_rate() -> float:
    with simulator(speed=WS_SPEED, pinned=False) as (base, ws_url):
        start = time.monotonic()
        records = asyncio.run(_ws_count(base, ws_url, WS_SECONDS))
        return records / (time.monotonic() - start)


def main() -> None:
    rest = rest_rate()
    print(f"simulator REST requests/s: {rest:,.0f} / goal {REST_GOAL:,.0f} = ratio {rest / REST_GOAL:.2f}")
    ws = ws_rate()
    print(f"simulator websocket records/s: {ws:,.0f} / goal {WS_GOAL:,.0f} = ratio {ws / WS_GOAL:.2f}")


if __name__ == "__main__":
    main()
