"""Market-data methods of KisClient / AsyncKisClient against the simulator over loopback.

Calls are counted on the simulator's side (`sim.stats.by_tr_id`), so "minimal" means what the
server actually served, and rows are checked against what the simulator's own calendar and daily
bars say (minute volumes add up to the day's volume, dates match the holiday table).
"""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from connectors.kis import AsyncKisClient, KisClient, KisRequestError, Settings
from connectors.kis.endpoints import Endpoint
from connectors.kis.market_data.domestic import (
    INQUIRE_DAILY_PRICE,
    INQUIRE_PRICE,
    PAST_MINUTE_CHART,
    PERIOD_CHART,
    TODAY_MINUTE_CHART,
)
from connectors.kis.market_data.index import INDEX_CHART
from connectors.kis.market_data.krx_calendar import HOLIDAY_CHECK
from connectors.kis.market_data.overseas import OVERSEAS_DAILY, OVERSEAS_MINUTE_CHART
from schemas import (
    HOLIDAYS,
    INDEX_BARS,
    INDEX_MINUTE_BARS,
    MINUTE_BARS,
    OVERSEAS_BARS,
    OVERSEAS_MINUTE_BARS,
    PERIOD_BARS,
    RANKINGS,
)
from schemas.clock import KST, FixedClock, FuncClock
from schemas.periods import period_start
from simulator.server import RunningSimulator
from tests.helpers import sim_settings

SIM_TODAY = date(2026, 11, 24)  # tests/conftest.py pins the simulator at 2026-11-24 10:30 KST


def settings_for(sim: RunningSimulator, home: Path) -> Settings:
    return sim_settings(sim, home, rate_limit=1000.0, raw_archive=False)


@pytest.fixture
def client(sim: RunningSimulator, tmp_path: Path) -> KisClient:
    with KisClient(settings_for(sim, tmp_path)) as c:
        yield c


def served(sim: RunningSimulator, endpoint: Endpoint) -> int:
    return sim.stats.by_tr_id[endpoint.tr_real]


def test_daily_backfill_is_complete_in_the_minimum_number_of_calls(
    client: KisClient, sim: RunningSimulator
) -> None:
    df = client.period_bars(
        "000660", start=date(2020, 1, 1), end=date(2024, 12, 31), period="D", adjusted=True
    )
    assert df.schema == PERIOD_BARS.schema
    assert df["date"].is_sorted() and df["date"].is_unique().all()
    assert served(sim, PERIOD_CHART) == math.ceil(df.height / 100)
    # Every open day of 2024 by the holiday table, and nothing else.
    cal = client.holidays(date(2024, 1, 1), date(2024, 12, 31))
    assert cal.schema == HOLIDAYS.schema and cal.height == 366
    assert served(sim, HOLIDAY_CHECK) == math.ceil(366 / 24)
    open_days = cal.filter(pl.col("market_open"))["date"].to_list()
    assert df.filter(pl.col("date").dt.year() == 2024)["date"].to_list() == open_days
    assert date(2024, 12, 31) not in open_days  # the year-end closure


@pytest.mark.parametrize("period", ["W", "M", "Y"])
def test_longer_periods_page_without_gaps_or_repeats(
    client: KisClient, sim: RunningSimulator, period: str
) -> None:
    df = client.period_bars("005380", date(2016, 1, 1), date(2025, 12, 31), period=period)
    assert df["date"].is_unique().all() and (df["period"] == period).all()
    keys = df["date"].map_elements(lambda d: period_start(d, period), return_dtype=pl.Date)
    assert keys.is_unique().all()  # one bar per week / month / year
    assert served(sim, PERIOD_CHART) == max(1, math.ceil(df.height / 100))


def test_adjusted_and_raw_differ_only_before_the_split(client: KisClient) -> None:
    # The simulator splits 삼성전자 1:50 at the open of 2018-05-04.
    adj = client.period_bars("005930", date(2018, 4, 2), date(2018, 5, 31), adjusted=True)
    raw = client.period_bars("005930", date(2018, 4, 2), date(2018, 5, 31), adjusted=False)
    both = adj.join(raw, on="date", suffix="_raw")
    assert both.height == adj.height == raw.height
    before = both.filter(pl.col("date") < date(2018, 5, 4))
    after = both.filter(pl.col("date") >= date(2018, 5, 4))
    ratio = (before["close_raw"] / before["close"]).to_list()
    assert all(45 < r < 55 for r in ratio)
    assert (after["close_raw"] == after["close"]).all()
    assert not adj["adjusted"].is_in([False]).any() and not raw["adjusted"].any()


