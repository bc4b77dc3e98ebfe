"""The embedded simulator: with KIS_ENV=sim and no KIS_BASE_URL, one simulator runs in this process.

Started on first use (once per process, whatever the number of clients) and stopped at exit. Its
account state lives under home/"sim", so successive commands see one consistent account.
The simulator package is imported lazily: connectors depend on it only for this convenience.
"""

from __future__ import annotations

import atexit
import threading
from pathlib import Path
from typing import Any

from connectors.kis.errors import KisConfigError
from connectors.kis.settings import Secret, Settings

_lock = threading.Lock()
_running: dict[Path, Any] = {}


def _start(home: Path, settings: Settings) -> Any:
    try:
        from simulator.server import SimConfig, start_simulator
    except ImportError as exc:  # pragma: no cover - the simulator ships with kisdb
        raise KisConfigError(
            "KIS_ENV=sim needs the simulator package, or set KIS_BASE_URL"
        ) from exc
    options: dict[str, Any] = {"state_dir": home / "sim"}
    if settings.app_key is not None and settings.app_secret is not None:
        options.update(app_key=settings.app_key.reveal(), app_secret=settings.app_secret.reveal())
    sim = start_simulator(SimConfig(**options))
    atexit.register(sim.stop)
    return sim


def running_simulator(settings: Settings) -> Any:
    """The process's embedded simulator for this home (started on first call)."""
    home = Path(settings.home).expanduser().resolve()
    with _lock:
        sim = _running.get(home)
        if sim is None:
            sim = _running[home] = _start(home, settings)
        return sim


def embedded_settings(settings: Settings) -> Settings:
    """`settings` pointed at the embedded simulator, with its credentials where none were given."""
    sim = running_simulator(settings)
    return settings.replace(
        base_url=sim.base_url,
        ws_url=sim.ws_url,
        app_key=settings.app_key or Secret(sim.app_key),
        app_secret=settings.app_secret or Secret(sim.app_secret),
        account=settings.account or Secret(sim.account_number),
        hts_id=settings.hts_id or sim.hts_id,
    )


def default_credentials() -> dict[str, Any]:
    """The simulator's default credentials (for KIS_ENV=sim with KIS_BASE_URL and no keys)."""
    from simulator.server import SimConfig

    config = SimConfig()
    return {
        "app_key": Secret(config.app_key),
        "app_secret": Secret(config.app_secret),
        "account": Secret(config.account),
        "hts_id": config.hts_id,
    }
