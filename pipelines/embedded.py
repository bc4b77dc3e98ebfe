"""The embedded simulator and the market clock: the composition root owns both.

With KIS_ENV=sim and no KIS_BASE_URL, one simulator runs in this process: `resolve(settings)`
makes it on first use (once per process and home, stopped at exit) and points the settings at
it. It listens at once and starts when a client first connects (simulator.server.start_on_demand):
its clock runs from the moment it is made, and a command that sends nothing (everything up to
date, `kisdb sql`) never pays the simulator's start. Its account state lives under home/"sim", so successive commands see one consistent account.
`market_clock(settings)` is the one "now" handed to clients, runs and stamps: the simulator's
clock when the settings point at a simulator running in this process, else the wall clock (KST).
"""

from __future__ import annotations

import atexit
import threading
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

from connectors.kis.settings import Secret, Settings
from schemas.clock import KST, SYSTEM_CLOCK, Clock, FuncClock
from simulator.server import (
    OnDemandSimulator,
    RunningSimulator,
    SimConfig,
    running_simulators,
    start_on_demand,
)

_lock = threading.Lock()
_running: dict[Path, OnDemandSimulator] = {}


def _start(home: Path, settings: Settings) -> OnDemandSimulator:
    keys: dict[str, str] = {}
    if settings.app_key is not None and settings.app_secret is not None:
        keys = {"app_key": settings.app_key.reveal(), "app_secret": settings.app_secret.reveal()}
    sim = start_on_demand(SimConfig(state_dir=home / "sim", **keys))
    atexit.register(sim.stop)
    return sim


def running_simulator(settings: Settings) -> OnDemandSimulator:
    """The process's embedded simulator for this home (made on first call, started on the first
    connection to it)."""
    home = Path(settings.home).expanduser().resolve()
    with _lock:
        sim = _running.get(home)
        if sim is None:
            sim = _running[home] = _start(home, settings)
        return sim


def resolve(settings: Settings) -> Settings:
    """`settings` ready for a client (`Settings.resolved()`); for sim pointed at a simulator: the
    embedded one (started here) without KIS_BASE_URL, and the simulator's own credentials,
    account and HTS id wherever none were given."""
    if settings.env != "sim":
        return settings.resolved()
    if settings.base_url is None:
        sim = running_simulator(settings)
        settings = settings.replace(base_url=sim.base_url, ws_url=sim.ws_url)
        defaults = sim.config
    elif settings.app_key is None or settings.app_secret is None:
        defaults = SimConfig()  # a simulator elsewhere, with its documented defaults
    else:
        return settings.resolved()
    return settings.replace(
        app_key=settings.app_key or Secret(defaults.app_key),
        app_secret=settings.app_secret or Secret(defaults.app_secret),
        account=settings.account or Secret(defaults.account),
        hts_id=settings.hts_id or defaults.hts_id,
    ).resolved()


def simulator_at(settings: Settings) -> RunningSimulator | OnDemandSimulator | None:
    """The simulator running in this process that the settings point at (None: none here)."""
    if not settings.base_url:
        return None
    for sim in running_simulators():
        if sim.base_url.rstrip("/") == settings.base_url.rstrip("/"):
            return sim
    return None


def market_clock(settings: Settings) -> Clock:
    """The market's clock for these (resolved) settings: the in-process simulator's; a standalone
    simulator's (KIS_ENV=sim with KIS_BASE_URL, e.g. `kisdb sim --now D`) read from its `Date`
    header; else the wall clock."""
    sim = simulator_at(settings)
    if sim is not None:
        return FuncClock(sim.clock.now, name="simulator")
    if settings.env == "sim" and settings.base_url:
        return remote_simulator_clock(settings.base_url)
    return SYSTEM_CLOCK


def remote_simulator_clock(base_url: str, timeout: float = 2.0) -> Clock:
    """The clock of the simulator at `base_url`, from the `Date` header of one request: its offset
    from the wall clock is kept, so the clock runs on at wall speed from there (a simulator started
    with `--speed` other than 1 drifts; the header has whole seconds). Unreachable: the wall clock,
    and the command's first KIS call will say what is wrong."""
    import httpx

    started = datetime.now(UTC)
    try:
        date_header = httpx.get(base_url.rstrip("/") + "/", timeout=timeout).headers.get("date")
    except httpx.HTTPError:
        return SYSTEM_CLOCK
    if not date_header:
        return SYSTEM_CLOCK
    ended = datetime.now(UTC)
    offset = parsedate_to_datetime(date_header) - (started + (ended - started) / 2)
    return FuncClock(lambda: datetime.now(KST) + offset, name=f"simulator at {base_url}")
