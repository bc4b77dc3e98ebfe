"""Orders against the simulator over loopback: fills, modify/cancel, balance and executions,
paper vs real TR IDs, guards, the kill switch, timeouts after send, the write-ahead log, masking."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from connectors.kis.api import AsyncKisClient, KisClient
from connectors.kis.order_guard import OrderBlocked, OrderGuards
from connectors.kis.order_log import JsonlOrderLog
from connectors.kis.orders import InvalidOrder
from connectors.kis.orders.model import tick_size
from simulator.marketview import MarketView
from simulator.server import RunningSimulator
from tests.helpers import sim_settings

SYMBOL = "005930"
NO_LIMITS = OrderGuards(max_qty=None, max_notional=None, max_orders_per_day=None)


@pytest.fixture
def connect(tmp_path: Path) -> Any:
    """connect(sim, env=..., guards=..., **Settings kwargs) -> a KisClient set up for orders."""
    clients: list[KisClient] = []

    def factory(
        sim: RunningSimulator, env: str = "sim", guards: OrderGuards | None = NO_LIMITS, **kw: Any
    ) -> KisClient:
        client = KisClient(sim_settings(sim, tmp_path, env=env, raw_archive=False, **kw))
        client.configure_orders(
            today=lambda: sim.clock.now().date(), guards=guards, reconcile_delays=(0.3, 0.5, 1.0)
        )
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()


def _market(sim: RunningSimulator, code: str = SYMBOL) -> Any:
    snap = MarketView(sim.market).snapshot(code, sim.clock.now())
    assert snap is not None
    return snap


def _log_states(home: Path) -> dict[str, list[str]]:
    """client_order_id -> the statuses it went through, from the JSONL files."""
    states: dict[str, list[str]] = {}
    for entry in JsonlOrderLog(home / "orders").entries():
        states.setdefault(entry.client_order_id, []).append(entry.status)
    return states


def _order_posts(sim: RunningSimulator) -> int:
    return sim.stats.by_path["/uapi/domestic-stock/v1/trading/order-cash"]


# -- placing, fills, balance, executions ---------------------------------------------------------
def test_market_buy_fills_and_balance_and_executions_agree(
    sim: RunningSimulator, connect: Callable[..., KisClient], tmp_path: Path
) -> None:
    client = connect(sim)
    before = client.balance()
    result = client.buy(SYMBOL, 10)
    assert result.ok and result.order_no and result.division == "01" and not result.reconciled

    fills = client.executions(symbol=SYMBOL)
    row = fills.filter(fills["order_no"] == result.order_no).row(0, named=True)
    assert (row["side"], row["qty"], row["filled_qty"], row["remaining_qty"]) == ("buy", 10, 10, 0)
    assert row["filled_amount"] == round(row["avg_fill_price"] * 10)

    after = client.balance()
    assert after.positions()[SYMBOL] == before.positions().get(SYMBOL, 0) + 10
    assert before.cash.d2_cash is not None and after.cash.d2_cash is not None
    assert before.cash.d2_cash - after.cash.d2_cash == row["filled_amount"]
    assert after.cash.today_buy_amount == row["filled_amount"]

    # Real-family TR IDs under KIS_ENV=sim; the order log went pending -> accepted.
    assert sim.stats.by_tr_id["TTTC0012U"] == 1 and sim.stats.by_tr_id["TTTC0081R"] >= 1
    assert _log_states(tmp_path)[result.client_order_id] == ["pending", "accepted"]


def test_partial_fill_leaves_the_rest_open(
    sim: RunningSimulator, connect: Callable[..., KisClient]
) -> None:
    client = connect(sim)
    # A name whose best ask level the account can afford to take out, with 100 shares more.
    symbol, best_ask, depth = _thin_best_ask(sim, budget=50_000_000)
    qty = depth + 100
    result = client.buy(symbol, qty, best_ask)
    assert result.ok
    row = (
        client.executions(symbol=symbol)
        .filter(pl.col("order_no") == result.order_no)
        .row(0, named=True)
    )
    assert 0 < row["filled_qty"] < qty
    assert row["remaining_qty"] == qty - row["filled_qty"]
    open_orders = client.modifiable_orders().filter(pl.col("order_no") == result.order_no)
    assert open_orders["modifiable_qty"].to_list() == [row["remaining_qty"]]
    assert client.balance().positions()[symbol] == row["filled_qty"]


def _thin_best_ask(sim: RunningSimulator, budget: int) -> tuple[str, int, int]:
    now = sim.clock.now()
    for code in ("032830", "024110", "030200", "010950", "017670", SYMBOL):
        asks = sim.market.quote_at(code, now).asks
        if asks and (asks[0][1] + 100) * asks[0][0] <= budget:
            return code, asks[0][0], asks[0][1]
    raise AssertionError("no thin book among the candidates")


def test_modify_then_cancel_partly_then_wholly(
    sim: RunningSimulator, connect: Callable[..., KisClient]
) -> None:
    client = connect(sim)
    low = _market(sim).lower  # the lower limit: rests, never fills
    placed = client.buy(SYMBOL, 20, low)
    assert placed.ok

    new_price = low + tick_size(low)
    modified = client.modify(placed.order_no or "", price=new_price)
    assert (
        modified.ok
        and modified.orig_order_no == placed.order_no
        and modified.order_no != placed.order_no
    )
    opened = client.modifiable_orders()
    assert opened["order_no"].to_list() == [modified.order_no]
    assert (
        opened.row(0, named=True)["price"] == new_price
        and opened.row(0, named=True)["modifiable_qty"] == 20
    )

    partly = client.cancel(modified.order_no or "", qty=5)
    assert partly.ok and partly.qty == 5
    assert client.modifiable_orders()["modifiable_qty"].to_list() == [15]

    rest = client.cancel(modified.order_no or "")
    assert rest.ok and rest.qty == 15
    assert client.modifiable_orders().is_empty()
    with pytest.raises(InvalidOrder, match="nothing left"):
        client.cancel(modified.order_no or "")

    history = client.executions(symbol=SYMBOL)
    cancels = history.filter(history["cancelled"])
    assert sorted(cancels["qty"].to_list()) == [5, 15]
    assert client.balance().positions().get(SYMBOL, 0) == 0


def test_business_rejection_is_reported_not_raised(
    sim: RunningSimulator, connect: Callable[..., KisClient], tmp_path: Path
) -> None:
    client = connect(sim)
    result = client.sell(SYMBOL, 1, _market(sim).price)  # nothing held
    assert result.status == "rejected" and result.msg_cd == "APBK0918" and not result.order_no
    assert _log_states(tmp_path)[result.client_order_id] == ["pending", "rejected"]


# -- paper vs real TR IDs ------------------------------------------------------------------------
def test_paper_uses_paper_tr_ids(
    make_sim: Callable[..., RunningSimulator], connect: Callable[..., KisClient]
) -> None:
    sim = make_sim(env="paper", rate_limit=0)
    client = connect(
        sim, env="paper", rate_limit=50.0
    )  # the paper default of 2/s only slows the test
    low = _market(sim).lower
    placed = client.buy(SYMBOL, 3, low)
    assert placed.ok
    # inquire-psbl-rvsecncl is real-only: paper derives open orders from today's unfilled orders.
    opened = client.modifiable_orders()
    assert opened["order_no"].to_list() == [placed.order_no] and opened[
        "modifiable_qty"
    ].to_list() == [3]
    assert client.cancel(placed.order_no or "").ok
    client.balance()
    client.buyable(SYMBOL)
    used = set(sim.stats.by_tr_id)
    assert {"VTTC0012U", "VTTC0013U", "VTTC0081R", "VTTC8434R", "VTTC8908R"} <= used
    assert not any(tr.startswith("TTTC") for tr in used)


def test_real_env_uses_real_tr_ids_and_needs_live(
    sim: RunningSimulator, connect: Callable[..., KisClient], tmp_path: Path
) -> None:
    client = connect(sim, env="real")
    with pytest.raises(OrderBlocked, match="--live"):
        client.buy(SYMBOL, 1)
    assert _order_posts(sim) == 0
    result = client.buy(SYMBOL, 1, live=True)
    assert result.ok and sim.stats.by_tr_id["TTTC0012U"] == 1
    statuses = sorted(s for states in _log_states(tmp_path).values() for s in states)
    assert statuses == ["accepted", "failed", "pending"]  # the refusal is on record too


# -- guards and the kill switch -------------------------------------------------------------------
def test_guards_refuse_before_sending(
    sim: RunningSimulator, connect: Callable[..., KisClient], tmp_path: Path
) -> None:
    price = _market(sim).price
    guards = OrderGuards(
        max_qty=5, max_notional=price * 3, max_orders_per_day=2, allowed_symbols=frozenset({SYMBOL})
    )
    client = connect(sim, guards=guards)
    for call, guard in [
        (lambda: client.buy(SYMBOL, 6, price), "max_qty"),
        (lambda: client.buy(SYMBOL, 4, price), "max_notional"),
        (lambda: client.buy(SYMBOL, 4), "max_notional"),  # market: bounded by the upper limit price
        (lambda: client.buy("000660", 1, 100_000), "allowed_symbols"),
    ]:
        with pytest.raises(OrderBlocked) as info:
            call()
        assert info.value.guard == guard
    assert _order_posts(sim) == 0

    assert client.buy(SYMBOL, 1, price).ok
    assert client.buy(SYMBOL, 1, price).ok
    with pytest.raises(OrderBlocked) as info:
        client.buy(SYMBOL, 1, price)
    assert info.value.guard == "max_orders_per_day" and _order_posts(sim) == 2


def test_kill_switch_blocks_new_orders_and_modifies_but_not_cancels(
    sim: RunningSimulator, connect: Callable[..., KisClient], tmp_path: Path
) -> None:
    client = connect(sim)
    low = _market(sim).lower
    resting = client.buy(SYMBOL, 2, low)
    (tmp_path / "orders" / "KILL").touch()
    with pytest.raises(OrderBlocked, match="kill switch"):
        client.buy(SYMBOL, 1, low)
    with pytest.raises(OrderBlocked, match="kill switch"):
        client.modify(resting.order_no or "", price=low + tick_size(low))
    assert client.cancel(resting.order_no or "").ok
    assert _order_posts(sim) == 1 and sim.stats.by_tr_id["TTTC0013U"] == 1


# -- uncertain outcomes ---------------------------------------------------------------------------
def test_timeout_after_send_is_reconciled_without_a_second_order(
    sim: RunningSimulator, connect: Callable[..., KisClient], tmp_path: Path
) -> None:
    client = connect(sim, timeout=0.4)
    client.configure_orders(use_hashkey=False, reconcile_delays=(1.0, 1.0, 2.0))
    client.balance()  # token issued before the fault
    low = _market(sim).lower
    # Every request now waits 1 s in the simulator: the order is placed after our 0.4 s timeout.
    # The fault is lifted 0.6 s in, so the reconciliation queries (from 1.4 s on) get answers.
    sim.set_faults("latency=1s")
    threading.Timer(0.6, sim.set_faults, args=("",)).start()
    result = client.buy(SYMBOL, 7, low)

    assert result.status == "accepted" and result.reconciled and result.msg_cd == "RECONCILED"
    assert "TimeoutError" in (result.message or "") or "Uncertain" in (result.message or "")
    assert _order_posts(sim) == 1  # never resent
    mine = [o for o in sim.account.orders if o.code == SYMBOL and o.qty == 7]
    assert len(mine) == 1 and mine[0].odno == result.order_no
    assert _log_states(tmp_path)[result.client_order_id] == ["pending", "accepted"]


def test_timeout_with_no_order_found_stays_uncertain(
    sim: RunningSimulator, connect: Callable[..., KisClient], tmp_path: Path
) -> None:
    client = connect(sim, timeout=0.3, max_retries=0)
    client.configure_orders(use_hashkey=False, reconcile_delays=(0.2, 0.2))
    client.balance()
    sim.set_faults("latency=3s")  # long enough that the reconciliation queries time out too
    try:
        result = client.buy(SYMBOL, 3, _market(sim).lower)
    finally:
        sim.set_faults("")
    assert result.status == "uncertain" and result.msg_cd == "NOT_FOUND"
    assert "before placing it again" in (result.message or "")
    assert _log_states(tmp_path)[result.client_order_id] == ["pending", "uncertain"]


# -- requests refused before any call; the log; masking --------------------------------------------
def test_bad_requests_never_reach_the_server(
    sim: RunningSimulator, connect: Callable[..., KisClient], tmp_path: Path
) -> None:
    client = connect(sim)
    client.balance()
    before = sim.stats.requests
    price = _market(sim).price
    for call in (
        lambda: client.buy("5930", 1, price),
        lambda: client.buy(SYMBOL, 0, price),
        lambda: client.buy(SYMBOL, 1, price + 1),
        lambda: client.sell(SYMBOL, 1, price, division="77"),
        lambda: client.buy(SYMBOL, 1, price, division="market"),
        lambda: client.modify("12x", price=price),
        lambda: client.cancel("1", qty=0),
    ):
        with pytest.raises(InvalidOrder):
            call()
    assert sim.stats.requests == before
    assert not (tmp_path / "orders").exists() or not list((tmp_path / "orders").glob("order_log-*"))


def test_order_log_is_complete_and_holds_no_secrets(
    sim: RunningSimulator,
    connect: Callable[..., KisClient],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    client = connect(sim)
    low = _market(sim).lower
    results = [client.buy(SYMBOL, 2, low), client.buy(SYMBOL, 1)]
    results.append(client.cancel(results[0].order_no or "", qty=1))
    results.append(client.sell("000660", 1, 100_000))  # rejected: nothing held
    states = _log_states(tmp_path)
    assert set(states) == {r.client_order_id for r in results}
    assert all(
        s[0] == "pending" and s[-1] == r.status
        for r, s in ((r, states[r.client_order_id]) for r in results)
    )

    cano = sim.account_number.split("-")[0]
    secrets = [sim.app_key, sim.app_secret, cano]
    text = caplog.text + "".join(
        p.read_text("utf-8") for p in (tmp_path / "orders").glob("*.jsonl")
    )
    text += repr(results) + repr(client.settings)
    for secret in secrets:
        assert secret not in text
    assert f"****{cano[-4:]}-01" in caplog.text  # the masked form identifies the account


def test_async_client_places_and_queries(sim: RunningSimulator, tmp_path: Path) -> None:
    async def scenario() -> tuple[Any, Any]:
        async with AsyncKisClient(sim_settings(sim, tmp_path, raw_archive=False)) as client:
            client.configure_orders(today=lambda: sim.clock.now().date(), guards=NO_LIMITS)
            result = await client.buy(SYMBOL, 4)
            return result, await client.balance()

    result, balance = asyncio.run(scenario())
    assert result.ok and balance.positions()[SYMBOL] == 4
    lines = [
        json.loads(line)
        for p in (tmp_path / "orders").glob("order_log-*.jsonl")
        for line in p.read_text("utf-8").splitlines()
    ]
    assert [line["status"] for line in lines] == ["pending", "accepted"]
