"""The simulator's clock: which KST moment the synthetic market is at.

Two modes:
- pinned (`SimConfig.now` given): sim time = now + wall elapsed x speed, straight through nights and
  holidays, so tests can stand before the open, after the close or on a holiday.
- session (default): the market is OPEN whenever the simulator runs. The start point is the wall
  clock (KST) if that lies inside today's regular session, else the open (09:00, or the late open)
  of the most recent KRX trading day <= today. Wall time elapsed x speed is then spent only inside
  regular sessions: at a session's close the clock continues at the next trading day's open. Days
  before sim-today are complete days; sim-today has data only up to sim-now.
"""

from __future__ import annotations

import threading
import time as _time
from datetime import date, datetime, timedelta
from typing import Protocol

from simulator.calendar import KST


class _Calendar(Protocol):
    def is_trading_day(self, d: date) -> bool: ...
    def session(self, d: date) -> tuple[datetime, datetime]: ...
    def previous_trading_day(self, d: date) -> date: ...
    def next_trading_day(self, d: date) -> date: ...


def wall_kst() -> datetime:
    """Current wall time in KST, naive (the simulator's convention)."""
    return datetime.now(KST).replace(tzinfo=None)


def _naive(dt: datetime) -> datetime:
    return dt.astimezone(KST).replace(tzinfo=None) if dt.tzinfo else dt


class SimClock:
    def __init__(
        self,
        calendar: _Calendar,
        *,
        pinned: datetime | None = None,
        speed: float = 1.0,
        wall_start: datetime | None = None,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.calendar = calendar
        self.pinned = _naive(pinned) if pinned is not None else None
        # (wall monotonic at the last rebase, sim seconds elapsed then, speed since): one tuple,
        # swapped whole, so a reader in another thread never sees half of a speed change.
        self._base = (_time.monotonic(), 0.0, float(speed))
        self._write_lock = threading.Lock()
        self.start = (
            self.pinned
            if self.pinned is not None
            else self._session_start(_naive(wall_start) if wall_start else wall_kst())
        )

    def _session(self, d: date) -> tuple[datetime, datetime]:
        open_, close = self.calendar.session(d)
        return _naive(open_), _naive(close)

    def _session_start(self, wall: datetime) -> datetime:
        day = wall.date()
        if self.calendar.is_trading_day(day):
            open_, close = self._session(day)
            if open_ <= wall <= close:
                return wall
            return open_
        return self._session(self.calendar.previous_trading_day(day))[0]

    @property
    def speed(self) -> float:
        return self._base[2]

    def elapsed(self) -> float:
        """Sim seconds since start."""
        mono_start, offset, speed = self._base
        return (_time.monotonic() - mono_start) * speed + offset

    def advance(self, seconds: float) -> None:
        """Jump the clock forward (tests); negative values are refused."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._write_lock:
            mono_start, offset, speed = self._base
            self._base = (mono_start, offset + seconds, speed)

    def set_speed(self, speed: float) -> None:
        """Run at `speed` sim seconds per wall second from now on; the time so far is kept, so
        the clock never jumps (e.g. a demo fast-forwarding the market while it records)."""
        if speed <= 0:
            raise ValueError("speed must be positive")
        with self._write_lock:
            now = _time.monotonic()
            mono_start, offset, old = self._base
            self._base = (now, (now - mono_start) * old + offset, float(speed))

    def now(self) -> datetime:
        elapsed = self.elapsed()
        if self.pinned is not None:
            return self.start + timedelta(seconds=elapsed)
        at = self.start
        while True:
            _, close = self._session(at.date())
            room = (close - at).total_seconds()
            if elapsed <= room:
                return at + timedelta(seconds=elapsed)
            elapsed -= room
            at = self._session(self.calendar.next_trading_day(at.date()))[0]

    def today(self) -> date:
        return self.now().date()

    def phase(self, at: datetime | None = None) -> str:
        """'open', 'pre' (a trading day before its open), or 'closed'."""
        at = at or self.now()
        if not self.calendar.is_trading_day(at.date()):
            return "closed"
        open_, close = self._session(at.date())
        if at < open_:
            return "pre"
        return "open" if at <= close else "closed"

    def session(self, d: date) -> tuple[datetime, datetime]:
        return self._session(d)
