"""Daily price paths, generated once per instrument as numpy arrays (pure, deterministic by seed).

Model, per KRX stock: log price = a slowly mean-reverting (OU, half-life ~2 years) walk driven by
`beta` x a shared market factor + fat-tailed idiosyncratic noise with volatility clustering; daily
moves are capped well inside the ±30 % limit; open/high/low scatter around open/close and stay
inside the day's price band; volume follows a noisy traded-value target and rises with |return|.

The traded value must equal the sum of price x qty over the day's ticks, which are generated
lazily. So the daily generator also fixes each day's *price levels* (open, high, low, close and up
to eight grid prices between low and high) and the volume traded at each level: the value is
then sum(level x qty) exactly, and the intraday generator only decides when each level trades
(`stock_levels` rebuilds the levels for the intraday side from the same random stream).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from simulator.ticks import price_band_np, round_to_tick, round_to_tick_np
from simulator.universe import Instrument, OverseasProfile, Profile, Split

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

MARKET_SIGMA = 0.009  # daily sd of the KRX market factor
US_MARKET_SIGMA = 0.008
MAX_LEVELS = 12  # open, high, low, close + 8 intermediate grid prices per day
MIN_VOLUME = 10_000  # keeps every level and every minute tradable
# Prints per day: one per PRINT_VALUE KRW traded, within [MIN_TICKS, MAX_TICKS]. A liquid large
# cap (5e11 KRW a day) prints ~33,000 times, more than once a second through continuous trading as
# on KRX; a small cap a few hundred to a few thousand times.
PRINT_VALUE = 15_000_000
MIN_TICKS, MAX_TICKS = 600, 60_000
_MAX_MOVE = 0.22  # cap on |daily log return|, well inside the ±30 % band

# Random streams: one SeedSequence per (purpose, instrument) so instruments are independent of
# each other and of how many instruments exist.
_STREAM_MARKET, _STREAM_DAILY, _STREAM_LEVELS, _STREAM_INDEX, _STREAM_US = 1, 2, 3, 4, 5


def rng_for(seed: int, stream: int, key: str, *extra: int) -> np.random.Generator:
    """A generator keyed by (seed, stream, key, extra...), stable across runs and platforms."""
    return np.random.default_rng(np.random.SeedSequence([seed, stream, *key.encode(), 0, *extra]))


def _clustered_vol(rng: np.random.Generator, n: int, strength: float = 0.35) -> F64:
    """A volatility multiplier around 1 with persistence (an AR(1) in logs)."""
    shocks = rng.standard_normal(n)
    return np.exp(strength * _ar1(shocks, 0.97) * np.sqrt(1 - 0.97**2) - strength**2 / 2)


def _ar1(shocks: F64, a: float) -> F64:
    """x_t = a x_{t-1} + shocks_t from x_{-1} = 0, vectorised in blocks short enough that a^-k
    stays far from overflow."""
    n = shocks.shape[0]
    block = max(1, int(200 / -np.log(a))) if a < 1 else n
    out = np.empty(n, dtype=np.float64)
    carry = 0.0
    for lo in range(0, n, block):
        chunk = shocks[lo : lo + block]
        powers = a ** np.arange(1, chunk.shape[0] + 1, dtype=np.float64)
        out[lo : lo + chunk.shape[0]] = powers * (carry + np.cumsum(chunk / powers))
        carry = out[lo + chunk.shape[0] - 1]
    return out


def _fat_tails(rng: np.random.Generator, n: int) -> F64:
    """Student-t(4) scaled to unit variance."""
    return rng.standard_t(4, n) / np.sqrt(2.0)


def market_factor(seed: int, n_days: int, sigma: float = MARKET_SIGMA, key: str = "KRX") -> F64:
    """Daily log returns shared by every instrument of one market."""
    rng = rng_for(seed, _STREAM_MARKET, key)
    return sigma * _clustered_vol(rng, n_days) * _fat_tails(rng, n_days)


@dataclass(frozen=True)
class StockPath:
    """Raw (unadjusted) daily bars of one instrument over its listed window of the day axis."""

    first: int  # index of the first bar on the market's day axis
    open: I64
    high: I64
    low: I64
    close: I64
    prev: I64  # base price of the day (previous close; divided by the ratio on a split day)
    volume: I64
    value: I64
    ticks: I64  # number of ticks the intraday generator will print
    pre_split: int  # bars [0, pre_split) trade before the split (0 without a split)

    def __len__(self) -> int:
        return int(self.close.shape[0])


def _split_cut(split: Split | None, days: list[date]) -> tuple[int, F64]:
    """(number of leading days before the split, per-day multiplier raw/adjusted)."""
    ratio = np.ones(len(days))
    if split is None:
        return 0, ratio
    cut = bisect.bisect_left(days, split.date)
    ratio[:cut] = split.ratio
    return cut, ratio


def listed_window(days: list[date], inst: Instrument) -> tuple[int, int]:
    """[first, stop) indexes on the day axis while `inst` is listed."""
    first = bisect.bisect_left(days, inst.listed)
    stop = len(days) if inst.delisted is None else bisect.bisect_left(days, inst.delisted)
    return first, max(first, stop)


def stock_path(
    seed: int,
    inst: Instrument,
    profile: Profile,
    days: list[date],
    market: F64,
) -> StockPath:
    first, stop = listed_window(days, inst)
    n = stop - first
    rng = rng_for(seed, _STREAM_DAILY, inst.code)
    sigma = profile.sigma
    idio_sd = np.sqrt(max(sigma**2 - (profile.beta * MARKET_SIGMA) ** 2, (0.4 * sigma) ** 2))
    vol = _clustered_vol(rng, n)
    eps = profile.beta * market[first:stop] + idio_sd * vol * _fat_tails(rng, n)
    log_level = _soft_walk(eps, 750)
    moves = np.diff(log_level, prepend=0.0)

    pre_split, ratio = _split_cut(inst.split, days[first:stop])
    base_post = float(inst.base_price) / (ratio[0] if n else 1.0)
    close_f = base_post * np.exp(log_level) * ratio
    close = round_to_tick_np(close_f)

    prev = np.empty(n, dtype=np.int64)
    if n:
        prev[0] = inst.base_price
        prev[1:] = close[:-1]
        if 0 < pre_split < n:
            # The split day's base price is the previous close divided by the ratio.
            prev[pre_split] = round_to_tick(prev[pre_split] / ratio[0])
    lower, upper = price_band_np(prev)
    close = np.clip(close, lower, upper)

    day_sd = sigma * vol
    open_ = round_to_tick_np(prev * np.exp(rng.normal(0.0, 0.35, n) * day_sd))
    open_ = np.clip(open_, lower, upper)
    top = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, 0.5, n)) * day_sd)
    bottom = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, 0.5, n)) * day_sd)
    high = np.minimum(round_to_tick_np(top, "up"), upper)
    low = np.maximum(round_to_tick_np(bottom, "down"), lower)

    activity = np.exp(
        0.45 * _ar1(rng.standard_normal(n), 0.9) * np.sqrt(1 - 0.81) + 5 * np.abs(moves) - 0.15
    )
    volume = np.maximum(profile.daily_value * activity / close_f, MIN_VOLUME).astype(np.int64)

    path = StockPath(
        first,
        open_,
        high,
        low,
        close,
        prev,
        volume,
        np.zeros(n, np.int64),
        np.zeros(n, np.int64),
        pre_split,
    )
    levels, qty, ticks = stock_levels(seed, inst.code, path)
    path.value[:] = (levels * qty).sum(axis=1)
    path.ticks[:] = ticks
    return path


def stock_levels(seed: int, code: str, path: StockPath) -> tuple[I64, I64, I64]:
    """Each day's price levels (sorted; duplicates carry qty 0), qty per level, tick count.

    Every distinct level carries at least `ticks` shares, so however often the intraday path
    visits a level, each visit can trade at least one share.
    """
    n = len(path)
    rng = rng_for(seed, _STREAM_LEVELS, code)
    low = path.low.astype(np.float64)[:, None]
    span = (path.high - path.low).astype(np.float64)[:, None]
    mids = round_to_tick_np(low + span * rng.random((n, MAX_LEVELS - 4)))
    cand = np.concatenate(
        [path.low[:, None], path.high[:, None], path.open[:, None], path.close[:, None], mids],
        axis=1,
    )
    cand.sort(axis=1)
    dup = np.zeros(cand.shape, dtype=bool)
    dup[:, 1:] = cand[:, 1:] == cand[:, :-1]
    weights = 0.2 + rng.random(cand.shape)
    weights[dup] = 0.0
    distinct = (~dup).sum(axis=1)
    value_est = path.volume * path.close
    ticks = np.clip(value_est // PRINT_VALUE, MIN_TICKS, MAX_TICKS)
    ticks = np.minimum(ticks, path.volume // distinct)
    spare = path.volume - distinct * ticks
    share = weights / weights.sum(axis=1, keepdims=True)
    qty = np.where(dup, 0, ticks[:, None] + np.floor(spare[:, None] * share).astype(np.int64))
    remainder = path.volume - qty.sum(axis=1)
    qty[np.arange(n), weights.argmax(axis=1)] += remainder
    return cand, qty, ticks


def adjust(path: StockPath, ratio: int) -> tuple[I64, I64, I64, I64, I64, I64]:
    """(open, high, low, close, prev, volume) with the bars before the split scaled by 1/ratio
    (prices back onto the grid of the adjusted price, volume times the ratio)."""
    cut = path.pre_split
    out = []
    for arr in (path.open, path.high, path.low, path.close, path.prev):
        adj = arr.copy()
        adj[:cut] = round_to_tick_np(arr[:cut] / ratio)
        out.append(adj)
    vol = path.volume.copy()
    vol[:cut] *= ratio
    return out[0], out[1], out[2], out[3], out[4], vol


@dataclass(frozen=True)
class LevelPath:
    """Daily bars of an index (centi-points) or a US stock (1e-4 USD), on their own day axis."""

    open: I64
    high: I64
    low: I64
    close: I64
    prev: I64
    volume: I64
    value: I64


def index_path(
    seed: int,
    code: str,
    market: F64,
    level: float,
    loading: float,
    own_sigma: float,
    volume: int,
    value: int,
) -> LevelPath:
    """An index in centi-points (2 decimals) driven by the market factor."""
    n = market.shape[0]
    rng = rng_for(seed, _STREAM_INDEX, code)
    eps = loading * market + own_sigma * _fat_tails(rng, n)
    log_level = _soft_walk(eps, 2000)
    close_f = level * np.exp(log_level)
    spread = 0.6 * np.abs(eps) + 0.003
    return _ohlc_grid(rng, close_f, level, spread, 100, 1, volume, value, np.ones(n))


def us_path(
    seed: int, key: str, profile: OverseasProfile, days: list[date], market: F64
) -> tuple[LevelPath, int]:
    """A US stock on the cent grid, carried in 1e-4 USD units (4 decimals).

    Returns the raw path and the number of leading bars before the split (0 without one).
    """
    n = len(days)
    rng = rng_for(seed, _STREAM_US, key)
    idio = profile.sigma * 0.8 * _clustered_vol(rng, n) * _fat_tails(rng, n)
    eps = market[:n] + idio
    pre_split, ratio = _split_cut(profile.split, days)
    base_post = profile.base_price / (ratio[0] if n else 1.0)
    close_f = base_post * np.exp(_soft_walk(eps, 1500)) * ratio
    spread = profile.sigma * np.ones(n)
    path = _ohlc_grid(
        rng, close_f, profile.base_price, spread, 10_000, 100, profile.daily_volume, 0, ratio
    )
    # Traded value (1e-4 USD): volume at the bar's typical price.
    typical = (path.high + path.low + path.close) // 3
    path.value[:] = path.volume * typical
    return path, pre_split


def _soft_walk(eps: F64, reversion_days: float) -> F64:
    """Cumulative log level from shocks, gently pulled back to the start, moves capped."""
    dev = _ar1(eps, 1 - 1 / reversion_days)
    return np.cumsum(np.clip(np.diff(dev, prepend=0.0), -_MAX_MOVE, _MAX_MOVE))


def _ohlc_grid(
    rng: np.random.Generator,
    close_f: F64,
    base: float,
    spread: F64,
    unit: int,
    grid: int,
    volume: int,
    value: int,
    ratio: F64,
) -> LevelPath:
    """OHLC around a close path as integers (`unit` per 1.0 of price, multiples of `grid`), with
    volume (and value) rising with the size of the move. `ratio` scales volume back before a
    split so turnover stays continuous."""
    n = close_f.shape[0]

    def q(x: F64) -> I64:
        return np.maximum(np.round(x * unit / grid), 1).astype(np.int64) * grid

    close = q(close_f)
    prev = np.empty(n, dtype=np.int64)
    if n:
        prev[0] = q(np.array([base]))[0]
        # On a split day the base is the previous close divided by the ratio.
        prev[1:] = q(close[:-1] / unit * ratio[1:] / ratio[:-1])
    open_ = q(prev / unit * np.exp(rng.normal(0.0, 0.3, n) * spread))
    top = np.maximum(open_, close) / unit * np.exp(np.abs(rng.normal(0.0, 0.5, n)) * spread)
    bottom = np.minimum(open_, close) / unit * np.exp(-np.abs(rng.normal(0.0, 0.5, n)) * spread)
    high = np.maximum(q(top), np.maximum(open_, close))
    low = np.minimum(q(bottom), np.minimum(open_, close))
    moves = np.abs(np.log(close / prev))
    activity = np.exp(0.35 * rng.standard_normal(n) + 8 * moves - 0.1)
    vol = np.maximum((volume * activity / ratio).astype(np.int64), 1_000)
    val = (value * activity).astype(np.int64)
    return LevelPath(open_, high, low, close, prev, vol, val)
