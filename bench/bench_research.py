"""Research-dataset backfills: calls made / minimal calls per dataset (issue 15).

    python -m bench.bench_research            (~1 min on 2 cores)

For a few stocks listed throughout 2024-2025, fetches each research dataset over the range and
compares the requests the simulator served with ceil(rows / rows per answer), where rows is what the
simulator's own market holds (trading days; for credit balances, the trades settling in the window
asked). Financial statements: six calls a stock (three statements, annual and quarterly); the
last 30 days of investor flows (FHKST01010900, a paper account's source) and stock info: one call
a stock. Goal 1.00.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl

from bench.common import unlimited_settings
from connectors.kis import KisClient
from connectors.kis.endpoints import Endpoint
from connectors.kis.market_data.credit import DAILY_CREDIT_BALANCE, SETTLEMENT_LAG
from connectors.kis.market_data.financials import STATEMENT_ENDPOINTS
from connectors.kis.market_data.investors import (
    INQUIRE_INVESTOR,
    INVESTOR_TRADE_DAILY,
    MARKET_INVESTOR_DAILY,
)
from connectors.kis.market_data.program_trades import PROGRAM_TRADE_DAILY
from connectors.kis.market_data.short_sales import DAILY_SHORT_SALE
from connectors.kis.market_data.stock_info import SEARCH_STOCK_INFO
from simulator.quotes import credit, investors
from simulator.server import SimConfig, start_simulator

START, END = date(2024, 1, 2), date(2025, 12, 30)  # trading days at both ends
SIM_NOW = datetime(2026, 11, 24, 16, 0)
STOCKS = 5


def main() -> None:
    with (
        tempfile.TemporaryDirectory(prefix="kisdb-bench-") as tmp,
        start_simulator(SimConfig(now=SIM_NOW, rate_limit=0)) as sim,
    ):
        settings = unlimited_settings(sim, Path(tmp))
        market = sim.market
        calendar = market.calendar
        codes = [
            c
            for c, i in sorted(market.instruments.items())
            if i.listed < START and market.is_listed(c, SIM_NOW.date())
        ][:STOCKS]
        tally: dict[str, list[int]] = {}  # dataset -> [calls, minimal]

        def measure(
            name: str, endpoints: list[Endpoint], fetch: Callable[[], pl.DataFrame], least: int
        ) -> None:
            before = sum(sim.stats.by_tr_id[e.tr_real] for e in endpoints)
            fetch()
            calls = sum(sim.stats.by_tr_id[e.tr_real] for e in endpoints) - before
            entry = tally.setdefault(name, [0, 0])
            entry[0] += calls
            entry[1] += least

        with KisClient(settings) as client:
            client.holidays(date(2026, 1, 1), date(2026, 1, 2))  # token issued outside the count
            for code in codes:
                days = len(market.daily_bars(code, START, END, False))
                per_page = math.ceil(days / investors.ROWS)
                measure(
                    "investor_flows",
                    [INVESTOR_TRADE_DAILY],
                    lambda c=code: client.investor_flows(c, START, END),
                    per_page,
                )
                measure(
                    "recent_investor_flows",
                    [INQUIRE_INVESTOR],
                    lambda c=code: client.recent_investor_flows(c),
                    1,
                )
                measure("stock_info", [SEARCH_STOCK_INFO], lambda c=code: client.stock_info(c), 1)
                measure(
                    "short_sales",
                    [DAILY_SHORT_SALE],
                    lambda c=code: client.short_sales(c, START, END),
                    per_page,
                )
                measure(
                    "program_trades",
                    [PROGRAM_TRADE_DAILY],
                    lambda c=code: client.program_trades(c, START, END),
                    per_page,
                )
                window_end = END + SETTLEMENT_LAG
                settling = [
                    b.date
                    for b in market.daily_bars(code, START - timedelta(days=15), window_end, False)
                    if START
                    <= calendar.next_trading_day(calendar.next_trading_day(b.date))
                    <= window_end
                ]
                measure(
                    "credit_balance",
                    [DAILY_CREDIT_BALANCE],
                    lambda c=code: client.credit_balance(c, START, END),
                    math.ceil(len(settling) / credit.ROWS),
                )
                measure(
                    "financials",
                    list(STATEMENT_ENDPOINTS.values()),
                    lambda c=code: pl.concat(
                        [
                            client.financials(c, statement, kind)
                            for statement in STATEMENT_ENDPOINTS
                            for kind in ("annual", "quarterly")
                        ]
                    ),
                    2 * len(STATEMENT_ENDPOINTS),
                )
            days = len(market.index_bars("0001", START, END, "D"))
            for name in ("KOSPI", "KOSDAQ"):
                measure(
                    "market_investor_flows",
                    [MARKET_INVESTOR_DAILY],
                    lambda m=name: client.market_investor_flows(m, START, END),
                    math.ceil(days / investors.ROWS),
                )
    print(f"research backfills {START}..{END}, {len(codes)} stocks + 2 markets")
    for name, (calls, least) in tally.items():
        print(
            f"  {name:<22} {calls:>4} calls, minimal {least:>4}: {calls / least:.2f}  (goal 1.00)"
        )


if __name__ == "__main__":
    main()
