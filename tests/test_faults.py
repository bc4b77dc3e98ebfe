"""Faults that are transient get retried, input is checked before anything is written, and every
error leaves the CLI as one line and an exit code (issue 16), against the simulator on loopback."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from connectors.kis.api import KisClient
from connectors.kis.order_guard import OrderGuards
from connectors.kis.settings import Secret, Settings
from pipelines.cli import app
from pipelines.console import _drop_prefect
from simulator.marketview import MarketView
from simulator.server import RunningSimulator

SYMBOL = "005930"
ORDER_PATH = "/uapi/domestic-stock/v1/trading/order-cash"
runner = CliRunner()


@pytest.fixture
def connect(tmp_path: Path) -> Iterator[Callable[..., KisClient]]:
    clients: list[KisClient] = []

    def factory(sim: RunningSimulator, guards: OrderGuards | None = None, **kw: Any) -> KisClient:
        client = KisClient(
            Settings(
                env="sim",
                base_url=sim.base_url,
                app_key=Secret(sim.app_key),
                app_secret=Secret(sim.app_secret),
                account=Secret(sim.account_number),
                home=tmp_path,
                raw_archive=False,
                **kw,
            )
        )
        client.configure_orders(
            today=lambda: sim.clock.now().date(),
            guards=guards or OrderGuards(max_qty=None, max_notional=None, max_orders_per_day=None),
            reconcile_delays=(0.2, 0.2),
        )
        client.balance()  # the token is issued before any fault
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()


def _lower(sim: RunningSimulator) -> int:
    snap = MarketView(sim.market).snapshot(SYMBOL, sim.clock.now())
    assert snap is not None
    return int(snap.lower)


def test_truncated_answers_are_retried_like_a_5xx(
    sim: RunningSimulator, connect: Callable[..., KisClient]
) -> None:
    client = connect(sim, max_retries=15)
    before = sim.stats.requests
    sim.set_faults("malformed=0.4")  # 40 % of the answers are cut in half
    prices = [client.current_price(SYMBOL) for _ in range(10)]
    sim.set_faults("")
    assert all(p["symbol"] == SYMBOL for p in prices)
    assert sim.stats.requests - before > 10  # some answers were cut short, and asked again


def test_hashkey_failures_before_sending_are_retried(
    sim: RunningSimulator, connect: Callable[..., KisClient], tmp_path: Path
) -> None:
    client = connect(sim, timeout=0.3)
    sim.set_faults("latency=1s")  # the hashkey call times out until the fault is lifted
    threading.Timer(0.5, sim.set_faults, args=("",)).start()
    result = client.buy(SYMBOL, 2, _lower(sim))
    assert result.status == "accepted" and not result.reconciled
    assert sim.stats.by_path[ORDER_PATH] == 1


def test_the_daily_limit_counts_only_orders_that_were_sent(
    sim: RunningSimulator, connect: Callable[..., KisClient]
) -> None:
    guards = OrderGuards(max_qty=None, max_notional=None, max_orders_per_day=1)
    client = connect(sim, guards=guards, timeout=0.3, max_retries=0)
    sim.set_faults("latency=1s")
    failed = client.buy(SYMBOL, 1, _lower(sim))  # the hashkey call times out: nothing is sent
    sim.set_faults("")
    assert failed.status == "failed" and sim.stats.by_path[ORDER_PATH] == 0
    placed = client.buy(SYMBOL, 1, _lower(sim))  # so today's one slot is still free
    assert placed.status == "accepted"


def test_the_uncertain_message_states_the_real_elapsed_time(
    sim: RunningSimulator, connect: Callable[..., KisClient]
) -> None:
    client = connect(sim, timeout=0.3, max_retries=0)
    client.configure_orders(use_hashkey=False)
    sim.set_faults("latency=3s")  # the order and both reconciliation queries time out
    try:
        result = client.buy(SYMBOL, 3, _lower(sim))
    finally:
        sim.set_faults("")
    assert result.status == "uncertain"
    match = re.search(r"after (\d+\.\d)s", result.message or "")
    assert match, result.message
    # 0.3 s send timeout + 2 x (0.2 s pause + 0.3 s query timeout), not just the 0.4 s of pauses
    assert float(match.group(1)) >= 1.2


# -- the CLI --------------------------------------------------------------------------------------
@pytest.fixture
def sim_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, make_sim: Callable[..., RunningSimulator]
) -> RunningSimulator:
    sim = make_sim(now=datetime(2026, 11, 24, 10, 30), rate_limit=0)
    monkeypatch.setenv("KIS_ENV", "sim")
    monkeypatch.setenv("KIS_BASE_URL", sim.base_url)
    monkeypatch.setenv("KIS_WS_URL", sim.ws_url)
    monkeypatch.setenv("KISDB_HOME", str(tmp_path / "home"))
    for name in ("KIS_APP_KEY", "KIS_APP_SECRET", "KIS_ACCOUNT"):
        monkeypatch.delenv(name, raising=False)
    return sim


@pytest.mark.usefixtures("prefect_harness")
def test_update_checks_every_option_before_writing(
    sim_env: RunningSimulator, tmp_path: Path
) -> None:
    result = runner.invoke(app, ["update", "--symbols", "ABC", "--start", "2026-11-10"])
    assert result.exit_code == 2, result.output
    assert "not a KRX stock code: ABC" in result.output
    assert sim_env.stats.requests == 0
    assert not (tmp_path / "home" / "lake").exists()


def test_executions_with_start_after_end_is_a_usage_error(sim_env: RunningSimulator) -> None:
    args = ["executions", "--start", "2026-11-20", "--end", "2026-11-10"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "is after end" in result.output and len(result.output.strip().splitlines()) == 1


def test_record_with_every_subscription_refused_fails(sim_env: RunningSimulator) -> None:
    result = runner.invoke(app, ["record", "--symbols", "999999", "--for", "20s"])
    assert result.exit_code == 1, result.output
    assert "every subscription was refused: H0STCNT0/999999: OPSP8992" in result.output


def test_record_lists_partial_refusals(sim_env: RunningSimulator) -> None:
    result = runner.invoke(app, ["record", "--symbols", "005930,999999", "--for", "1s"])
    assert result.exit_code == 0, result.output
    assert "refused H0STCNT0/999999: OPSP8992" in result.output


def test_record_checks_the_symbols_before_connecting(sim_env: RunningSimulator) -> None:
    result = runner.invoke(app, ["record", "--symbols", "ABC", "--for", "1s"])
    assert result.exit_code == 2, result.output
    assert sim_env.stats.requests == 0


def test_prefect_service_lines_are_dropped_from_the_terminal() -> None:
    import prefect._internal.concurrency.services as services

    line = logging.LogRecord(
        "EventsWorker", logging.WARNING, services.__file__, 1, "Still processing items", (), None
    )
    ours = logging.LogRecord("kisdb.recorder", logging.WARNING, __file__, 1, "x", (), None)
    assert not _drop_prefect(line) and _drop_prefect(ours)
