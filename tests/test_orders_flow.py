"""The rebalance plan (pure), the rebalance flow under Prefect, and the order CLI commands, all
against the simulator; the order log mirrored into the lake."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.orders_flow import PlannedOrder, plan_rebalance, signals_to_targets
from simulator.server import RunningSimulator
from warehouse.lake import Lake


def test_plan_sells_first_and_skips_what_is_on_target() -> None:
    plan = plan_rebalance(
        {"005930": 10, "000660": 0, "035720": 5}, {"000660": 4, "035720": 5, "005380": 9}
    )
    assert plan == [
        PlannedOrder("000660", "sell", 4, 4, 0, None),
        PlannedOrder("005930", "buy", 10, 0, 10, None),
    ]
    limit = plan_rebalance({"005930": 2}, {}, prices={"005930": 70_050})
    assert limit[0].price == 70_000  # a buy snaps down to the tick grid, never chases
    with pytest.raises(ValueError, match="no short selling"):
        plan_rebalance({"005930": -1}, {})


def test_signals_to_targets() -> None:
    assert signals_to_targets({"A": 1, "B": -1, "C": 0}, {"B": 3, "C": 7}, unit_qty=5) == {
        "A": 5,
        "B": 0,
        "C": 7,
    }
    with pytest.raises(ValueError):
        signals_to_targets({"A": 2}, {}, unit_qty=5)


@pytest.fixture
def sim_env(
    make_sim: Callable[..., RunningSimulator], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> RunningSimulator:
    # Session clock (not pinned): the simulator's day is the wall day, as it is for users.
    sim = make_sim(now=None, rate_limit=0)
    for name, value in {
        "KIS_ENV": "sim",
        "KIS_BASE_URL": sim.base_url,
        "KIS_APP_KEY": sim.app_key,
        "KIS_APP_SECRET": sim.app_secret,
        "KIS_ACCOUNT": sim.account_number,
        "KISDB_HOME": str(tmp_path),
        "KISDB_RAW_ARCHIVE": "false",
    }.items():
        monkeypatch.setenv(name, value)
    return sim


def test_rebalance_flow_dry_run_then_place(
    prefect_harness: None, sim_env: RunningSimulator, tmp_path: Path
) -> None:
    from pipelines.orders_flow import rebalance_flow

    posts = "/uapi/domestic-stock/v1/trading/order-cash"
    planned = rebalance_flow(targets={"005930": 3, "035720": 2})
    assert [(r["symbol"], r["side"], r["qty"], r["status"]) for r in planned] == [
        ("005930", "buy", 3, "planned"),
        ("035720", "buy", 2, "planned"),
    ]
    assert sim_env.stats.by_path[posts] == 0  # dry run: nothing sent

    placed = rebalance_flow(targets={"005930": 3, "035720": 2}, dry_run=False)
    assert [r["status"] for r in placed] == ["accepted", "accepted"]
    # Run again: on target, so nothing more is planned or sent.
    assert rebalance_flow(targets={"005930": 3, "035720": 2}, dry_run=False) == []
    assert sim_env.stats.by_path[posts] == 2

    with Lake.open(tmp_path, source="sim") as lake:
        table = lake.table("order_log")
    assert sorted(table["status"].to_list()) == ["accepted", "accepted"]
    assert set(table["source"].to_list()) == {"rebalance_flow"}


def test_cli_order_commands(
    sim_env: RunningSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    bought = runner.invoke(app, ["order", "buy", "005930", "3", "--market", "--format", "json"])
    assert bought.exit_code == 0, bought.output
    assert '"status":"accepted"' in bought.output

    low = runner.invoke(app, ["buyable", "005930", "--format", "json"])
    assert low.exit_code == 0 and "max_qty" in low.output

    bad = runner.invoke(app, ["order", "buy", "005930", "3", "--price", "70001"])
    assert bad.exit_code == 2 and "tick grid" in bad.output

    balance = runner.invoke(app, ["balance", "--format", "csv"])
    assert balance.exit_code == 0 and "005930" in balance.output
    assert sim_env.account_number.split("-")[0] not in balance.output

    executions = runner.invoke(app, ["executions", "--format", "csv"])
    assert executions.exit_code == 0 and "005930" in executions.output

    log = runner.invoke(app, ["order", "log", "--sync", "--format", "csv"])
    assert log.exit_code == 0 and "accepted" in log.output

    monkeypatch.setenv("KIS_ENV", "real")  # the simulator stands in for KIS: the opt-in must hold
    refused = runner.invoke(app, ["order", "buy", "005930", "1", "--market"])
    assert refused.exit_code == 1 and "--live" in refused.output
