"""Cursors, the completeness ledger, the quality report and the `sql` / `check` commands."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from pathlib import Path

import holidays
import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from schemas import FETCH_LEDGER, HOLIDAYS, MINUTE_BARS, PERIOD_BARS
from schemas.clock import SEOUL
from warehouse.checks import run_checks
from warehouse.cursors import gaps, gaps_many, missing_ranges
from warehouse.lake import Lake, LakeError
from warehouse.ledger import (
    complete_ranges,
    fetch_history,
    ledger_key,
    merge_ranges,
    record_fetch,
)

START, END = date(2025, 12, 22), date(2026, 1, 16)
D = date


def krx_calendar(start: date, end: date) -> pl.DataFrame:
    closed = holidays.financial_holidays("XKRX", years=range(start.year, end.year + 1))
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    return pl.DataFrame(
        {"date": days, "market_open": [d.weekday() < 5 and d not in closed for d in days]}
    )


def trading_days(start: date = START, end: date = END) -> list[date]:
    cal = krx_calendar(start, end)
    return cal.filter("market_open")["date"].to_list()


def bars(symbol: str, days: list[date], *, adjusted: bool = True) -> pl.DataFrame:
    n = len(days)
    return pl.DataFrame(
        {
            "symbol": [symbol] * n,
            "period": ["D"] * n,
            "adjusted": [adjusted] * n,
            "date": days,
            "open": [100] * n,
            "high": [120] * n,
            "low": [90] * n,
            "close": [110] * n,
            "volume": [30] * n,
        }
    )


def minutes(symbol: str, day: date, *, high: int = 120, count: int = 3) -> pl.DataFrame:
    # three bars ending with the 15:30 closing-auction bar, adding up to the daily bar above
    stamps = [
        datetime.combine(day, time(9, 0)),
        datetime.combine(day, time(12, 0)),
        datetime.combine(day, time(15, 30)),
    ][:count]
    return pl.DataFrame(
        {
            "symbol": [symbol] * count,
            "ts": stamps,
            "date": [day] * count,
            "open": [100, 105, 108][:count],
            "high": [high, 115, 112][:count],
            "low": [95, 90, 105][:count],
            "close": [105, 108, 110][:count],
            "volume": [10] * count,
        }
    ).with_columns(pl.col("ts").dt.replace_time_zone(SEOUL))


@pytest.fixture
def lake(tmp_path: Path):
    with Lake.open(tmp_path, source="sim") as lk:
        lk.upsert(HOLIDAYS, krx_calendar(START, END))
        yield lk


def clean_lake(lake: Lake) -> None:
    days = trading_days()
    for sym in ("005930", "000660"):
        lake.upsert(PERIOD_BARS, bars(sym, days))
        lake.upsert(PERIOD_BARS, bars(sym, days, adjusted=False))
    lake.upsert(MINUTE_BARS, pl.concat([minutes("005930", d) for d in days[:3]]))


def test_missing_ranges_is_runs_of_absent_trading_days() -> None:
    days = [D(2026, 1, 2), D(2026, 1, 5), D(2026, 1, 6), D(2026, 1, 7), D(2026, 1, 8)]
    assert missing_ranges(days, {D(2026, 1, 5)}) == [
        (D(2026, 1, 2), D(2026, 1, 2)),
        (D(2026, 1, 6), D(2026, 1, 8)),
    ]
    assert missing_ranges(days, set(days)) == []
    assert missing_ranges([], set()) == []
    assert missing_ranges(days, set()) == [(days[0], days[-1])]


def test_merge_ranges_joins_overlapping_and_touching() -> None:
    got = merge_ranges(
        [
            (D(2026, 1, 5), D(2026, 1, 9)),
            (D(2026, 1, 1), D(2026, 1, 4)),
            (D(2026, 1, 20), D(2026, 1, 21)),
        ]
    )
    assert got == [(D(2026, 1, 1), D(2026, 1, 9)), (D(2026, 1, 20), D(2026, 1, 21))]


def test_gaps_use_the_calendar_and_the_ledger(lake: Lake) -> None:
    days = trading_days()
    stored = [d for d in days if not (D(2026, 1, 5) <= d <= D(2026, 1, 7)) and d != days[-1]]
    lake.upsert(PERIOD_BARS, bars("005930", stored))
    key = {"symbol": "005930", "period": "D", "adjusted": True}
    found = gaps(lake, PERIOD_BARS, key, START, END)
    assert found == [(D(2026, 1, 5), D(2026, 1, 7)), (days[-1], days[-1])]
    assert D(2026, 1, 1) not in {d for r in found for d in r}  # New Year: not a trading day

    # a complete fetch that came back without 1/5..1/6 (say, a trading halt) closes that gap
    record_fetch(lake, PERIOD_BARS, key, D(2026, 1, 5), D(2026, 1, 6), complete=True, rows=0)
    assert gaps(lake, PERIOD_BARS, key, START, END) == [
        (D(2026, 1, 7), D(2026, 1, 7)),
        (days[-1], days[-1]),
    ]
    assert gaps(lake, PERIOD_BARS, key, START, END, use_ledger=False)[0][0] == D(2026, 1, 5)
    # an explicit calendar (an overseas exchange's) replaces the holidays table
    assert gaps(lake, PERIOD_BARS, key, D(2026, 1, 3), D(2026, 1, 4), [D(2026, 1, 3)]) == [
        (D(2026, 1, 3), D(2026, 1, 3))
    ]
    with pytest.raises(LakeError, match="holidays table covers"):
        gaps(lake, PERIOD_BARS, key, D(2020, 1, 1), END)


def test_gaps_of_many_series_keep_each_series_apart(lake: Lake) -> None:
    days = trading_days()
    lake.upsert(PERIOD_BARS, bars("005930", days[:3]))  # adjusted only
    lake.upsert(PERIOD_BARS, bars("005930", days[3:], adjusted=False))  # raw: the other days
    lake.upsert(PERIOD_BARS, bars("000660", days))
    keys = [
        {"symbol": "005930", "period": "D", "adjusted": True},
        {"symbol": "005930", "period": "D", "adjusted": False},
        {"symbol": "000660", "period": "D", "adjusted": True},
        {"symbol": "035420", "period": "D", "adjusted": True},  # nothing stored
    ]
    record_fetch(lake, PERIOD_BARS, keys[3], days[0], days[1], complete=True, rows=0)
    found = gaps_many(lake, PERIOD_BARS, keys, START, END)
    assert found == [
        [(days[3], days[-1])],
        [(days[0], days[2])],
        [],
        [(days[2], days[-1])],  # the ledger's complete fetch covers the first two days
    ]
    assert found == [gaps(lake, PERIOD_BARS, k, START, END) for k in keys]
    with pytest.raises(ValueError, match="same columns"):
        gaps_many(lake, PERIOD_BARS, [keys[0], {"symbol": "005930"}], START, END)


def test_ledger_rows_and_keys(lake: Lake) -> None:
    key = ledger_key(PERIOD_BARS, {"adjusted": False, "symbol": "005930", "period": "D"})
    assert key == "005930:D:false"
    record_fetch(
        lake, "period_bars", key, START, END, complete=False, rows=3, calls=2, error="timeout"
    )
    record_fetch(lake, "period_bars", key, D(2026, 1, 1), END, complete=True, rows=9, calls=1)
    history = fetch_history(lake, PERIOD_BARS, key)
    assert history.schema == FETCH_LEDGER.schema
    assert history["complete"].to_list() == [True, False]  # newest first
    assert complete_ranges(lake, PERIOD_BARS, key) == [(D(2026, 1, 1), END)]


def test_clean_lake_passes_every_check(lake: Lake) -> None:
    clean_lake(lake)
    report = run_checks(lake)
    assert report.findings == [], report.to_frame()
    assert report.ok
    assert set(report.checks_run) == {
        "files",
        "missing_days",
        "off_calendar",
        "duplicates",
        "ohlc",
        "minute_daily",
        "ledger",
        "investor_flows",
        "short_sales",
        "program_trades",
        "credit_balance",
        "financials",
        "stock_info",
    }


def test_checks_find_what_is_wrong(lake: Lake) -> None:
    clean_lake(lake)
    days = trading_days()
    key = {"symbol": "005930", "period": "D", "adjusted": True}
    lake.delete(PERIOD_BARS, **key, date=days[5])  # a hole
    lake.upsert(PERIOD_BARS, bars("000660", [D(2026, 1, 1)]))  # New Year's Day
    broken = bars("035720", days[:2]).with_columns(low=pl.lit(130, pl.Int64))  # low above high
    lake.upsert(PERIOD_BARS, broken)
    lake.upsert(MINUTE_BARS, minutes("005930", days[3], high=999))  # above the day's high
    # a full session whose last close differs from the daily close: a warning, not an error
    lake.upsert(
        MINUTE_BARS, minutes("000660", days[0]).with_columns(close=pl.Series([105, 108, 106]))
    )
    # a duplicate key cannot come through upsert: write one behind its back
    lake.con.execute("INSERT INTO holidays SELECT * FROM holidays WHERE date = ?", [days[0]])
    record_fetch(lake, PERIOD_BARS, key, days[0], days[1], complete=False, error="HTTP 500")

    report = run_checks(lake)
    assert not report.ok
    by_check: dict[str, list] = {}
    for f in report.findings:
        by_check.setdefault(f.check, []).append(f)

    (gap,) = [f for f in by_check["missing_days"] if f.key == "005930:D:true"]
    assert (gap.start, gap.end, gap.severity) == (days[5], days[5], "error")
    assert report.gaps() == by_check["missing_days"]
    assert [f.key for f in by_check["off_calendar"]] == ["000660:D:true"]
    assert [f.dataset for f in by_check["duplicates"]] == ["holidays"]
    assert [f.key for f in by_check["ohlc"]] == ["035720:D:true"]
    severities = {(f.key, f.severity) for f in by_check["minute_daily"]}
    assert severities == {("005930", "error"), ("000660", "warning")}
    assert [(f.key, f.severity) for f in by_check["ledger"]] == [("005930:D:true", "warning")]

    frame = report.to_frame()
    assert frame.columns == ["check", "severity", "dataset", "key", "start", "end", "detail"]
    assert frame.height == len(report.findings)
    # a date window leaves out what lies outside it
    late = run_checks(lake, start=days[6], only=["ohlc", "minute_daily"])
    assert late.ok and late.findings == []


# -- commands -----------------------------------------------------------------------------------


def app() -> typer.Typer:
    from pipelines.cli import app as kisdb  # its error table turns exceptions into exit codes

    return kisdb


def test_sql_command_formats(lake: Lake, tmp_path: Path) -> None:
    clean_lake(lake)
    lake.close()
    runner = CliRunner()
    query = "SELECT symbol, count(*) AS n FROM bars_daily GROUP BY symbol ORDER BY symbol"
    home = ["--home", str(tmp_path)]
    out = runner.invoke(app(), ["sql", query, "--format", "csv", *home])
    assert out.exit_code == 0, out.output
    n = len(trading_days())
    assert out.output.splitlines() == ["symbol,n", f"000660,{n}", f"005930,{n}"]
    out = runner.invoke(app(), ["sql", query, "-f", "json", *home])
    assert json.loads(out.output) == [{"symbol": "000660", "n": n}, {"symbol": "005930", "n": n}]
    out = runner.invoke(app(), ["sql", query, *home])
    assert out.exit_code == 0 and "005930" in out.output and "2 rows" in out.output
    out = runner.invoke(app(), ["sql", "SELECT * FROM no_such_table", *home])
    assert out.exit_code == 1 and "no_such_table" in out.output
    out = runner.invoke(app(), ["sql", "DELETE FROM period_bars", *home])
    assert out.exit_code == 2 and "read-only: DELETE is not allowed" in out.output


def test_check_command_exit_codes(lake: Lake, tmp_path: Path) -> None:
    clean_lake(lake)
    runner = CliRunner()
    home = ["--home", str(tmp_path)]
    lake.close()
    out = runner.invoke(app(), ["check", *home])
    assert out.exit_code == 0, out.output
    assert "OK: 0 error(s)" in out.output
    with Lake.open(tmp_path, source="sim") as lk:
        lk.delete(PERIOD_BARS, symbol="005930", period="D", adjusted=True, date=trading_days()[4])
    out = runner.invoke(app(), ["check", "--format", "json", *home])
    assert out.exit_code == 1
    (finding,) = json.loads(out.output)
    assert finding["check"] == "missing_days" and finding["key"] == "005930:D:true"
    out = runner.invoke(app(), ["check", "--only", "ohlc,duplicates", *home])
    assert out.exit_code == 0, out.output
    out = runner.invoke(app(), ["check", "--only", "bogus", *home])
    assert out.exit_code == 2 and "unknown check" in out.output
    out = runner.invoke(app(), ["check", "--home", str(tmp_path / "empty")])
    assert out.exit_code == 1 and "no lake" in out.output
