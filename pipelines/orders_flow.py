"""Rebalance: bring the account's holdings to target quantities (or follow signals).

    rebalance_flow(targets={"005930": 10, "000660": 0})               # dry run: prints the plan
    rebalance_flow(targets=..., dry_run=False)                        # sim/paper: places orders
    rebalance_flow(targets=..., dry_run=False, live=True)             # KIS_ENV=real: real orders

Thin over the connector: read the balance, diff (a pure function), place the orders one by one
(sells first, so their proceeds count for the buys), then mirror the order log into the lake.
Order placement is never retried by Prefect either: an uncertain outcome is reconciled by the
connector and reported. Symbols absent from `targets` are left alone; give 0 to sell out.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from connectors.kis.errors import KisError
from connectors.kis.order_guard import OrderBlocked
from connectors.kis.orders import OrderRequest, OrderResult, Side, snap_to_tick
from pipelines.runtime import Runtime, use_runtime
from warehouse.order_log import mirror_order_log

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlannedOrder:
    symbol: str
    side: Side
    qty: int
    held: int
    target: int
    price: int | None  # None = market order


def signals_to_targets(
    signals: Mapping[str, int], positions: Mapping[str, int], unit_qty: int
) -> dict[str, int]:
    """+1 = hold `unit_qty`, -1 = hold none, 0 = keep what is held (pure)."""
    if unit_qty <= 0:
        raise ValueError("unit_qty must be positive")
    targets = {}
    for symbol, signal in signals.items():
        if signal not in (-1, 0, 1):
            raise ValueError(f"signal for {symbol} must be -1, 0 or 1, got {signal!r}")
        targets[symbol] = {1: unit_qty, -1: 0, 0: positions.get(symbol, 0)}[signal]
    return targets


def plan_rebalance(
    targets: Mapping[str, int],
    positions: Mapping[str, int],
    prices: Mapping[str, int] | None = None,
) -> list[PlannedOrder]:
    """The orders that turn `positions` into `targets` (pure): sells first, then buys, by symbol.

    With `prices`, orders are limits at that price snapped to the tick grid on the side that does
    not chase (buys down, sells up); without, market orders.
    """
    plan = []
    for symbol, target in sorted(targets.items()):
        if target < 0:
            raise ValueError(f"target for {symbol} must be >= 0 (no short selling), got {target}")
        held = positions.get(symbol, 0)
        if target == held:
            continue
        side: Side = "buy" if target > held else "sell"
        price = (prices or {}).get(symbol)
        plan.append(
            PlannedOrder(
                symbol,
                side,
                abs(target - held),
                held,
                target,
                snap_to_tick(price, side) if price else None,
            )
        )
    return sorted(plan, key=lambda p: (p.side != "sell", p.symbol))


def plan_frame(plan: list[PlannedOrder]) -> pl.DataFrame:
    return pl.DataFrame(
        [p.__dict__ for p in plan],
        schema={
            "symbol": pl.String,
            "side": pl.String,
            "qty": pl.Int64,
            "held": pl.Int64,
            "target": pl.Int64,
            "price": pl.Int64,
        },
    )


@task(name="read positions", retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
def read_positions(rt: Runtime) -> dict[str, int]:
    return rt.client.balance(lane="order").positions()


# No retries: an order is sent at most once; uncertain outcomes are reconciled inside.
@task(name="place order", retries=0, cache_policy=NO_CACHE)
def place_order(rt: Runtime, planned: PlannedOrder, live: bool, source: str) -> OrderResult:
    order = OrderRequest(planned.side, planned.symbol, planned.qty, planned.price)
    return rt.client.place(order, live=live, source=source)


@flow(name="rebalance")
def rebalance_flow(
    targets: dict[str, int] | None = None,
    live: bool = False,
    dry_run: bool = True,
    signals: dict[str, int] | None = None,
    unit_qty: int = 1,
    prices: dict[str, int] | None = None,
    home: str | None = None,
) -> list[dict[str, Any]]:
    """Diff `targets` (symbol -> quantity) or `signals` (symbol -> -1/0/+1 x `unit_qty`) against the
    balance and place the difference. dry_run (default) only prints the plan."""
    if (targets is None) == (signals is None):
        raise ValueError("give exactly one of targets or signals")
    with use_runtime(home) as rt:
        positions = read_positions(rt)
        wanted = (
            targets
            if targets is not None
            else signals_to_targets(signals or {}, positions, unit_qty)
        )
        plan = plan_rebalance(wanted, positions, prices)
        log.info(
            "rebalance plan (%s, %d orders):\n%s",
            "dry run" if dry_run else "placing",
            len(plan),
            plan_frame(plan),
        )
        if dry_run or not plan:
            return [{**p.__dict__, "status": "planned"} for p in plan]
        rows: list[dict[str, Any]] = []
        for planned in plan:
            try:
                result = place_order(rt, planned, live, "rebalance_flow")
            except OrderBlocked as exc:  # the kill switch or a limit: the rest would be refused too
                rows.append({**planned.__dict__, "status": "blocked", "message": exc.message})
                log.warning("stopping: %s", exc.message)
                break
            except KisError as exc:
                rows.append({**planned.__dict__, "status": "failed", "message": str(exc)})
                continue
            rows.append(
                {
                    **planned.__dict__,
                    "status": result.status,
                    "order_no": result.order_no,
                    "message": result.message,
                }
            )
            if result.status == "uncertain":
                log.warning("%s %s: %s", planned.side, planned.symbol, result.message)
        mirrored = mirror_order_log(rt.lake, rt.settings.home)
        log.info("order_log: %d row(s) written to the lake", mirrored.written)
        return rows
