"""Backfill benchmark: calls made / minimal calls for a multi-symbol, multi-year daily backfill.

    python -m bench.bench_backfill            (~30 s on 2 cores)

Runs `KisClient.period_bars` (daily, adjusted and raw) for every domestic symbol of the simulator
over 2016-2025 plus index bars and overseas bars, and compares the requests the simulator served
with the minimum: ceil(rows / rows-per-call) per range, where `rows` is what the simulator's own
market holds for the range (an independent count, not our result). Goal: 1.00. It also checks
that each fetched frame has exactly those rows.
"""

from __future__ import annotations

import math
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

from bench.common import unlimited_settings
from connectors.kis import KisClient
from connectors.kis.market_data.domestic import PERIOD_CHART, PERIOD_PAGE
from connectors.kis.market_data.index import INDEX_CHART, INDEX_PAGE
from connectors.kis.market_data.overseas import OVERSEAS_DAILY, OVERSEAS_DAILY_PAGE
from simulator.server import SimConfig, start_simulator

START, END = date(2016, 1, 1), date(2025, 12, 31)
SIM_NOW = datetime(2026, 11, 24, 10, 30)


def minimal(rows: int, per_call: int) -> int:
    return max(1, math.ceil(rows / per_call))


def main() -> None:
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="kisdb-bench-") as tmp,
        start_simulator(SimConfig(now=SIM_NOW, rate_limit=0)) as sim,
    ):
        settings = unlimited_settings(sim, Path(tmp))
        market = sim.market
        lines: list[tuple[str, int, int, int]] = []  # (what, rows, calls, minimal)
        with KisClient(settings) as client:
            client.holidays(date(2026, 1, 1), date(2026, 1, 2))  # token issued outside the count
            # Delisted names are refused by code (as KIS does): only names listed at sim-now.
            for code in sorted(
                c for c in market.instruments if market.is_listed(c, SIM_NOW.date())
            ):
                for adjusted in (True, False):
                    truth = len(market.period_bars(code, START, END, "D", adjusted))
                    before = sim.stats.by_tr_id[PERIOD_CHART.tr_real]
                    df = client.period_bars(code, START, END, "D", adjusted)
                    calls = sim.stats.by_tr_id[PERIOD_CHART.tr_real] - before
                    if df.height != truth or not df["date"].is_unique().all():
                        raise SystemExit(
                            f"{code}: {df.height} rows fetched, the simulator holds {truth}"
                        )
                    lines.append(
                        (
                            f"period_bars {code} adj={adjusted}",
                            truth,
                            calls,
                            minimal(truth, PERIOD_PAGE),
                        )
                    )
            for index_code in sorted(market.indices):
                truth = len(market.index_bars(index_code, START, END, "D"))
                before = sim.stats.by_tr_id[INDEX_CHART.tr_real]
                df = client.index_bars(index_code, START, END)
                calls = sim.stats.by_tr_id[INDEX_CHART.tr_real] - before
                assert df.height == truth, (index_code, df.height, truth)
                lines.append((f"index_bars {index_code}", truth, calls, minimal(truth, INDEX_PAGE)))
            for exchange, symbol in sorted(market.overseas):
                truth = len(market.overseas_bars(exchange, symbol, START, END, "D", True))
                before = sim.stats.by_tr_id[OVERSEAS_DAILY.tr_real]
                df = client.overseas_bars(exchange, symbol, START, END)
                calls = sim.stats.by_tr_id[OVERSEAS_DAILY.tr_real] - before
                assert df.height == truth, (exchange, symbol, df.height, truth)
                lines.append(
                    (
                        f"overseas_bars {exchange}:{symbol}",
                        truth,
                        calls,
                        minimal(truth, OVERSEAS_DAILY_PAGE),
                    )
                )
    elapsed = time.perf_counter() - started
    rows = sum(r for _, r, _, _ in lines)
    calls = sum(c for _, _, c, _ in lines)
    least = sum(m for _, _, _, m in lines)
    worst = sorted(lines, key=lambda x: x[2] - x[3], reverse=True)[:3]
    print(
        f"backfill {START}..{END}: {len(lines)} ranges, {rows:,} rows, {calls} calls, minimal {least}"
    )
    print(f"calls made / minimal calls = {calls / least:.3f}   (goal 1.00)")
    for what, r, c, m in worst:
        if c > m:
            print(f"  over the minimum: {what}: {c} calls for {r} rows (minimal {m})")
    print(f"{rows / elapsed:,.0f} rows/s end to end over loopback ({elapsed:.1f} s)")


if __name__ == "__main__":
    main()
