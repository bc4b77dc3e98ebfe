"""The market as seen at sim-now: full days before sim-today, today's data only up to now.

Wraps `simulator.market.Market` (pure, deterministic) with the cut-off the server applies. Today's
minute bars are the completed minutes plus the current minute built from ticks up to now, so the
minute bars, the daily bar and the websocket ticks served at one moment always agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from simulator.calendar import KST
from simulator.market import DailyBar, IndexBar, MinuteBar
from simulator.ticks import price_band

if TYPE_CHECKING:
    from simulator.market import Instrument, Market


@dataclass(frozen=True)
class Snapshot:
    """One instrument's current-day state (or the last completed day when the market is shut)."""

    code: str
    name: str
    day: date
    price: int
    open: int
    high: int
    low: int
    volume: int
    value: int
    prev_close: int
    traded: bool  # False before the first trade of the day

    @property
    def change(self) -> int:
        return self.price - self.prev_close

    @property
    def upper(self) -> int:
        return price_band(self.prev_close)[1]

    @property
    def lower(self) -> int:
        return price_band(self.prev_close)[0]

    def as_daily_bar(self) -> DailyBar:
        """The day so far as a daily bar (raw prices)."""
        return DailyBar(
            self.day,
            self.open,
            self.high,
            self.low,
            self.price,
            self.volume,
            self.value,
            self.prev_close,
        )


