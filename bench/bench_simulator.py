"""Simulator throughput: REST requests/s (goal 1,000/s) and websocket records/s (goal 50,000/s).

    python -m bench.bench_simulator

The simulator runs in its own process (as `kisdb sim`), so client and server do not share a GIL.
REST: several concurrent keep-alive httpx clients (threads in two client processes) call
inquire-price and the period chart over 20 symbols with the rate limit disabled.

Websocket: one real websockets client over loopback holds the 41 registrations a session may have
(21 busiest symbols' trades H0STCNT0 + 20 of their order books H0STASP0), with the sim clock at
200,000x in session mode (each close rolls to the next open; a 50 ms send cycle then covers ~40 %
of a session, so ~2 million trade prints/s fall due and the server bounds the rate). From the first data frame it counts frames and
records received for WS_SECONDS, checking every frame holds count x the TR's fields. The ratio is
records/s (each `^`-record of a multi-record frame counts): what a recorder must handle.
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
from dataclasses import dataclass

import httpx
import websockets

from simulator.server import DEFAULT_APP_KEY, DEFAULT_APP_SECRET

REST_GOAL = 1_000.0
WS_GOAL = 50_000.0
REST_SECONDS = 4.0
WS_SECONDS = 4.0
WS_SPEED = (
    200_000.0  # a session in ~0.12 s: ~2M prints/s due, so the server (not the tape) bounds it
)
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
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipelines.cli",
            "sim",
            "--port",
            str(port),
            "--ws-port",
            str(ws_port),
            "--rate-limit",
            "0",
            "--speed",
            str(speed),
            *clock,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
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
    r = httpx.post(
        base + "/oauth2/tokenP",
        json={
            "grant_type": "client_credentials",
            "appkey": DEFAULT_APP_KEY,
            "appsecret": DEFAULT_APP_SECRET,
        },
    )
    return str(r.json()["access_token"])


CODES = [
    "005930",
    "000660",
    "035420",
    "035720",
    "005380",
    "051910",
    "006400",
    "068270",
    "105560",
    "055550",
    "003550",
    "012330",
    "028260",
    "066570",
    "096770",
    "017670",
    "030200",
    "034730",
    "015760",
    "032830",
]


def _hammer(base: str, token: str, seconds: float, worker_id: int) -> int:
    headers = {
        "authorization": f"Bearer {token}",
        "appkey": DEFAULT_APP_KEY,
        "appsecret": DEFAULT_APP_SECRET,
        "custtype": "P",
    }
    calls = [
        (
            "/uapi/domestic-stock/v1/quotations/inquire-price",
            "FHKST01010100",
            {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": code},
        )
        for code in CODES
    ]
    calls += [
        (
            "/uapi/domestic-stock/v1/quotations/inquire-daily-itemchartprice",
            "FHKST03010100",
            {
                "FID_COND_MRKT_DIV_CODE": "J",
                "FID_INPUT_ISCD": code,
                "FID_INPUT_DATE_1": "20250101",
                "FID_INPUT_DATE_2": "20261124",
                "FID_PERIOD_DIV_CODE": "D",
                "FID_ORG_ADJ_PRC": "0",
            },
        )
        for code in CODES
    ]
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
        results = pool.map(
            lambda w: _hammer(base, token, seconds, proc_id * CONCURRENCY + w), range(CONCURRENCY)
        )
        out.put(sum(results))


def rest_rate() -> float:
    with simulator(speed=1.0) as (base, _):
        token = _token(base)
        queue: mp.Queue = mp.Queue()
        procs = [
            mp.Process(target=_client_process, args=(base, token, REST_SECONDS, queue, n))
            for n in range(CLIENT_PROCESSES)
        ]
        start = time.monotonic()
        for p in procs:
            p.start()
        total = sum(queue.get(timeout=60) for _ in procs)
        elapsed = time.monotonic() - start
        for p in procs:
            p.join()
    return total / max(elapsed, REST_SECONDS)


# The 21 busiest symbols of the default universe (~240,000 prints a day together): 21 trade + 20 book
# registrations fill one session's 41 (KIS's limit, enforced by the simulator).
WS_TRADE_CODES = [
    "000660",
    "035420",
    "005930",
    "373220",
    "005380",
    "068270",
    "006400",
    "051910",
    "247540",
    "086520",
    "000270",
    "035720",
    "207940",
    "005490",
    "105560",
    "055550",
    "086790",
    "316140",
    "012330",
    "028260",
    "066570",
]
WS_BOOK_CODES = WS_TRADE_CODES[:20]
FIELDS = {"H0STCNT0": 46, "H0STASP0": 59}


@dataclass
class WsCount:
    records: int = 0
    frames: int = 0
    bytes: int = 0
    seconds: float = 0.0


def check_frame(frame: str) -> int:
    """Records in a data frame, after checking it carries exactly count x the TR's fields."""
    _, tr_id, count, payload = frame.split("|", 3)
    n = int(count)
    if payload.count("^") + 1 != n * FIELDS[tr_id]:
        raise AssertionError(f"{tr_id} frame of {n} records has {payload.count('^') + 1} fields")
    return n