def test_daily_price_and_current_price(client: KisClient, sim: RunningSimulator) -> None:
    last30 = client.daily_price("005930")
    assert last30.height == 30 and last30["date"].max() == SIM_TODAY
    quote = client.current_price("005930")
    assert isinstance(quote["price"], int) and quote["price"] == last30["close"][-1]
    assert served(sim, INQUIRE_DAILY_PRICE) == 1 and served(sim, INQUIRE_PRICE) == 1


def test_todays_minute_bars_end_now_and_match_the_day(
    client: KisClient, sim: RunningSimulator
) -> None:
    df = client.minute_bars("005930")
    assert df.schema == MINUTE_BARS.schema
    assert df["ts"].is_sorted() and df["ts"].is_unique().all()
    assert (df["date"] == SIM_TODAY).all()
    first, last = (
        df["ts"].dt.replace_time_zone(None).min(),
        df["ts"].dt.replace_time_zone(None).max(),
    )
    assert first == datetime(2026, 11, 24, 9, 0) and datetime(2026, 11, 24, 10, 29) <= last
    assert served(sim, TODAY_MINUTE_CHART) == math.ceil(df.height / 30)


def test_past_minute_bars_over_a_week_add_up_to_the_daily_bars(
    client: KisClient, sim: RunningSimulator
) -> None:
    df = client.minute_bars("035420", start_day=date(2026, 11, 13), end_day=date(2026, 11, 20))
    assert df["ts"].is_unique().all() and df["ts"].is_sorted()
    assert served(sim, PAST_MINUTE_CHART) == math.ceil(df.height / 120)
    daily = client.period_bars("035420", date(2026, 11, 13), date(2026, 11, 20), adjusted=False)
    per_day = df.group_by("date").agg(pl.col("volume").sum()).sort("date")
    assert per_day["date"].to_list() == daily["date"].to_list()
    assert per_day["volume"].to_list() == daily["volume"].to_list()
    one = client.minute_bars("035420", day=date(2026, 11, 20))
    assert one.equals(df.filter(pl.col("date") == date(2026, 11, 20)))


def test_index_bars_and_index_minutes(client: KisClient, sim: RunningSimulator) -> None:
    df = client.index_bars("0001", date(2025, 1, 1), date(2025, 12, 31))
    assert df.schema == INDEX_BARS.schema and df["date"].is_unique().all()
    assert isinstance(df["close"][0], Decimal)
    assert served(sim, INDEX_CHART) == math.ceil(df.height / 50)
    minutes = client.index_minute_bars("1001")
    assert minutes.schema == INDEX_MINUTE_BARS.schema and minutes.height > 0
    assert (minutes["date"] == SIM_TODAY).all() and minutes["ts"].is_unique().all()


def test_market_now_comes_from_the_clock_passed_in(sim: RunningSimulator, tmp_path: Path) -> None:
    moment = datetime(2026, 11, 24, 10, 30, 15, tzinfo=KST)
    with KisClient(settings_for(sim, tmp_path), clock=FixedClock(moment)) as client:
        ranked = client.volume_rank()
        async_ranked = asyncio.run(_async_volume_rank(settings_for(sim, tmp_path), moment))
    assert set(ranked["snapshot_ts"]) == {moment} and set(async_ranked["snapshot_ts"]) == {moment}


async def _async_volume_rank(settings: Settings, moment: datetime) -> pl.DataFrame:
    async with AsyncKisClient(settings, clock=FixedClock(moment)) as client:
        return await client.volume_rank()


def test_rankings(client: KisClient) -> None:
    for ranking, frame in (
        ("volume", client.volume_rank()),
        ("fluctuation", client.fluctuation_rank(sort="fall")),
        ("market_cap", client.market_cap_rank("0001")),
    ):
        assert frame.schema == RANKINGS.schema
        assert frame.height == 30 and frame["rank"].to_list() == list(range(1, 31))
        assert (frame["ranking"] == ranking).all() and frame["symbol"].is_unique().all()
    caps = client.market_cap_rank()["market_cap"].to_list()
    assert caps == sorted(caps, reverse=True)


