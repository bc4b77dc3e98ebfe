"""The synthetic market the simulator serves: KRX stocks, KRX indices and a few US names.

Pure and deterministic: a seed fixes every price, volume and tick, from 2015-01-02 through
2027-12-30 (future days too; the server decides what "today" is). Consistency holds by
construction: ticks aggregate exactly to minute bars, minute bars exactly to the daily bar
(OHLC, volume and traded value), and W/M/Y bars aggregate daily bars.

Cost model: the daily path of one instrument over the whole window is generated once (numpy,
~3 ms) and kept in a bounded LRU; one day's ticks/minute bars are generated on demand from
(seed, code, day) and kept in a small LRU.

Units: KRX prices are int KRW on the tick grid (`simulator.ticks`); index values float with 2
decimals (index volume in shares, value in KRW); US prices float with 4 decimals, value in USD.
Times are naive KST, except US minute bars which carry New York local date/time and naive KST.
"""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Generic, TypeVar

import numpy as np

from simulator import intraday, paths
from simulator.calendar import KST, KrxCalendar, UsCalendar
from simulator.ticks import price_band
from simulator.universe import (
    FIRST_DATE,
    INDEX_PROFILES,
    INDICES,
    LAST_DATE,
    OVERSEAS_INDICES,
    Instrument,
    OverseasInstrument,
    Split,
    krx_universe,
    us_universe,
)

__all__ = [
    "Book",
    "DailyBar",
    "IndexBar",
    "Instrument",
    "Market",
    "MinuteBar",
    "OverseasBar",
    "OverseasInstrument",
    "Split",
    "Tick",
    "TickColumns",
]

PERIODS = ("D", "W", "M", "Y")
_STREAM_TAPE, _STREAM_BOOK, _STREAM_INDEX_MIN, _STREAM_US_MIN, _STREAM_US_BOOK = 11, 12, 13, 14, 15
_LUNCH = time(12, 30)  # the midday lull of continuous trading is centred here
_US_UNIT = 10_000  # US prices are carried as integers in 1e-4 USD


@dataclass(frozen=True)
class DailyBar:
    date: date
    open: int
    high: int
    low: int
    close: int
    volume: int
    value: int
    prev_close: int  # the day's base price: previous close (divided by the ratio on a split day)


@dataclass(frozen=True)
class MinuteBar:
    date: date
    time: time  # bar start HH:MM:00; the closing auction bar is stamped with the close (15:30)
    open: int
    high: int
    low: int
    close: int
    volume: int
    value: int


@dataclass(frozen=True)
class Tick:
    date: date
    time: time
    seq: int  # 1-based order within the day
    price: int
    qty: int
    side: int  # 1 buy-initiated, 5 sell-initiated


@dataclass(frozen=True)
class TickColumns:
    """One day's prints as parallel columns, in time order (shared, not copied: do not mutate)."""

    seconds: list[int]  # seconds since midnight KST, ascending
    price: np.ndarray  # int64 KRW
    qty: np.ndarray  # int64
    side: np.ndarray  # int64: 1 buy-initiated, 5 sell-initiated


@dataclass(frozen=True)
class IndexBar:
    date: date
    time: time | None
    open: float
    high: float
    low: float
    close: float
    volume: int
    value: int


@dataclass(frozen=True)
class OverseasBar:
    local_date: date
    local_time: time | None
    kst: datetime | None
    open: float
    high: float
    low: float
    close: float
    volume: int
    value: float


