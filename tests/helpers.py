"""Plain helpers the test files share (fixtures live in conftest.py). Tests import this module,
never each other: anything two test files need belongs here."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest

from connectors.kis.settings import Settings
from schemas.base import Dataset
from schemas.clock import KST
from schemas.datasets import EXECUTION_NOTICES, JOURNAL_REJECTS, QUOTES, TICKS
from simulator.server import RunningSimulator, SimConfig, start_simulator
from warehouse.journal import JournalLine, journal_days, read_journal
from warehouse.lake import Lake

# --- waiting on a condition (never a fixed sleep) -----------------------------------------------


def wait_until(
    predicate: Callable[[], object],
    *,
    timeout: float = 10.0,
    interval: float = 0.02,
    what: str = "",
) -> None:
    """Poll `predicate` until it is true; fail the test if `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(interval)


async def await_until(predicate: Callable[[], object], **options: Any) -> None:
    """`wait_until` from a coroutine: polls in a worker thread, so the event loop runs on
    (the predicate must be safe to call from another thread)."""
    await asyncio.to_thread(wait_until, predicate, **options)


def counter_reaches(sim: RunningSimulator, counter: str, at_least: int) -> Callable[[], bool]:
    """A predicate: the simulator's `counter` (a SimStats field) has reached `at_least`."""
    return lambda: int(getattr(sim.stats, counter)) >= at_least


# --- the connector pointed at a simulator -------------------------------------------------------


def sim_settings(sim: RunningSimulator, home: Path, **changes: Any) -> Settings:
    """Connector settings for `sim` (REST and websocket URLs, keys, HTS ID, account), home at
    `home`; `changes` override any field."""
    fields: dict[str, Any] = {
        "env": "sim",
        "base_url": sim.base_url,
        "ws_url": sim.ws_url,
        "app_key": sim.app_key,
        "app_secret": sim.app_secret,
        "hts_id": sim.hts_id,
        "account": sim.account_number,
        "home": home,
    }
    return Settings.from_env({}, **(fields | changes))


def point_env_at(monkeypatch: pytest.MonkeyPatch, sim: RunningSimulator, home: Path) -> None:
    """The environment the CLI and flows read: `sim`'s URLs and `home`, no real credentials."""
    monkeypatch.setenv("KIS_ENV", "sim")
    monkeypatch.setenv("KIS_BASE_URL", sim.base_url)
    monkeypatch.setenv("KIS_WS_URL", sim.ws_url)
    monkeypatch.setenv("KISDB_HOME", str(home))
    for name in ("KIS_APP_KEY", "KIS_APP_SECRET", "KIS_ACCOUNT"):
        monkeypatch.delenv(name, raising=False)


def lake_table(home: Path, dataset: Dataset) -> pl.DataFrame:
    """One table of the sim lake at `home`."""
    with Lake.open(home, source="sim") as lake:
        return lake.table(dataset)


# --- raw HTTP against the simulator (conformance tests: no connector in the way) ----------------

Q = "/uapi/domestic-stock/v1/quotations/"
T = "/uapi/domestic-stock/v1/trading/"


OPEN_CLIENTS: list[Kis] = []  # closed by the conftest fixture after each test


class Kis:
    """A bare client: a token, the KIS headers, and get/post returning (status, headers, json)."""

    def __init__(self, sim: RunningSimulator) -> None:
        self.sim = sim
        self.http = httpx.Client(base_url=sim.base_url, timeout=10)
        OPEN_CLIENTS.append(self)
        r = self.http.post(
            "/oauth2/tokenP",
            json={
                "grant_type": "client_credentials",
                "appkey": sim.app_key,
                "appsecret": sim.app_secret,
            },
        )
        assert r.status_code == 200, r.text
        self.token = r.json()["access_token"]

    def headers(self, tr_id: str, tr_cont: str = "") -> dict[str, str]:
        return {
            "authorization": f"Bearer {self.token}",
            "appkey": self.sim.app_key,
            "appsecret": self.sim.app_secret,
            "tr_id": tr_id,
            "custtype": "P",
            "tr_cont": tr_cont,
            "content-type": "application/json; charset=utf-8",
        }

    def get(self, path: str, tr_id: str, tr_cont: str = "", **params: str) -> httpx.Response:
        return self.http.get(path, params=params, headers=self.headers(tr_id, tr_cont))

    def post(self, path: str, tr_id: str, body: dict[str, Any]) -> httpx.Response:
        return self.http.post(path, json=body, headers=self.headers(tr_id))

    def close(self) -> None:
        self.http.close()


# --- websocket frames (kis-api.md §8) ---------------------------------------------------------

# §8.3, the workbook's H0STCNT0 sample frame.
TRADE = (
    "0|H0STCNT0|001|005930^093354^71900^5^-100^-0.14^72023.83^72100^72400^71700^71900^71800^1^"
    "3052507^219853241700^5105^6937^1832^84.90^1366314^1159996^1^0.39^20.28^090020^5^-200^090820^"
    "5^-500^092619^2^200^20230612^20^N^65945^216924^1118750^2199206^0.05^2424142^125.92^0^^72100"
)
# §8.4, the third-party 26-field notice fixture (an order acknowledgement).
NOTICE_ACK = (
    "HTSUSER^50199202^0000012345^0000000000^02^0^00^0^005930^0^0^105530^0^1^1^00950^3^홍길동^"
    "0^^N^^^^삼성전자^250000"
)


def quote_fields(code: str = "005930", hhmmss: str = "093730") -> list[str]:
    """The 59 fields of one H0STASP0 record: ten ask levels from 72,000 up, ten bids below."""
    asks = [str(72000 + 100 * i) for i in range(10)]
    bids = [str(71900 - 100 * i) for i in range(10)]
    ask_q = [str(1000 + i) for i in range(10)]
    bid_q = [str(2000 + i) for i in range(10)]
    tail = ["158171", "1159362", *["0"] * 6, "3", "0.00", "3159115", "0", "8", "0", "0", "0"]
    return [code, hhmmss, "0", *asks, *bids, *ask_q, *bid_q, *tail]


# --- lake rows ----------------------------------------------------------------------------------


def daily_bars(symbols: list[str], days: list[date], *, bump: int = 0) -> pl.DataFrame:
    """Adjusted daily bars with distinct, predictable prices per (symbol, day); `bump` shifts all."""
    rows = []
    for i, sym in enumerate(symbols):
        for j, d in enumerate(days):
            base = 10_000 + 100 * i + 10 * j + bump
            rows.append(
                {
                    "symbol": sym,
                    "period": "D",
                    "adjusted": True,
                    "date": d,
                    "open": base,
                    "high": base + 50,
                    "low": base - 50,
                    "close": base + 10,
                    "volume": 1000 + j,
                }
            )
    return pl.DataFrame(rows)


# --- the recorder against a running simulator ---------------------------------------------------

OPEN_DAY = datetime(2026, 11, 24, 10, 0, tzinfo=KST)  # a Tuesday, mid-session
SYMBOLS = ("005930", "000660")


def start_sim(**kwargs: Any) -> RunningSimulator:
    """A simulator at OPEN_DAY running 30x (the caller stops it)."""
    kwargs.setdefault("now", OPEN_DAY)
    kwargs.setdefault("speed", 30.0)
    return start_simulator(SimConfig(**kwargs))


def market_sequences(sim: RunningSimulator, symbol: str, day: Any) -> list[tuple[int, int, int]]:
    """(price, qty, cumulative volume) of every print of the day, as the simulator's market has it."""
    ticks = sim.market.ticks(symbol, day)
    cums = itertools.accumulate(t.qty for t in ticks)
    return [(t.price, t.qty, c) for t, c in zip(ticks, cums, strict=True)]


def assert_ticks_are_market_runs(
    sim: RunningSimulator, ticks: pl.DataFrame, *, runs: int = 1
) -> None:
    """Each symbol's rows are `runs` contiguous, non-overlapping stretches of the market's tape
    (one stretch per connection), with exact prices, quantities and cumulative volumes."""
    assert ticks.height
    for (symbol,), rows in ticks.sort("line", "record").group_by("symbol", maintain_order=True):
        market = market_sequences(sim, str(symbol), rows["date"][0])
        index = {cum: i for i, (_, _, cum) in enumerate(market)}
        got = list(zip(rows["price"], rows["qty"], rows["cum_volume"], strict=True))
        positions = [index[cum] for _, _, cum in got]
        assert [market[p] for p in positions] == got  # exact values
        assert positions == sorted(set(positions))  # nothing duplicated, in order
        breaks = sum(1 for a, b in itertools.pairwise(positions) if b != a + 1)
        assert breaks <= runs - 1, f"{symbol}: {breaks} gaps for {runs} connection(s)"


def journal_entries(home: Path) -> list[JournalLine]:
    """Every complete line of every journal day at `home`, in order."""
    return [
        entry
        for day in journal_days(home)
        for entry in read_journal(home / "journal" / f"{day:%Y%m%d}.journal")
        if isinstance(entry, JournalLine)
    ]


def journal_records(home: Path) -> int:
    """Data records in complete journal lines (independent of compaction)."""
    total = 0
    for entry in journal_entries(home):
        if entry.kind == "D" and entry.payload[:1] in "01":
            parts = entry.payload.split("|", 3)
            total += int(parts[2]) if len(parts) == 4 and parts[2].isdigit() else 0
    return total


def control_events(home: Path) -> list[str]:
    return [json.loads(e.payload)["event"] for e in journal_entries(home) if e.kind == "C"]


def tables(home: Path) -> dict[str, pl.DataFrame]:
    """The recorder's four tables in the sim lake at `home`, each sorted by its key."""
    with Lake.open(home, source="sim") as lake:
        return {
            ds.name: lake.table(ds).sort(*ds.primary_key)
            for ds in (TICKS, QUOTES, EXECUTION_NOTICES, JOURNAL_REJECTS)
        }
