"""What several benches share: connector settings for a simulator with the rate limit off."""

from __future__ import annotations

from pathlib import Path

from connectors.kis import Settings
from simulator.server import RunningSimulator


def unlimited_settings(sim: RunningSimulator, home: Path) -> Settings:
    """Settings for `sim` whose limiter never waits: these benches count calls, not seconds."""
    env = {
        "KIS_ENV": "sim",
        "KIS_BASE_URL": sim.base_url,
        "KIS_APP_KEY": sim.app_key,
        "KIS_APP_SECRET": sim.app_secret,
        "KIS_RATE_LIMIT": "10000",
    }
    return Settings.from_env(env, home=home, raw_archive=False)
