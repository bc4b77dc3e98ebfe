"""`kisdb ingest …`, `kisdb update`, `kisdb token`: exit codes (0 ok, 2 bad usage, 1 failure),
one-line errors, and the summary table, against the simulator."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from simulator.server import RunningSimulator

pytestmark = pytest.mark.usefixtures("prefect_harness")
runner = CliRunner()


@pytest.fixture
def sim_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, make_sim: Callable[..., RunningSimulator]
) -> RunningSimulator:
    sim = make_sim(now=datetime(2026, 11, 24, 16, 0), rate_limit=0)
    monkeypatch.setenv("KIS_ENV", "sim")
    monkeypatch.setenv("KIS_BASE_URL", sim.base_url)
    monkeypatch.setenv("KIS_WS_URL", sim.ws_url)
    monkeypatch.setenv("KISDB_HOME", str(tmp_path / "home"))
    for name in ("KIS_APP_KEY", "KIS_APP_SECRET", "KIS_ACCOUNT"):
        monkeypatch.delenv(name, raising=False)
    return sim


def _error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert lines, "no message at all"
    assert lines[-1].startswith("error: "), output
    return lines[-1]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["ingest", "bars", "--symbols", "5930"], "not a KRX stock code: 5930"),
        (["ingest", "bars", "--symbols", "005930", "--start", "2026-13-01"], "bad start"),
        (["ingest", "bars", "--symbols", "005930", "--period", "Q"], "unknown period Q"),
        (
            [
                "ingest",
                "bars",
                "--symbols",
                "005930",
                "--start",
                "2026-11-20",
                "--end",
                "2026-11-01",
            ],
            "is after end",
        ),
        (["ingest", "index-bars", "--codes", "KOSPI"], "not an index code"),
        (["ingest", "overseas-bars", "--symbols", "AAPL"], "expected EXCHANGE:TICKER"),
        (["ingest", "rankings", "--rankings", "hype"], "unknown ranking hype"),
        (["ingest", "bars", "--universe", "no-such-file.txt"], "universe file not found"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    sim_env: RunningSimulator, args: list[str], fragment: str
) -> None:
    calls = sim_env.stats.requests
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert fragment in _error_line(result.output)
    assert sim_env.stats.requests == calls


def test_bad_option_value_is_a_usage_error(sim_env: RunningSimulator) -> None:
    result = runner.invoke(app, ["ingest", "bars", "--symbols", "005930", "--prices", "sideways"])
    assert result.exit_code == 2


def test_unknown_symbol_fails_with_exit_1_and_one_line(sim_env: RunningSimulator) -> None:
    result = runner.invoke(
        app,
        ["ingest", "bars", "--symbols", "999999", "--start", "2026-11-01", "--prices", "adjusted"],
    )
    assert result.exit_code == 1, result.output
    line = _error_line(result.output)
    assert "999999" in line and "Traceback" not in result.output


def test_ingest_and_update_print_their_summaries(sim_env: RunningSimulator, tmp_path: Path) -> None:
    universe = tmp_path / "universe.txt"
    universe.write_text("# my names\n005930\n000660, SK hynix\n", encoding="utf-8")
    result = runner.invoke(app, ["ingest", "holidays", "--start", "2026-11-01"])
    assert result.exit_code == 0, result.output
    assert "holidays" in result.output and "KIS calls" in result.output
    assert "env sim, home" in " ".join(result.output.split())  # which account, which lake
    result = runner.invoke(
        app, ["ingest", "bars", "--universe", str(universe), "--start", "2026-11-01"]
    )
    assert result.exit_code == 0, result.output
    assert "period_bars" in result.output
    result = runner.invoke(
        app, ["update", "--symbols", "005930", "--start", "2026-11-10", "--no-rankings"]
    )
    assert result.exit_code == 0, result.output
    assert "update:" in result.output  # the run's summary table


def test_token_never_prints_the_token(sim_env: RunningSimulator) -> None:
    result = runner.invoke(app, ["token"])
    assert result.exit_code == 0, result.output
    assert "access token ready for sim" in result.output
    tokens = sim_env.tokens
    issued = getattr(tokens, "_tokens", None) or getattr(tokens, "tokens", None) or {}
    for value in issued.keys() if isinstance(issued, dict) else []:
        assert str(value) not in result.output
    result = runner.invoke(app, ["token", "--revoke"])
    assert result.exit_code == 0, result.output


def test_a_first_update_prints_its_plan_and_a_pipe_never_asks(sim_env: RunningSimulator) -> None:
    # The whole market (no securities yet) for a year at 20/s is well over ten minutes, yet
    # without a terminal the run must not wait for an answer: it prints the plan and goes on.
    result = runner.invoke(
        app,
        ["update", "--universe", "all", "--parts", "holidays", "--start", "2026-11-10"],
    )
    assert result.exit_code == 0, result.output
    assert "First run on an empty lake" in result.output
    assert "2,700 from the whole stock master" in result.output
    again = runner.invoke(app, ["update", "--parts", "holidays"])
    assert again.exit_code == 0, again.output
    assert "First run" not in again.output  # the lake holds data now


def test_the_first_run_estimate_counts_calls_at_the_budget() -> None:
    from datetime import date

    from pipelines.first_run import estimate

    year = (date(2025, 12, 1), date(2026, 11, 30))
    real = estimate(350, "--symbols", *year, rate=20.0)
    assert real.calls["bars"] == 350 * 2 * 3  # 260 weekdays: 3 pages of 100 bars per series
    # 6 weekdays in the last 7 days, 381 bars each, in one run of 120-bar pages per symbol
    assert real.calls["minute-bars"] == 350 * 20
    assert not real.asks  # 9,128 calls at 20/s: under ten minutes
    paper = estimate(350, "--symbols", *year, rate=2.0)
    assert paper.asks and paper.duration.total_seconds() == -(-paper.total_calls // 2)
    assert any("about 1 h 16 min at 2 requests/s" in line for line in paper.lines())
    narrow = paper.lines(width=60)  # wrapped under the value column, never past the terminal
    assert max(map(len, narrow)) <= 60 and len(narrow) > len(paper.lines(width=200))
    assert all(line.startswith(("First", "  ")) for line in narrow)
