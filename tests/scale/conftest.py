"""The scale-out suite: real PostgreSQL, moto (S3), a Prefect server, a process pool and workers.

Not part of `make test` (it starts servers and takes minutes): collected only with
KISDB_SCALE_TESTS=1, which `make test-scale` sets.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

if os.environ.get("KISDB_SCALE_TESTS") != "1":
    collect_ignore_glob = ["test_*.py"]

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from scale_env import ScaleEnv, ScaleEnvUnavailable, SimKey, start_sim_keys  # noqa: E402
from scale_helpers import BUDGET, SIM_NOW  # noqa: E402


@pytest.fixture(scope="session")
def scale_env() -> Iterator[ScaleEnv]:
    try:
        env = ScaleEnv.start()
    except ScaleEnvUnavailable as exc:
        pytest.skip(f"scale environment unavailable: {exc}")
    yield env
    env.stop()


@pytest.fixture(scope="session")
def sim_keys() -> Iterator[list[SimKey]]:
    """Two app keys, each with its own simulator; same seed, so the same market."""
    keys = start_sim_keys(["alpha", "beta"], BUDGET, SIM_NOW)
    yield keys
    for key in keys:
        key.sim.stop()
