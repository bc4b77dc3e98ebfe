"""Warehouse benchmark: upsert throughput vs plain Parquet, research queries, compaction.

    python -m bench.bench_warehouse            (~1 minute on 2 cores)

Prints (1) rows/s of `Lake.upsert` (a fresh insert, an idempotent re-run, a 5 % update) against
DuckDB `COPY … TO` partitioned Parquet, as ratios; (2) research query times over 10 million
synthetic minute bars (made with polars, not the simulator); (3) the data-file count after 30
daily incremental upserts, before and after `Lake.compact()`.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import TypeVar

import polars as pl

from schemas import MINUTE_BARS
from warehouse.extensions import new_connection
from warehouse.lake import Lake

T = TypeVar("T")
MINUTES_PER_DAY = 381  # 09:00 .. 15:30 inclusive


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def weekdays(start: date, count: int) -> list[date]:
    days, d = [], start
    while len(days) < count:
        if d.weekday() < 5:
            days.append(d)
        d += timedelta(days=1)
    return days


def synthetic_minutes(symbols: int, days: list[date], seed: int = 7) -> pl.DataFrame:
    """`symbols` × `days` × 381 one-minute bars with a random-walk close, shaped as MINUTE_BARS."""
    n = symbols * len(days) * MINUTES_PER_DAY
    grid = pl.DataFrame({"i": pl.arange(0, n, eager=True, dtype=pl.Int64)})
    day_index = pl.col("i") // (symbols * MINUTES_PER_DAY)
    day_series = pl.Series("day", days, dtype=pl.Date)
    frame = grid.with_columns(
        symbol=((pl.col("i") // MINUTES_PER_DAY) % symbols).cast(pl.String).str.zfill(6),
        date=pl.lit(day_series).gather(day_index),
        minute=pl.col("i") % MINUTES_PER_DAY,
        step=(pl.int_range(pl.len()).hash(seed) % 21).cast(pl.Int64) - 10,
    ).with_columns(
        ts=(
            pl.col("date").cast(pl.Datetime("us")) + pl.duration(hours=9, minutes=pl.col("minute"))
        ).dt.replace_time_zone("Asia/Seoul"),
        close=(10_000 + pl.col("step").cum_sum().over("symbol")).clip(lower_bound=100),
    )
    return frame.select(
        "symbol",
        "ts",
        "date",
        open=pl.col("close") - 5,
        high=pl.col("close") + 20,
        low=pl.col("close") - 20,
        close="close",
        volume=(pl.col("i").hash(seed + 1) % 1000).cast(pl.Int64) + 1,
        cum_value=pl.lit(None, pl.Int64),
    )


RESEARCH_QUERIES = {
    "top 5 movers last month (daily closes from minutes)": """
        WITH daily AS (
            SELECT symbol, date, arg_max(close, ts) AS close FROM minutes GROUP BY ALL
        ), last_month AS (
            SELECT * FROM daily WHERE date >= (SELECT max(date) FROM daily) - INTERVAL 1 MONTH
        )
        SELECT symbol, arg_max(close, date) / arg_min(close, date) - 1 AS ret
        FROM last_month GROUP BY symbol ORDER BY ret DESC LIMIT 5""",
    "20-day average volume per symbol": """
        WITH daily AS (SELECT symbol, date, sum(volume) AS volume FROM minutes GROUP BY ALL)
        SELECT symbol, date, avg(volume) OVER (
            PARTITION BY symbol ORDER BY date ROWS BETWEEN 19 PRECEDING AND CURRENT ROW) AS adv20
        FROM daily QUALIFY date = max(date) OVER ()""",
    "VWAP per symbol and day": """
        SELECT symbol, date, sum(close * volume) / sum(volume) AS vwap
        FROM minutes GROUP BY ALL""",
    "one symbol, one month of minutes": """
        SELECT * FROM minutes WHERE symbol = '000123' AND date BETWEEN '2026-02-01' AND '2026-02-28'""",
}


def bench_upsert(root: Path) -> None:
    frame = synthetic_minutes(200, weekdays(date(2026, 1, 5), 26))  # ~2.0M rows
    n = frame.height
    con = new_connection()
    con.register("frame", frame.to_arrow())
    out = root / "copy"
    _, copy_s = timed(
        lambda: con.execute(
            f"COPY (SELECT *, year(date) AS year, month(date) AS month FROM frame ORDER BY symbol, ts) "
            f"TO '{out}' (FORMAT parquet, PARTITION_BY (year, month))"
        )
    )
    con.close()
    with Lake.open(root / "upsert", source="sim") as lake:
        _, insert_s = timed(lambda: lake.upsert(MINUTE_BARS, frame))
        rerun, rerun_s = timed(lambda: lake.upsert(MINUTE_BARS, frame))
        assert rerun.unchanged == n
        changed = frame.sample(fraction=0.05, seed=1).with_columns(pl.col("volume") + 1)
        upd, update_s = timed(lambda: lake.upsert(MINUTE_BARS, changed))
        assert upd.updated == changed.height
    print(f"\n== upsert throughput, {n:,} minute bars ==")
    print(f"COPY TO partitioned Parquet     {n / copy_s:12,.0f} rows/s  ({copy_s:.2f} s)")
    for label, rows, secs in (
        ("Lake.upsert, new keys", n, insert_s),
        ("Lake.upsert, idempotent re-run", n, rerun_s),
        ("Lake.upsert, 5% rows changed", changed.height, update_s),
    ):
        rate = rows / secs
        print(
            f"{label:31} {rate:12,.0f} rows/s  ({secs:.2f} s)  ratio vs COPY {rate / (n / copy_s):.2f}"
        )


def bench_queries(root: Path) -> None:
    frame, gen_s = timed(lambda: synthetic_minutes(520, weekdays(date(2026, 1, 5), 51)))
    with Lake.open(root / "research", source="sim") as lake:
        rows = frame.height
        _, load_s = timed(lambda f=frame: lake.upsert(MINUTE_BARS, f))
        files = lake.file_count(MINUTE_BARS)
        print(f"\n== research queries over {rows:,} minute bars ==")
        print(f"generate (polars) {gen_s:.2f} s, load into the lake {load_s:.2f} s, {files} files")
        del frame
        for label, sql in RESEARCH_QUERIES.items():
            result, secs = timed(lambda sql=sql: lake.con.sql(sql).pl())
            print(f"{label:52} {secs * 1000:8.0f} ms  ({result.height:,} rows)")


def bench_compaction(root: Path) -> None:
    days = weekdays(date(2026, 1, 5), 30)
    with Lake.open(root / "daily", source="sim") as lake:
        total = 0.0
        for day in days:
            _, secs = timed(lambda day=day: lake.upsert(MINUTE_BARS, synthetic_minutes(100, [day])))
            total += secs
        before = lake.file_count(MINUTE_BARS)
        result = lake.compact()
    print("\n== 30 daily incremental upserts (100 symbols × 381 minutes each) ==")
    print(
        f"upserts {total:.2f} s total; data files {before} before compaction, "
        f"{result.files_after} after ({result.seconds:.2f} s); Parquet files on disk "
        f"{result.disk_files_before} -> {result.disk_files_after}"
    )


def main() -> None:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kisdb-bench-") as tmp:
        root = Path(tmp)
        bench_upsert(root)
        bench_queries(root)
        bench_compaction(root)
    print(f"\nwarehouse bench done in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
