"""Start and stop the KIS-compatible simulator: REST (uvicorn, plain ASGI) and websocket
(websockets 16) on one asyncio loop in a daemon thread.

    with start_simulator(SimConfig(now=datetime(2026, 11, 24, 10, 30))) as sim:
        httpx.post(sim.base_url + "/oauth2/tokenP", json={...})

`start_on_demand(config)` listens at once but builds the market and starts the servers only when
the first client connects (the CLI's embedded simulator: a command with nothing to fetch reads
the clock and never pays the start).

Default credentials are fixed fake values (documented in README.md) so curl examples work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import select
import socket
import threading
import time
import weakref
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from simulator.auth import ApprovalStore, RateLimiter, TokenStore
from simulator.calendar import KrxCalendar
from simulator.clock import SimClock
from simulator.context import Continuations
from simulator.faults import FaultSpec, parse_faults
from simulator.stats import SimStats

if TYPE_CHECKING:  # uvicorn, websockets and the market load when a server starts
    from simulator.account import Account

DEFAULT_APP_KEY = "PSsimKISDBdefaultAppKey0000000000001"
DEFAULT_APP_SECRET = ("SIMsecret" + "kisdbSimulatorDefaultAppSecretNotARealCredential" * 4)[:180]
RATE_LIMITS = {"real": 20, "paper": 2}
ACCOUNT_PROCESS_SECONDS = 0.2

log = logging.getLogger("kisdb.simulator")


@dataclass(frozen=True)
class SimConfig:
    host: str = "127.0.0.1"
    port: int = 0
    ws_port: int = 0
    app_key: str = DEFAULT_APP_KEY
    app_secret: str = DEFAULT_APP_SECRET
    env: Literal["real", "paper"] = "real"
    seed: int = 20261124
    generated_symbols: int = 0
    now: datetime | None = None  # KST; pins the sim clock start (see simulator/clock.py)
    speed: float = 1.0
    rate_limit: float | None = None  # None: the env's budget (real 20/s, paper 2/s); 0: unlimited
    token_ttl: int = 86400
    faults: str = ""
    state_dir: Path | None = None  # account persistence; None = in memory
    account: str = "50000000-01"
    hts_id: str = "simuser"
    token_issue_interval: float = 60.0  # KIS: one tokenP per minute per app key
    ws_ping_interval: float = 60.0  # PINGPONG period in wall seconds (0 = never)

    def __repr__(self) -> str:  # secrets never in reprs
        return (
            f"SimConfig(host={self.host!r}, port={self.port}, ws_port={self.ws_port}, env={self.env!r}, "
            f"seed={self.seed}, now={self.now!r}, speed={self.speed}, rate_limit={self.rate_limit}, "
            f"faults={self.faults!r}, app_key='***', app_secret='***')"
        )


def _bind(host: str, port: int) -> socket.socket:
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted sockets only then (else
    # Nagle + delayed ACK add 40 ms to every response, whose head and body are separate writes).
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


@dataclass
class RunningSimulator:
    config: SimConfig
    market: Any
    clock: SimClock
    account: Account
    faults: FaultSpec
    stats: SimStats = field(default_factory=SimStats)
    base_url: str = ""
    ws_url: str = ""
    _loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _stop: asyncio.Event | None = field(default=None, repr=False)
    _started: float = field(default_factory=time.monotonic, repr=False)

    def __post_init__(self) -> None:
        limit = (
            self.config.rate_limit
            if self.config.rate_limit is not None
            else RATE_LIMITS[self.config.env]
        )
        self.limiter = RateLimiter(limit)
        self.tokens = TokenStore(
            float(self.config.token_ttl),
            self.config.token_issue_interval,
            self.faults.expire_tokens_after,
        )
        self.approvals = ApprovalStore()
        self.continuations = Continuations()
        from simulator.ws import WsServer

        self.ws = WsServer(self)

    app_key = property(lambda self: self.config.app_key)
    app_secret = property(lambda self: self.config.app_secret)
    hts_id = property(lambda self: self.config.hts_id)

    @property
    def account_number(self) -> str:
        return self.config.account

    def uptime(self) -> float:
        return time.monotonic() - self._started

    # -- runtime faults (callable from any thread) ----------------------------------------------
    def expire_tokens(self) -> None:
        """Every access token issued so far answers EGW00123 from now on."""
        self.tokens.expire_all()

    def reset_token_window(self) -> None:
        """Forget the one-issuance-per-minute window (tests)."""
        self.tokens.reset_issue_window()

    def drop_ws_connections(self) -> None:
        """Abort every open websocket connection, as a network drop would."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.ws.drop_all)

    def set_faults(self, spec: str) -> None:
        self.faults = parse_faults(spec)
        self.tokens.expire_after = self.faults.expire_tokens_after

    # -- life -----------------------------------------------------------------------------------
    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._thread = None

    def __enter__(self) -> RunningSimulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def _main(
        self,
        ready: threading.Event,
        errors: list[BaseException],
        sockets: tuple[socket.socket, socket.socket] | None,
    ) -> None:
        import uvicorn
        from websockets.asyncio.server import serve as ws_serve

        from simulator.rest import RestApp

        self._stop = asyncio.Event()
        try:
            rest_sock = sockets[0] if sockets else _bind(self.config.host, self.config.port)
            uv_config = uvicorn.Config(
                RestApp(self),
                lifespan="off",
                log_level="warning",
                access_log=False,
                http="h11",
                loop="none",
                timeout_keep_alive=30,
                backlog=2048,
                # RestApp writes every header itself, capitalised as KIS does (wire.http_headers):
                # uvicorn's own are lower case.
                server_header=False,
                date_header=False,
            )
            server = uvicorn.Server(uv_config)
            rest_task = asyncio.create_task(server.serve(sockets=[rest_sock]))
            where: dict[str, Any] = (
                {"sock": sockets[1]}
                if sockets
                else {"host": self.config.host, "port": self.config.ws_port}
            )
            ws_server = await ws_serve(
                self.ws.handler,
                **where,
                compression=None,
                ping_interval=None,
                max_queue=None,
            )
            while not server.started:
                if rest_task.done():
                    rest_task.result()
                await asyncio.sleep(0.005)
        except BaseException as exc:  # surface bind errors etc. to start_simulator
            errors.append(exc)
            ready.set()
            return
        host = self.config.host
        self.base_url = f"http://{host}:{rest_sock.getsockname()[1]}"
        self.ws_url = f"ws://{host}:{ws_server.sockets[0].getsockname()[1]}"
        ticker = asyncio.create_task(self._process_orders())
        ready.set()
        await self._stop.wait()
        ticker.cancel()
        ws_server.close()
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws_server.wait_closed(), 5)
            await asyncio.wait_for(rest_task, 5)

    async def _process_orders(self) -> None:
        """Match resting orders even when nobody queries, so fill notices flow."""
        while True:
            await asyncio.sleep(ACCOUNT_PROCESS_SECONDS)
            try:
                self.account.process(self.clock.now())
            except Exception:
                log.exception("order matching failed")


