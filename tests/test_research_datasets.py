"""The research datasets (issue 15): investor flows from the parser to the views.

The parser runs on the workbook's real example; the client and the flow run against the
simulator, whose flows are derived from its own daily bars (buys = sells = the day's volume).
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from connectors.kis import KisClient
from connectors.kis.market_data.credit import DAILY_CREDIT_BALANCE, parse_credit_balance
from connectors.kis.market_data.financials import parse_financials
from connectors.kis.market_data.investors import (
    INQUIRE_INVESTOR,
    INVESTOR_TRADE_DAILY,
    MARKET_INVESTOR_DAILY,
    parse_investor_flows,
    parse_market_investor_flows,
    parse_recent_investor_flows,
)
from connectors.kis.market_data.program_trades import (
    PROGRAM_TRADE_DAILY,
    parse_program_trades,
)
from connectors.kis.market_data.short_sales import DAILY_SHORT_SALE, parse_short_sales
from connectors.kis.market_data.stock_info import parse_stock_info
from pipelines.bars import ingest_period_bars
from pipelines.holidays_flow import ingest_holidays
from pipelines.research_datasets import (
    ingest_credit_balance,
    ingest_financials,
    ingest_investor_flows,
    ingest_market_investor_flows,
    ingest_program_trades,
    ingest_short_sales,
    ingest_stock_info,
)
from schemas import (
    CREDIT_BALANCE,
    FINANCIALS,
    INVESTOR_FLOWS,
    MARKET_INVESTOR_FLOWS,
    PERIOD_BARS,
    PROGRAM_TRADES,
    SHORT_SALES,
    STOCK_INFO,
)
from schemas.research import INVESTOR_GROUPS, INVESTORS, RECENT_INVESTORS
from simulator.server import RunningSimulator
from tests.helpers import Kis, Q, sim_settings
from warehouse.checks import run_checks
from warehouse.lake import Lake

FIXTURES = Path(__file__).parent / "fixtures" / "kis"
AFTER_CLOSE = datetime(2026, 11, 24, 16, 0)  # a Tuesday; KIS publishes the day at 15:40


def test_investor_flows_parse_the_workbook_example_into_one_row_per_investor() -> None:
    payload = json.loads((FIXTURES / "investor_flows.json").read_text(encoding="utf-8"))
    df = parse_investor_flows(payload, symbol="005930")
    assert df.schema == INVESTOR_FLOWS.schema
    assert sorted(df["investor"]) == sorted(INVESTORS) and (df["symbol"] == "005930").all()
    assert (df["date"] == date(2025, 8, 11)).all()
    foreign = df.filter(pl.col("investor") == "foreign").row(0, named=True)
    assert (foreign["buy_volume"], foreign["sell_volume"]) == (2527511, 4557311)
    assert foreign["net_volume"] == -2029800
    assert foreign["net_value"] == -144_363_000_000  # sent in millions of KRW
    groups = df.filter(pl.col("investor").is_in(INVESTOR_GROUPS))
    assert groups["net_volume"].sum() == 0  # KIS's own example: every share bought was sold


def test_recent_investor_flows_parse_the_workbook_example() -> None:
    payload = json.loads((FIXTURES / "investor_flows_recent.json").read_text(encoding="utf-8"))
    df = parse_recent_investor_flows(payload, symbol="000660")
    assert df.schema == INVESTOR_FLOWS.schema and df.height == 2 * 3
    assert set(df["investor"]) == set(RECENT_INVESTORS)
    row = df.filter((pl.col("investor") == "foreign") & (pl.col("date") == date(2022, 1, 13)))
    foreign = row.row(0, named=True)
    assert (foreign["buy_volume"], foreign["sell_volume"]) == (1442791, 645333)
    assert foreign["net_volume"] == 797458 and foreign["net_value"] == 102_959_000_000
    assert (df["buy_volume"] - df["sell_volume"] == df["net_volume"]).all()


def test_market_investor_flows_parse_the_workbook_example() -> None:
    payload = json.loads((FIXTURES / "market_investor_flows.json").read_text(encoding="utf-8"))
    df = parse_market_investor_flows(payload, market="KOSPI")
    assert df.schema == MARKET_INVESTOR_FLOWS.schema
    assert df.height == 2 * len(INVESTORS)
    row = df.filter((pl.col("investor") == "foreign") & (pl.col("date") == date(2024, 5, 17)))
    assert row["net_volume"].item() == -18_565_000  # sent in thousands of shares
    assert row["net_value"].item() == -597_490_000_000  # sent in millions of KRW
    groups = df.filter(pl.col("investor").is_in(INVESTOR_GROUPS)).group_by("date")
    assert (groups.agg(pl.col("net_volume").sum())["net_volume"] == 0).all()
    assert (groups.agg(pl.col("net_value").sum())["net_value"] == 0).all()


def test_short_sales_parse_keeps_the_days_figures_not_the_windows_totals() -> None:
    # The sheet has no example: this body is the simulator's answer in the sheet's layout.
    payload = json.loads((FIXTURES / "short_sales.json").read_text(encoding="utf-8"))
    df = parse_short_sales(payload, symbol="005930")
    assert df.schema == SHORT_SALES.schema
    row = df.filter(pl.col("date") == date(2026, 11, 24)).row(0, named=True)
    assert (row["short_volume"], row["volume"]) == (165494, 9828663)
    assert row["short_value"] == 7284128848 and row["short_volume_pct"] == 1.68
    assert (df["short_volume"] <= df["volume"]).all()


def test_credit_balance_parses_the_workbook_example_in_krw() -> None:
    payload = json.loads((FIXTURES / "credit_balance.json").read_text(encoding="utf-8"))
    df = parse_credit_balance(payload, symbol="005930")
    assert df.schema == CREDIT_BALANCE.schema and df.height == 30
    row = df.filter(pl.col("date") == date(2024, 3, 13)).row(0, named=True)
    assert row["settlement_date"] == date(2024, 3, 15)
    assert (row["margin_new_shares"], row["margin_balance_shares"]) == (253817, 7155720)
    assert row["margin_balance_value"] == 473_216_390_000  # sent in 10,000 KRW
    assert row["stock_loan_balance_shares"] == 6861 and row["margin_granted_pct"] == 1.65


def test_program_trades_parse_the_workbook_example() -> None:
    payload = json.loads((FIXTURES / "program_trades.json").read_text(encoding="utf-8"))
    df = parse_program_trades(payload, symbol="005930")
    assert df.schema == PROGRAM_TRADES.schema and df.height == 4
    row = df.filter(pl.col("date") == date(2024, 5, 17)).row(0, named=True)
    assert (row["buy_volume"], row["sell_volume"], row["net_volume"]) == (
        3468820,
        6910299,
        -3441479,
    )
    assert row["net_value"] == -266814763800 and row["value"] == 1220563293000
    assert (df["buy_volume"] - df["sell_volume"] == df["net_volume"]).all()


def test_financials_parse_the_workbook_examples_in_krw() -> None:
    seen = date(2024, 5, 20)
    frames = {
        statement: parse_financials(
            json.loads((FIXTURES / f"{fixture}.json").read_text(encoding="utf-8")),
            symbol="005930",
            statement=statement,
            period_kind="quarterly",
            seen_date=seen,
        )
        for statement, fixture in (
            ("balance_sheet", "balance_sheet"),
            ("income_statement", "income_statement"),
            ("ratios", "financial_ratio"),
        )
    }
    for frame in frames.values():
        assert frame.schema == FINANCIALS.schema and frame.height == 30
        assert (frame["seen_date"] == seen).all()
    bs = frames["balance_sheet"].row(0, named=True)
    assert bs["period_end"] == date(2023, 12, 31)
    assert bs["total_assets"] == 455_906_000_000_000  # 4,559,060 억원
    assert bs["capital_surplus"] is None  # "99.99": not published
    income = frames["income_statement"].row(0, named=True)
    assert income["net_income"] == 15_487_100_000_000 and income["depreciation"] is None
    ratios = frames["ratios"].row(0, named=True)
    assert str(ratios["eps"]) == "2131.00" and str(ratios["roe_pct"]) == "4.14"
    assert frames["ratios"]["period_end"][1] == date(2023, 9, 30)


def test_stock_info_parses_the_workbook_example_and_gives_the_market_cap(
    tmp_path: Path,
) -> None:
    payload = json.loads((FIXTURES / "stock_info.json").read_text(encoding="utf-8"))
    info = parse_stock_info(payload, symbol="000660", snapshot_date=date(2024, 2, 16))
    assert info.schema == STOCK_INFO.schema and info.height == 1
    row = info.row(0, named=True)
    assert (row["market"], row["listed_shares"], row["par_value"]) == ("KOSPI", 728002365, 5000)
    assert row["listing_date"] == date(1996, 12, 26) and row["delisting_date"] is None
    assert row["kospi200"] and not row["halted"] and row["sector"] == "전기,전자"
    bars = pl.DataFrame(
        {
            "symbol": ["000660"] * 3,
            "period": ["D"] * 3,
            "adjusted": [False] * 3,
            "date": [date(2024, 2, 15), date(2024, 2, 16), date(2024, 2, 19)],
            "open": [1, 1, 1],
            "high": [200_000] * 3,
            "low": [1, 1, 1],
            "close": [148700, 146800, 150000],
            "volume": [1, 1, 1],
        }
    )
    with Lake.open(tmp_path / "home", source="sim") as lake:
        lake.upsert(PERIOD_BARS, PERIOD_BARS.conform(bars))
        lake.upsert(STOCK_INFO, info)
        cap = lake.con.execute("SELECT date, market_cap FROM market_cap_daily ORDER BY date").pl()
    # No snapshot before 2024-02-16: no market cap there (no look-back either).
    assert cap.rows() == [
        (date(2024, 2, 16), 146800 * 728002365),
        (date(2024, 2, 19), 150000 * 728002365),
    ]


@pytest.fixture
def client(make_sim: Callable[..., RunningSimulator], tmp_path: Path) -> Iterator[KisClient]:
    sim = make_sim(now=AFTER_CLOSE, rate_limit=0)
    with KisClient(sim_settings(sim, tmp_path, rate_limit=1000.0, raw_archive=False)) as c:
        c.sim = sim  # type: ignore[attr-defined]
        yield c


def test_investor_flows_backfill_is_minimal_and_agrees_with_the_bars(client: KisClient) -> None:
    sim: RunningSimulator = client.sim  # type: ignore[attr-defined]
    df = client.investor_flows("000660", date(2025, 1, 1), date(2026, 11, 24))
    assert df.schema == INVESTOR_FLOWS.schema
    days = df["date"].unique()
    assert days.min() == date(2025, 1, 2) and days.max() == date(2026, 11, 24)
    assert df.height == days.len() * len(INVESTORS)
    # 100 days a page; one call more only if the last page is exactly full (never here).
    assert sim.stats.by_tr_id[INVESTOR_TRADE_DAILY.tr_real] == math.ceil(days.len() / 100)
    bars = client.period_bars("000660", date(2025, 1, 1), date(2026, 11, 24), adjusted=False)
    assert bars["date"].to_list() == days.sort().to_list()
    groups = df.filter(pl.col("investor").is_in(INVESTOR_GROUPS))
    per_day = groups.group_by("date").agg(
        pl.col("net_volume").sum().alias("net"), pl.col("buy_volume").sum().alias("bought")
    )
    joined = per_day.join(bars.select("date", "volume"), on="date")
    assert (joined["net"] == 0).all()
    assert (joined["bought"] == joined["volume"]).all()  # every share traded had one buyer
    assert (df["buy_volume"] - df["sell_volume"] == df["net_volume"]).all()


def test_recent_investor_flows_are_the_daily_flows_last_30_days(
    make_sim: Callable[..., RunningSimulator], tmp_path: Path
) -> None:
    # One synthetic source: 주식현재가 투자자 shows the 0416 screen's figures for its three groups,
    # on paper too, where the 0416 screen is not served.
    real = make_sim(now=AFTER_CLOSE, rate_limit=0)
    paper = make_sim(now=AFTER_CLOSE, rate_limit=0, env="paper")
    settings = sim_settings(real, tmp_path / "real", rate_limit=1000.0, raw_archive=False)
    with KisClient(settings) as client:
        full = client.investor_flows("005930", date(2026, 9, 1), date(2026, 11, 24))
    paper_settings = sim_settings(
        paper, tmp_path / "paper", env="paper", rate_limit=1000.0, raw_archive=False
    )
    with KisClient(paper_settings) as client:
        recent = client.recent_investor_flows("005930")
    assert paper.stats.by_tr_id[INQUIRE_INVESTOR.tr_paper] == 1
    assert recent.schema == INVESTOR_FLOWS.schema
    days = recent["date"].unique().sort()
    assert days.len() == 30 and days.max() == date(2026, 11, 24)
    assert recent.height == 30 * len(RECENT_INVESTORS)
    same = full.filter(pl.col("investor").is_in(RECENT_INVESTORS) & pl.col("date").is_in(days))
    key = ["date", "investor"]
    assert recent.sort(key).to_dicts() == same.sort(key).to_dicts()


def test_market_flows_are_the_sum_of_the_stocks_flows(client: KisClient) -> None:
    sim: RunningSimulator = client.sim  # type: ignore[attr-defined]
    day = date(2026, 11, 20)
    market = client.market_investor_flows("KOSDAQ", date(2026, 1, 1), date(2026, 11, 24))
    assert market.schema == MARKET_INVESTOR_FLOWS.schema
    days = market["date"].unique()
    assert days.max() == date(2026, 11, 24)
    assert sim.stats.by_tr_id[MARKET_INVESTOR_DAILY.tr_real] == math.ceil(days.len() / 100)
    groups = market.filter(pl.col("investor").is_in(INVESTOR_GROUPS)).group_by("date")
    assert (groups.agg(pl.col("net_volume").sum())["net_volume"] == 0).all()
    kosdaq = [
        c
        for c, i in sim.market.instruments.items()
        if i.market == "KOSDAQ" and sim.market.is_listed(c, day)
    ]
    stocks = pl.concat([client.investor_flows(code, day, day) for code in kosdaq])
    foreign = stocks.filter(pl.col("investor") == "foreign")["net_volume"].sum()
    sent = market.filter((pl.col("investor") == "foreign") & (pl.col("date") == day))
    assert abs(sent["net_volume"].item() - foreign) <= 500  # KIS rounds to the thousand


def test_short_sales_backfill_is_minimal_and_below_the_volume(client: KisClient) -> None:
    sim: RunningSimulator = client.sim  # type: ignore[attr-defined]
    # From a trading day: a range opening on a weekday holiday costs one empty probe more (no
    # page counts as short, as KIS does not document the page length).
    df = client.short_sales("035420", date(2025, 3, 4), date(2026, 11, 24))
    assert df.schema == SHORT_SALES.schema
    assert sim.stats.by_tr_id[DAILY_SHORT_SALE.tr_real] == math.ceil(df.height / 100)
    bars = client.period_bars("035420", date(2025, 3, 4), date(2026, 11, 24), adjusted=False)
    assert df["date"].to_list() == bars["date"].to_list()
    assert df["volume"].to_list() == bars["volume"].to_list()
    assert (df["short_volume"] <= df["volume"]).all() and (df["short_volume"] > 0).any()
    flows = client.investor_flows("035420", date(2026, 11, 2), date(2026, 11, 24))
    sold = (
        flows.filter(pl.col("investor").is_in(["foreign", "institution"]))
        .group_by("date")
        .agg(pl.col("sell_volume").sum())
        .join(df, on="date")
    )
    assert (sold["short_volume"] <= sold["sell_volume"]).all()  # short sellers sold that much


def test_credit_balance_pages_on_settlement_dates_and_carries_over(client: KisClient) -> None:
    sim: RunningSimulator = client.sim  # type: ignore[attr-defined]
    df = client.credit_balance("000660", date(2026, 3, 3), date(2026, 11, 24))
    assert df.schema == CREDIT_BALANCE.schema
    assert sim.stats.by_tr_id[DAILY_CREDIT_BALANCE.tr_real] == math.ceil(df.height / 30)
    assert df["date"].max() == date(2026, 11, 24)  # trades settle later; the day is published
    assert (df["settlement_date"] >= date(2026, 3, 3)).all()
    assert df.filter(pl.col("date") >= date(2026, 3, 3))["date"].min() == date(2026, 3, 3)
    assert (df["settlement_date"] > df["date"]).all()
    carried = df.sort("date").with_columns(
        expected=pl.col("margin_balance_shares").shift(1)
        + pl.col("margin_new_shares")
        - pl.col("margin_repaid_shares")
    )
    assert (carried["expected"].drop_nulls() == carried["margin_balance_shares"][1:]).all()
    assert (df["margin_balance_shares"] > df["stock_loan_balance_shares"]).all()


def test_program_trades_backfill_is_minimal_and_within_the_day(client: KisClient) -> None:
    sim: RunningSimulator = client.sim  # type: ignore[attr-defined]
    df = client.program_trades("005380", date(2025, 6, 2), date(2026, 11, 24))
    assert df.schema == PROGRAM_TRADES.schema
    assert sim.stats.by_tr_id[PROGRAM_TRADE_DAILY.tr_real] == math.ceil(df.height / 100)
    bars = client.period_bars("005380", date(2025, 6, 2), date(2026, 11, 24), adjusted=False)
    assert df["date"].to_list() == bars["date"].to_list()
    assert df["value"].to_list() == bars["value"].to_list()
    for side in ("buy", "sell"):  # programs trade within the day's volume and value
        assert (df[f"{side}_volume"] <= df["volume"]).all()
        assert (df[f"{side}_value"] <= df["value"]).all()
    assert (df["buy_volume"] > 0).all()


def test_investor_flows_are_real_only(make_sim: Callable[..., RunningSimulator]) -> None:
    sim = make_sim(env="paper", rate_limit=0)
    r = Kis(sim).get(
        Q + "investor-trade-by-stock-daily",
        "FHPTJ04160001",
        FID_COND_MRKT_DIV_CODE="J",
        FID_INPUT_ISCD="005930",
        FID_INPUT_DATE_1="20261120",
        FID_ORG_ADJ_PRC="",
        FID_ETC_CLS_CODE="1",
    )
    assert r.json()["msg_cd"] == "40580000" and r.json()["rt_cd"] == "1"


def test_todays_flows_appear_only_after_1540(make_sim: Callable[..., RunningSimulator]) -> None:
    before = make_sim(now=datetime(2026, 11, 24, 15, 30), rate_limit=0)
    r = Kis(before).get(
        Q + "investor-trade-by-stock-daily",
        "FHPTJ04160001",
        FID_COND_MRKT_DIV_CODE="J",
        FID_INPUT_ISCD="005930",
        FID_INPUT_DATE_1="20261124",
        FID_ORG_ADJ_PRC="",
        FID_ETC_CLS_CODE="1",
    )
    assert r.json()["output2"][0]["stck_bsop_date"] == "20261123"


@pytest.mark.usefixtures("prefect_harness")
def test_ingest_twice_checks_and_views(
    make_sim: Callable[..., RunningSimulator],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    sim = make_sim(now=AFTER_CLOSE, rate_limit=0)
    home = tmp_path / "home"
    monkeypatch.setenv("KIS_ENV", "sim")
    monkeypatch.setenv("KIS_BASE_URL", sim.base_url)
    monkeypatch.setenv("KISDB_HOME", str(home))
    for name in ("KIS_APP_KEY", "KIS_APP_SECRET", "KIS_ACCOUNT"):
        monkeypatch.delenv(name, raising=False)
    summary = ingest_investor_flows(symbols=["005930", "000660"], start="2026-06-01")
    assert summary.datasets["investor_flows"].keys == 2
    calls = sim.stats.requests
    ingest_investor_flows(symbols=["005930", "000660"], start="2026-06-01")
    assert sim.stats.requests == calls, "nothing was missing, so nothing may be fetched"
    ingest_market_investor_flows(start="2026-10-01")
    ingest_short_sales(symbols=["005930"], start="2026-06-01")
    ingest_credit_balance(symbols=["005930"], start="2026-06-01")
    ingest_program_trades(symbols=["005930"], start="2026-06-01")
    calls = sim.stats.requests
    ingest_program_trades(symbols=["005930"], start="2026-06-01")
    ingest_short_sales(symbols=["005930"], start="2026-06-01")
    ingest_credit_balance(symbols=["005930"], start="2026-06-01")
    ingest_market_investor_flows(start="2026-10-01")
    assert sim.stats.requests == calls
    with Lake.open(home, source="sim") as lake:
        assert set(lake.table(MARKET_INVESTOR_FLOWS)["market"]) == {"KOSPI", "KOSDAQ"}
        research = ["investor_flows", "short_sales", "program_trades", "credit_balance"]
        report = run_checks(lake, only=research)
        assert report.ok and report.checks_run == research
    ingest_holidays(start="2026-05-01")
    with Lake.open(home, source="sim") as lake:
        # The flows' ledger keys are the ones the calendar checks read: nothing is missing.
        calendar = run_checks(lake, only=["missing_days", "off_calendar"])
        assert calendar.findings == [], calendar.to_frame()
        ratio = lake.con.execute("SELECT short_ratio FROM short_ratio").pl()["short_ratio"]
        assert ratio.len() > 100 and ratio.is_between(0, 1).all()
        view = lake.con.execute(
            "SELECT * FROM foreign_net_buy WHERE symbol = '005930' ORDER BY date"
        ).pl()
        flows = lake.table(INVESTOR_FLOWS)
        market = lake.con.execute(
            "SELECT * FROM market_flows WHERE market = 'KOSPI' ORDER BY date"
        ).pl()
        market_rows = lake.table(MARKET_INVESTOR_FLOWS).filter(pl.col("market") == "KOSPI")
        credit = lake.con.execute("SELECT * FROM credit_daily ORDER BY date").pl()
        credit_rows = lake.table(CREDIT_BALANCE).sort("date")
        program = lake.con.execute("SELECT * FROM program_net_buy ORDER BY date").pl()
        program_rows = lake.table(PROGRAM_TRADES).sort("date")
        # Break the invariant on purpose: the check must notice.
        lake.con.execute(
            f"UPDATE lake.main.{INVESTOR_FLOWS.name} SET net_volume = net_volume + 1 "
            "WHERE investor = 'foreign' AND symbol = '005930' AND date = DATE '2026-11-24'"
        )
        broken = run_checks(lake, only=["investor_flows"])
    foreign = flows.filter((pl.col("investor") == "foreign") & (pl.col("symbol") == "005930"))
    assert view["date"].to_list() == foreign.sort("date")["date"].to_list()
    expected = foreign.sort("date")["net_value"].rolling_sum(5, min_samples=1)
    assert view["net_value_5d"].to_list() == expected.to_list()
    assert view["date"].max() == date(2026, 11, 24)
    assert not broken.ok
    assert [f.key for f in broken.findings] == ["005930"]
    # The per-market, credit and program views: one row per day, figures from their tables.
    foreign_market = market_rows.filter(pl.col("investor") == "foreign").sort("date")
    assert market["date"].to_list() == foreign_market["date"].to_list()
    assert market["foreign_net_value"].to_list() == foreign_market["net_value"].to_list()
    nets = [sum(row[f"{g}_net_volume"] for g in INVESTOR_GROUPS) for row in market.to_dicts()]
    assert all(abs(n) <= 2_000 for n in nets)  # KIS rounds each group to thousands
    margin = credit_rows["margin_balance_shares"]
    assert credit["margin_change_shares"].to_list()[1:] == margin.diff().to_list()[1:]
    assert program["net_value"].to_list() == program_rows["net_value"].to_list()
    expected = program_rows["net_value"].rolling_sum(20, min_samples=1)
    assert program["net_value_20d"].to_list() == expected.to_list()


@pytest.mark.usefixtures("prefect_harness")
def test_financials_are_point_in_time(
    make_sim: Callable[..., RunningSimulator],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # The simulator restates every stock's fiscal 2025 net income on 2026-08-14.
    home = tmp_path / "home"
    monkeypatch.setenv("KIS_ENV", "sim")
    monkeypatch.setenv("KISDB_HOME", str(home))
    for name in ("KIS_APP_KEY", "KIS_APP_SECRET", "KIS_ACCOUNT"):
        monkeypatch.delenv(name, raising=False)
    for now in (datetime(2026, 8, 3, 16, 0), datetime(2026, 11, 24, 16, 0)):
        sim = make_sim(now=now, rate_limit=0, token_issue_interval=0)
        monkeypatch.setenv("KIS_BASE_URL", sim.base_url)
        shutil.rmtree(home / "tokens", ignore_errors=True)  # another simulator, another token
        ingest_financials(symbols=["005930"])
    ingest_period_bars(symbols=["005930"], start="2026-03-02", adjusted=[False])
    calls = sim.stats.requests
    again = ingest_financials(symbols=["005930"])
    assert again.skipped == 1 and sim.stats.requests == calls, "checked today already"
    with Lake.open(home, source="sim") as lake:
        fin = lake.table(FINANCIALS)
        valuation = lake.con.execute(
            "SELECT date, period_end, eps, per FROM valuation_daily ORDER BY date"
        ).pl()
    fy2025 = fin.filter(
        (pl.col("period_end") == date(2025, 12, 31)) & (pl.col("period_kind") == "annual")
    )
    income = fy2025.filter(pl.col("statement") == "income_statement").sort("seen_date")
    assert income["seen_date"].to_list() == [date(2026, 8, 3), date(2026, 11, 24)]
    first, restated = income["net_income"].to_list()
    assert restated < first  # a new version beside the old one, not over it
    balance = fy2025.filter(pl.col("statement") == "balance_sheet")
    assert balance["seen_date"].to_list() == [date(2026, 8, 3)]  # unchanged: one version
    # One restatement in the whole history: fiscal 2025's net income (each of its periods, year
    # to date), seen once.
    period = ["statement", "period_kind", "period_end"]
    restated = fin.filter(pl.len().over(period) > 1)
    assert {d.year for d in restated["period_end"]} == {2025}
    assert set(restated["statement"]) == {"income_statement", "ratios"}
    assert set(restated["seen_date"]) == {date(2026, 8, 3), date(2026, 11, 24)}
    # Quarterly: consecutive quarter ends.
    quarters = fin.filter(pl.col("period_kind") == "quarterly")["period_end"].unique().sort()
    months = [d.year * 12 + d.month for d in quarters]
    assert quarters.len() >= 8 and all(b - a == 3 for a, b in zip(months, months[1:], strict=False))
    assert all(d.month % 3 == 0 and (d + timedelta(days=1)).day == 1 for d in quarters)
    # Each day values the stock with what was known that day.
    eps = fy2025.filter(pl.col("statement") == "ratios").sort("seen_date")["eps"].to_list()
    on = {row["date"]: row for row in valuation.iter_rows(named=True)}
    assert on[date(2026, 3, 31)]["period_end"] == date(2025, 12, 31)  # the filing deadline
    assert on[date(2026, 3, 30)]["period_end"] == date(2024, 12, 31)
    assert on[date(2026, 8, 3)]["eps"] == eps[0] and on[date(2026, 11, 24)]["eps"] == eps[1]
    assert on[date(2026, 11, 23)]["eps"] == eps[0]  # the restatement was seen on the 24th
    with Lake.open(home, source="sim") as lake:
        checked = run_checks(lake, only=["financials"])
    assert checked.findings == [], checked.to_frame()


@pytest.mark.usefixtures("prefect_harness")
def test_a_paper_account_gets_three_groups_of_the_last_30_days(
    make_sim: Callable[..., RunningSimulator],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # KIS does not serve the 0416 screen on paper: FHKST01010900 is the paper account's source.
    sim = make_sim(now=None, env="paper", rate_limit=0)  # the wall clock, as a paper run's
    home = tmp_path / "home"
    env = {
        "KIS_ENV": "paper",
        "KIS_BASE_URL": sim.base_url,
        "KIS_APP_KEY": sim.app_key,
        "KIS_APP_SECRET": sim.app_secret,
        "KIS_ACCOUNT": sim.account_number,
        "KIS_RATE_LIMIT": "1000",
        "KISDB_HOME": str(home),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    ingest_investor_flows(symbols=["005930"])
    assert sim.stats.by_tr_id[INQUIRE_INVESTOR.tr_paper] == 1
    assert sim.stats.by_tr_id[INVESTOR_TRADE_DAILY.tr_real] == 0
    calls = sim.stats.requests
    ingest_investor_flows(symbols=["005930"])
    assert sim.stats.requests == calls, "the last 30 days are stored: nothing to fetch"
    with Lake.open(home, source="kis") as lake:
        flows = lake.table(INVESTOR_FLOWS)
        report = run_checks(lake, only=["missing_days", "investor_flows"])
    assert report.ok, report.to_frame()
    days = flows["date"].unique()
    assert 25 <= days.len() <= 30 and set(flows["investor"]) == set(RECENT_INVESTORS)
    assert all(sim.market.calendar.is_trading_day(d) for d in days)
    assert flows.height == days.len() * len(RECENT_INVESTORS)


@pytest.mark.usefixtures("prefect_harness")
def test_market_cap_is_close_times_the_days_listed_shares_across_a_split(
    make_sim: Callable[..., RunningSimulator],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # 삼성전자's 1:50 split took effect on 2018-05-04: 50 times the shares at 1/50 of the price.
    home = tmp_path / "home"
    monkeypatch.setenv("KIS_ENV", "sim")
    monkeypatch.setenv("KISDB_HOME", str(home))
    for name in ("KIS_APP_KEY", "KIS_APP_SECRET", "KIS_ACCOUNT"):
        monkeypatch.delenv(name, raising=False)
    for now in (datetime(2018, 5, 3, 16, 0), datetime(2018, 5, 4, 16, 0)):
        sim = make_sim(now=now, rate_limit=0, token_issue_interval=0)
        monkeypatch.setenv("KIS_BASE_URL", sim.base_url)
        shutil.rmtree(home / "tokens", ignore_errors=True)  # another simulator, another token
        ingest_stock_info(symbols=["005930"])
    ingest_period_bars(symbols=["005930"], start="2018-04-25", adjusted=[False])
    quote = Kis(sim).get(
        Q + "inquire-price", "FHKST01010100", FID_COND_MRKT_DIV_CODE="J", FID_INPUT_ISCD="005930"
    )
    with Lake.open(home, source="sim") as lake:
        info = lake.table(STOCK_INFO).sort("snapshot_date")
        cap = lake.con.execute(
            "SELECT date, close, market_cap FROM market_cap_daily ORDER BY date"
        ).pl()
    before, after = info["listed_shares"].to_list()
    assert after == 50 * before == 50 * sim.market.listed_shares("005930", date(2018, 5, 3))
    assert cap["date"].to_list() == [date(2018, 5, 3), date(2018, 5, 4)]  # from the first snapshot
    assert cap["market_cap"].to_list() == [cap["close"][0] * before, cap["close"][1] * after]
    assert 0.7 < cap["market_cap"][1] / cap["market_cap"][0] < 1.3  # the price split too
    assert cap["market_cap"][1] // 10**8 == int(quote.json()["output"]["hts_avls"])  # 억 KRW
    with Lake.open(home, source="sim") as lake:
        checked = run_checks(lake, only=["stock_info"])
    assert checked.findings == [], checked.to_frame()


@pytest.mark.usefixtures("prefect_harness")
def test_a_run_before_1540_leaves_today_to_the_next_run(
    make_sim: Callable[..., RunningSimulator],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # The session closed at 15:30 but KIS publishes the day's figures at 15:40: a run at 15:35
    # fetches up to yesterday and must not record today as fetched.
    home = tmp_path / "home"
    monkeypatch.setenv("KIS_ENV", "sim")
    monkeypatch.setenv("KISDB_HOME", str(home))
    for name in ("KIS_APP_KEY", "KIS_APP_SECRET", "KIS_ACCOUNT"):
        monkeypatch.delenv(name, raising=False)
    stored = []
    for now in (datetime(2026, 11, 24, 15, 35), AFTER_CLOSE):
        sim = make_sim(now=now, rate_limit=0, token_issue_interval=0)
        monkeypatch.setenv("KIS_BASE_URL", sim.base_url)
        shutil.rmtree(home / "tokens", ignore_errors=True)  # another simulator, another token
        ingest_short_sales(symbols=["005930"], start="2026-11-02")
        with Lake.open(home, source="sim") as lake:
            stored.append(lake.table(SHORT_SALES)["date"].max())
    assert stored == [date(2026, 11, 23), date(2026, 11, 24)]
    assert sim.stats.by_tr_id[DAILY_SHORT_SALE.tr_real] == 1  # the second run fetched today
