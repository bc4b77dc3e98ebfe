"""Index, overseas and stock minute-bar flows against the simulator: what lands in the tables, idempotent
re-runs, overseas runs resuming from the last stored bar (calls counted on the simulator), and
`update` running them only when asked through `parts`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from pipelines.errors import InputError
from pipelines.minutes import (
    fetch_ranges,
    ingest_index_minute_bars,
    ingest_overseas_minute_bars,
    resume_from,
)
from pipelines.update import update
from schemas import INDEX_MINUTE_BARS, OVERSEAS_MINUTE_BARS
from simulator.server import RunningSimulator
from tests.helpers import lake_table, point_env_at

pytestmark = pytest.mark.usefixtures("prefect_harness")

AFTER_CLOSE = datetime(2026, 11, 24, 16, 0)  # Tue KST; New York is at 02:00 the same day
FROZEN = 1e-6  # sim speed: the clock stays put for the test, so re-runs see the same market


FrozenSimAt = Callable[[datetime], tuple[RunningSimulator, Path]]


@pytest.fixture
def frozen_sim_at(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, make_sim: Callable[..., RunningSimulator]
) -> FrozenSimAt:
    """frozen_sim_at(now) -> (a simulator frozen at `now`, the home the flows are pointed at)."""

    def start(now: datetime) -> tuple[RunningSimulator, Path]:
        sim = make_sim(now=now, rate_limit=0, speed=FROZEN)
        point_env_at(monkeypatch, sim, tmp_path / "home")
        return sim, tmp_path / "home"

    return start


def test_index_minute_bars_snapshot_is_idempotent_and_can_reach_back(
    frozen_sim_at: FrozenSimAt,
) -> None:
    sim, home = frozen_sim_at(AFTER_CLOSE)
    first = ingest_index_minute_bars(codes=["0001", "1001"])
    table = lake_table(home, INDEX_MINUTE_BARS)
    assert (
        first.datasets["index_minute_bars"].inserted == table.height == 2 * 102
    )  # KIS's cap a call
    last = table.filter(pl.col("index_code") == "0001").sort("ts")
    assert last["ts"][-1].astimezone(ZoneInfo("Asia/Seoul")).strftime("%H:%M") == "15:30"
    assert set(last["date"]) == {AFTER_CLOSE.date()}
    # One-minute bars, and the closing auction's gap (15:20 -> the 15:30 close bar).
    assert set(last["ts"].diff().drop_nulls()) == {timedelta(minutes=1), timedelta(minutes=11)}

    requests = sim.stats.requests
    again = ingest_index_minute_bars(codes=["0001", "1001"])
    assert sim.stats.requests - requests == 2  # one call per index
    assert again.rows_written == 0 and lake_table(home, INDEX_MINUTE_BARS).equals(table)


def test_index_minute_bars_include_past_early_in_the_session(
    frozen_sim_at: FrozenSimAt,
) -> None:
    sim, home = frozen_sim_at(datetime(2026, 11, 24, 9, 30))
    ingest_index_minute_bars(codes=["2001"], include_past=True)
    days = lake_table(home, INDEX_MINUTE_BARS).group_by("date").len().sort("date")
    assert days["date"].to_list() == [date(2026, 11, 23), date(2026, 11, 24)]
    assert days["len"].sum() == 102


def test_overseas_minute_bars_resume_from_the_last_stored_bar(
    frozen_sim_at: FrozenSimAt,
) -> None:
    sim, home = frozen_sim_at(AFTER_CLOSE)
    requests = sim.stats.requests
    first = ingest_overseas_minute_bars(symbols=["NAS:AAPL"], start="2026-11-20")
    calls = sim.stats.requests - requests
    table = lake_table(home, OVERSEAS_MINUTE_BARS)
    # Fri 11-20 and Mon 11-23 in New York (Tue's session has not opened at 02:00 NY).
    assert sorted(set(table["local_date"])) == [date(2026, 11, 20), date(2026, 11, 23)]
    assert first.datasets["overseas_minute_bars"].inserted == table.height == 2 * 390
    assert calls <= table.height // 120 + 2  # ~120 bars a call, and no page beyond `start`

    requests = sim.stats.requests
    again = ingest_overseas_minute_bars(symbols=["NAS:AAPL"], start="2026-11-20")
    assert sim.stats.requests - requests == 1, "resumes at the last bar: one page"
    assert again.rows_written == 0 and lake_table(home, OVERSEAS_MINUTE_BARS).equals(table)
    with pytest.raises(InputError):
        ingest_overseas_minute_bars(symbols=["AAPL"])


def test_resume_from_is_the_last_bar_or_local_midnight() -> None:
    stored = datetime(2026, 11, 23, 15, 59, tzinfo=ZoneInfo("America/New_York"))
    assert resume_from((stored, stored), date(2026, 11, 1), "NAS") == stored
    start = resume_from(None, date(2026, 11, 20), "TSE")
    assert start == datetime(2026, 11, 20, tzinfo=ZoneInfo("Asia/Tokyo"))


def test_update_runs_minute_snapshots_only_when_named(
    frozen_sim_at: FrozenSimAt,
) -> None:
    sim, home = frozen_sim_at(AFTER_CLOSE)
    summary = update(symbols=["005930"], indices=["0001"], parts=["index-minute-bars"])
    assert set(summary.datasets) == {"index_minute_bars"}
    with pytest.raises(InputError):
        update(parts=["index-minutes"])


def test_stock_minute_fetches_are_one_range_of_past_days_and_today_alone() -> None:
    days = [date(2026, 11, d) for d in (17, 18, 19, 20, 23, 24)]
    whole = [(date(2026, 11, 17), date(2026, 11, 24))]
    # During or after today's session: the past days in one fetch, today through its own API.
    assert fetch_ranges(whole, days, date(2026, 11, 24)) == [
        (date(2026, 11, 17), date(2026, 11, 23)),
        (date(2026, 11, 24), date(2026, 11, 24)),
    ]
    # The morning after: each missing range is one past-days fetch, however many days it holds.
    two = [(date(2026, 11, 17), date(2026, 11, 18)), (date(2026, 11, 20), date(2026, 11, 24))]
    assert fetch_ranges(two, days, date(2026, 11, 25)) == two
    assert fetch_ranges([(date(2026, 11, 24),) * 2], days, date(2026, 11, 24)) == [
        (date(2026, 11, 24), date(2026, 11, 24))
    ]