def _build(config: SimConfig, clock: SimClock | None) -> RunningSimulator:
    from simulator.account import Account
    from simulator.market import Market

    if config.env not in RATE_LIMITS:
        raise ValueError(f"env must be 'real' or 'paper', not {config.env!r}")
    market = Market(seed=config.seed, generated_symbols=config.generated_symbols)
    clock = clock or SimClock(market.calendar, pinned=config.now, speed=config.speed)
    account = Account.open(market, config.account, config.state_dir)
    return RunningSimulator(config, market, clock, account, parse_faults(config.faults))


# Simulators started in this process (weak: a stopped, dropped one disappears). The pipelines read
# the market clock from the one their settings point at (pipelines/runtime.py).
_started_sims: list[weakref.ref[RunningSimulator | OnDemandSimulator]] = []


def running_simulators() -> list[RunningSimulator | OnDemandSimulator]:
    """Simulators started in this process and still running (or listening, on demand)."""
    return [s for ref in _started_sims if (s := ref()) is not None and s._thread is not None]


def _register(sim: RunningSimulator | OnDemandSimulator) -> None:
    _started_sims[:] = [ref for ref in _started_sims if ref() is not None]
    _started_sims.append(weakref.ref(sim))


def start_simulator(
    config: SimConfig | None = None,
    *,
    clock: SimClock | None = None,
    sockets: tuple[socket.socket, socket.socket] | None = None,
) -> RunningSimulator:
    """Start REST + websocket servers in a daemon thread; returns once both are listening.
    `clock` and `sockets` (REST, websocket; bound and listening): made here when not given."""
    sim = _build(config or SimConfig(), clock)
    ready = threading.Event()
    errors: list[BaseException] = []
    loop = asyncio.new_event_loop()
    sim._loop = loop

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(sim._main(ready, errors, sockets))
        finally:
            loop.close()

    sim._thread = threading.Thread(target=run, name="kisdb-simulator", daemon=True)
    sim._thread.start()
    if not ready.wait(30):
        raise RuntimeError("simulator did not start within 30 s")
    if errors:
        sim._thread.join(5)
        raise RuntimeError(f"simulator failed to start: {errors[0]}") from errors[0]
    _register(sim)
    return sim


