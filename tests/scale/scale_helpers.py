"""Settings of the scale-out suite (the environment itself is scripts/scale_env.py)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

SIM_NOW = datetime(2026, 11, 24, 10, 30, 0)
BUDGET = 4.0  # requests/s per app key, enforced by the simulators (EGW00201 beyond it)


def worker_env(keys_file: Path) -> dict[str, str]:
    """What a worker of this suite runs with, beside the shared-lake settings."""
    return {
        "KIS_ENV": "sim",
        "KIS_APP_KEYS_FILE": str(keys_file),
        "KIS_RATE_LIMIT": str(BUDGET),
        "KISDB_KEY_LEASE_SECONDS": "60",
    }
