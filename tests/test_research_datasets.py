"""The research datasets (issue 15): investor flows from the parser to the views.

The parser runs on the workbook's real example; the client and the flow run against the
simulator, whose flows are derived from its own daily bars (buys = sells = the day's volume).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest

from connectors.kis import KisClient
from connectors.kis.market_data.investors import INVESTOR_TRADE_DAILY, parse_investor_flows
from pipelines.research_datasets import ingest_investor_flows
from schemas import INVESTOR_FLOWS
from schemas.research import INVESTOR_GROUPS, INVESTORS
from simulator.server import RunningSimulator
from tests.sim_helpers import Kis, Q
from tests.test_market_data_sim import settings_for
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


@pytest.fixture
def client(make_sim: Callable[..., RunningSimulator], tmp_path: Path) -> Iterator[KisClient]:
    sim = make_sim(now=AFTER_CLOSE, rate_limit=0)
    with KisClient(settings_for(sim, tmp_path)) as c:
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
    with Lake.open(home, source="sim") as lake:
        report = run_checks(lake, only=["investor_flows"])
        assert report.ok and report.checks_run == ["investor_flows"]
        view = lake.con.execute(
            "SELECT * FROM foreign_net_buy WHERE symbol = '005930' ORDER BY date"
        ).pl()
        flows = lake.table(INVESTOR_FLOWS)
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
