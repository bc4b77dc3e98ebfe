"""Minute-bar history: calls the minute-bar flow makes for a year of minutes ÷ the minimum.

    python -m bench.bench_minutes [--symbols 50] [--days 20]      (~2-5 min on 2 cores)

Runs `ingest_minute_bars` (the flow of `kisdb ingest minute-bars` and of the nightly deployment)
against the simulator (rate limit off) for SYMBOLS stocks over the last DAYS sessions before
the simulator's today, then once more with one more session settled (the nightly run). A year
is 244 sessions (`--days 244`, ~39,000 calls for 50 symbols: about an hour, the simulator making
each day's ticks); the default scales it down to 20 and says so. The ratio does not depend on
the length: a range costs ceil(bars / 120) calls however many days it spans. Counted at the simulator: past-days minute
chart calls (FHKST03010230, 120 bars a call, pages running on across days), against the
minimum ceil(bars stored / 120) per symbol, bars as the simulator's market holds them.
Targets: backfill ratio 1.00; the nightly run fetches the new day only.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from connectors.kis.market_data.domestic import PAST_MINUTE_CHART, PAST_MINUTE_PAGE
from pipelines.holidays_flow import ingest_holidays
from pipelines.minutes import ingest_minute_bars
from simulator.market import Market
from simulator.server import SimConfig, start_simulator
from warehouse.lake import Lake

SIM_NOW = datetime(2026, 11, 24, 8, 0)  # a Tuesday before the open: yesterday is settled
YEAR_SESSIONS = 244
DAYS = 20  # the default run, scaled down from a year (see the docstring)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=50)
    parser.add_argument("--days", type=int, default=DAYS, help="sessions of history")
    args = parser.parse_args()
    market = Market()
    today = SIM_NOW.date()
    listed = sorted(c for c in market.instruments if market.is_listed(c, today))
    # The real codes first, then generated ones: every symbol listed over the whole year.
    symbols = [c for c in listed if market.instrument(c).listed <= today - timedelta(days=400)]
    if len(symbols) < args.symbols:
        market = Market(generated_symbols=args.symbols - len(symbols))
        symbols = sorted(
            c
            for c in market.instruments
            if market.is_listed(c, today) and market.instrument(c).listed <= today - timedelta(400)
        )
    symbols = symbols[: args.symbols]
    sessions = market.calendar.trading_days(today - timedelta(days=400), today - timedelta(1))
    first, last = sessions[-args.days], sessions[-1]

    with (
        tempfile.TemporaryDirectory(prefix="kisdb-minutes-") as tmp,
        start_simulator(
            SimConfig(
                now=SIM_NOW,
                rate_limit=0,
                token_issue_interval=0,
                generated_symbols=len(market.instruments) - len(Market().instruments),
            )
        ) as sim,
    ):
        home = Path(tmp)
        os.environ.update(
            {"KIS_ENV": "sim", "KIS_BASE_URL": sim.base_url, "KIS_WS_URL": sim.ws_url}
        )
        os.environ["KISDB_HOME"] = str(home)
        ingest_holidays(start=str(first - timedelta(days=7)))
        tr = PAST_MINUTE_CHART.tr_real
        before = sim.stats.by_tr_id[tr]
        started = time.perf_counter()
        ingest_minute_bars(symbols=symbols, start=str(first), end=str(last))
        elapsed = time.perf_counter() - started
        calls = sim.stats.by_tr_id[tr] - before
        with Lake.open(home, source="sim") as lake:
            per_symbol = dict(
                lake.con.execute(
                    "SELECT symbol, count(*) FROM lake.main.minute_bars GROUP BY 1"
                ).fetchall()
            )
        least = sum(math.ceil(n / PAST_MINUTE_PAGE) for n in per_symbol.values())
        truth = sum(len(market.minute_bars(symbols[0], d)) for d in sessions[-args.days :])
        # The nightly run: the simulator's clock moves to the next morning, one session later.
        sim.clock.advance(24 * 3600)
        nightly_day = market.calendar.next_trading_day(last)
        before = sim.stats.by_tr_id[tr]
        ingest_minute_bars(symbols=symbols, start=str(first), end=str(nightly_day))
        nightly = sim.stats.by_tr_id[tr] - before
        with Lake.open(home, source="sim") as lake:
            days_after = lake.con.execute(
                "SELECT count(DISTINCT date) FROM lake.main.minute_bars"
            ).fetchone()
        new_day = len(market.minute_bars(symbols[0], nightly_day))

    scale = "" if args.days == YEAR_SESSIONS else f" (scaled: {args.days} of {YEAR_SESSIONS})"
    print(
        f"bench_minutes: {len(symbols)} symbols, {first}..{last}, {args.days} sessions{scale}; "
        f"{sum(per_symbol.values()):,} bars stored ({truth:,} a symbol in the market)"
    )
    print(f"  backfill: {calls:,} calls, minimal {least:,}: calls / minimal = {calls / least:.2f}")
    print(f"  (goal 1.00; {calls / elapsed:.0f} calls/s, {elapsed:.0f} s, rate limit off)")
    print(
        f"  nightly run for {nightly_day}: {nightly} calls, minimal "
        f"{len(symbols) * math.ceil(new_day / PAST_MINUTE_PAGE)} (the new day only); "
        f"{days_after[0] if days_after else 0} days stored"
    )


if __name__ == "__main__":
    main()