class MarketView:
    def __init__(self, market: Market) -> None:
        self.market = market
        self.calendar = market.calendar

    # -- which day is "current" ---------------------------------------------------------------
    def session_day(self, now: datetime) -> date:
        """Today if it is a trading day and the session has opened, else the last trading day."""
        d = now.date()
        if self.calendar.is_trading_day(d):
            open_, _ = self.calendar.session(d)
            if now >= _naive(open_):
                return d
        return self.calendar.previous_trading_day(d)

    def is_partial(self, d: date, now: datetime) -> bool:
        """Whether `d` is today's session still under way (a closed day never is)."""
        return (
            d == now.date()
            and self.calendar.is_trading_day(d)
            and now < _naive(self.calendar.session(d)[1])
        )

    # -- instruments ----------------------------------------------------------------------------
    def instrument(self, code: str, now: datetime) -> Instrument | None:
        inst = self.market.instruments.get(code.strip())
        if inst is None or not self.market.is_listed(inst.code, self.session_day(now)):
            return None
        return inst

    # -- minute bars ----------------------------------------------------------------------------
    def minute_bars(self, code: str, d: date, now: datetime) -> list[MinuteBar]:
        """Bars of day d, cut at now when d is today (current minute partial, from ticks)."""
        if d > now.date():
            return []
        bars = self.market.minute_bars(code, d)
        if d < now.date():
            return bars
        minute_start = now.replace(second=0, microsecond=0).time()
        done = [b for b in bars if b.time < minute_start]
        partial = self._partial_minute(code, d, minute_start, now.time())
        return done + ([partial] if partial is not None else [])

    def _partial_minute(self, code: str, d: date, start: time, until: time) -> MinuteBar | None:
        summary = self.market.window_ohlcv(code, d, start, until)
        return MinuteBar(d, start, *summary) if summary is not None else None

    # -- daily bars -----------------------------------------------------------------------------
    def adjusts(self, code: str, adjusted: bool, now: datetime) -> bool:
        """Whether an adjusted series asked for at `now` applies the instrument's split: only once
        it is effective (its date on or before sim-today). Adjusting for a split still ahead would
        show a price history nobody could have seen that day."""
        split = self.market.instruments[code].split
        return adjusted and split is not None and split.date <= now.date()

    def day_bar(self, code: str, d: date, now: datetime, adjusted: bool = False) -> DailyBar | None:
        if d > now.date():
            return None
        if d < now.date() or not self.is_partial(d, now):
            return self.market.daily_bar(code, d, self.adjusts(code, adjusted, now))
        # Ticks have second resolution, so the prints up to now are exactly the completed minute
        # bars plus the current partial minute: the same bar minute_bars() aggregates to.
        return self.market.intraday_bar(code, d, now.time())

    def snapshot(self, code: str, now: datetime) -> Snapshot | None:
        inst = self.market.instruments.get(code)
        if inst is None:
            return None
        d = self.session_day(now)
        bar = self.day_bar(code, d, now)
        if bar is not None:
            return Snapshot(
                code,
                inst.name,
                d,
                bar.close,
                bar.open,
                bar.high,
                bar.low,
                bar.volume,
                bar.value,
                bar.prev_close,
                True,
            )
        full = self.market.daily_bar(code, d, False)
        if full is None:
            return None
        # Session open but no trade yet: the price stays at the previous close.
        return Snapshot(code, inst.name, d, full.prev_close, 0, 0, 0, 0, 0, full.prev_close, False)

    def period_bars(
        self, code: str, start: date, end: date, period: str, adjusted: bool, now: datetime
    ) -> list[DailyBar]:
        """Ascending bars; today's (partial) bar merged into its week/month/year. `adjusted` as
        of sim-today (`adjusts`)."""
        adjusted = self.adjusts(code, adjusted, now)
        today = now.date()
        end = min(end, today)
        if start > end:
            return []
        if end < today or not self.is_partial(today, now):
            return self.market.period_bars(code, start, end, period, adjusted)
        bars = (
            self.market.period_bars(code, start, end - timedelta(days=1), period, adjusted)
            if end > start
            else []
        )
        part = self.day_bar(code, today, now)
        if part is None:
            return bars
        if bars and same_period(bars[-1].date, today, period):
            return [*bars[:-1], merge(bars[-1], part)]
        return [*bars, part]

    # -- index ----------------------------------------------------------------------------------
    def index_minute_bars(self, index_code: str, d: date, now: datetime) -> list[IndexBar]:
        if d > now.date():
            return []
        bars = self.market.index_minute_bars(index_code, d)
        if d < now.date():
            return bars
        cut = now.time()
        return [b for b in bars if b.time is not None and b.time <= cut]

    def index_period_bars(
        self, index_code: str, start: date, end: date, period: str, now: datetime
    ) -> list[IndexBar]:
        today = now.date()
        end = min(end, today)
        if start > end:
            return []
        if end < today or not self.is_partial(today, now):
            return self.market.index_bars(index_code, start, end, period)
        bars = (
            self.market.index_bars(index_code, start, end - timedelta(days=1), period)
            if end > start
            else []
        )
        minutes = self.index_minute_bars(index_code, today, now)
        if not minutes:
            return bars
        part = aggregate_index(minutes, today, None)
        if bars and same_period(bars[-1].date, today, period):
            return [*bars[:-1], aggregate_index([bars[-1], part], today, None)]
        return [*bars, part]


def _naive(dt: datetime) -> datetime:
    return dt.astimezone(KST).replace(tzinfo=None) if dt.tzinfo else dt


def same_period(a: date, b: date, period: str) -> bool:
    if period == "D":
        return a == b
    if period == "W":
        return a.isocalendar()[:2] == b.isocalendar()[:2]
    if period == "M":
        return (a.year, a.month) == (b.year, b.month)
    return a.year == b.year


def merge(older: DailyBar, newer: DailyBar) -> DailyBar:
    return DailyBar(
        newer.date,
        older.open,
        max(older.high, newer.high),
        min(older.low, newer.low),
        newer.close,
        older.volume + newer.volume,
        older.value + newer.value,
        older.prev_close,
    )


def aggregate_index(bars: list[IndexBar], d: date, t: time | None) -> IndexBar:
    return IndexBar(
        d,
        t,
        bars[0].open,
        max(b.high for b in bars),
        min(b.low for b in bars),
        bars[-1].close,
        sum(b.volume for b in bars),
        sum(b.value for b in bars),
    )
