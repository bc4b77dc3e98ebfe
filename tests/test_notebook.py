"""examples/research.ipynb runs headless (nbclient, a real kernel) top to bottom against a lake
filled by the flows, unmodified: its event study sees the simulated 1:5 split of 086520 in raw
prices but not in adjusted ones, its chart has the bars, and the issue-15 sections (investor
flows vs the next day's return, a point-in-time valuation screen) find their data."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from pipelines.bars import ingest_index_bars, ingest_period_bars
from pipelines.holidays_flow import ingest_holidays
from pipelines.minutes import ingest_minute_bars
from pipelines.research_datasets import ingest_financials, ingest_investor_flows
from pipelines.securities import ingest_securities
from simulator.server import RunningSimulator

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "research.ipynb"

# Appended to the notebook in memory: what the test checks, read from the kernel's namespace.
PROBE = """
import json
day0 = window.filter(window["t"] == 0).row(0, named=True)
print("PROBE " + json.dumps({
    "raw_ret": day0["raw_ret"], "stock_ret": day0["stock_ret"],
    "summary": summary.height, "vwap": vwap.height,
    "investors": flow_vs_return["investor"].to_list(), "foreign_20d": foreign_20d.height,
    "screen": screen.height, "screen_last": str(screen["date"].max()), "as_of": str(AS_OF),
    "periods": sorted({str(p) for p in screen["period_end"]}),
    "chart_bars": len(fig.data[0].x), "chart_traces": [t.type for t in fig.data],
}))
"""


@pytest.mark.timeout(300)  # flows + a kernel; ~30 s on a quiet machine
@pytest.mark.usefixtures("prefect_harness")
def test_research_notebook_runs_headless_on_a_demo_lake(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    make_sim: Callable[..., RunningSimulator],
) -> None:
    sim = make_sim(now=datetime(2026, 11, 24, 16, 0), rate_limit=0)
    home = tmp_path / "demo"
    monkeypatch.setenv("KIS_ENV", "sim")
    monkeypatch.setenv("KIS_BASE_URL", sim.base_url)
    monkeypatch.setenv("KIS_WS_URL", sim.ws_url)
    monkeypatch.setenv("KISDB_HOME", str(home))  # the kernel inherits it
    start = "2024-03-25"
    ingest_holidays(start=start)
    ingest_securities()
    ingest_period_bars(symbols=["086520", "005930"], start=start)
    ingest_index_bars(codes=["1001"], start=start)
    ingest_minute_bars(symbols=["005930"], start="2026-11-23")
    ingest_investor_flows(symbols=["086520", "005930"], start=start)
    ingest_financials(symbols=["086520", "005930"])

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(PROBE))
    NotebookClient(
        notebook, timeout=120, resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    ).execute()

    text = "".join(
        out.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == "stream"
    )
    assert "event day 2024-04-16" in text
    probe = json.loads(text.split("PROBE ", 1)[1])
    assert probe["raw_ret"] < -0.6, "raw prices fall by the 1:5 split"
    assert abs(probe["stock_ret"]) < 0.3, "adjusted prices do not"
    assert probe["summary"] == 2 and probe["vwap"] == 2
    assert probe["investors"] == ["foreign", "institution"] and probe["foreign_20d"] == 2
    assert probe["screen"] == 2 and probe["screen_last"] <= probe["as_of"]
    # As of 2026-06-30, fiscal 2025 is known (filed by 2026-03-31), fiscal 2026 is not.
    assert probe["periods"] == ["2025-12-31"]
    assert probe["chart_bars"] > 200 and probe["chart_traces"] == ["candlestick", "bar"]
