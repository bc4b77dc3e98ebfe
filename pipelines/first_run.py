"""The plan of a first `update` on an empty lake: what it will fetch and how long that takes at the
account's request budget (real 20/s, paper 2/s), printed before it starts so a user on a paper
account learns that a whole-market backfill takes hours before spending them.

The estimate is pure arithmetic on the request sizes (kis-api.md §5.0): 100 daily bars a call,
120 minute bars a call (a symbol's days in one run of pages, as the minute flow fetches them),
24 calendar days a chk-holiday call; trading days are taken as weekdays (the calendar is not
fetched yet: about 5 % more sessions than KRX has).
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb

from pipelines.bars import DEFAULT_START
from pipelines.config import Config
from pipelines.ranges import parse_date
from pipelines.runtime import open_lake
from pipelines.universe import ALL, FIRST_RUN_SIZE, read_universe_file, stock_symbols
from schemas import FETCH_LEDGER
from warehouse import tables
from warehouse.lake import CATALOG, LakeError
from warehouse.planning import snapshot_symbols

ASK_ABOVE = timedelta(minutes=10)  # longer first runs ask for confirmation on a terminal
# KOSPI + KOSDAQ listed stocks, for a plan made before the stock master is downloaded.
MARKET_SIZE = 2_700
MINUTE_BARS_PER_DAY = 381  # 09:00..15:20 continuous trading, then the closing auction's bar
MINUTE_DAYS = 7  # update's default minute-bar window (calendar days)
RANKING_CALLS = 3
SERIES_PER_SYMBOL = 2  # adjusted and raw daily bars


@dataclass(frozen=True)
class FirstRunPlan:
    symbols: int
    universe: str  # where the symbols come from, in words
    start: date
    end: date
    calls: dict[str, int]  # per part
    rate: float  # requests per second the account may make

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    @property
    def duration(self) -> timedelta:
        return timedelta(seconds=math.ceil(self.total_calls / self.rate))

    @property
    def asks(self) -> bool:
        return self.duration > ASK_ABOVE

    def lines(self, width: int = 80) -> list[str]:
        """The plan as lines of at most `width` columns, values wrapped under their column."""
        parts = ", ".join(f"{name} {n:,}" for name, n in self.calls.items())
        rows = {
            "symbols": f"{self.symbols:,} from {self.universe}",
            "range": f"{self.start}..{self.end}: daily bars adjusted and raw, {MINUTE_DAYS} "
            "days of minute bars, 3 indices, holidays, a rankings snapshot",
            "calls": f"about {self.total_calls:,}: {parts}",
            "time": f"about {_hms(self.duration)} at {self.rate:g} requests/s",
        }
        out = ["First run on an empty lake:"]
        for label, value in rows.items():
            head = f"  {label:<10}"
            out += textwrap.wrap(
                value, width, initial_indent=head, subsequent_indent=" " * len(head)
            )
        return out


def _hms(span: timedelta) -> str:
    minutes, seconds = divmod(int(span.total_seconds()), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {seconds:02d} s"


def _weekdays(start: date, end: date) -> int:
    return sum((start + timedelta(days=i)).weekday() < 5 for i in range((end - start).days + 1))


def estimate(
    symbols: int, universe: str, start: date, end: date, rate: float, indices: int = 3
) -> FirstRunPlan:
    """The calls a first update makes for `symbols` stocks over [start, end] (pure)."""
    days = _weekdays(start, end)
    bar_pages = max(1, math.ceil(days / 100))
    minute_days = _weekdays(end - timedelta(days=MINUTE_DAYS), end)
    minute_pages = math.ceil(minute_days * MINUTE_BARS_PER_DAY / 120)
    calls = {
        "holidays": math.ceil(((end - start).days + 1) / 24),
        "bars": symbols * SERIES_PER_SYMBOL * bar_pages,
        "index-bars": indices * bar_pages,
        "minute-bars": symbols * minute_pages,
        "rankings": RANKING_CALLS,
    }
    return FirstRunPlan(symbols, universe, start, end, calls, rate)


def first_run_plan(
    config: Config,
    *,
    today: date,
    symbols: list[str] | None,
    universe: str | None,
    start: str | None,
) -> FirstRunPlan | None:
    """The plan when the configured lake holds nothing yet (None otherwise)."""
    try:
        lake = open_lake(config, read_only=True)
    except (LakeError, duckdb.Error):
        lake = None  # no lake yet: certainly a first run
    stored: list[str] = []
    if lake is not None:
        with lake:
            ledger = tables.qualified(FETCH_LEDGER.name, CATALOG)
            if lake.con.execute(f"SELECT count(*) FROM {ledger}").fetchone() != (0,):
                return None
            stored = snapshot_symbols(lake)
    if symbols:
        count, where = len(stock_symbols(symbols)), "--symbols"
    elif universe is None:
        count, where = FIRST_RUN_SIZE, "the market-cap ranking's top 30 of KOSPI and KOSDAQ"
    elif universe != ALL:
        count, where = len(read_universe_file(universe)), f"universe file {universe}"
    elif stored:
        count, where = len(stored), "the securities table (--universe all)"
    else:
        count, where = MARKET_SIZE, "the whole stock master (--universe all; an estimate)"
    first = parse_date(start or DEFAULT_START, name="start", today=today)
    assert first is not None
    return estimate(count, where, first, today, config.kis.rate_budget)
