"""The notebook one-liners (`kisdb.bars`, `minute_bars`, `ticks`, `sql`, `chart`), `kisdb chart`
writing an HTML candlestick chart, and `kisdb attach`'s SQL opening the lake in a plain DuckDB
connection with the views."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import kisdb
from pipelines.cli import app
from pipelines.ranges import parse_date
from schemas import MINUTE_BARS, PERIOD_BARS
from schemas.clock import KST
from tests.helpers import daily_bars
from warehouse.extensions import load_extension, new_connection
from warehouse.lake import Lake

runner = CliRunner()
DAYS = [date(2025, 12, 1) + timedelta(days=i) for i in range(60) if i % 7 < 5]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("api") / "home"
    with Lake.open(home, source="sim") as lake:
        lake.upsert(PERIOD_BARS, daily_bars(["005930", "000660"], DAYS))
        raw = daily_bars(["005930"], DAYS, bump=5).with_columns(adjusted=pl.lit(False))
        lake.upsert(PERIOD_BARS, raw)
        ts = pl.datetime(2026, 1, 5, 9, time_zone="Asia/Seoul") + pl.duration(minutes=pl.col("i"))
        minutes = pl.DataFrame({"i": list(range(30))}).select(
            symbol=pl.lit("005930"),
            date=pl.lit(date(2026, 1, 5)),
            ts=ts,
            open=pl.lit(1),
            high=pl.lit(2),
            low=pl.lit(1),
            close=pl.lit(2),
            volume=pl.lit(5),
        )
        lake.upsert(MINUTE_BARS, minutes)
    yield home
    kisdb.close()


def test_bars_by_year_date_and_list(home: Path) -> None:
    frame = kisdb.bars("005930", "2026", home=home)
    assert frame["date"].min() >= date(2026, 1, 1) and frame["symbol"].unique().to_list() == [
        "005930"
    ]
    assert frame["date"].is_sorted()
    assert kisdb.bars("005930", "2025", "2025", home=home)["date"].max() <= date(2025, 12, 31)
    both = kisdb.bars(["005930", "A000660"], "2025-12-01", "20251205", home=home)
    assert both.height == 10 and set(both["symbol"]) == {"005930", "000660"}
    raw = kisdb.bars("005930", "2025-12-01", "2025-12-01", adjusted=False, home=home)
    adjusted = kisdb.bars("005930", "2025-12-01", "2025-12-01", home=home)
    assert raw["close"][0] == adjusted["close"][0] + 5
    assert kisdb.bars("999999", home=home).height == 0  # not in the lake: empty, nothing fetched
    since = parse_date("3y", today=datetime.now(KST).date())  # relative to today in Seoul
    assert since is not None
    expected = sum(d >= since for d in DAYS)
    assert kisdb.bars("005930", "3y", home=home).height == expected
    assert kisdb.bars("005930", home=home).to_pandas().shape[0] == len(DAYS)


def test_minutes_ticks_and_sql(home: Path) -> None:
    assert kisdb.minute_bars("005930", "2026-01-05", home=home).height == 30
    assert kisdb.minute_bars("005930", "2026-01-06", home=home).height == 0
    assert kisdb.ticks("005930", home=home).height == 0
    counts = kisdb.sql(
        "SELECT symbol, count(*) AS n FROM bars_daily WHERE symbol = ? GROUP BY symbol",
        ["000660"],
        home=home,
    )
    assert counts.rows() == [("000660", len(DAYS))]


def test_a_backwards_range_is_refused(home: Path) -> None:
    from pipelines.errors import InputError

    with pytest.raises(InputError, match="after end"):
        kisdb.bars("005930", "2026", "2025", home=home)


def test_kisdb_chart_writes_an_html_candlestick_chart(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "samsung.html"
    result = runner.invoke(
        app, ["chart", "005930", "--start", "2025", "--home", str(home), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(out.resolve())
    html = out.read_text()
    assert '"type":"candlestick"' in html and '"type":"bar"' in html
    assert "plotly.js" in html  # the library inlined: opens offline
    fig = kisdb.chart("005930", "2025", home=home)
    assert len(fig.data[0].x) == len(DAYS)


def test_kisdb_chart_without_data_says_how_to_fetch_it(home: Path) -> None:
    result = runner.invoke(app, ["chart", "999999", "--home", str(home)])
    assert result.exit_code == 1
    assert "kisdb ingest bars --symbols 999999" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_kisdb_attach_sql_opens_the_lake_in_plain_duckdb(home: Path) -> None:
    result = runner.invoke(app, ["attach", "--home", str(home)])
    assert result.exit_code == 0, result.output
    script = result.output
    assert "ATTACH 'ducklake:sqlite:" in script and "(READ_ONLY)" in script
    con = new_connection()
    for name in ("ducklake", "sqlite"):  # what INSTALL/LOAD do in a client with network access
        load_extension(con, name)
    for line in script.splitlines():
        if line and not line.startswith(("--", "INSTALL", "LOAD")):
            con.execute(line)
    assert con.sql("SELECT count(*) FROM bars_daily").fetchone() == (2 * len(DAYS),)
    con.close()
