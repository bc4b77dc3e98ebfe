"""One day of trading for one instrument: ticks, minute bars and the order book (pure numpy).

A KRX day is: the opening auction print at the open (first tick, at the daily open), continuous
trading one minute bar per minute until 10 minutes before the close, no prints during the closing
call auction, then the closing auction print at the close (last tick, at the daily close, in a
bar stamped with the closing time, e.g. 15:30).

The price path walks over the day's levels (fixed by the daily generator, see `paths`) one level
at a time, so it visits every level; each level's fixed quantity is spread over its visits. The
ticks therefore sum exactly to the daily volume and traded value, and the minute bars, built by
grouping the ticks, aggregate exactly to the daily bar.

Indices and US stocks have no ticks: their minute bars come from a bridge between the daily open
and close that touches the daily high and low exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from simulator.ticks import next_tick_down, next_tick_up

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

CLOSING_CALL_MINUTES = 10
SIDE_BUY, SIDE_SELL = 1, 5


@dataclass(frozen=True)
class Tape:
    """Ticks of one day in time order. `minute` is the bar index; the closing auction print is
    in bar `n_minutes` (the bar stamped with the closing time)."""

    minute: I64
    second: I64  # second within the minute
    price: I64
    qty: I64
    side: I64


@dataclass(frozen=True)
class Bars:
    """Bars as parallel arrays; `minute` is the bar index (offset in minutes from the open, the
    last bar of a KRX day being the closing auction)."""

    minute: I64
    open: I64
    high: I64
    low: I64
    close: I64
    volume: I64
    value: I64

    def __len__(self) -> int:
        return int(self.minute.shape[0])

    def rows(self) -> Iterator[tuple[int, int, int, int, int, int, int]]:
        """(minute, open, high, low, close, volume, value) per bar, as Python ints."""
        return zip(
            self.minute.tolist(),
            self.open.tolist(),
            self.high.tolist(),
            self.low.tolist(),
            self.close.tolist(),
            self.volume.tolist(),
            self.value.tolist(),
            strict=True,
        )


def _u_shape(n: int) -> F64:
    """Intraday activity: busy after the open and before the close."""
    m = np.arange(n, dtype=np.float64)
    return 1.0 + 2.0 * np.exp(-m / 25.0) + 1.5 * np.exp(-(n - 1 - m) / 25.0)


def _trading_activity(rng: np.random.Generator, n: int, lunch_minute: int) -> F64:
    """Per-minute print intensity of continuous trading: the U shape, a lunch lull centred on
    `lunch_minute` (minutes after the open; about half the midday rate at its deepest), and
    bursts: a clustered lognormal factor (a few minutes' memory) and rare spikes of 2-5x."""
    m = np.arange(n, dtype=np.float64)
    lull = 1.0 - 0.5 * np.exp(-(((m - lunch_minute) / 50.0) ** 2))
    kernel = 0.75 ** np.arange(12)
    shocks = np.convolve(rng.standard_normal(n), kernel)[:n] / np.sqrt((kernel**2).sum())
    spikes = np.where(rng.random(n) < 0.02, rng.uniform(2.0, 5.0, n), 1.0)
    return _u_shape(n) * lull * np.exp(0.45 * shocks) * spikes


def _split_exact(total: int, weights: F64) -> I64:
    """Integers proportional to `weights` that sum exactly to `total`."""
    share = weights / weights.sum()
    out = np.floor(total * share).astype(np.int64)
    out[int(np.argmax(weights))] += total - int(out.sum())
    return out


def _level_walk(rng: np.random.Generator, n_levels: int, start: int, end: int, n: int) -> I64:
    """n level indexes from `start` to `end`, steps of -1/0/+1, touching 0 and n_levels-1."""
    if n_levels == 1:
        return np.zeros(n, dtype=np.int64)
    extremes = [0, n_levels - 1] if rng.random() < 0.5 else [n_levels - 1, 0]
    n_random = int(rng.integers(n // 60, n // 25 + 1))
    anchors = rng.integers(0, n_levels, n_random)
    # The random waypoints wander between the fixed ones: open -> extreme -> extreme -> close.
    cuts = np.sort(rng.integers(0, n_random + 1, 2))
    points = np.concatenate(
        [
            [start],
            anchors[: cuts[0]],
            [extremes[0]],
            anchors[cuts[0] : cuts[1]],
            [extremes[1]],
            anchors[cuts[1] :],
            [end],
        ]
    ).astype(np.int64)
    fixed = np.zeros(points.shape[0], dtype=bool)
    fixed[[0, cuts[0] + 1, cuts[1] + 2, points.shape[0] - 1]] = True
    # Drop random waypoints until the walk fits in n-1 steps with room to pause (never binding
    # for the minimum tick count, kept so the function is total).
    while np.abs(np.diff(points)).sum() > 0.6 * (n - 1) and (~fixed).any():
        drop = int(np.flatnonzero(~fixed)[-1])
        points = np.delete(points, drop)
        fixed = np.delete(fixed, drop)
    dist = np.abs(np.diff(points))
    slack = (n - 1) - int(dist.sum())
    pauses = rng.multinomial(slack, rng.dirichlet(np.ones(dist.shape[0])))
    steps: list[I64] = []
    for d, a, b, p in zip(dist, points[:-1], points[1:], pauses, strict=True):
        seg = np.zeros(d + p, dtype=np.int64)
        seg[:d] = np.sign(b - a)
        rng.shuffle(seg)
        steps.append(seg)
    return np.concatenate([[start], start + np.cumsum(np.concatenate(steps))]).astype(np.int64)


def day_tape(
    rng: np.random.Generator,
    levels: I64,
    level_qty: I64,
    open_price: int,
    close_price: int,
    n_ticks: int,
    n_minutes: int,
    lunch_minute: int,
) -> Tape:
    """The day's ticks given its distinct price levels (ascending) and the qty at each level;
    prints spread over the minutes by `_trading_activity` (every minute prints at least once)."""
    k = levels.shape[0]
    i_open = int(np.searchsorted(levels, open_price))
    i_close = int(np.searchsorted(levels, close_price))
    walk = _level_walk(rng, k, i_open, i_close, n_ticks)
    price = levels[walk]

    continuous = n_ticks - 2
    activity = _trading_activity(rng, n_minutes, lunch_minute)
    per_minute = 1 + rng.multinomial(continuous - n_minutes, activity / activity.sum())
    minute = np.concatenate([[0], np.repeat(np.arange(n_minutes), per_minute), [n_minutes]])
    second = np.concatenate([[0], rng.integers(0, 60, continuous), [0]])
    order = np.lexsort((second, minute))  # minutes are already ordered; sort seconds within them
    second = second[order]

    weights = rng.lognormal(0.0, 0.8, n_ticks)
    qty = np.zeros(n_ticks, dtype=np.int64)
    special = {0: 0.15, n_ticks - 1: 0.5}  # auctions: a larger share of their level's volume
    # The ticks of each level, in time order (one stable sort instead of a scan per level).
    by_level = np.argsort(walk, kind="stable")
    bounds = np.searchsorted(walk[by_level], np.arange(k + 1))
    for lvl in range(k):
        idx = by_level[bounds[lvl] : bounds[lvl + 1]]
        w = weights[idx].copy()
        regular = (idx != 0) & (idx != n_ticks - 1)
        base = w[regular].sum() if regular.any() else 1.0
        for pos, share in special.items():
            w[idx == pos] = share * base
        qty[idx] = 1 + rng.multinomial(int(level_qty[lvl]) - idx.shape[0], w / w.sum())

    move = np.diff(price, prepend=price[0])
    side = np.where(move > 0, SIDE_BUY, np.where(move < 0, SIDE_SELL, 0))
    flat = side == 0
    side[flat] = np.where(rng.random(int(flat.sum())) < 0.5, SIDE_BUY, SIDE_SELL)
    return Tape(minute.astype(np.int64), second.astype(np.int64), price, qty, side)


def tape_bars(tape: Tape) -> Bars:
    """Group ticks into bars by minute (OHLC, volume, value = sum price x qty)."""
    starts = np.flatnonzero(np.diff(tape.minute, prepend=-1))
    ends = np.append(starts[1:], tape.minute.shape[0]) - 1
    value = tape.price * tape.qty
    return Bars(
        minute=tape.minute[starts],
        open=tape.price[starts],
        high=np.maximum.reduceat(tape.price, starts),
        low=np.minimum.reduceat(tape.price, starts),
        close=tape.price[ends],
        volume=np.add.reduceat(tape.qty, starts),
        value=np.add.reduceat(value, starts),
    )


def bridge_bars(
    rng: np.random.Generator,
    open_: int,
    high: int,
    low: int,
    close: int,
    volume: int,
    value: int,
    n_bars: int,
    grid: int = 1,
) -> Bars:
    """Minute bars (integer prices, multiples of `grid`) that aggregate exactly to the given day:
    first open, max high, min low, last close, volume and value summing to the totals."""
    span = max(high - low, grid)
    walk = np.cumsum(rng.standard_normal(n_bars))
    t = np.arange(1, n_bars + 1) / n_bars
    bridge = walk - t * walk[-1]
    bridge *= 0.35 * span / max(float(np.abs(bridge).max()), 1e-9)
    closes = open_ + (close - open_) * t + bridge
    closes = np.clip(np.round(closes / grid) * grid, low, high).astype(np.int64)
    closes[-1] = close
    opens = np.concatenate([[open_], closes[:-1]])
    wiggle = np.abs(rng.normal(0.0, 0.08 * span, (2, n_bars)))
    highs = np.clip(
        np.round((np.maximum(opens, closes) + wiggle[0]) / grid) * grid, low, high
    ).astype(np.int64)
    lows = np.clip(
        np.round((np.minimum(opens, closes) - wiggle[1]) / grid) * grid, low, high
    ).astype(np.int64)
    highs = np.maximum(highs, np.maximum(opens, closes))
    lows = np.minimum(lows, np.minimum(opens, closes))
    highs[int(rng.integers(0, n_bars))] = high
    lows[int(rng.integers(0, n_bars))] = low
    activity = _u_shape(n_bars) * rng.lognormal(0.0, 0.4, n_bars)
    return Bars(
        minute=np.arange(n_bars, dtype=np.int64),
        open=opens,
        high=highs,
        low=lows,
        close=closes,
        volume=_split_exact(volume, activity),
        value=_split_exact(value, activity * closes),
    )


def book_levels(
    rng: np.random.Generator,
    last_price: int,
    last_side: int | None,
    lower: int,
    upper: int,
    typical_qty: int,
    depth: int = 10,
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(asks ascending, bids descending) around the last trade, on the grid, inside the band.

    A buy-initiated print lifted the offer, so the offer stays at that price; otherwise the bid
    sits at the last price. Levels beyond the price limits do not exist, so a book at a limit is
    one-sided.
    """
    if last_side == SIDE_BUY:
        best_ask, best_bid = last_price, next_tick_down(last_price)
    else:
        best_bid, best_ask = last_price, next_tick_up(last_price)
    asks: list[int] = []
    p = best_ask
    while len(asks) < depth and p <= upper:
        asks.append(p)
        p = next_tick_up(p)
    bids: list[int] = []
    p = best_bid
    while len(bids) < depth and p >= lower and p >= 1:
        bids.append(p)
        if p == 1:
            break
        p = next_tick_down(p)
    depth_growth = 1.0 + 0.15 * np.arange(depth)
    ask_qty = np.maximum(1, typical_qty * depth_growth * rng.lognormal(0.0, 0.6, depth)).astype(
        np.int64
    )
    bid_qty = np.maximum(1, typical_qty * depth_growth * rng.lognormal(0.0, 0.6, depth)).astype(
        np.int64
    )
    return (
        [(a, int(q)) for a, q in zip(asks, ask_qty, strict=False)],
        [(b, int(q)) for b, q in zip(bids, bid_qty, strict=False)],
    )
