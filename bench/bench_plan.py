"""Full-market plan: the calls a whole-KRX backfill takes, ours against the minimum, and the hours.

    python -m bench.bench_plan            (~20 s on 2 cores)

The real KRX universe size (2,700 listed stocks, generated codes), 10 years of adjusted + raw
daily bars and one year of minute bars, planned on an empty lake by the code the flows run:
`warehouse.planning.plan` finds each series' missing ranges (all of them: the lake is empty), the
minute flow splits each symbol's ranges into fetches (`pipelines.minutes.fetch_ranges`), the
connector's plan builders (`period_bars_plan`, `past_minutes_plan`) turn each into a `FetchPlan`, and each plan's own pager is driven against a model of KIS's answers (full pages
of the trading days' rows, newest first, as kis-api.md §5.3/§5.5 and the simulator describe;
bench_backfill and bench_minutes check the same pagers against the simulator itself). The
minimum is ceil(rows / rows per call) per series: 100 daily bars, 120 minute bars. No KIS or
simulator call is made. Printed: both counts and their ratio (target 1.00), the hours at 1, 2,
4 and 8 app keys at the real (20/s) and paper (2/s) budgets, the planner's time and the
process's peak RSS (target: seconds, <= 500 MB).

Trading days and sessions come from the simulator's KRX calendar (holidays, 10:00 opens), the
same days a real first run learns from chk-holiday; every stock is taken as listed throughout.
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from connectors.kis.market_data.domestic import (
    PAST_MINUTE_PAGE,
    PERIOD_PAGE,
    past_minutes_plan,
    period_bars_plan,
)
from connectors.kis.windows import FetchPlan
from pipelines.first_run import estimate
from pipelines.minutes import fetch_ranges
from schemas import HOLIDAYS, MINUTE_BARS, PERIOD_BARS
from schemas.clock import KST
from simulator.calendar import KrxCalendar, weekday_code
from warehouse.lake import Lake
from warehouse.planning import plan, trading_days_or_weekdays

SYMBOLS = 2_700  # KOSPI + KOSDAQ listed stocks
DAILY_YEARS = 10
MINUTE_YEARS = 1  # KIS keeps about a year of minute bars
END = date(2026, 11, 27)  # the last settled session of the plan (a Friday)
KEYS = (1, 2, 4, 8)
BUDGETS = {"real": 20.0, "paper": 2.0}
CLOSING_AUCTION_GAP = timedelta(minutes=10)  # no bars 15:20-15:29: the closing auction's bar


def symbols(n: int) -> list[str]:
    return [f"{900001 + i:06d}" for i in range(n)]


def minute_times(calendar: KrxCalendar, day: date) -> list[datetime]:
    """The one-minute bars KRX stamps on `day`: each minute of continuous trading, then the
    closing auction's bar at the close (the simulator's convention)."""
    open_, close = calendar.session(day)
    minutes = int((close - CLOSING_AUCTION_GAP - open_).total_seconds() // 60)
    stamps = [open_ + timedelta(minutes=m) for m in range(minutes)] + [close]
    return [s.replace(tzinfo=KST) if s.tzinfo is None else s.astimezone(KST) for s in stamps]


class ModelKis:
    """KIS's answers to the two chart APIs, rows only: dates (period chart) or bar times (the
    past-days minute chart, which continues into earlier days)."""

    def __init__(self, days: Sequence[date], bars: Sequence[datetime]) -> None:
        self.days = sorted(days)
        self.bars = sorted(bars)

    def period_page(self, params: Mapping[str, str]) -> pl.DataFrame:
        start, end = _ymd(params["FID_INPUT_DATE_1"]), _ymd(params["FID_INPUT_DATE_2"])
        rows = [d for d in reversed(self.days) if start <= d <= end][:PERIOD_PAGE]
        return pl.DataFrame({"date": rows}, schema={"date": pl.Date})

    def minute_page(self, params: Mapping[str, str]) -> pl.DataFrame:
        until = datetime.strptime(
            params["FID_INPUT_DATE_1"] + params["FID_INPUT_HOUR_1"], "%Y%m%d%H%M%S"
        ).replace(tzinfo=KST)
        rows = [b for b in reversed(self.bars) if b <= until][:PAST_MINUTE_PAGE]
        return pl.DataFrame(
            {"ts": rows, "date": [b.date() for b in rows]},
            schema={"ts": pl.Datetime("us", "Asia/Seoul"), "date": pl.Date},
        )


def _ymd(text: str) -> date:
    return datetime.strptime(text, "%Y%m%d").date()


def dry_run(fetch: FetchPlan[Any], answer: Callable[[Mapping[str, str]], pl.DataFrame]) -> int:
    """The calls `fetch`'s own pager makes when KIS answers with `answer` (its parser swapped for
    the model's rows: the pager decides from the rows, not from the wire format)."""
    pager = fetch.pager()
    pager._parse = lambda body: body["frame"]  # type: ignore[attr-defined]
    calls = 0
    while (request := pager.request()) is not None:
        calls += 1
        pager.feed({"frame": answer(request.params)})
    return calls


def planned_calls(
    spans: Sequence[Sequence[tuple[date, date]]],
    build: Callable[[date, date], FetchPlan[Any]],
    answer: Callable[[Mapping[str, str]], pl.DataFrame],
) -> int:
    """Calls of every planned range; ranges alike cost alike, so each distinct one runs once."""
    cost: dict[tuple[date, date], int] = {}
    total = 0
    for series in spans:
        for span in series:
            if span not in cost:
                cost[span] = dry_run(build(*span), answer)
            total += cost[span]
    return total


