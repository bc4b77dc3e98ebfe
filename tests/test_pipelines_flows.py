"""Flows against the simulator on loopback, under one Prefect test harness: idempotency,
incremental runs (counted on the simulator), the holiday calendar, update, and crash safety."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path

import pytest

from pipelines.bars import ingest_index_bars, ingest_period_bars
from pipelines.errors import InputError
from pipelines.holidays_flow import ingest_holidays
from pipelines.jobs import JobsFailed
from pipelines.minutes import ingest_minute_bars
from pipelines.update import update
from schemas import INDEX_BARS, MINUTE_BARS, PERIOD_BARS
from simulator.server import RunningSimulator
from tests.helpers import lake_table, point_env_at
from warehouse.lake import Lake

pytestmark = pytest.mark.usefixtures("prefect_harness")

AFTER_CLOSE = datetime(2026, 11, 24, 16, 0)  # a Tuesday, after the close: the day is settled
DAY = 86_400


@pytest.fixture
def sim_after_close(make_sim: Callable[..., RunningSimulator]) -> RunningSimulator:
    return make_sim(now=AFTER_CLOSE, rate_limit=0)


@pytest.fixture
def env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sim_after_close: RunningSimulator
) -> Iterator[RunningSimulator]:
    point_env_at(monkeypatch, sim_after_close, tmp_path / "home")
    yield sim_after_close


def _requests(sim: RunningSimulator) -> int:
    return sim.stats.requests


def test_bars_twice_is_identical_and_the_second_run_makes_no_call(
    env: RunningSimulator, tmp_path: Path
) -> None:
    ingest_holidays(start="2026-09-01")
    first = ingest_period_bars(symbols=["005930", "000660"], start="2026-09-01")
    assert first.datasets["period_bars"].inserted > 0
    before = lake_table(tmp_path / "home", PERIOD_BARS)
    assert set(before["adjusted"]) == {True, False}
    assert before["date"].max() == AFTER_CLOSE.date()

    calls = _requests(env)
    again = ingest_period_bars(symbols=["005930", "000660"], start="2026-09-01")
    assert _requests(env) == calls, "nothing was missing, so nothing may be fetched"
    assert again.skipped == 4 and again.rows_written == 0
    assert lake_table(tmp_path / "home", PERIOD_BARS).equals(before)


def test_incremental_run_fetches_only_the_new_day_and_respects_holidays(
    env: RunningSimulator, tmp_path: Path
) -> None:
    ingest_holidays(start="2026-11-01")
    ingest_index_bars(codes=["0001"], start="2026-11-01")
    ingest_period_bars(symbols=["005930"], start="2026-11-01", adjusted=[True])
    rows = lake_table(tmp_path / "home", PERIOD_BARS).height

    env.clock.advance(DAY)  # Wednesday 16:00: one new trading day
    calls = _requests(env)
    ingest_period_bars(symbols=["005930"], start="2026-11-01", adjusted=[True])
    assert _requests(env) - calls == 1, "one series, one new day: one call"
    assert lake_table(tmp_path / "home", PERIOD_BARS).height == rows + 1

    env.clock.advance(3 * DAY)  # Saturday: Thursday and Friday are new, the weekend is not
    calls = _requests(env)
    ingest_period_bars(symbols=["005930"], start="2026-11-01", adjusted=[True])
    assert _requests(env) - calls == 1
    dates = lake_table(tmp_path / "home", PERIOD_BARS)["date"].to_list()
    assert max(dates).isoformat() == "2026-11-27"

    env.clock.advance(DAY)  # Sunday: no trading day since the last stored bar
    calls = _requests(env)
    summary = ingest_period_bars(symbols=["005930"], start="2026-11-01", adjusted=[True])
    assert _requests(env) == calls and summary.skipped == 1
    # The holiday calendar came from the lake: no bar on a closed day.
    with Lake.open(tmp_path / "home", source="sim") as lake:
        closed = lake.con.execute(
            "SELECT count(*) FROM lake.main.period_bars b JOIN lake.main.holidays h USING (date) "
            "WHERE NOT h.market_open"
        ).fetchone()
    assert closed == (0,)


def test_minute_bars_one_fetch_per_range_and_incremental(
    env: RunningSimulator, tmp_path: Path
) -> None:
    ingest_holidays(start="2026-11-16")
    past = env.stats.by_tr_id["FHKST03010230"]
    summary = ingest_minute_bars(symbols=["005930"], start="2026-11-20")
    frame = lake_table(tmp_path / "home", MINUTE_BARS)
    assert sorted({d.isoformat() for d in frame["date"]}) == [
        "2026-11-20",
        "2026-11-23",
        "2026-11-24",
    ]
    # The past days in one fetch whose pages run across days (762 bars: 7 calls, not 4 + 4);
    # today through today's API.
    assert summary.datasets["minute_bars"].keys == 2
    assert env.stats.by_tr_id["FHKST03010230"] - past == math.ceil(2 * 381 / 120)
    calls = _requests(env)
    ingest_minute_bars(symbols=["005930"], start="2026-11-20")
    assert _requests(env) == calls


def test_the_nightly_minute_bars_run_fetches_the_new_day_only(
    env: RunningSimulator, tmp_path: Path
) -> None:
    ingest_holidays(start="2026-11-16", ahead=7)
    ingest_minute_bars(symbols=["005930", "000660"], start="2026-11-17")
    stored = lake_table(tmp_path / "home", MINUTE_BARS)
    env.clock.advance(DAY)  # the next session's close: the nightly deployment's run
    calls, past, today = (
        _requests(env),
        env.stats.by_tr_id["FHKST03010230"],
        env.stats.by_tr_id["FHKST03010200"],
    )
    summary = ingest_minute_bars(symbols=["005930", "000660"], start="2026-11-17")
    after = lake_table(tmp_path / "home", MINUTE_BARS)
    new = after.filter(after["date"] == date(2026, 11, 25))
    assert new.height == 2 * 381 and after.height == stored.height + new.height
    assert env.stats.by_tr_id["FHKST03010230"] == past, "no stored day fetched again"
    # Today's API, 30 bars a call: ceil(381 / 30) per symbol, and nothing else.
    assert env.stats.by_tr_id["FHKST03010200"] - today == 2 * math.ceil(381 / 30)
    assert _requests(env) - calls == 2 * math.ceil(381 / 30)
    assert summary.datasets["minute_bars"].keys == 2


def test_update_runs_every_part_and_then_only_snapshots(
    env: RunningSimulator, tmp_path: Path
) -> None:
    summary = update(symbols=["005930"], start="2026-11-10", minutes_start="2026-11-24")
    assert {
        "holidays",
        "securities",
        "period_bars",
        "index_bars",
        "minute_bars",
        "rankings",
    } <= set(summary.datasets)
    assert lake_table(tmp_path / "home", INDEX_BARS)["index_code"].unique().sort().to_list() == [
        "0001",
        "1001",
        "2001",
    ]
    env.stats.by_path.clear()
    update(symbols=["005930"], start="2026-11-10", minutes_start="2026-11-24")
    paths = {p.rsplit("/", 1)[-1] for p in env.stats.by_path}
    # Second run: rankings are snapshots, the calendar re-reads today onward and the KSD
    # schedules are re-read for announcements; nothing else.
    ksd = {"rev-split", "bonus-issue", "paidin-capin", "dividend", "merger-split", "cap-dcrs"}
    assert paths <= {"chk-holiday", "volume-rank", "fluctuation", "market-cap", *ksd}, paths


def test_bad_input_is_refused_before_any_call(env: RunningSimulator) -> None:
    calls = _requests(env)
    with pytest.raises(InputError, match="not a KRX stock code"):
        ingest_period_bars(symbols=["5930"])
    with pytest.raises(InputError, match="bad start"):
        ingest_period_bars(symbols=["005930"], start="yesterday-ish")
    with pytest.raises(InputError, match="unknown period"):
        ingest_period_bars(symbols=["005930"], periods=["Q"])
    assert _requests(env) == calls


_CRASHY_INGEST = textwrap.dedent(
    """
    import sys
    from pipelines import progress
    from pipelines.bars import ingest_period_bars

    class Printer:
        def start(self, label, total): pass
        def advance(self, n=1):
            print("stored", flush=True)
        def done(self): pass

    with progress.reporting(Printer()):
        ingest_period_bars(symbols=sys.argv[1].split(","), start="2025-06-01")
    print("finished", flush=True)
    """
)
CRASH_SYMBOLS = "005930,000660,035420,035720"


@pytest.mark.slow  # the fault suite kills ingests at random moments; both in make test-scale
def test_kill_9_mid_ingest_then_rerun_equals_a_clean_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, make_sim: Callable[..., RunningSimulator]
) -> None:
    from prefect.settings import PREFECT_API_URL

    # Two homes mean two token caches: let the second issue its token without KIS's 1-minute wait.
    sim = make_sim(now=AFTER_CLOSE, rate_limit=0, token_issue_interval=0)
    crashed, clean = tmp_path / "crashed", tmp_path / "clean"
    point_env_at(monkeypatch, sim, crashed)
    ingest_holidays(start="2025-06-01")
    child_env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    proc = subprocess.Popen(
        [sys.executable, "-c", _CRASHY_INGEST, CRASH_SYMBOLS],
        env=child_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert proc.stdout is not None
    stored = 0
    for line in proc.stdout:
        stored += line.startswith("stored")
        if stored >= 3:
            proc.kill()  # SIGKILL on POSIX: no cleanup, no atexit
            break
    proc.wait(timeout=30)
    assert stored >= 3, "the child finished or died before the kill"
    partial_rows = lake_table(crashed, PERIOD_BARS).height

    resumed = ingest_period_bars(symbols=CRASH_SYMBOLS.split(","), start="2025-06-01")
    assert resumed.skipped >= 1 and partial_rows > 0, "keys stored before the kill are kept"
    assert resumed.rows_written > 0, "the kill came after the child had finished"

    monkeypatch.setenv("KISDB_HOME", str(clean))
    ingest_holidays(start="2025-06-01")
    ingest_period_bars(symbols=CRASH_SYMBOLS.split(","), start="2025-06-01")
    assert lake_table(crashed, PERIOD_BARS).equals(lake_table(clean, PERIOD_BARS))


def test_a_persistent_5xx_costs_one_retry_budget_per_request(env: RunningSimulator) -> None:
    """The connector retries each request `max_retries` times; Prefect must not multiply that."""
    ingest_holidays(start="2026-11-01")  # issues the token while the server is healthy
    env.set_faults("http5xx=1")
    before = _requests(env)
    with pytest.raises(JobsFailed, match="EGW00002"):
        ingest_period_bars(symbols=["005930"], start="2026-11-02", adjusted=[True])
    assert _requests(env) - before == 1 + 4  # one page: the first try and Settings.max_retries
