"""Scenarios played on the simulator's clock: the real flows and `check`, with the market clock
pinned and moved forward between steps (the runtime's clock is the in-process simulator's)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest

from pipelines.universe import resolve_symbols
from pipelines.update import update
from schemas import SECURITIES
from simulator.server import RunningSimulator
from warehouse.checks import run_checks
from warehouse.lake import Lake

# Several full updates each: slow on a loaded machine.
pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.timeout(600)]

DAY = datetime(2026, 11, 24)  # a Tuesday
SYMBOLS = ["005930"]
PARTS = ["holidays", "bars", "index-bars", "minute-bars", "index-minute-bars"]


def _point_at(monkeypatch: pytest.MonkeyPatch, sim: RunningSimulator, home: Path) -> None:
    monkeypatch.setenv("KIS_ENV", "sim")
    monkeypatch.setenv("KIS_BASE_URL", sim.base_url)
    monkeypatch.setenv("KIS_WS_URL", sim.ws_url)
    monkeypatch.setenv("KISDB_HOME", str(home))
    for name in ("KIS_APP_KEY", "KIS_APP_SECRET", "KIS_ACCOUNT"):
        monkeypatch.delenv(name, raising=False)


def _move_to(sim: RunningSimulator, moment: datetime) -> None:
    """Move the pinned market clock forward to `moment` (it only moves forward)."""
    sim.clock.advance((moment - sim.clock.now()).total_seconds())


def _update() -> None:
    update(symbols=SYMBOLS, start="2026-11-10", minutes_start="2026-11-23", parts=PARTS)


def _check_clean(home: Path) -> None:
    with Lake.open(home, source="sim") as lake:
        report = run_checks(lake)
    errors = [f for f in report.findings if f.severity == "error"]
    assert report.ok, errors


def _provisional(home: Path) -> dict[str, int]:
    with Lake.open(home, source="sim", read_only=True) as lake:
        return {
            view: lake.con.execute(f"SELECT count(*) FROM {view} WHERE final = false").fetchone()[0]
            for view in ("bars_daily", "bars_weekly", "minutes", "index_daily", "index_minutes")
        } | {
            f"{view}_live": lake.con.execute(
                f"SELECT count(*) FROM {view}_live WHERE final = false"
            ).fetchone()[0]
            for view in ("bars_daily", "minutes")
        }


def _day_bars(home: Path) -> pl.DataFrame:
    with Lake.open(home, source="sim", read_only=True) as lake:
        return lake.con.execute(
            "SELECT * FROM lake.main.period_bars WHERE date = ? ORDER BY ALL", [DAY.date()]
        ).pl()


def test_a_day_in_the_life(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    make_sim: Callable[..., RunningSimulator],
) -> None:
    sim = make_sim(now=DAY.replace(hour=8), rate_limit=0)
    home = tmp_path / "home"
    _point_at(monkeypatch, sim, home)

    _update()  # before the open: yesterday is the last closed session
    _check_clean(home)
    assert _day_bars(home).height == 0

    _move_to(sim, DAY.replace(hour=10, minute=30))
    _update()  # mid-session: today's bars are provisional
    _check_clean(home)
    counts = _provisional(home)
    assert {k: v for k, v in counts.items() if not k.endswith("_live")} == dict.fromkeys(
        ("bars_daily", "bars_weekly", "minutes", "index_daily", "index_minutes"), 0
    )
    assert counts["bars_daily_live"] == 1 and counts["minutes_live"] >= 1
    assert not _day_bars(home)["final"].any()

    _move_to(sim, DAY.replace(hour=16))
    _update()  # after the close: the day is final, as a fresh fetch has it
    _check_clean(home)
    day = _day_bars(home)
    assert day.height and day["final"].all()
    after = _provisional(home)
    assert after["bars_daily_live"] == 0 and after["minutes_live"] == 0

    fresh_home = tmp_path / "fresh"
    _point_at(monkeypatch, make_sim(now=DAY.replace(hour=16), rate_limit=0), fresh_home)
    _update()
    assert day.equals(_day_bars(fresh_home))


def test_a_past_range_takes_the_earliest_snapshot_and_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    snapshots = pl.DataFrame(
        {
            "snapshot_date": [date(2026, 11, 20)] * 2 + [date(2026, 11, 24)],
            "symbol": ["005930", "000660", "005930"],
            "name": ["a", "b", "a"],
            "market": ["KOSPI", "KOSPI", "KOSPI"],
        }
    )
    with Lake.open(tmp_path / "home", source="sim") as lake:
        lake.upsert(SECURITIES, snapshots)
        with caplog.at_level(logging.WARNING, logger="pipelines.universe"):
            assert resolve_symbols(lake=lake, on=date(2026, 11, 21)) == ["000660", "005930"]
            assert not caplog.records
            assert resolve_symbols(lake=lake, on=date(2018, 1, 31)) == ["000660", "005930"]
        assert "survivorship" in caplog.text and "2026-11-20" in caplog.text
        assert resolve_symbols(lake=lake) == ["005930"]