_START, _STOP = b"s", b"x"  # what start() and stop() tell the waiting thread


class OnDemandSimulator:
    """A simulator that listens now and starts on the first connection to either port.

    The clock is made (and starts running) here, as `start_simulator` would make it, and the
    servers take it over when they start; until then nothing but the two listening sockets and
    one thread waiting in `select` exists. A client's connection waits in the listen backlog while
    the servers start (under a second), so any client works unchanged: REST, master files,
    websocket.
    """

    def __init__(self, config: SimConfig) -> None:
        if config.env not in RATE_LIMITS:
            raise ValueError(f"env must be 'real' or 'paper', not {config.env!r}")
        self.config = config
        self.clock = SimClock(KrxCalendar(), pinned=config.now, speed=config.speed)
        self._sockets = (_bind(config.host, config.port), _bind(config.host, config.ws_port))
        host = config.host
        self.base_url = f"http://{host}:{self._sockets[0].getsockname()[1]}"
        self.ws_url = f"ws://{host}:{self._sockets[1].getsockname()[1]}"
        # start() and stop() wake the waiting thread with one byte: which of the two.
        self._wake, self._waker = socket.socketpair()
        self._ready = threading.Event()  # set once a start was attempted
        self.started: RunningSimulator | None = None
        self.error: BaseException | None = None
        self._thread: threading.Thread | None = threading.Thread(
            target=self._start_on_connect, name="kisdb-simulator-on-demand", daemon=True
        )
        self._thread.start()
        _register(self)

    def _start_on_connect(self) -> None:
        readable, _, _ = select.select([*self._sockets, self._wake], [], [])
        if self._wake in readable and self._wake.recv(1) == _STOP:
            return
        try:
            self.started = start_simulator(self.config, clock=self.clock, sockets=self._sockets)
        except BaseException as exc:  # noqa: BLE001 - the waiting client sees the socket close
            self.error = exc
            log.exception("the on-demand simulator failed to start")
            self._close_sockets()
        finally:
            self._ready.set()

    def start(self, timeout: float = 60.0) -> RunningSimulator:
        """Start the servers now rather than on the first connection: for a caller that times
        itself from before its first request (a recording of a few seconds)."""
        if self._thread is None:
            raise RuntimeError("the simulator was stopped")
        with contextlib.suppress(OSError):
            self._waker.send(_START)
        if not self._ready.wait(timeout) or self.started is None:
            raise RuntimeError("the simulator did not start") from self.error
        return self.started

    def _close_sockets(self) -> None:
        for sock in self._sockets:
            sock.close()

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        with contextlib.suppress(OSError):
            self._waker.send(_STOP)
        thread.join(timeout=30)
        if self.started is not None:
            self.started.stop()  # the servers close the sockets they took over
        else:
            self._close_sockets()
        self._wake.close()
        self._waker.close()

    def __enter__(self) -> OnDemandSimulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_on_demand(config: SimConfig | None = None) -> OnDemandSimulator:
    """A simulator listening on its ports now, started by the first connection (see
    `OnDemandSimulator`)."""
    return OnDemandSimulator(config or SimConfig())


def serve(config: SimConfig, announce: Any = print) -> None:
    """Run until interrupted (the `kisdb sim` command)."""
    sim = start_simulator(config)
    announce(f"KIS simulator ({config.env}) REST {sim.base_url}  websocket {sim.ws_url}")
    announce(f"sim clock: {sim.clock.now():%Y-%m-%d %H:%M:%S} KST, speed x{config.speed}")
    try:
        while sim._thread is not None and sim._thread.is_alive():
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
