"""Readers and writers of one local lake never wait for each other (issue 13): a notebook process
holding `warehouse.connect()` open does not block an ingest and sees its rows on its next query,
`kisdb sql` runs during an ingest, two ingests of different datasets run at once, and a lake
with the older DuckDB-file catalog keeps working. Real separate processes throughout."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import date, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from schemas import PERIOD_BARS
from tests.helpers import daily_bars
from warehouse.lake import Lake, connect

ROOT = Path(__file__).resolve().parents[1]
DAYS = [date(2026, 1, 5) + timedelta(days=i) for i in range(5)]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}

# A notebook: one connection held open for the whole run, a query whenever asked on stdin.
READER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from warehouse.lake import connect

    con = connect(Path(sys.argv[1]))
    for _ in sys.stdin:
        print(con.sql("SELECT count(*) FROM bars_daily").fetchone()[0], flush=True)
    """
)

# An ingest: one writable lake for the run, one upsert (one commit) per day, `n` days.
WRITER = textwrap.dedent(
    """
    import sys
    from datetime import date, timedelta
    from pathlib import Path
    import polars as pl
    from pipelines.lake_retry import retry_on_conflict
    from schemas import MINUTE_BARS, PERIOD_BARS
    from tests.helpers import daily_bars
    from warehouse.lake import Lake

    home, dataset, n = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    with Lake.open(home, source="sim", retry=retry_on_conflict, lock_timeout=5) as lake:
        print("open", flush=True)
        for k in range(n):
            day = date(2025, 1, 1) + timedelta(days=k)
            if dataset == "bars":
                lake.upsert(PERIOD_BARS, daily_bars([f"{i:06d}" for i in range(50)], [day]))
            else:
                ts = pl.datetime(day.year, day.month, day.day, 9, time_zone="Asia/Seoul")
                frame = pl.DataFrame({"i": list(range(300))}).select(
                    symbol=pl.lit("005930"), date=pl.lit(day),
                    ts=ts + pl.duration(minutes=pl.col("i")),
                    open=pl.lit(1), high=pl.lit(2), low=pl.lit(1), close=pl.lit(2),
                    volume=pl.lit(5),
                )
                lake.upsert(MINUTE_BARS, frame)
            print(k + 1, flush=True)
    """
)


def make_lake(home: Path, catalog: str | None = None) -> None:
    with Lake.open(home, source="sim", catalog=catalog) as lake:
        lake.upsert(PERIOD_BARS, daily_bars(["005930"], DAYS))


def spawn(tmp_path: Path, script: str, *args: str, stdin: bool = False) -> subprocess.Popen[str]:
    path = tmp_path / f"{abs(hash(script))}.py"
    path.write_text(script)
    return subprocess.Popen(
        [sys.executable, str(path), *args],
        stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ENV,
        text=True,
    )


def ask(reader: subprocess.Popen[str]) -> int:
    assert reader.stdin is not None and reader.stdout is not None
    reader.stdin.write("\n")
    reader.stdin.flush()
    line = reader.stdout.readline()
    assert line, reader.stderr.read() if reader.stderr else "reader died"
    return int(line)


def finish(proc: subprocess.Popen[str], timeout: float = 60) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return out


def test_an_open_notebook_does_not_block_an_ingest_and_sees_its_rows(tmp_path: Path) -> None:
    make_lake(tmp_path)
    reader = spawn(tmp_path, READER, str(tmp_path), stdin=True)
    try:
        assert ask(reader) == len(DAYS)  # the notebook's connection is open from here on
        # Before: LakeBusy once the lock timeout ran out, as long as the notebook stayed open.
        with Lake.open(tmp_path, source="sim", lock_timeout=5) as lake:
            lake.upsert(PERIOD_BARS, daily_bars(["000660"], DAYS))
        assert ask(reader) == 2 * len(DAYS), "the next query sees the ingest's rows"
    finally:
        finish(reader)  # closes its stdin: the notebook ends


def test_kisdb_sql_and_a_notebook_run_during_an_ingest(tmp_path: Path) -> None:
    make_lake(tmp_path)
    writer = spawn(tmp_path, WRITER, str(tmp_path), "bars", "12")
    assert writer.stdout is not None
    assert writer.stdout.readline().strip() == "open"  # the ingest holds its lake from here on
    seen: list[int] = []
    with connect(tmp_path) as con:
        for _ in range(3):
            result = CliRunner().invoke(
                app,
                [
                    "sql",
                    "SELECT count(*) AS n FROM bars_daily",
                    "--home",
                    str(tmp_path),
                    "-f",
                    "csv",
                ],
            )
            assert result.exit_code == 0, result.output
            seen.append(int(result.output.splitlines()[1]))
            count = con.sql("SELECT count(*) FROM bars_daily").fetchone()
            assert count is not None and count[0] >= seen[-1]
    finish(writer)
    assert seen == sorted(seen) and seen[0] >= len(DAYS)
    with connect(tmp_path) as con:
        assert con.sql("SELECT count(*) FROM bars_daily").fetchone() == (len(DAYS) + 12 * 50,)


def test_two_ingests_of_different_datasets_run_at_once(tmp_path: Path) -> None:
    make_lake(tmp_path)
    bars = spawn(tmp_path, WRITER, str(tmp_path), "bars", "8")
    minutes = spawn(tmp_path, WRITER, str(tmp_path), "minutes", "8")
    assert finish(bars).split()[-1] == finish(minutes).split()[-1] == "8"
    with connect(tmp_path) as con:
        assert con.sql("SELECT count(*) FROM bars_daily").fetchone() == (len(DAYS) + 8 * 50,)
        assert con.sql("SELECT count(*) FROM minutes").fetchone() == (8 * 300,)


def test_a_lake_with_a_duckdb_file_catalog_keeps_working(tmp_path: Path) -> None:
    """Homes made before SQLite was the default keep their catalog.ducklake: no migration."""
    legacy = tmp_path / "lake" / "catalog.ducklake"
    make_lake(tmp_path, catalog=str(legacy))
    with Lake.open(tmp_path, source="sim") as lake:
        assert lake.location.kind == "duckdb" and lake.location.catalog == str(legacy)
        lake.upsert(PERIOD_BARS, daily_bars(["000660"], DAYS))
    assert not (tmp_path / "lake" / "catalog.sqlite").exists()
    with connect(tmp_path) as con:
        assert con.sql("SELECT count(*) FROM bars_daily").fetchone() == (2 * len(DAYS),)


@pytest.mark.parametrize("confined", [True, False])
def test_a_connection_follows_new_snapshots_unless_pinned(tmp_path: Path, confined: bool) -> None:
    make_lake(tmp_path)
    with connect(tmp_path, confined=confined) as con, Lake.open(tmp_path, source="sim") as lake:
        first = con.snapshot
        pinned = connect(tmp_path, snapshot=first)
        lake.upsert(PERIOD_BARS, daily_bars(["000660"], DAYS))
        assert con.sql("SELECT count(*) FROM bars_daily").fetchone() == (2 * len(DAYS),)
        assert con.snapshot > first
        assert pinned.sql("SELECT count(*) FROM bars_daily").fetchone() == (len(DAYS),)
        pinned.close()
