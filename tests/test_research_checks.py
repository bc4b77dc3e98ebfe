"""`kisdb check` on the research tables (issue 15): the daily ones are held against the calendar
like the bars, and each dataset's invariant is checked. Every test breaks one thing in a clean
lake and looks for the finding."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from schemas import (
    CREDIT_BALANCE,
    FINANCIALS,
    HOLIDAYS,
    INVESTOR_FLOWS,
    MARKET_INVESTOR_FLOWS,
    PROGRAM_TRADES,
    SHORT_SALES,
    STOCK_INFO,
    Dataset,
)
from schemas.research import RECENT_INVESTORS
from tests.test_warehouse_checks import END, START, krx_calendar, trading_days
from warehouse import tables
from warehouse.checks import run_checks
from warehouse.lake import CATALOG, Lake
from warehouse.ledger import record_fetch

SYMBOL = "005930"
# The four groups' nets of a stock-day: every share bought was sold by someone.
NETS = {"foreign": 10, "individual": -7, "institution": -2, "other": -1}


def investor_flows(days: list[date], nets: dict[str, int] = NETS) -> pl.DataFrame:
    rows = [
        {
            "symbol": SYMBOL,
            "date": d,
            "investor": investor,
            "buy_volume": 100 + max(net, 0),
            "sell_volume": 100 - min(net, 0),
            "net_volume": net,
            "buy_value": 0,
            "sell_value": 0,
            "net_value": 0,
        }
        for d in days
        for investor, net in nets.items()
    ]
    return INVESTOR_FLOWS.conform(pl.DataFrame(rows))


def market_flows(days: list[date]) -> pl.DataFrame:
    rows = [
        {"market": "KOSPI", "date": d, "investor": i, "net_volume": n * 1000, "net_value": 0}
        for d in days
        for i, n in NETS.items()
    ]
    return MARKET_INVESTOR_FLOWS.conform(pl.DataFrame(rows))


def short_sales(days: list[date]) -> pl.DataFrame:
    n = len(days)
    return SHORT_SALES.conform(
        pl.DataFrame(
            {
                "symbol": [SYMBOL] * n,
                "date": days,
                "short_volume": [5] * n,
                "short_value": [500] * n,
                "volume": [100] * n,
                "value": [10_000] * n,
            }
        )
    )


def program_trades(days: list[date]) -> pl.DataFrame:
    n = len(days)
    return PROGRAM_TRADES.conform(
        pl.DataFrame(
            {
                "symbol": [SYMBOL] * n,
                "date": days,
                "buy_volume": [30] * n,
                "sell_volume": [20] * n,
                "net_volume": [10] * n,
                "buy_value": [3_000] * n,
                "sell_value": [2_000] * n,
                "net_value": [1_000] * n,
                "volume": [100] * n,
                "value": [10_000] * n,
            }
        )
    )


def credit_balance(days: list[date]) -> pl.DataFrame:
    n = len(days)
    shares = [c.name for c in CREDIT_BALANCE.columns if c.name.endswith("_shares")]
    return CREDIT_BALANCE.conform(
        pl.DataFrame(
            {
                "symbol": [SYMBOL] * n,
                "date": days,
                "settlement_date": [d + timedelta(days=2) for d in days],
                **{c: [10] * n for c in shares},
            }
        )
    )


DAILY: dict[str, tuple[Dataset, Callable[[list[date]], pl.DataFrame], str]] = {
    # dataset, a clean frame of these days, the series key the flow writes to the ledger
    "investor_flows": (INVESTOR_FLOWS, investor_flows, f"{SYMBOL}:other"),
    "market_investor_flows": (MARKET_INVESTOR_FLOWS, market_flows, "KOSPI"),
    "short_sales": (SHORT_SALES, short_sales, SYMBOL),
    "program_trades": (PROGRAM_TRADES, program_trades, SYMBOL),
    "credit_balance": (CREDIT_BALANCE, credit_balance, SYMBOL),
}


@pytest.fixture
def lake(tmp_path: Path) -> Iterator[Lake]:
    with Lake.open(tmp_path, source="sim") as lk:
        lk.upsert(HOLIDAYS, krx_calendar(START, END))
        for dataset, frame, _ in DAILY.values():
            lk.upsert(dataset, frame(trading_days()))
        yield lk


def execute(lake: Lake, dataset: Dataset, sql: str) -> None:
    """A statement on one table ({t}): writes the bad row a test needs."""
    lake.con.execute(sql.format(t=tables.qualified(dataset.name, CATALOG)))


def test_the_clean_lake_passes_every_check(lake: Lake) -> None:
    report = run_checks(lake)
    assert report.ok, report.to_frame()
    assert not report.findings


@pytest.mark.parametrize("name", sorted(DAILY))
def test_a_missing_trading_day_is_found_unless_fetched_completely(lake: Lake, name: str) -> None:
    dataset, _, key = DAILY[name]
    day = trading_days()[5]
    execute(lake, dataset, f"DELETE FROM {{t}} WHERE date = DATE '{day}'")
    gaps = run_checks(lake, only=["missing_days"]).gaps()
    assert [(g.dataset, g.key, g.start, g.end) for g in gaps] == [(name, key, day, day)]
    # A complete fetch that found nothing that day (a suspension) covers it.
    record_fetch(lake, name, key, day, day, complete=True)
    assert run_checks(lake, only=["missing_days"]).ok


@pytest.mark.parametrize("name", sorted(DAILY))
def test_a_row_on_a_closed_day_is_found(lake: Lake, name: str) -> None:
    dataset, frame, key = DAILY[name]
    new_year = date(2026, 1, 1)
    lake.upsert(dataset, frame([new_year]))
    found = run_checks(lake, only=["off_calendar"]).findings
    assert [(f.dataset, f.key, f.start) for f in found] == [(name, key, new_year)]


def test_investor_nets_that_do_not_balance_are_found(lake: Lake) -> None:
    day = trading_days()[3]
    execute(
        lake,
        INVESTOR_FLOWS,
        "UPDATE {t} SET net_volume = net_volume + 5, buy_volume = buy_volume + 5 "
        f"WHERE investor = 'foreign' AND date = DATE '{day}'",
    )
    found = run_checks(lake, only=["investor_flows"]).findings
    assert [(f.key, f.start) for f in found] == [(SYMBOL, day)]
    assert "sum to 5 shares" in found[0].detail


def test_buy_minus_sell_must_be_net(lake: Lake) -> None:
    day = trading_days()[4]
    execute(
        lake,
        INVESTOR_FLOWS,
        f"UPDATE {{t}} SET sell_volume = sell_volume + 1 WHERE date = DATE '{day}' "
        "AND investor = 'individual'",
    )
    found = run_checks(lake, only=["investor_flows"]).findings
    assert [(f.key, f.start, f.detail) for f in found] == [
        (SYMBOL, day, f"{day}: 1 row(s) where buy - sell != net")
    ]


def test_market_nets_balance_to_the_rounding_of_their_thousands(lake: Lake) -> None:
    day = trading_days()[2]
    rounding = "UPDATE {t} SET net_volume = net_volume + %d WHERE investor = 'individual' AND date = DATE '%s'"
    execute(lake, MARKET_INVESTOR_FLOWS, rounding % (2_000, day))
    assert run_checks(lake, only=["investor_flows"]).ok  # four groups, each off by <= 500
    execute(lake, MARKET_INVESTOR_FLOWS, rounding % (1_000, day))
    found = run_checks(lake, only=["investor_flows"]).findings
    assert [(f.dataset, f.key, f.start) for f in found] == [("market_investor_flows", "KOSPI", day)]


def test_three_group_days_are_not_held_to_the_balance(lake: Lake) -> None:
    # FHKST01010900 (a paper account's source) sends foreign, individual and institution only:
    # their nets need not sum to zero, and such a day is no gap of the full source either.
    later = trading_days(END + timedelta(days=1), END + timedelta(days=30))
    lake.upsert(HOLIDAYS, krx_calendar(END + timedelta(days=1), END + timedelta(days=30)))
    days, full_day = later[:-1], later[-1]
    recent = investor_flows(days, {i: NETS[i] for i in RECENT_INVESTORS})
    lake.upsert(INVESTOR_FLOWS, recent)
    report = run_checks(lake, only=["investor_flows", "missing_days"])
    assert report.ok, report.to_frame()
    # The full source's days after them would make them a gap: "other" is missing there.
    lake.upsert(INVESTOR_FLOWS, investor_flows([full_day]))
    gaps = run_checks(lake, only=["missing_days"]).gaps()
    assert [(g.key, g.start, g.end) for g in gaps] == [(f"{SYMBOL}:other", days[0], days[-1])]


def test_short_volume_above_the_days_volume_is_found(lake: Lake) -> None:
    day = trading_days()[6]
    execute(lake, SHORT_SALES, f"UPDATE {{t}} SET short_volume = 101 WHERE date = DATE '{day}'")
    found = run_checks(lake, only=["short_sales"]).findings
    assert [(f.key, f.start) for f in found] == [(SYMBOL, day)]


@pytest.mark.parametrize(
    "breach", ["buy_value = 10001", "sell_volume = 101, net_volume = 30 - 101"]
)
def test_program_trading_above_the_days_trading_is_found(lake: Lake, breach: str) -> None:
    day = trading_days()[7]
    execute(lake, PROGRAM_TRADES, f"UPDATE {{t}} SET {breach} WHERE date = DATE '{day}'")
    found = run_checks(lake, only=["program_trades"]).findings
    assert [(f.key, f.start, f.end) for f in found] == [(SYMBOL, day, day)]


def test_negative_credit_is_found(lake: Lake) -> None:
    day = trading_days()[8]
    execute(
        lake,
        CREDIT_BALANCE,
        f"UPDATE {{t}} SET margin_balance_shares = -1 WHERE date = DATE '{day}'",
    )
    found = run_checks(lake, only=["credit_balance"]).findings
    assert [(f.key, f.start) for f in found] == [(SYMBOL, day)]


def balance_sheet(total_equity: int) -> pl.DataFrame:
    eok = 100_000_000
    return FINANCIALS.conform(
        pl.DataFrame(
            {
                "symbol": [SYMBOL],
                "statement": ["balance_sheet"],
                "period_kind": ["annual"],
                "period_end": [date(2025, 12, 31)],
                "seen_date": [date(2026, 3, 31)],
                "total_assets": [1_000 * eok],
                "total_liabilities": [400 * eok],
                "total_equity": [total_equity],
            }
        )
    )


def test_financials_seen_before_the_period_ended_or_unbalanced_are_found(lake: Lake) -> None:
    eok = 100_000_000
    lake.upsert(FINANCIALS, balance_sheet(600 * eok + 2 * eok))  # KIS's rounding: fine
    assert not run_checks(lake, only=["financials"]).findings
    lake.upsert(FINANCIALS, balance_sheet(500 * eok))
    found = run_checks(lake, only=["financials"]).findings
    assert [(f.key, f.severity) for f in found] == [(SYMBOL, "warning")]
    assert "assets != liabilities + equity" in found[0].detail
    execute(lake, FINANCIALS, "UPDATE {t} SET seen_date = DATE '2025-12-30'")
    report = run_checks(lake, only=["financials"])
    assert not report.ok
    assert [f.severity for f in report.findings] == ["error", "warning"]


@pytest.mark.parametrize(
    "breach",
    [
        "listed_shares = 0",
        "par_value = -1",
        "listing_date = DATE '2027-01-04'",
        "delisting_date = DATE '1970-01-02'",
    ],
)
def test_stock_info_out_of_order_is_found(lake: Lake, breach: str) -> None:
    snapshot = date(2026, 11, 24)
    lake.upsert(
        STOCK_INFO,
        STOCK_INFO.conform(
            pl.DataFrame(
                {
                    "snapshot_date": [snapshot],
                    "symbol": [SYMBOL],
                    "listed_shares": [5_969_782_550],
                    "par_value": [100],
                    "listing_date": [date(1975, 6, 11)],
                }
            )
        ),
    )
    assert not run_checks(lake, only=["stock_info"]).findings
    execute(lake, STOCK_INFO, f"UPDATE {{t}} SET {breach}")
    found = run_checks(lake, only=["stock_info"]).findings
    assert [(f.key, f.start, f.severity) for f in found] == [(SYMBOL, snapshot, "error")]
