"""Safety checks every order passes before it is logged and sent.

- Opt-in: with KIS_ENV=real nothing is sent unless the caller says `live=True` (`--live` on the CLI).
  sim (the simulator) and paper (KIS's paper trading) need no opt-in: no real money moves.
- Guards (all environments, so what is tested on the simulator is what runs for real):
  max quantity and max notional (KRW) per order, max new orders per KST day, allowed symbols.
- Kill switch: while the file exists (default KISDB_HOME/orders/KILL) every new order and every
  modify is refused. Cancels are always allowed: they only reduce exposure.

Configuration (variables parsed by `OrderGuards.from_env` from the mapping the composition root
hands it: environment, ./.env, user config file): KISDB_ORDER_MAX_QTY, KISDB_ORDER_MAX_NOTIONAL,
KISDB_ORDER_MAX_PER_DAY (a number, or "none" to lift the limit), KISDB_ORDER_SYMBOLS (comma list;
empty = any), KISDB_KILL_SWITCH (path). "Today" is the caller's (its clock's) KST day.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from connectors.kis.errors import KisConfigError, OrderBlocked  # noqa: F401 - re-exported
from connectors.kis.filelock import FileLock, write_private

# Defaults sized for a personal account: large enough not to get in the way of normal use,
# small enough that a runaway loop or a typo (an extra zero) is stopped.
DEFAULT_MAX_QTY = 10_000
DEFAULT_MAX_NOTIONAL = 10_000_000  # KRW per order
DEFAULT_MAX_PER_DAY = 100


@dataclass(frozen=True)
class OrderGuards:
    max_qty: int | None = DEFAULT_MAX_QTY
    max_notional: int | None = DEFAULT_MAX_NOTIONAL
    max_orders_per_day: int | None = DEFAULT_MAX_PER_DAY
    allowed_symbols: frozenset[str] | None = None  # None = any symbol
    kill_switch: Path | None = None  # None = <home>/orders/KILL (resolved by the orders module)

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, home: Path) -> OrderGuards:
        symbols = [
            s.strip().upper() for s in env.get("KISDB_ORDER_SYMBOLS", "").split(",") if s.strip()
        ]
        kill = env.get("KISDB_KILL_SWITCH", "").strip()
        return cls(
            max_qty=_limit(env, "KISDB_ORDER_MAX_QTY", DEFAULT_MAX_QTY),
            max_notional=_limit(env, "KISDB_ORDER_MAX_NOTIONAL", DEFAULT_MAX_NOTIONAL),
            max_orders_per_day=_limit(env, "KISDB_ORDER_MAX_PER_DAY", DEFAULT_MAX_PER_DAY),
            allowed_symbols=frozenset(symbols) if symbols else None,
            kill_switch=Path(kill).expanduser() if kill else default_kill_switch(home),
        )

    def kill_switch_path(self, home: Path) -> Path:
        return self.kill_switch if self.kill_switch is not None else default_kill_switch(home)


def default_kill_switch(home: Path) -> Path:
    return Path(home) / "orders" / "KILL"


def _limit(env: Mapping[str, str], name: str, default: int) -> int | None:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"none", "off", "unlimited"}:
        return None
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        raise KisConfigError(f"{name} must be a whole number or 'none', got {raw!r}") from None
    if value <= 0:
        raise KisConfigError(f"{name} must be positive (or 'none' for no limit), got {value}")
    return value


def require_opt_in(env: str, live: bool) -> None:
    """Real orders need an explicit yes from the caller, every time."""
    if env == "real" and not live:
        raise OrderBlocked(
            "KIS_ENV=real sends real orders: pass --live on the CLI or live=True in code/flows "
            "to confirm (nothing was sent)",
            guard="opt_in",
        )


def check_kill_switch(path: Path) -> None:
    if path.exists():
        raise OrderBlocked(
            f"kill switch engaged ({path} exists): new orders and modifies are blocked; "
            "delete the file to resume (cancels still work)",
            guard="kill_switch",
        )


def check_order_limits(guards: OrderGuards, *, symbol: str, qty: int, notional: int | None) -> None:
    """Pure checks on one order. `notional` None means the price is unknown: refused when a
    notional limit is set (fail closed)."""
    if guards.allowed_symbols is not None and symbol not in guards.allowed_symbols:
        raise OrderBlocked(
            f"symbol {symbol} is not in KISDB_ORDER_SYMBOLS ({', '.join(sorted(guards.allowed_symbols))})",
            guard="allowed_symbols",
        )
    if guards.max_qty is not None and qty > guards.max_qty:
        raise OrderBlocked(
            f"quantity {qty:,} exceeds the per-order limit {guards.max_qty:,} (KISDB_ORDER_MAX_QTY)",
            guard="max_qty",
        )
    if guards.max_notional is not None:
        if notional is None:
            raise OrderBlocked(
                "cannot bound this order's value (no reference price); give a limit price or "
                "lift KISDB_ORDER_MAX_NOTIONAL",
                guard="max_notional",
            )
        if notional > guards.max_notional:
            raise OrderBlocked(
                f"order value {notional:,} KRW exceeds the per-order limit {guards.max_notional:,} KRW "
                "(KISDB_ORDER_MAX_NOTIONAL)",
                guard="max_notional",
            )


class DailyOrderCounter:
    """New orders sent per KST day, in one small file under home/orders/ shared by processes.

    `reserve` checks and increments under a file lock, so two processes cannot both take the last
    slot. Only orders that left the machine count: `release` gives a slot back when the order was
    never sent (token or hashkey failure); one that was sent counts even if it then failed.
    """

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / "daily_count.json"
        self._lock = FileLock(Path(directory) / ".daily_count.lock")

    def _read(self, day: date) -> int:
        try:
            state = json.loads(self.path.read_text("utf-8"))
        except (FileNotFoundError, ValueError):
            return 0
        return int(state.get("count", 0)) if state.get("date") == day.isoformat() else 0

    def count(self, day: date) -> int:
        return self._read(day)

    def reserve(self, limit: int | None, day: date) -> int:
        """Take one slot for `day` (today, KST); OrderBlocked when `limit` is reached."""
        with self._lock:
            used = self._read(day)
            if limit is not None and used >= limit:
                raise OrderBlocked(
                    f"{used} orders already sent today (KST {day}); the daily limit is {limit} "
                    "(KISDB_ORDER_MAX_PER_DAY)",
                    guard="max_orders_per_day",
                )
            write_private(
                self.path, json.dumps({"date": day.isoformat(), "count": used + 1}).encode()
            )
            return used + 1

    def release(self, day: date) -> None:
        """Give back a slot reserved for `day` by an order that was never sent."""
        with self._lock:
            used = self._read(day)
            if used > 0:
                write_private(
                    self.path, json.dumps({"date": day.isoformat(), "count": used - 1}).encode()
                )
