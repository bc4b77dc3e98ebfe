"""examples/research.py runs top to bottom against a lake filled by the flows, and its event
study sees the simulated 1:5 split of 086520 in raw prices but not in adjusted ones."""

from __future__ import annotations

import runpy
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import pytest

from pipelines.bars import ingest_index_bars, ingest_period_bars
from pipelines.holidays_flow import ingest_holidays
from pipelines.minutes import ingest_minute_bars
from pipelines.research_datasets import ingest_financials, ingest_investor_flows
from pipelines.securities import ingest_securities
from simulator.server import RunningSimulator

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "research.py"


@pytest.mark.usefixtures("prefect_harness")
def test_research_notebook_runs_on_a_demo_lake(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    make_sim: Callable[..., RunningSimulator],
    capsys: pytest.CaptureFixture[str],
) -> None:
    sim = make_sim(now=datetime(2026, 11, 24, 16, 0), rate_limit=0)
    home = tmp_path / "demo"
    monkeypatch.setenv("KIS_ENV", "sim")
    monkeypatch.setenv("KIS_BASE_URL", sim.base_url)
    monkeypatch.setenv("KIS_WS_URL", sim.ws_url)
    monkeypatch.setenv("KISDB_HOME", str(home))
    start = "2024-03-25"
    ingest_holidays(start=start)
    ingest_securities()
    ingest_period_bars(symbols=["086520", "005930"], start=start)
    ingest_index_bars(codes=["1001"], start=start)
    ingest_minute_bars(symbols=["005930"], start="2026-11-23")
    ingest_investor_flows(symbols=["086520", "005930"], start=start)
    ingest_financials(symbols=["086520", "005930"])

    namespace = runpy.run_path(str(NOTEBOOK), run_name="__main__")

    out = capsys.readouterr().out
    assert "event day 2024-04-16" in out
    day0 = namespace["window"].filter(namespace["window"]["t"] == 0).row(0, named=True)
    assert day0["raw_ret"] < -0.6, "raw prices fall by the 1:5 split"
    assert abs(day0["stock_ret"]) < 0.3, "adjusted prices do not"
    assert namespace["summary"].height == 2
    assert namespace["vwap"].height == 2
    assert namespace["flow_vs_return"]["investor"].to_list() == ["foreign", "institution"]
    screen = namespace["screen"]
    assert screen.height == 2 and screen["date"].max() <= namespace["AS_OF"]
    # As of 2026-06-30, fiscal 2025 is known (filed by 2026-03-31), fiscal 2026 is not.
    assert set(screen["period_end"]) == {date(2025, 12, 31)}