async def _ws_count(base: str, ws_url: str, seconds: float) -> WsCount:
    """Subscribe up to the limit, then count what a real websockets client receives over loopback
    for `seconds` from the first data frame (records, frames, bytes)."""
    key = httpx.post(
        base + "/oauth2/Approval",
        json={
            "grant_type": "client_credentials",
            "appkey": DEFAULT_APP_KEY,
            "secretkey": DEFAULT_APP_SECRET,
        },
    ).json()["approval_key"]
    regs = [("H0STCNT0", c) for c in WS_TRADE_CODES] + [("H0STASP0", c) for c in WS_BOOK_CODES]
    out = WsCount()
    async with websockets.connect(ws_url, compression=None, max_size=None) as ws:
        for tr, code in regs:
            await ws.send(
                json.dumps(
                    {
                        "header": {
                            "approval_key": key,
                            "custtype": "P",
                            "tr_type": "1",
                            "content-type": "utf-8",
                        },
                        "body": {"input": {"tr_id": tr, "tr_key": code}},
                    }
                )
            )
        acks = 0
        while acks < len(regs):  # every registration acknowledged before the clock starts
            frame = await ws.recv()
            if frame.startswith("{") and '"PINGPONG"' not in frame:
                assert json.loads(frame)["body"]["msg_cd"] == "OPSP0000", frame
                acks += 1
        while not (frame := await ws.recv()).startswith("0|"):
            pass
        start = time.monotonic()
        stop = start + seconds
        while True:
            if frame[0] in "01":
                out.records += check_frame(frame)
                out.frames += 1
                out.bytes += len(frame)
            if time.monotonic() >= stop:
                break
            frame = await ws.recv()
        out.seconds = time.monotonic() - start
    return out


def ws_rate() -> WsCount:
    with simulator(speed=WS_SPEED, pinned=False) as (base, ws_url):
        return asyncio.run(_ws_count(base, ws_url, WS_SECONDS))


def main() -> None:
    rest = rest_rate()
    print(
        f"simulator REST requests/s: {rest:,.0f} / goal {REST_GOAL:,.0f} = ratio {rest / REST_GOAL:.2f}"
    )
    ws = ws_rate()
    records, frames = ws.records / ws.seconds, ws.frames / ws.seconds
    print(
        f"simulator websocket: {frames:,.0f} frames/s, {ws.bytes / ws.seconds / 1e6:,.1f} MB/s, "
        f"{ws.records / max(ws.frames, 1):.0f} records/frame (41 registrations, sim speed x{WS_SPEED:,.0f})"
    )
    print(
        f"simulator websocket records/s: {records:,.0f} / goal {WS_GOAL:,.0f} = ratio {records / WS_GOAL:.2f}"
        " (ratio on records received: what a recorder must handle)"
    )


if __name__ == "__main__":
    main()