@dataclass(frozen=True)
class Book:
    asks: list[tuple[int, int]]  # (price, qty), best (lowest) first
    bids: list[tuple[int, int]]  # (price, qty), best (highest) first


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _Lru(Generic[K, V]):
    """A small thread-safe LRU; the factory runs under the lock (it is pure and quick)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K, make: Callable[[], V]) -> V:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            value = make()
            self._items[key] = value
            if len(self._items) > self._size:
                self._items.popitem(last=False)
            return value


@dataclass(frozen=True)
class _Day:
    """One instrument-day of intraday data, in arrays plus lazily built records."""

    open_at: datetime
    close_at: datetime
    n_minutes: int  # continuous-trading minutes; the closing auction bar is bar n_minutes
    tape: intraday.Tape
    bars: intraday.Bars
    tick_seconds: list[int]  # seconds since midnight of each tick, ascending

    def bar_time(self, minute: int) -> time:
        if minute == self.n_minutes:
            return self.close_at.time()
        return (self.open_at + timedelta(minutes=minute)).time()


class Market:
    """The synthetic market. Cheap to construct (instruments only); data is made on demand."""

    def __init__(
        self,
        seed: int = 20261124,
        generated_symbols: int = 0,
        *,
        path_cache_size: int = 256,
        day_cache_size: int = 64,
    ) -> None:
        self.seed = seed
        self.calendar = KrxCalendar()
        self.us_calendar = UsCalendar()
        self.first_date = FIRST_DATE
        self.last_date = LAST_DATE
        self.instruments, self._profiles = krx_universe(seed, generated_symbols)
        self.indices = dict(INDICES)
        self.overseas, self._us_profiles = us_universe()

        self._days = self.calendar.trading_days(FIRST_DATE, LAST_DATE)
        self._day_index = {d: i for i, d in enumerate(self._days)}
        self._us_days = self.us_calendar.trading_days(FIRST_DATE, LAST_DATE)
        self._us_day_index = {d: i for i, d in enumerate(self._us_days)}
        self._market = paths.market_factor(seed, len(self._days))
        self._us_market = paths.market_factor(seed, len(self._us_days), paths.US_MARKET_SIGMA, "US")

        self._paths: _Lru[str, paths.StockPath] = _Lru(path_cache_size)
        self._adjusted: _Lru[str, tuple[np.ndarray, ...]] = _Lru(path_cache_size)
        # ~0.3 MB and ~4 ms to rebuild per code; 8 slots thrashed as soon as a websocket session
        # streamed more symbols than that (every new day of each rebuilt them).
        self._levels: _Lru[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = _Lru(
            path_cache_size // 4
        )
        self._intraday: _Lru[tuple[str, date], _Day] = _Lru(day_cache_size)
        self._index_paths: _Lru[str, paths.LevelPath] = _Lru(64)
        self._us_paths: _Lru[tuple[str, str], tuple[paths.LevelPath, int]] = _Lru(64)
        self.overseas_indices = {code: spec[0] for code, spec in OVERSEAS_INDICES.items()}

    # ----------------------------------------------------------------- instruments

    def instrument(self, code: str) -> Instrument:
        try:
            return self.instruments[code]
        except KeyError:
            raise KeyError(f"unknown stock code {code!r}; see Market.instruments") from None

    def is_listed(self, code: str, d: date) -> bool:
        inst = self.instrument(code)
        return inst.listed <= d and (inst.delisted is None or d < inst.delisted)

    def ranking_universe(self, d: date, until: time | None = None) -> list[Instrument]:
        """Instruments listed on `d`, by code (`until` is accepted for symmetry with the server's
        intraday rankings; listing does not change within a day)."""
        return [i for c, i in sorted(self.instruments.items()) if self.is_listed(c, d)]

    def listed_shares(self, code: str, d: date) -> int:
        inst = self.instrument(code)
        shares = self._profiles[code].shares
        if inst.split is not None and d < inst.split.date:
            return shares // inst.split.ratio
        return shares

    # ----------------------------------------------------------------- daily

    def _path(self, code: str) -> paths.StockPath:
        inst = self.instrument(code)
        return self._paths.get(
            code,
            lambda: paths.stock_path(
                self.seed, inst, self._profiles[code], self._days, self._market
            ),
        )

    def _arrays(self, code: str, adjusted: bool) -> tuple[np.ndarray, ...]:
        """(open, high, low, close, prev, volume, value) over the instrument's window."""
        path = self._path(code)
        split = self.instruments[code].split
        if not adjusted or split is None or path.pre_split == 0:
            return path.open, path.high, path.low, path.close, path.prev, path.volume, path.value
        return self._adjusted.get(code, lambda: (*paths.adjust(path, split.ratio), path.value))

    def _window(self, path: paths.StockPath, start: date, end: date) -> tuple[int, int]:
        """Bar indexes [i, j) of `path` for the calendar range [start, end]."""
        i = bisect.bisect_left(self._days, start) - path.first
        j = bisect.bisect_right(self._days, end) - path.first
        return max(i, 0), min(max(j, 0), len(path))

    def daily_bars(self, code: str, start: date, end: date, adjusted: bool) -> list[DailyBar]:
        """Trading days in [start, end] while listed, ascending. `adjusted` divides prices before
        the split by its ratio (rounded to the adjusted price's grid) and multiplies volume."""
        path = self._path(code)
        i, j = self._window(path, start, end)
        if i >= j:
            return []
        cols = [a[i:j].tolist() for a in self._arrays(code, adjusted)]
        days = self._days[path.first + i : path.first + j]
        return [
            DailyBar(d, o, h, lo, c, v, val, p)
            for d, o, h, lo, c, p, v, val in zip(days, *cols, strict=True)
        ]

    def daily_bar(self, code: str, d: date, adjusted: bool = False) -> DailyBar | None:
        bars = self.daily_bars(code, d, d, adjusted)
        return bars[0] if bars else None

    def period_bars(
        self, code: str, start: date, end: date, period: str, adjusted: bool
    ) -> list[DailyBar]:
        """D/W/M/Y bars. A W/M/Y bar aggregates the trading days of its period up to `end`
        (including days of that period before `start`) and is dated by its last such day; bars
        dated before `start` are left out."""
        if period == "D":
            return self.daily_bars(code, start, end, adjusted)
        daily = self.daily_bars(code, period_start(start, period), end, adjusted)
        out = []
        for group in _group_by_period([b.date for b in daily], period):
            bars = daily[group[0] : group[-1] + 1]
            if bars[-1].date < start:
                continue
            out.append(
                DailyBar(
                    date=bars[-1].date,
                    open=bars[0].open,
                    high=max(b.high for b in bars),
                    low=min(b.low for b in bars),
                    close=bars[-1].close,
                    volume=sum(b.volume for b in bars),
                    value=sum(b.value for b in bars),
                    prev_close=bars[0].prev_close,
                )
            )
        return out

    def price_band(self, code: str, d: date) -> tuple[int, int] | None:
        """(lower, upper) price limits of `d` from its base price; None when no bar that day."""
        bar = self.daily_bar(code, d)
        return None if bar is None else price_band(bar.prev_close)

    def last_close_before(self, code: str, d: date) -> DailyBar | None:
        """The latest raw daily bar strictly before `d` (None before the first bar)."""
        path = self._path(code)
        i = bisect.bisect_left(self._days, d) - path.first
        if i <= 0 or len(path) == 0:
            return None
        return self.daily_bar(code, self._days[path.first + min(i, len(path)) - 1])

    # ----------------------------------------------------------------- intraday

    def _day(self, code: str, d: date) -> _Day | None:
        path = self._path(code)
        idx = self._day_index.get(d)
        if idx is None or not 0 <= idx - path.first < len(path):
            return None
        return self._intraday.get(
            (code, d), lambda: self._make_day(code, d, path, idx - path.first)
        )

    def _make_day(self, code: str, d: date, path: paths.StockPath, i: int) -> _Day:
        cand, qty, ticks = self._levels.get(code, lambda: paths.stock_levels(self.seed, code, path))
        keep = qty[i] > 0
        open_at, close_at = self.calendar.session(d)
        n_minutes = int((close_at - open_at).total_seconds() // 60) - intraday.CLOSING_CALL_MINUTES
        rng = paths.rng_for(self.seed, _STREAM_TAPE, code, d.toordinal())
        tape = intraday.day_tape(
            rng,
            cand[i][keep],
            qty[i][keep],
            int(path.open[i]),
            int(path.close[i]),
            int(ticks[i]),
            n_minutes,
            lunch_minute=int((datetime.combine(d, _LUNCH) - open_at).total_seconds() // 60),
        )
        base = open_at.hour * 3600 + open_at.minute * 60
        seconds = base + tape.minute * 60 + tape.second
        close_s = close_at.hour * 3600 + close_at.minute * 60
        seconds[-1] = close_s  # the closing auction prints at the close
        return _Day(open_at, close_at, n_minutes, tape, intraday.tape_bars(tape), seconds.tolist())

    def minute_bars(self, code: str, d: date) -> list[MinuteBar]:
        """One bar per minute of continuous trading (09:00 … 15:19 on a normal day) plus the
        closing auction bar (15:30); none during the closing call (15:20-15:29). They aggregate
        exactly to `daily_bar(code, d)` (raw)."""
        day = self._day(code, d)
        if day is None:
            return []
        return [
            MinuteBar(d, day.bar_time(m), o, h, lo, c, v, val)
            for m, o, h, lo, c, v, val in day.bars.rows()
        ]

    def ticks(self, code: str, d: date) -> list[Tick]:
        """Every print of the day in order; they aggregate exactly to `minute_bars`."""
        day = self._day(code, d)
        if day is None:
            return []
        t = day.tape
        return [
            Tick(d, _clock(s), seq, p, q, side)
            for seq, (s, p, q, side) in enumerate(
                zip(
                    day.tick_seconds, t.price.tolist(), t.qty.tolist(), t.side.tolist(), strict=True
                ),
                start=1,
            )
        ]

    def tick_columns(self, code: str, d: date) -> TickColumns | None:
        """The day's prints as columns (no per-tick objects): what the realtime encoder reads."""
        day = self._day(code, d)
        if day is None:
            return None
        t = day.tape
        return TickColumns(day.tick_seconds, t.price, t.qty, t.side)

    def _ticks_until(self, code: str, at: datetime) -> tuple[_Day, int] | None:
        """(the day, how many ticks happened at or before `at`)."""
        day = self._day(code, at.date())
        if day is None:
            return None
        cutoff = at.hour * 3600 + at.minute * 60 + at.second
        return day, bisect.bisect_right(day.tick_seconds, cutoff)

    def last_trade(self, code: str, at: datetime) -> Tick | None:
        """The last tick at or before `at` on that day (None before the open or on a day
        without trading)."""
        found = self._ticks_until(code, at)
        if found is None or found[1] == 0:
            return None
        day, n = found
        t = day.tape
        i = n - 1
        return Tick(
            at.date(),
            _clock(day.tick_seconds[i]),
            n,
            int(t.price[i]),
            int(t.qty[i]),
            int(t.side[i]),
        )

    def window_ohlcv(
        self, code: str, d: date, start: time, until: time
    ) -> tuple[int, int, int, int, int, int] | None:
        """(open, high, low, close, volume, value) of the prints stamped in [start, until] (second
        resolution); None when there are none."""
        prints = self.tick_columns(code, d)
        if prints is None:
            return None
        lo = bisect.bisect_left(prints.seconds, _seconds(start))
        hi = bisect.bisect_right(prints.seconds, _seconds(until))
        if lo >= hi:
            return None
        price, qty = prints.price[lo:hi], prints.qty[lo:hi]
        return (
            int(price[0]),
            int(price.max()),
            int(price.min()),
            int(price[-1]),
            int(qty.sum()),
            int((price * qty).sum()),
        )

    def intraday_bar(self, code: str, d: date, until: time) -> DailyBar | None:
        """The day's bar from the ticks at or before `until` (None before the first print)."""
        summary = self.window_ohlcv(code, d, time(0), until)
        if summary is None:
            return None
        prev = int(self._path(code).prev[self._day_index[d] - self._path(code).first])
        return DailyBar(d, *summary, prev)

    def quote_at(self, code: str, at: datetime) -> Book:
        """The 10-level book around the last trade at `at`. Before the day's first print (or on a
        closed day) it sits around the latest close; it is empty where no price exists (before
        listing, after delisting)."""
        d = at.date()
        trade = self.last_trade(code, at)
        bar = self.daily_bar(code, d)
        if trade is not None and bar is not None:
            ref, side, base, volume = trade.price, trade.side, bar.prev_close, bar.volume
        elif bar is not None:
            ref, side, base, volume = bar.prev_close, None, bar.prev_close, bar.volume
        else:
            prev = self.last_close_before(code, d)
            if prev is None or not self.is_listed(code, d):
                return Book([], [])
            ref, side, base, volume = prev.close, None, prev.close, prev.volume
        lower, upper = price_band(base)
        seconds = at.hour * 3600 + at.minute * 60 + at.second
        rng = paths.rng_for(self.seed, _STREAM_BOOK, code, d.toordinal(), seconds)
        asks, bids = intraday.book_levels(rng, ref, side, lower, upper, max(volume // 400, 1))
        return Book(asks, bids)

    # ----------------------------------------------------------------- indices

    def _index_path(self, index_code: str) -> paths.LevelPath:
        if index_code not in INDEX_PROFILES:
            raise KeyError(f"unknown index code {index_code!r}; known: {sorted(INDEX_PROFILES)}")
        level, loading, own, volume, value = INDEX_PROFILES[index_code]
        return self._index_paths.get(
            index_code,
            lambda: paths.index_path(
                self.seed, index_code, self._market, level, loading, own, volume, value
            ),
        )

    def index_bars(self, index_code: str, start: date, end: date, period: str) -> list[IndexBar]:
        """Index D/W/M/Y bars (grouping as `period_bars`), values with 2 decimals."""
        p = self._index_path(index_code)
        lo_d = period_start(start, period)
        i = bisect.bisect_left(self._days, lo_d)
        j = bisect.bisect_right(self._days, end)
        days = self._days[i:j]
        cols = [a[i:j] for a in (p.open, p.high, p.low, p.close, p.volume, p.value)]
        return [
            IndexBar(dt, None, o / 100, h / 100, lo / 100, c / 100, v, val)
            for dt, o, h, lo, c, v, val in _aggregate(days, *cols, period=period)
            if dt >= start
        ]

    def index_minute_bars(self, index_code: str, d: date) -> list[IndexBar]:
        """Index minute bars on the stock-minute layout (incl. the closing bar); they aggregate
        exactly to the index daily bar."""
        p = self._index_path(index_code)
        i = self._day_index.get(d)
        if i is None:
            return []
        open_at, close_at = self.calendar.session(d)
        n_minutes = int((close_at - open_at).total_seconds() // 60) - intraday.CLOSING_CALL_MINUTES
        rng = paths.rng_for(self.seed, _STREAM_INDEX_MIN, index_code, d.toordinal())
        bars = _bridge_day(rng, p, i, n_minutes + 1)
        times = [(open_at + timedelta(minutes=m)).time() for m in range(n_minutes)] + [
            close_at.time()
        ]
        return [
            IndexBar(d, times[m], o / 100, h / 100, lo / 100, c / 100, v, val)
            for m, o, h, lo, c, v, val in bars.rows()
        ]

    # ----------------------------------------------------------------- overseas

    def _us(self, exchange: str, symbol: str) -> tuple[paths.LevelPath, int]:
        key = (exchange, symbol)
        if key not in self._us_profiles:
            raise KeyError(f"unknown overseas instrument {exchange}/{symbol}; see Market.overseas")
        return self._us_paths.get(
            key,
            lambda: paths.us_path(
                self.seed,
                f"{exchange}:{symbol}",
                self._us_profiles[key],
                self._us_days,
                self._us_market,
            ),
        )

    def overseas_bars(
        self, exchange: str, symbol: str, start: date, end: date, period: str, adjusted: bool
    ) -> list[OverseasBar]:
        """US daily bars (US calendar) and their W/M/Y aggregates, 4 decimals. `adjusted`
        divides prices before the split by the ratio and multiplies volume."""
        path, pre_split = self._us(exchange, symbol)
        lo_d = period_start(start, period)
        i = bisect.bisect_left(self._us_days, lo_d)
        j = bisect.bisect_right(self._us_days, end)
        o, h, lo, c, v, val = (
            a[i:j].copy()
            for a in (path.open, path.high, path.low, path.close, path.volume, path.value)
        )
        split = self._us_profiles[(exchange, symbol)].split
        if adjusted and split is not None:
            cut = max(min(pre_split - i, j - i), 0)
            for arr in (o, h, lo, c):
                arr[:cut] = np.round(arr[:cut] / split.ratio).astype(np.int64)
            v[:cut] *= split.ratio
        return [
            OverseasBar(dt, None, None, _usd(o_), _usd(h_), _usd(l_), _usd(c_), v_, val_ / _US_UNIT)
            for dt, o_, h_, l_, c_, v_, val_ in _aggregate(
                self._us_days[i:j], o, h, lo, c, v, val, period=period
            )
            if dt >= start
        ]

    def overseas_split(self, exchange: str, symbol: str) -> Split | None:
        return self._us_profiles[(exchange, symbol)].split

    def overseas_close_before(
        self, exchange: str, symbol: str, d: date, adjusted: bool = False
    ) -> float:
        """The close of the last US session before `d`: what a bar starting on `d` changes from
        (before the first session of the window, the path's base price). `adjusted` as in
        `overseas_bars`."""
        path, pre_split = self._us(exchange, symbol)
        i = bisect.bisect_left(self._us_days, d) - 1
        units = int(path.close[i]) if i >= 0 else int(path.prev[0])
        split = self._us_profiles[(exchange, symbol)].split
        if adjusted and split is not None and max(i, 0) < pre_split:
            units = int(np.round(units / split.ratio))  # the same rounding as overseas_bars
        return _usd(units)

    def overseas_minute_bars(
        self, exchange: str, symbol: str, local_day: date
    ) -> list[OverseasBar]:
        """Raw minute bars 09:30-16:00 New York (13:00 on early-close days), bar start times,
        `kst` filled; they aggregate exactly to the raw daily bar (OHLC, volume, value)."""
        path, _ = self._us(exchange, symbol)
        i = self._us_day_index.get(local_day)
        if i is None:
            return []
        open_at, close_at = self.us_calendar.session(local_day)
        n = int((close_at - open_at).total_seconds() // 60)
        rng = paths.rng_for(
            self.seed, _STREAM_US_MIN, f"{exchange}:{symbol}", local_day.toordinal()
        )
        out = []
        for m, o, h, lo, c, v, val in _bridge_day(rng, path, i, n, grid=100).rows():
            start = open_at + timedelta(minutes=m)
            kst = start.astimezone(KST).replace(tzinfo=None)
            out.append(
                OverseasBar(
                    local_day,
                    start.time(),
                    kst,
                    _usd(o),
                    _usd(h),
                    _usd(lo),
                    _usd(c),
                    v,
                    val / _US_UNIT,
                )
            )
        return out

    def overseas_book(
        self, exchange: str, symbol: str, last: float, at: datetime
    ) -> list[tuple[float, int, float, int]]:
        """A 10-level US book (bid, bid size, ask, size), best first, one cent apart around `last`
        (bid 1 at it, ask 1 a cent above, as dailyprice's pbid/pask); sizes are deterministic per
        symbol and second `at`."""
        stamp = int(at.timestamp())
        rng = paths.rng_for(self.seed, _STREAM_US_BOOK, f"{exchange}:{symbol}", stamp)
        sizes = rng.integers(1, 40, size=(10, 2)) * 100
        return [
            (
                round(last - 0.01 * i, 2),
                int(sizes[i, 0]),
                round(last + 0.01 * (i + 1), 2),
                int(sizes[i, 1]),
            )
            for i in range(10)
        ]

    def overseas_index_bars(self, code: str, start: date, end: date, period: str) -> list[IndexBar]:
        """An overseas index's D/W/M/Y bars on the US calendar (grouping as `period_bars`),
        values with 2 decimals, driven by the US market factor."""
        if code not in OVERSEAS_INDICES:
            raise KeyError(f"unknown overseas index {code!r}; see Market.overseas_indices")
        _, level, loading, own, volume = OVERSEAS_INDICES[code]
        p = self._index_paths.get(
            code,
            lambda: paths.index_path(
                self.seed, code, self._us_market, level, loading, own, volume, 0
            ),
        )
        i = bisect.bisect_left(self._us_days, period_start(start, period))
        j = bisect.bisect_right(self._us_days, end)
        cols = [a[i:j] for a in (p.open, p.high, p.low, p.close, p.volume, p.value)]
        return [
            IndexBar(dt, None, o / 100, h / 100, lo / 100, c / 100, v, val)
            for dt, o, h, lo, c, v, val in _aggregate(self._us_days[i:j], *cols, period=period)
            if dt >= start
        ]


def _bridge_day(
    rng: np.random.Generator, path: paths.LevelPath, i: int, n_bars: int, grid: int = 1
) -> intraday.Bars:
    """Minute bars for day `i` of an index or US path that aggregate exactly to its daily bar."""
    return intraday.bridge_bars(
        rng,
        int(path.open[i]),
        int(path.high[i]),
        int(path.low[i]),
        int(path.close[i]),
        int(path.volume[i]),
        int(path.value[i]),
        n_bars,
        grid=grid,
    )


def _clock(seconds: int) -> time:
    return time(seconds // 3600, seconds // 60 % 60, seconds % 60)


def _seconds(t: time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def _usd(units: int) -> float:
    return round(units / _US_UNIT, 4)


def period_start(d: date, period: str) -> date:
    """First calendar day of the W (ISO week), M or Y period containing `d`."""
    if period == "W":
        return d - timedelta(days=d.weekday())
    if period == "M":
        return d.replace(day=1)
    if period == "Y":
        return d.replace(month=1, day=1)
    if period == "D":
        return d
    raise ValueError(f"period must be one of {PERIODS}, not {period!r}")


def _period_key(d: date, period: str) -> tuple[int, int]:
    if period == "W":
        iso = d.isocalendar()
        return iso.year, iso.week
    if period == "M":
        return d.year, d.month
    if period == "Y":
        return d.year, 0
    return d.toordinal(), 0


def _group_by_period(days: list[date], period: str) -> list[list[int]]:
    """Consecutive index groups of `days` that share a period."""
    groups: list[list[int]] = []
    last: tuple[int, int] | None = None
    for i, d in enumerate(days):
        key = _period_key(d, period)
        if key != last:
            groups.append([])
            last = key
        groups[-1].append(i)
    return groups


def _aggregate(
    days: list[date],
    o: np.ndarray,
    h: np.ndarray,
    lo: np.ndarray,
    c: np.ndarray,
    v: np.ndarray,
    val: np.ndarray,
    *,
    period: str,
) -> list[tuple[date, int, int, int, int, int, int]]:
    """(label date, open, high, low, close, volume, value) per period, as Python ints."""
    if period not in PERIODS:
        raise ValueError(f"period must be one of {PERIODS}, not {period!r}")
    out = []
    for g in _group_by_period(days, period):
        a, b = g[0], g[-1] + 1
        out.append(
            (
                days[b - 1],
                int(o[a]),
                int(h[a:b].max()),
                int(lo[a:b].min()),
                int(c[b - 1]),
                int(v[a:b].sum()),
                int(val[a:b].sum()),
            )
        )
    return out