def test_overseas_bars_across_a_split(client: KisClient, sim: RunningSimulator) -> None:
    # The simulator splits AAPL 1:4 on 2020-08-31.
    adj = client.overseas_bars("NAS", "AAPL", date(2020, 1, 1), date(2021, 6, 30), adjusted=True)
    raw = client.overseas_bars("NAS", "AAPL", date(2020, 1, 1), date(2021, 6, 30), adjusted=False)
    assert adj.schema == OVERSEAS_BARS.schema
    assert adj["date"].is_unique().all() and adj["date"].to_list() == raw["date"].to_list()
    assert served(sim, OVERSEAS_DAILY) == 2 * math.ceil(adj.height / 100)
    both = adj.join(raw, on="date", suffix="_raw")
    before = both.filter(pl.col("date") < date(2020, 8, 31))
    ratios = (before["close_raw"].cast(pl.Float64) / before["close"].cast(pl.Float64)).to_list()
    assert all(3.9 < r < 4.1 for r in ratios)
    after = both.filter(pl.col("date") >= date(2020, 8, 31))
    assert (after["close_raw"] == after["close"]).all()


def test_overseas_minute_bars_back_to_an_instant(client: KisClient, sim: RunningSimulator) -> None:
    since = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)  # 09:30 New York
    df = client.overseas_minute_bars("NAS", "MSFT", 5, since=since)
    assert df.schema == OVERSEAS_MINUTE_BARS.schema
    assert df["ts"].min() == since and df["ts"].is_unique().all()
    assert (df["ts"].diff().drop_nulls() >= timedelta(minutes=5)).all()
    # A page may hold bars older than `since` (trimmed): at most one call more than rows/120.
    assert served(sim, OVERSEAS_MINUTE_CHART) <= math.ceil(df.height / 120) + 1


def test_bad_arguments_send_nothing(client: KisClient, sim: RunningSimulator) -> None:
    before = sim.stats.requests
    for bad in (
        lambda: client.period_bars("005930", date(2024, 2, 1), date(2024, 1, 1)),
        lambda: client.period_bars("삼성전자", date(2024, 1, 1), date(2024, 2, 1)),
        lambda: client.overseas_bars("NASDAQ", "AAPL", date(2024, 1, 1), date(2024, 2, 1)),
        lambda: client.index_bars("0001", date(2024, 1, 1), date(2024, 2, 1), period="H"),
    ):
        with pytest.raises(KisRequestError):
            bad()
    assert sim.stats.requests == before


def test_the_async_client_returns_the_same_frames(sim: RunningSimulator, tmp_path: Path) -> None:
    with KisClient(settings_for(sim, tmp_path)) as sync_client:
        want_bars = sync_client.period_bars("000660", date(2023, 1, 1), date(2024, 6, 30))
        want_holidays = sync_client.holidays(date(2026, 1, 1), date(2026, 2, 28))

    async def fetch() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
        async with AsyncKisClient(settings_for(sim, tmp_path)) as c:
            bars, cal = await asyncio.gather(
                c.period_bars("000660", date(2023, 1, 1), date(2024, 6, 30)),
                c.holidays(date(2026, 1, 1), date(2026, 2, 28)),
            )
            return bars, cal, await c.volume_rank()

    bars, cal, rank = asyncio.run(fetch())
    assert bars.equals(want_bars) and cal.equals(want_holidays) and rank.height == 30


def test_order_book_is_the_simulators_book_now(sim: RunningSimulator, tmp_path: Path) -> None:
    # On the simulator's (pinned) clock, as the composition root hands it to clients.
    market = FuncClock(sim.clock.now, name="simulator")
    with KisClient(settings_for(sim, tmp_path), clock=market) as client:
        book = client.order_book("005930")
    row = book.row(0, named=True)
    assert book.height == 1 and row["symbol"] == "005930"
    assert row["ts_event"].date() == sim.clock.today()
    asks = [row[f"ask_px_{i}"] for i in range(1, 11)]
    bids = [row[f"bid_px_{i}"] for i in range(1, 11)]
    assert asks == sorted(asks) and bids == sorted(bids, reverse=True) and bids[0] < asks[0]
    assert row["total_ask_qty"] == sum(row[f"ask_qty_{i}"] for i in range(1, 11))


def test_the_ksd_par_value_schedule_lists_the_universe_splits(client: KisClient) -> None:
    everything = client.par_value_changes(date(2018, 1, 1), date(2024, 12, 31))
    rows = {(r["symbol"], r["date"], r["ratio"]) for r in everything.iter_rows(named=True)}
    assert rows == {("005930", date(2018, 5, 4), 50.0), ("086520", date(2024, 4, 16), 5.0)}
    assert everything["record_date"].to_list() == [date(2018, 5, 3), date(2024, 4, 15)]
    one = client.par_value_changes(date(2024, 1, 1), date(2024, 12, 31), symbol="086520")
    assert one["symbol"].to_list() == ["086520"]
    assert client.par_value_changes(date(2019, 1, 1), date(2019, 12, 31)).height == 0
