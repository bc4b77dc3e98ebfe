"""The composition root of a run: config -> simulator, clock, client + lake, opened once per run
and shared by subflows.

`KIS_ENV=sim` with no `KIS_BASE_URL` starts the embedded simulator (pipelines/embedded.py) before
the client is built; the run's clock is then the simulator's. The lake is stamped "sim" for the
simulator and "kis" for paper/real, so synthetic data never mixes with market data.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.config import Config, load_config
from pipelines.lake_retry import retry_on_conflict
from warehouse.lake import Lake, LakeConnection
from warehouse.lake import connect as warehouse_connect

if TYPE_CHECKING:  # the client and the simulator load when a run needs KIS, not for `kisdb sql`
    from connectors.kis.api import KisClient
    from connectors.kis.settings import Settings
    from schemas.clock import Clock


@dataclass
class Runtime:
    config: Config  # resolved: config.kis points at a server
    clock: Clock  # the market's now: the simulator's clock when it runs in this process
    client: KisClient
    lake: Lake
    # Only one thread writes to the lake at a time (fetches run concurrently, stores do not).
    write_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def settings(self) -> Settings:
        return self.config.kis

    @property
    def master_url(self) -> str:
        """Where the stock master files are: KIS's download host, or the simulator's own route."""
        from connectors.kis.master import DEFAULT_MASTER_URL

        if self.settings.env == "sim" and self.settings.base_url:
            return f"{self.settings.base_url.rstrip('/')}/common/master"
        return DEFAULT_MASTER_URL


def resolve_config(config: Config) -> tuple[Config, Clock]:
    """`config` pointed at a server (the embedded simulator started if it is needed) and the
    market clock that goes with it."""
    from pipelines.embedded import market_clock, resolve
    from warehouse.files import private_dirs

    # The home holds the token cache, journals and the order log: created owner-only (0700)
    # whichever of them comes first, not only by the lake.
    private_dirs(config.home)
    kis = resolve(config.kis)
    return config.replace(kis=kis), market_clock(kis)


def open_client(config: Config, clock: Clock) -> KisClient:
    """A client for the resolved `config` on the root's clock, with the configured order guards."""
    from connectors.kis.api import KisClient

    client = KisClient(config.kis, clock=clock)
    client.configure_orders(guards=config.orders, today=clock.today)
    return client


def client_for(config: Config) -> KisClient:
    """A client for `config` outside a flow run (a CLI command, a notebook): the embedded
    simulator started if needed, the market clock, the configured order guards.

        with client_for(load_config()) as client:
            client.balance()
    """
    return open_client(*resolve_config(config))


def open_lake(config: Config, *, read_only: bool = False, snapshot: int | None = None) -> Lake:
    """The configured lake (KISDB_CATALOG / KISDB_DATA_PATH, else the local one under the home).

    Two workers creating one lake may conflict: retried. No KIS call is made here."""
    return retry_on_conflict(
        lambda: Lake.open(
            config.home,
            source=None if read_only else config.source,
            catalog=config.lake.catalog,
            data_path=config.lake.data_path,
            store=config.lake.store,
            read_only=read_only,
            snapshot=snapshot,
            retry=retry_on_conflict,
        )
    )


def connect(
    config: Config, *, snapshot: int | None = None, confined: bool = True
) -> LakeConnection:
    """A read-only connection to the configured lake, for notebooks and `kisdb sql`; confined to
    the lake's files with locked settings unless `confined=False`; it never holds up an ingest
    and each query reads the newest data (see warehouse.lake.LakeConnection)."""
    return warehouse_connect(
        config.home,
        snapshot=snapshot,
        catalog=config.lake.catalog,
        data_path=config.lake.data_path,
        store=config.lake.store,
        confined=confined,
    )


# The runtime of the run in progress in this context: a subflow (same thread) shares it, while
# runs in other threads (a worker running two chunks at once) each have their own.
_current: ContextVar[Runtime | None] = ContextVar("kisdb_runtime", default=None)


@contextmanager
def use_runtime(
    home: str | Path | None = None,
    *,
    config: Config | None = None,
    lake: Lake | None = None,
    **overrides: Any,
) -> Iterator[Runtime]:
    """The runtime of the enclosing run, or a new one (opened here, closed on exit).

    Subflows of `update` reuse their parent's client and lake: one token, one limiter, one
    DuckDB connection per run. A `lake` opened by the caller is used as is and left open.
    A new runtime uses `config` when given, else loads it (`home` and the `Settings` field
    `overrides` are CLI options).
    """
    existing = _current.get()
    if existing is not None:
        yield existing
        return
    config, clock = resolve_config(config or load_config(home, **overrides))
    client = open_client(config, clock)
    owns_lake = lake is None
    try:
        if lake is None:
            lake = open_lake(config)
    except BaseException:
        client.close()
        raise
    runtime = Runtime(config=config, clock=clock, client=client, lake=lake)
    token = _current.set(runtime)
    try:
        yield runtime
    finally:
        _current.reset(token)
        if owns_lake:
            lake.close()
        client.close()
