"""The KRX price grid (호가단위) and the daily price band, scalar and vectorised.

One tick table for KOSPI and KOSDAQ alike, the one in force since 2023-01-25 (kis-api.md §9.2).
The synthetic market applies it to its whole history: older data in the real market used other
tables, but a single grid keeps every price the simulator emits checkable by one rule.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import numpy.typing as npt

RoundMode = Literal["nearest", "down", "up"]

# Lower bound of each price bracket and the tick inside it.
_BOUNDS = (2_000, 5_000, 20_000, 50_000, 200_000, 500_000)
_TICKS = (1, 5, 10, 50, 100, 500, 1_000)
_BOUNDS_NP = np.array(_BOUNDS, dtype=np.float64)
_TICKS_NP = np.array(_TICKS, dtype=np.int64)

# Daily price limit: ±30 % of the base price (기준가).
LIMIT_RATE = 0.30
_EPS = 1e-9


def tick_size(price: float) -> int:
    """The tick (KRW) that applies at `price`."""
    for bound, tick in zip(_BOUNDS, _TICKS, strict=False):
        if price < bound:
            return tick
    return _TICKS[-1]


def round_to_tick(price: float, mode: RoundMode = "nearest") -> int:
    """Round `price` onto the grid using the tick of `price` itself.

    Every bracket boundary is a multiple of the next bracket's tick, so rounding up across a
    boundary lands on the boundary, which is on the grid, and the result is always valid.
    """
    if mode not in ("nearest", "down", "up"):
        raise ValueError(f"mode must be 'nearest', 'down' or 'up', not {mode!r}")
    tick = tick_size(price)
    units = price / tick
    # The epsilon keeps float noise (1000 * 0.7 = 700.0000000000001) from costing a whole tick.
    if mode == "down":
        n = math.floor(units + _EPS)
    elif mode == "up":
        n = math.ceil(units - _EPS)
    else:
        n = math.floor(units + 0.5)
    return max(int(n) * tick, 1)


def is_on_grid(price: int) -> bool:
    return price >= 1 and price % tick_size(price) == 0


def next_tick_up(price: int) -> int:
    """The grid price one step above `price` (which must be on the grid)."""
    return price + tick_size(price)


def next_tick_down(price: int) -> int:
    """The grid price one step below `price`; the step is the tick of the price below."""
    return max(price - tick_size(price - 1), 1)


def price_band(base: int) -> tuple[int, int]:
    """(lower limit, upper limit) for a day whose base price is `base`, both on the grid."""
    upper = round_to_tick(base * (1 + LIMIT_RATE), "down")
    lower = round_to_tick(base * (1 - LIMIT_RATE), "up")
    return lower, upper


def tick_size_np(
    prices: npt.NDArray[np.floating] | npt.NDArray[np.integer],
) -> npt.NDArray[np.int64]:
    return _TICKS_NP[np.searchsorted(_BOUNDS_NP, prices, side="right")]


def round_to_tick_np(
    prices: npt.NDArray[np.floating] | npt.NDArray[np.integer], mode: RoundMode = "nearest"
) -> npt.NDArray[np.int64]:
    """Vectorised `round_to_tick`; same results element by element."""
    ticks = tick_size_np(prices)
    units = prices / ticks
    if mode == "down":
        n = np.floor(units + _EPS)
    elif mode == "up":
        n = np.ceil(units - _EPS)
    else:
        n = np.floor(units + 0.5)
    return np.maximum(n.astype(np.int64) * ticks, 1)


def price_band_np(
    base: npt.NDArray[np.integer],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    upper = round_to_tick_np(base * (1 + LIMIT_RATE), "down")
    lower = round_to_tick_np(base * (1 - LIMIT_RATE), "up")
    return lower, upper
