"""Terminal output (issue 13): tables that fit 80 and 200 columns with the key columns kept, KST
times and decoded KIS codes, `kisdb status`, one date parser, symbols by code or name, --version,
-h, completion, DuckDB's hints; against a real lake (and the simulator for `executions`)."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from rich.cells import cell_len
from rich.console import Console
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.config import load_config
from pipelines.errors import InputError
from pipelines.ranges import parse_span
from pipelines.render import (
    CHECK_KEYS,
    MIN_CELL,
    VIEWS,
    decode_codes,
    in_kst,
    plan_layout,
    print_frame,
    select_columns,
    table_width,
)
from pipelines.symbols import as_code, match_name, resolve_symbols
from schemas.datasets import PERIOD_BARS, SECURITIES
from simulator.server import RunningSimulator
from tests.helpers import daily_bars
from warehouse.checks import CheckReport, Finding
from warehouse.lake import Lake

runner = CliRunner()
WIDTHS = (80, 200)
KEYS = ("symbol", "name", "date", "qty", "price")
DAYS = [date(2026, 11, 2) + timedelta(days=i) for i in range(5)]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def wide_frame(rows: int = 3) -> pl.DataFrame:
    """Twenty columns, the key ones spread among them, a Korean name (two cells a character)."""
    data: dict[str, list[object]] = {f"extra_{i:02d}": [12345678] * rows for i in range(15)}
    data |= {
        "symbol": ["005930"] * rows,
        "name": ["삼성전자우선주"] * rows,
        "date": [date(2026, 11, 24)] * rows,
        "qty": [10] * rows,
        "price": [71000] * rows,
    }
    order = [*list(data)[:5], "symbol", *list(data)[5:10], "name", "date", *list(data)[10:15]]
    order += ["qty", "price"]
    return pl.DataFrame(data).select(order)


def printed(frame: pl.DataFrame, width: int, **kwargs: object) -> list[str]:
    out = io.StringIO()
    print_frame(frame, console=Console(file=out, width=width), **kwargs)  # type: ignore[arg-type]
    return out.getvalue().splitlines()


def widest(lines: list[str]) -> int:
    return max(cell_len(ANSI.sub("", line.rstrip())) for line in lines)


def header(lines: list[str]) -> str:
    return next(line for line in lines if "symbol" in line)


# -- layout (pure) ---------------------------------------------------------------------------------


def test_a_table_that_fits_shows_every_column() -> None:
    widths = {"symbol": 6, "close": 5}
    layout = plan_layout(widths, 80)
    assert dict(layout.shown) == widths and not layout.hidden and not layout.vertical


def test_a_wide_table_keeps_the_key_columns_and_hides_the_rest_behind_one_column() -> None:
    widths = {f"c{i}": 12 for i in range(10)} | {k: 8 for k in KEYS}
    layout = plan_layout(widths, 80)
    shown = dict(layout.shown)
    assert set(KEYS) <= set(shown)
    assert layout.hidden and not layout.vertical
    assert table_width([*shown.values(), 1]) <= 80
    assert set(shown) | set(layout.hidden) == set(widths)


def test_key_columns_too_wide_are_shrunk_never_to_zero() -> None:
    widths = {k: 40 for k in KEYS}
    layout = plan_layout(widths, 80)
    assert not layout.vertical
    assert all(w >= MIN_CELL for _, w in layout.shown)
    assert table_width([w for _, w in layout.shown]) <= 80
    # Narrower than MIN_CELL per key column: a vertical record instead of slivers.
    assert plan_layout(widths, 30).vertical


def test_a_single_wide_row_or_all_columns_goes_vertical() -> None:
    widths = {f"c{i}": 12 for i in range(10)}
    assert plan_layout(widths, 80, rows=1).vertical
    assert plan_layout(widths, 80, rows=5, keep_all=True).vertical
    assert not plan_layout(widths, 200, rows=1).vertical
    assert not plan_layout(widths, 80, rows=0).vertical  # no rows: the headers, with …
    assert plan_layout(widths, 15).vertical  # not one column fits beside …


# -- rendering at 80 and 200 columns ---------------------------------------------------------------


@pytest.mark.parametrize("width", WIDTHS)
def test_tables_fit_the_terminal_with_the_key_columns(width: int) -> None:
    lines = printed(wide_frame(), width)
    assert widest(lines) <= width
    top = header(lines)
    for key in KEYS:
        assert key in top, (key, top)
    assert "삼성전자우선주" in "\n".join(lines)
    if width == 80:
        assert "…" in top and "more columns" in "\n".join(lines)
    # every cell of the header row has something in it: no zero-width column
    assert all(cell.strip() for cell in re.split(r"[┃│]", top)[1:-1])


@pytest.mark.parametrize("width", WIDTHS)
def test_a_single_wide_row_is_a_vertical_record_that_fits(width: int) -> None:
    frame = wide_frame(rows=1).with_columns(note=pl.lit("x" * 150))
    lines = printed(frame, width)
    assert widest(lines) <= width
    text = "\n".join(lines)
    assert all(name in text for name in frame.columns)


def test_all_columns_show_every_value_vertically_at_80() -> None:
    lines = printed(wide_frame(rows=2), 80, keep_all=True)
    assert widest(lines) <= 80
    assert "row 2" in "\n".join(lines) and "extra_14" in "\n".join(lines)


@pytest.mark.parametrize("width", WIDTHS)
def test_check_findings_are_one_line_each(width: int) -> None:
    long = "3 trading days missing between the last two updates: the next kisdb update fetches them"
    report = CheckReport(
        findings=[
            Finding("missing_days", "period_bars", "005930:D:true", long, start=DAYS[0]),
            Finding("ohlc", "minute_bars", "000660", "high below close", severity="warning"),
        ]
    )
    frame = select_columns(report.to_frame(), view=VIEWS["check"])
    lines = printed(frame, width, keys=CHECK_KEYS)
    assert widest(lines) <= width
    body = [line for line in lines if line.startswith("│")]
    assert len(body) == 2 and "missing_days" in body[0] and "005930:D:true" in body[0]
    top = next(line for line in lines if "severity" in line)
    assert all(word in top for word in ("check", "key", "detail"))
    assert ("fetches them" in body[0]) == (width == 200)  # cut with … at 80, whole at 200


def test_codes_are_decoded_only_when_every_value_is_a_code() -> None:
    frame = pl.DataFrame(
        {
            "side": ["01", "02"],
            "change_sign": ["2", "5"],
            "division": ["00", "01"],
            "order_time": ["092404", "153000"],
        }
    )
    shown = decode_codes(frame)
    assert shown["side"].to_list() == ["sell", "buy"]
    assert shown["change_sign"].to_list() == ["up", "down"]
    assert shown["division"].to_list() == ["limit", "market"]
    assert shown["order_time"].to_list() == ["09:24:04", "15:30:00"]
    mine = pl.DataFrame({"side": ["left", "02"]})
    assert decode_codes(mine)["side"].to_list() == ["left", "02"]  # not KIS codes: untouched


def test_times_are_shown_in_kst_and_lake_ns_times_are_utc() -> None:
    moment = datetime(2026, 11, 24, 1, 30, tzinfo=UTC)
    frame = pl.DataFrame(
        {
            "created_at": pl.Series([moment], dtype=pl.Datetime("us", "UTC")),
            "ts_recv": pl.Series([moment.replace(tzinfo=None)], dtype=pl.Datetime("ns")),
        }
    )
    shown = in_kst(frame, naive_ns_is_utc=True)
    for column in ("created_at", "ts_recv"):
        assert shown.schema[column].time_zone == "Asia/Seoul"  # type: ignore[union-attr]
        assert shown[column][0].hour == 10  # 01:30 UTC is 10:30 KST
    assert in_kst(frame).schema["ts_recv"].time_zone is None  # only for lake queries


# -- dates and symbols -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "expected"),
    [("2024-01-02", date(2024, 1, 2)), ("20240102", date(2024, 1, 2)), ("30d", date(2026, 10, 25))],
)
def test_one_date_parser_for_every_command(start: str, expected: date) -> None:
    assert parse_span(start, None, today=date(2026, 11, 24)) == (expected, None)
    assert parse_span("3y", "today", today=date(2026, 11, 24)) == (
        date(2023, 11, 24),
        date(2026, 11, 24),
    )
    with pytest.raises(InputError, match="after end"):
        parse_span("2026-11-24", "2026-01-01", today=date(2026, 11, 24))


def test_symbols_by_code_or_name() -> None:
    assert as_code("005930") == as_code("A005930") == as_code("a005930 ") == "005930"
    assert as_code("삼성전자") is None
    names = {"005930": "삼성전자", "005935": "삼성전자우", "000660": "SK하이닉스"}
    assert match_name("삼성전자", names) == "005930"  # exact beats containing
    assert match_name("sk 하이닉스", names) == "000660"  # case and spaces ignored
    assert match_name("하이닉스", names) == "000660"  # the one containing it
    with pytest.raises(InputError, match=r"ambiguous: 005930 삼성전자, 005935 삼성전자우"):
        match_name("삼성", names)
    assert match_name("애플", names) is None


# -- commands on a real lake -----------------------------------------------------------------------


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("KIS_ENV", "sim")
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    with Lake.open(tmp_path, source="sim") as lake:
        lake.upsert(PERIOD_BARS, daily_bars(["005930", "000660", "005935"], DAYS))
        lake.upsert(
            SECURITIES,
            pl.DataFrame(
                {
                    "snapshot_date": [DAYS[-1]] * 3,
                    "symbol": ["005930", "005935", "000660"],
                    "isin": ["KR7005930003", "KR7005931001", "KR7000660001"],
                    "name": ["삼성전자", "삼성전자우", "SK하이닉스"],
                    "market": ["KOSPI"] * 3,
                }
            ),
        )
    yield tmp_path


def invoke(args: list[str], width: int = 80) -> tuple[int, str]:
    result = runner.invoke(app, args, env={"COLUMNS": str(width)})
    return result.exit_code, result.output


@pytest.mark.parametrize("width", WIDTHS)
def test_sql_tables_fit_with_their_key_columns(home: Path, width: int) -> None:
    code, out = invoke(
        ["sql", "SELECT * FROM bars_daily ORDER BY symbol, date", "--home", str(home)], width
    )
    assert code == 0, out
    lines = out.splitlines()
    assert widest(lines) <= width
    assert all(key in header(lines) for key in ("symbol", "date"))
    assert "15 rows" in out
    code, out = invoke(
        ["sql", "SELECT * FROM bars_daily", "--columns", "symbol,close", "--home", str(home)], width
    )
    assert code == 0 and "close" in header(out.splitlines()) and "open" not in out
    code, out = invoke(["sql", "SELECT 1 AS a", "--columns", "b", "--home", str(home)], width)
    assert code == 2 and "unknown column b: choose from a" in out


def test_sql_errors_keep_duckdbs_hint(home: Path) -> None:
    code, out = invoke(["sql", "SELECT * FROM bars_dayly", "--home", str(home)])
    assert code == 1
    assert 'Did you mean "bars_daily"' in out and len(out.strip().splitlines()) == 1


def test_check_takes_every_date_form(home: Path) -> None:
    for start in ("2026-11-02", "20261102", "30d", "3y"):
        code, out = invoke(["check", "--start", start, "--only", "duplicates", "--home", str(home)])
        assert code == 0, (start, out)
    code, out = invoke(["check", "--start", "2026-13-01", "--home", str(home)])
    assert code == 2 and "bad start" in out


def test_names_resolve_against_the_securities_table(home: Path) -> None:
    config = load_config(home)
    assert resolve_symbols("삼성전자, A000660,005935", config) == ["005930", "000660", "005935"]
    with pytest.raises(InputError, match="ambiguous"):
        resolve_symbols("삼성", config)
    assert resolve_symbols("005930", load_config(home / "no-lake")) == ["005930"]  # no lookup
    with pytest.raises(InputError, match="ingest securities"):
        resolve_symbols("삼성전자", load_config(home / "no-lake"))
    # An ASCII word matching no name is a mistyped code: passed on for the flows to reject.
    assert resolve_symbols("ABC,5930", config) == ["ABC", "5930"]
    assert resolve_symbols("ABC", load_config(home / "no-lake")) == ["ABC"]
    with pytest.raises(InputError, match="no stock named '애플'"):
        resolve_symbols("애플", config)


@pytest.mark.parametrize("width", WIDTHS)
def test_status_shows_the_lake_and_its_datasets(home: Path, width: int) -> None:
    code, out = invoke(["status", "--home", str(home)], width)
    assert code == 0, out
    assert widest(out.splitlines()) <= width
    assert "period_bars" in out and "stamp sim" in out
    assert "schedules" in out and "recorder" in out


def test_status_json(home: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """A process of its own: no Prefect settings, an empty PREFECT_HOME (the session's Prefect
    test server, once started, answers every in-process command)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "KIS_"))}
    env |= {"PREFECT_HOME": str(tmp_path_factory.mktemp("prefect")), "COLUMNS": "80"}
    kisdb = [sys.executable, "-m", "pipelines.cli", "status", "--format", "json"]
    done = subprocess.run(
        [*kisdb, "--home", str(home)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert status["env"] == "sim" and status["home"] == str(home)
    assert status["lake"]["exists"] and status["lake"]["source"] == "sim"
    assert status["lake"]["size_bytes"] > 0
    bars = next(d for d in status["datasets"] if d["name"] == "period_bars")
    assert bars["rows"] == 15 and bars["symbols"] == 3
    assert (bars["first"], bars["last"]) == (str(DAYS[0]), str(DAYS[-1]))
    assert datetime.fromisoformat(bars["last_update"]).utcoffset() == timedelta(hours=9)
    assert status["recorder"]["running"] is False
    assert status["schedules"] == {"prefect_api": None, "message": "no Prefect server configured"}
    done = subprocess.run(
        [*kisdb, "--home", str(home / "none")], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and json.loads(done.stdout)["lake"]["exists"] is False


@pytest.mark.usefixtures("prefect_harness")
def test_status_lists_the_deployments_of_a_prefect_server(home: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import DeploymentScheduleCreate
    from prefect.client.schemas.schedules import CronSchedule

    with get_client(sync_client=True) as client:
        flow_id = client.create_flow_from_name("update")
        client.create_deployment(
            flow_id,
            name="terminal-test",
            schedules=[
                DeploymentScheduleCreate(
                    schedule=CronSchedule(cron="30 18 * * 1-5", timezone="Asia/Seoul")
                )
            ],
        )
    code, out = invoke(["status", "-f", "json", "--home", str(home)])
    assert code == 0, out
    schedules = json.loads(out)["schedules"]
    assert schedules["prefect_api"]
    mine = next(d for d in schedules["deployments"] if d["name"] == "update/terminal-test")
    assert mine == {"name": "update/terminal-test", "schedules": ["30 18 * * 1-5"], "paused": False}
    code, out = invoke(["status", "--home", str(home)])
    assert code == 0 and "update/terminal-test: 30 18 * * 1-5" in out


# -- the command line itself -----------------------------------------------------------------------


def test_version_help_alias_and_completion() -> None:
    code, out = invoke(["--version"])
    assert code == 0 and re.fullmatch(r"kisdb \S+\n", out)
    code, root = invoke(["-h"])
    assert code == 0 and "--install-completion" in root and "--version" in root
    assert "<bool>" not in root
    for command in (["sql", "-h"], ["ingest", "bars", "-h"], ["order", "log", "-h"]):
        code, out = invoke(command)
        assert code == 0 and "Usage: kisdb" in out and "<bool>" not in out, command


# -- against the simulator -------------------------------------------------------------------------


@pytest.fixture
def sim_env(
    make_sim: Callable[..., RunningSimulator], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> RunningSimulator:
    sim = make_sim(now=datetime(2026, 11, 24, 10, 0), rate_limit=0)
    for name, value in {
        "KIS_ENV": "sim",
        "KIS_BASE_URL": sim.base_url,
        "KIS_APP_KEY": sim.app_key,
        "KIS_APP_SECRET": sim.app_secret,
        "KIS_ACCOUNT": sim.account_number,
        "KISDB_HOME": str(tmp_path),
    }.items():
        monkeypatch.setenv(name, value)
    return sim


@pytest.mark.usefixtures("prefect_harness")
def test_executions_and_order_log_at_80_columns(sim_env: RunningSimulator) -> None:
    code, out = invoke(["order", "buy", "A005930", "2", "--market", "-f", "json"])
    assert code == 0 and '"symbol":"005930"' in out, out
    for start in ("2026-11-24", "20261124", "30d", "3y"):
        code, out = invoke(["executions", "--start", start])
        assert code == 0, (start, out)
        assert widest(out.splitlines()) <= 80
        assert "005930" in out and "buy" in out  # the side decoded
    code, out = invoke(["executions", "--start", "yesterday-ish"])
    assert code == 2 and "bad start" in out
    code, out = invoke(["order", "log"])
    assert code == 0 and widest(out.splitlines()) <= 80
    assert "market" in out and "accepted" in out  # the division decoded
    code, out = invoke(["order", "log", "-f", "json"])
    (row,) = json.loads(out)
    assert row["order_division"] == "01"  # the stored code is kept
    assert row["created_at"].endswith("+09:00")  # KST
    code, out = invoke(["balance"], 200)
    assert code == 0 and widest(out.splitlines()) <= 200 and "005930" in out
