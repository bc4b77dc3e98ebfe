"""Crash safety: a writer killed -9 mid-upsert leaves the lake at a consistent snapshot."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import polars as pl

from schemas import MINUTE_BARS
from warehouse.lake import Lake

ROOT = Path(__file__).resolve().parents[1]
ROWS = 400_000  # big enough that a write takes a while, small enough for a fast test

# Each batch k rewrites the same keys with close = k, plus one new symbol per batch: every
# committed state is "all closes equal k and (k + 1) symbol blocks", so any torn write shows.
WRITER = textwrap.dedent(
    f"""
    import sys
    from datetime import date, datetime
    from pathlib import Path
    import polars as pl
    from schemas import MINUTE_BARS
    from warehouse.lake import Lake

    home = Path(sys.argv[1])
    rows = {ROWS}
    base = pl.DataFrame({{"i": pl.arange(0, rows, eager=True)}}).with_columns(
        ts=pl.datetime(2026, 1, 5, 9, 0, time_zone="Asia/Seoul") + pl.duration(minutes=pl.col("i") % 5000),
        date=pl.lit(date(2026, 1, 5)),
        open=pl.lit(100), high=pl.lit(200), low=pl.lit(50), volume=pl.lit(1),
    )
    with Lake.open(home, source="sim") as lake:
        for k in range(1, 1000):
            frame = base.with_columns(
                symbol=(pl.col("i") // 5000).cast(pl.String).str.zfill(6),
                close=pl.lit(k, pl.Int64),
            )
            extra = frame.head(5000).with_columns(symbol=pl.lit(f"N{{k:05d}}"))
            lake.upsert(MINUTE_BARS, pl.concat([frame, extra]))
            print(k, flush=True)
    """
)


def test_kill_9_mid_upsert_leaves_a_committed_snapshot(tmp_path: Path) -> None:
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path)], stdout=subprocess.PIPE, env=env, text=True
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # batch 1 committed; batch 2 (an update) is under way
        assert first.strip() == "1", first
        time.sleep(0.3)  # some moment in the later upserts: the kill point under test
    finally:
        if sys.platform == "win32":
            proc.kill()
        else:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode != 0

    with Lake.open(tmp_path, source="sim") as lake:
        stored = lake.con.sql(
            "SELECT count(*), min(close), max(close), count(DISTINCT symbol), "
            "count(DISTINCT (symbol, ts)) FROM minute_bars"
        ).fetchone()
        assert stored is not None
        rows, lo, hi, symbols, keys = stored
        assert lo == hi  # one batch's values only, never a mix
        k = lo
        assert rows == keys == ROWS + 5000 * k
        assert symbols == ROWS // 5000 + k
        # the lake keeps working: an upsert after the crash commits and compaction removes
        # whatever Parquet files the killed writer left uncommitted
        extra = lake.table(MINUTE_BARS).head(10).with_columns(close=pl.lit(-1, pl.Int64))
        assert lake.upsert(MINUTE_BARS, extra).updated == 10
        lake.compact()
        referenced = lake.con.sql(
            "SELECT count(*) FROM ducklake_list_files('lake', 'minute_bars')"
        ).fetchone()
        assert referenced is not None
        on_disk = sum(
            1 for _ in (tmp_path / "lake" / "data" / "main" / "minute_bars").rglob("*.parquet")
        )
        deletes = lake.con.sql(
            "SELECT count(delete_file) FROM ducklake_list_files('lake', 'minute_bars')"
        ).fetchone()
        assert deletes is not None
        assert on_disk == referenced[0] + deletes[0]
