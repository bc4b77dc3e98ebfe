"""Wiring for flows: settings -> client + lake, opened once per run and shared by subflows.

`KIS_ENV=sim` with no `KIS_BASE_URL` starts the embedded simulator (the connector does that when it
resolves its settings); the lake is stamped "sim" for the simulator and "kis" for paper/real, so
synthetic data never mixes with market data.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from connectors.kis.api import KisClient
from connectors.kis.master import DEFAULT_MASTER_URL
from connectors.kis.settings import Settings
from pipelines.lake_retry import retry_on_conflict
from warehouse.lake import Lake
from warehouse.remote import lake_target_from_env

KST = ZoneInfo("Asia/Seoul")


@dataclass
class Runtime:
    client: KisClient
    lake: Lake
    # Only one thread writes to the lake at a time (fetches run concurrently, stores do not).
    write_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def settings(self) -> Settings:
        return self.client.settings

    @property
    def source(self) -> str:
        return lake_source(self.settings)

    @property
    def master_url(self) -> str:
        """Where the stock master files are: KIS's download host, or the simulator's own route."""
        if self.settings.env == "sim" and self.settings.base_url:
            return f"{self.settings.base_url.rstrip('/')}/common/master"
        return DEFAULT_MASTER_URL

    def now(self) -> datetime:
        """The market's current time (KST): the simulator's clock when it runs in this process."""
        if self.settings.env == "sim":
            sim_now = _embedded_sim_now(self.settings)
            if sim_now is not None:
                return sim_now
        return datetime.now(KST)

    def today(self) -> date:
        return self.now().date()


def lake_source(settings: Settings) -> str:
    return "sim" if settings.env == "sim" else "kis"


def embedded_simulator(settings: Settings) -> Any | None:
    """The simulator running in this process that the settings point at (None: none here)."""
    try:
        from simulator.server import running_simulators
    except ImportError:
        return None
    for sim in running_simulators():
        if settings.base_url and sim.base_url.rstrip("/") == settings.base_url.rstrip("/"):
            return sim
    return None


def _embedded_sim_now(settings: Settings) -> datetime | None:
    """The in-process simulator's clock, if this process runs the one the settings point at."""
    sim = embedded_simulator(settings)
    if sim is None:
        return None
    now: datetime = sim.clock.now()
    return now if now.tzinfo else now.replace(tzinfo=KST)


_current: Runtime | None = None
_lock = threading.Lock()


def load_settings(home: str | Path | None = None, **overrides: Any) -> Settings:
    if home is not None:
        overrides["home"] = Path(home).expanduser()
    return Settings.from_env(**overrides)


def open_lake(settings: Settings) -> Lake:
    """The configured lake (KISDB_CATALOG / KISDB_DATA_PATH, else the local one under the home).

    Two workers creating one lake may conflict: retried. No KIS call is made here."""
    catalog, data_path = lake_target_from_env()
    return retry_on_conflict(
        lambda: Lake.open(
            settings.home,
            source=lake_source(settings),  # type: ignore[arg-type]
            catalog=catalog,
            data_path=data_path,
            retry=retry_on_conflict,
        )
    )


@contextmanager
def use_runtime(
    home: str | Path | None = None, *, lake: Lake | None = None, **overrides: Any
) -> Iterator[Runtime]:
    """The runtime of the enclosing run, or a new one (opened here, closed on exit).

    Subflows of `update` reuse their parent's client and lake: one token, one limiter, one
    DuckDB connection per run. A `lake` opened by the caller is used as is and left open.
    """
    global _current
    with _lock:
        existing = _current
    if existing is not None:
        yield existing
        return
    settings = load_settings(home, **overrides)
    client = KisClient(settings)
    owns_lake = lake is None
    try:
        if lake is None:
            lake = open_lake(client.settings)
    except BaseException:
        client.close()
        raise
    runtime = Runtime(client=client, lake=lake)
    with _lock:
        _current = runtime
    try:
        yield runtime
    finally:
        with _lock:
            _current = None
        if owns_lake:
            lake.close()
        client.close()
