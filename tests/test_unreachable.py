"""A KIS that cannot be reached (closed port, a host that never answers, 5xx forever) ends a
command in seconds with one line naming the host and the cause (connectors/kis/backoff.py
HostHealth), while a reachable host's blips are still retried."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.kis.api import KisClient
from connectors.kis.backoff import HostHealth, Outage
from connectors.kis.errors import KisTransportError, KisUnreachable
from connectors.kis.settings import Settings
from pipelines.cli import app
from simulator.server import RunningSimulator
from tests.helpers import sim_settings

runner = CliRunner()


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_failing_streak_is_refused_past_its_budget_and_forgotten_when_old() -> None:
    clock = FakeClock()
    health = HostHealth("kis:9443", Outage(connect=5.0, answer=12.0), clock)
    health.admit(61.0)  # a healthy host: any wait is fine
    for _ in range(4):  # 5xx answers in quick succession: a blip, still retried
        health.failed(clock.now, "HTTP 503", connect=False)
        clock.now += 2.0
        health.admit(1.0)
    clock.now += 3.0  # 11 s of failures: one more try would pass 12 s with its wait
    with pytest.raises(KisUnreachable, match=r"no usable answer from kis:9443: HTTP 503"):
        health.admit(1.5)
    health.answered()  # one good answer ends the streak
    health.admit(61.0)

    # Connect failures have the shorter budget; an attempt that took long predicts the next.
    started = clock.now
    clock.now += 4.0
    health.failed(started, "connection timed out", connect=True)
    with pytest.raises(KisUnreachable, match="cannot reach kis:9443: connection timed out"):
        health.admit(0.25)
    clock.now += 6.0  # older than the budget: the network may be back, try afresh
    health.admit(0.25)


@pytest.fixture
def silent_server() -> Iterator[tuple[str, list[socket.socket]]]:
    """A host that accepts connections and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", accepted
    listener.close()
    for conn in accepted:
        conn.close()


def test_a_host_that_never_answers_costs_one_read_timeout(
    sim: RunningSimulator, silent_server: tuple[str, list[socket.socket]], tmp_path: Path
) -> None:
    url, accepted = silent_server
    settings = sim_settings(sim, tmp_path, base_url=url, timeout=1.0)
    started = time.monotonic()
    with KisClient(settings) as client, pytest.raises(KisUnreachable) as info:
        client.period_bars("005930", start=date(2026, 1, 1), end=date(2026, 3, 31))
    took = time.monotonic() - started
    assert took < 2.5, f"{took:.1f} s: the timed-out token request was retried"
    assert len(accepted) == 1
    assert f"no usable answer from {url.removeprefix('http://')}: no answer within 1 s" in str(
        info.value
    )
    assert "Check KIS_BASE_URL" in str(info.value)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_ingest_against_a_closed_port_fails_in_seconds_with_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    port = _closed_port()
    monkeypatch.setenv("KIS_ENV", "sim")
    monkeypatch.setenv("KIS_BASE_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("KISDB_HOME", str(tmp_path / "home"))
    symbols = "005930,000660,035420,035720,005380,000270,051910,006400,068270,105560"
    started = time.monotonic()
    result = runner.invoke(app, ["ingest", "bars", "--symbols", symbols, "--start", "1y"])
    took = time.monotonic() - started
    assert result.exit_code == 1, result.output
    assert took < 12, f"{took:.1f} s to give up on a closed port"
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.output
    assert f"cannot reach 127.0.0.1:{port}" in lines[0]
    assert "connection refused" in lines[0] and "Check KIS_BASE_URL" in lines[0]
    assert "Traceback" not in result.output


def test_5xx_on_a_reachable_host_is_still_retried(sim: RunningSimulator, tmp_path: Path) -> None:
    sim.set_faults("http5xx=0.3")
    with KisClient(sim_settings(sim, tmp_path, max_retries=8)) as client:
        bars = client.period_bars("005930", start=date(2025, 1, 1), end=date(2026, 3, 31))
    assert bars.height > 250
    assert sim.stats.injected_5xx > 0


def test_a_transport_error_names_the_host_and_the_cause(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    settings = Settings.from_env({}, env="sim", base_url=url, app_key="k" * 36, app_secret="s" * 36)
    with (
        KisClient(settings.replace(home=tmp_path)) as client,
        pytest.raises(KisTransportError) as info,
    ):
        client.token()
    assert "cannot reach 127.0.0.1:" in str(info.value)
    assert "connection refused" in str(info.value)
