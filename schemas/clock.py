"""The market's "now": one clock object, owned by the composition root and passed down.

`SEOUL` is the zone's name (for polars dtypes and SQL), `KST` the `ZoneInfo` (for datetimes).
Code that needs the current time takes a `Clock` and calls `clock.now()` / `clock.today()`; only the
composition root decides which clock that is: the wall clock against KIS, the simulator's market
clock against the embedded simulator, a fixed or stepped clock in tests. Jobs and the snapshots they
produce are stamped from the same clock, so a scenario played on the simulator's clock is consistent.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

SEOUL = "Asia/Seoul"
KST = ZoneInfo(SEOUL)


class Clock(Protocol):
    def now(self) -> datetime:
        """The current moment, timezone-aware (KST)."""
        ...

    def today(self) -> date:
        """The current date in Seoul."""
        ...


class SystemClock:
    """The wall clock, in KST."""

    def now(self) -> datetime:
        return datetime.now(KST)

    def today(self) -> date:
        return self.now().date()

    def __repr__(self) -> str:
        return "SystemClock()"


class FuncClock:
    """A clock read from a function (the simulator's market clock, a test's stepped time).

    Naive datetimes from the function are taken as KST wall time (the simulator's convention).
    """

    def __init__(self, now: Callable[[], datetime], name: str = "func") -> None:
        self._now = now
        self._name = name

    def now(self) -> datetime:
        moment = self._now()
        return moment.replace(tzinfo=KST) if moment.tzinfo is None else moment.astimezone(KST)

    def today(self) -> date:
        return self.now().date()

    def __repr__(self) -> str:
        return f"FuncClock({self._name})"


class FixedClock(FuncClock):
    """A clock that stands still at `moment` (tests, `--now` scenarios on a stopped market)."""

    def __init__(self, moment: datetime) -> None:
        super().__init__(lambda: moment, name=moment.isoformat())


SYSTEM_CLOCK = SystemClock()
