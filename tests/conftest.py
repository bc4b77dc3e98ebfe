"""Shared fixtures: the KIS simulator on free loopback ports (REST + websocket)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest

from simulator.server import RunningSimulator, SimConfig, start_simulator

# A Tuesday trading day, mid-session: deterministic tests pin the clock here.
SIM_NOW = datetime(2026, 11, 24, 10, 30, 0)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`slow` tests run in `make test-scale` (KISDB_SCALE_TESTS=1), keeping `make test` short."""
    if os.environ.get("KISDB_SCALE_TESTS") == "1":
        return
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not item.get_closest_marker("slow")]


@pytest.fixture(autouse=True, scope="session")
def no_user_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The developer's ~/.config/kisdb/config.toml must not steer the tests: point KISDB_CONFIG
    at a file that does not exist (tests that need one set their own)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KISDB_CONFIG", str(tmp_path_factory.mktemp("config") / "absent.toml"))
        yield


@pytest.fixture
def make_sim() -> Iterator[Callable[..., RunningSimulator]]:
    """Factory: make_sim(**SimConfig kwargs) -> a started simulator; all stopped on teardown."""
    started: list[RunningSimulator] = []

    def factory(**kwargs: Any) -> RunningSimulator:
        kwargs.setdefault("now", SIM_NOW)
        sim = start_simulator(SimConfig(**kwargs))
        started.append(sim)
        return sim

    yield factory
    from tests.helpers import OPEN_CLIENTS

    while OPEN_CLIENTS:
        OPEN_CLIENTS.pop().close()
    for sim in started:
        sim.stop()


@pytest.fixture
def sim(make_sim: Callable[..., RunningSimulator]) -> RunningSimulator:
    """A fresh simulator (real env, in-memory account, clock pinned at SIM_NOW, no rate limit)."""
    return make_sim(rate_limit=0)


# --- pipelines ------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One Prefect test API for the whole session (~9 s once); sync flows skip the heartbeat wait."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with (
        prefect_test_harness(server_startup_timeout=60),
        temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
    ):
        yield
