"""A home is a folder you can copy, move and back up: each copy reads and compacts its own files,
a damaged lake is reported in one line, crash leftovers are counted and cleaned, the home is
private (0700, catalog 0600), and `kisdb token --revoke` creates no home."""

from __future__ import annotations

import os
import shutil
import stat
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from pipelines.cli import app
from schemas import PERIOD_BARS
from tests.helpers import daily_bars
from warehouse.lake import Lake, connect, locate

# Run by `make test-scale` (with the fault suite), not by `make test`.
pytestmark = pytest.mark.slow

runner = CliRunner()
DAYS = [date(2026, 1, 5) + timedelta(days=i) for i in range(10)]
posix_only = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


def make_home(home: Path) -> pl.DataFrame:
    """A lake with one Parquet file plus rows still inlined in the catalog: compacting it merges
    them and deletes the first file. Returns what it holds."""
    with Lake.open(home, source="sim") as lake:
        lake.upsert(PERIOD_BARS, daily_bars(["005930"], DAYS))
        lake.compact()
        lake.upsert(PERIOD_BARS, daily_bars(["000660"], DAYS))
        return lake.table(PERIOD_BARS)


def table(home: Path) -> pl.DataFrame:
    with Lake.open(home, source=None, read_only=True) as lake:
        return lake.table(PERIOD_BARS)


def parquet_files(home: Path) -> set[Path]:
    return {p.relative_to(home) for p in (home / "lake" / "data").rglob("*.parquet")}


def test_a_copied_home_compacts_its_own_files(tmp_path: Path) -> None:
    h1, h2 = tmp_path / "h1", tmp_path / "h2"
    expected = make_home(h1)
    shutil.copytree(h1, h2)
    h1_files = parquet_files(h1)
    with Lake.open(h2, source="sim") as lake:
        lake.compact()  # merges, then deletes the file it replaced: its own copy
    assert parquet_files(h1) == h1_files, "the copy touched the original's files"
    assert parquet_files(h2) != h1_files
    with Lake.open(h1, source="sim") as lake:
        lake.compact()
    assert_frame_equal(table(h1), expected)
    assert_frame_equal(table(h2), expected)


def test_a_moved_home_reads_its_own_files(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    expected = make_home(old)
    shutil.move(old, new)
    assert_frame_equal(table(new), expected)
    con = connect(new)  # the notebook connection, confined to the new place's files
    try:
        assert con.sql("SELECT count(*) FROM period_bars").fetchone() == (expected.height,)
    finally:
        con.close()
    with Lake.open(new, source="sim") as lake:  # a write rebinds the catalog for good
        stored = lake.con.execute(
            "SELECT value FROM __ducklake_metadata_lake.ducklake_metadata WHERE key = 'data_path'"
        ).fetchone()
    assert stored == (locate(new).data_path,)


def test_a_damaged_lake_is_one_line_in_check(tmp_path: Path) -> None:
    home = tmp_path / "home"
    make_home(home)
    with Lake.open(home, source="sim") as lake:
        lake.compact()
    victim = next((home / "lake" / "data" / "main" / "period_bars").rglob("*.parquet"))
    victim.unlink()
    out = runner.invoke(app, ["check", "--home", str(home), "--format", "csv"])
    assert out.exit_code == 1
    assert "Traceback" not in out.output
    [finding] = [line for line in out.output.splitlines() if line.startswith("files,")]
    assert "damaged" in finding and victim.name in finding
    out = runner.invoke(app, ["check", "--home", str(home), "--only", "ohlc"])
    assert out.exit_code == 1
    assert len(out.output.strip().splitlines()) == 1, out.output


def test_crash_leftovers_are_counted_and_cleaned(tmp_path: Path) -> None:
    home = tmp_path / "home"
    make_home(home)
    stored = next((home / "lake" / "data").rglob("*.parquet"))
    old = stored.with_name("ducklake-00000000-0000-7000-8000-000000000001.parquet")
    young = stored.with_name("ducklake-00000000-0000-7000-8000-000000000002.parquet")
    shutil.copyfile(stored, old)
    shutil.copyfile(stored, young)
    an_hour_ago = old.stat().st_mtime - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    with Lake.open(home, source=None, read_only=True) as lake:
        assert lake.orphaned_files() == sorted([old, young])
    out = runner.invoke(app, ["check", "--home", str(home), "--format", "csv"])
    assert "2 unreferenced Parquet file(s)" in out.output
    with Lake.open(home, source="sim") as lake:  # the next write: old leftovers go
        assert lake.orphaned_files() == [young]
        lake.compact()
        assert lake.orphaned_files() == []
    assert table(home).height == 20


@posix_only
def test_a_new_home_is_private(tmp_path: Path) -> None:
    home = tmp_path / "fresh" / "home"
    make_home(home)
    for folder in (home, home / "lake", home / "lake" / "data"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert stat.S_IMODE((home / "lake" / "catalog.sqlite").stat().st_mode) == 0o600


def test_revoking_creates_no_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIS_ENV", "sim")
    home = tmp_path / "nowhere"
    out = runner.invoke(app, ["token", "--revoke", "--home", str(home)])
    assert out.exit_code == 0, out.output
    assert "nothing to revoke" in out.output
    assert not home.exists()


def test_a_home_made_by_the_token_command_is_owner_only(tmp_path: Path) -> None:
    home = tmp_path / "fresh" / "home"
    result = CliRunner().invoke(app, ["token", "--home", str(home)])
    assert result.exit_code == 0, result.output
    if os.name == "posix":
        assert home.stat().st_mode & 0o777 == 0o700
        assert home.parent.stat().st_mode & 0o777 == 0o700