def store_calendar(lake: Lake, calendar: KrxCalendar, start: date, end: date) -> None:
    """The holidays table as a first run's holidays part leaves it (chk-holiday's flags)."""
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    flags = [calendar.day_flags(d) for d in days]
    lake.upsert(
        HOLIDAYS,
        pl.DataFrame(
            {
                "date": days,
                "weekday_code": [weekday_code(d) for d in days],
                "business_day": [f.bzdy_yn for f in flags],
                "transaction_day": [f.tr_day_yn for f in flags],
                "market_open": [f.opnd_yn for f in flags],
                "settlement_day": [f.sttl_day_yn for f in flags],
            }
        ),
    )


def peak_rss_mb() -> float:
    if sys.platform == "win32":
        import psutil

        return float(psutil.Process().memory_info().peak_wset) / 2**20
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def main() -> None:
    calendar = KrxCalendar()
    daily_start = END.replace(year=END.year - DAILY_YEARS) + timedelta(days=1)
    minute_start = END.replace(year=END.year - MINUTE_YEARS) + timedelta(days=1)
    names = symbols(SYMBOLS)
    with (
        tempfile.TemporaryDirectory(prefix="kisdb-plan-") as tmp,
        Lake.open(Path(tmp), source="kis") as lake,
    ):
        store_calendar(lake, calendar, daily_start, END)
        started = time.perf_counter()
        days = trading_days_or_weekdays(lake, daily_start, END)
        daily_keys = [
            {"symbol": s, "period": "D", "adjusted": adj} for s in names for adj in (True, False)
        ]
        daily = plan(lake, PERIOD_BARS, daily_keys, daily_start, END, days, END)
        minute_keys = [{"symbol": s} for s in names]
        minutes = plan(lake, MINUTE_BARS, minute_keys, minute_start, END, days, END)
        planning = time.perf_counter() - started

    trading = calendar.trading_days(daily_start, END)
    minute_days = calendar.trading_days(minute_start, END)
    bars = [t for d in minute_days for t in minute_times(calendar, d)]
    model = ModelKis(trading, bars)
    started = time.perf_counter()
    rows_of = {key["adjusted"]: key for key in daily_keys[:2]}
    ours_daily = sum(
        planned_calls(
            [s for k, s in zip(daily_keys, daily, strict=True) if k["adjusted"] == adj],
            lambda lo, hi, adj=adj: period_bars_plan(names[0], lo, hi, "D", adj),
            model.period_page,
        )
        for adj in rows_of
    )
    # The minute flow's own fetches of each symbol's ranges, the morning after END.
    morning = END + timedelta(days=1)
    ours_minutes = planned_calls(
        [fetch_ranges(spans, days, morning) for spans in minutes],
        lambda lo, hi: past_minutes_plan(names[0], lo, hi),
        model.minute_page,
    )
    costing = time.perf_counter() - started

    least_daily = len(daily_keys) * math.ceil(len(trading) / PERIOD_PAGE)
    least_minutes = len(minute_keys) * math.ceil(len(bars) / PAST_MINUTE_PAGE)
    rows = [
        ("daily bars (adjusted + raw)", least_daily, ours_daily, True),
        ("minute bars (FHKST03010230, real only)", least_minutes, ours_minutes, False),
    ]
    total_least = least_daily + least_minutes
    total_ours = ours_daily + ours_minutes
    print(
        f"bench_plan: {SYMBOLS:,} stocks; daily bars {daily_start}..{END} "
        f"({len(trading):,} sessions), minute bars {minute_start}..{END} "
        f"({len(minute_days)} sessions, {len(bars):,} bars a stock)"
    )
    header = "".join(f"{k} key{'s' if k > 1 else ''}".rjust(10) for k in KEYS)
    print(f"  {'part':<40}{'minimal':>12}{'planned':>12}{'ratio':>7}   hours at 20/s:{header}")
    for what, least, ours, _ in rows:
        hours = "".join(f"{ours / (20.0 * k) / 3600:10.1f}" for k in KEYS)
        print(f"  {what:<40}{least:12,}{ours:12,}{ours / least:7.2f}   {'':14}{hours}")
    hours = "".join(f"{total_ours / (20.0 * k) / 3600:10.1f}" for k in KEYS)
    print(
        f"  {'all':<40}{total_least:12,}{total_ours:12,}{total_ours / total_least:7.2f}"
        f"   {'':14}{hours}"
    )
    paper = "".join(f"{ours_daily / (BUDGETS['paper'] * k) / 3600:10.1f}" for k in KEYS)
    print(f"  paper (2/s; daily bars only, paper has no minute history): hours {paper}")
    print(f"  planned calls / minimal calls = {total_ours / total_least:.2f}  (target 1.00)")
    # What `kisdb update` prints before a first run: arithmetic, weekdays for sessions.
    guess = estimate(SYMBOLS, "bench", daily_start, END, BUDGETS["real"]).calls["bars"]
    print(
        f"  first-run estimate of the daily bars (weekdays for sessions, the calendar not fetched "
        f"yet): {guess:,} = {guess / least_daily:.2f} x minimal"
    )
    print(
        f"  planner: {planning:.1f} s for {len(daily_keys) + len(minute_keys):,} series "
        f"(plan on the lake), {costing:.1f} s to cost the ranges; "
        f"peak RSS {peak_rss_mb():.0f} MB (target <= 500)"
    )
    print("  hours are at the full budget; the limiter uses 97 % of it (KIS_RATE_UTILISATION)")


if __name__ == "__main__":
    main()
