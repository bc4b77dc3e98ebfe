"""Readers beside a long ingest on one machine (issue 13): the default SQLite catalog vs the
older DuckDB-file catalog.

    python -m bench.bench_concurrency          (~1-2 minutes on 2 cores)

An ingest process commits COMMITS upserts of daily bars (SYMBOLS x DAYS rows each) while a
reader process holds `warehouse.connect()` open and queries every QUERY_EVERY seconds: unconfined
("open", what the `kisdb` one-liners use) or confined (its default, and `kisdb sql`). Prints
(1) the reader's query latency idle and during the ingest (p50 / p95 / max, ms), (2) the ingest's
rows/s with the reader open vs without (ratio), (3) the same ingest on a DuckDB-file catalog (no
reader: the cost of SQLite's catalog per commit; with a reader: the ingest fails, LakeBusy).
Every process is a real one (subprocess), as in a notebook + a scheduled run.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SYMBOLS, DAYS, COMMITS = 50, 20, 30
QUERY = "SELECT symbol, count(*) AS n, avg(close) AS close FROM bars_daily GROUP BY symbol"
QUERY_EVERY = 0.2


def writer(home: Path, catalog: str | None) -> None:
    """Print the ingest's seconds for COMMITS upserts (after opening), or `busy`."""
    import polars as pl

    from pipelines.lake_retry import retry_on_conflict
    from schemas import PERIOD_BARS
    from warehouse.lake import Lake, LakeBusy

    def frame(k: int) -> pl.DataFrame:
        days = [date(2020, 1, 1) + timedelta(days=k * DAYS + j) for j in range(DAYS)]
        rows = [
            {"symbol": f"{i:06d}", "period": "D", "adjusted": True, "date": d, "open": 100,
             "high": 110, "low": 90, "close": 100 + i + j, "volume": 1000}
            for i in range(SYMBOLS)
            for j, d in enumerate(days)
        ]  # fmt: skip
        return pl.DataFrame(rows)

    frames = [frame(k) for k in range(COMMITS)]
    try:
        lake = Lake.open(
            home, source="sim", catalog=catalog, retry=retry_on_conflict, lock_timeout=3
        )
    except LakeBusy:
        print("busy", flush=True)
        return
    with lake:
        started = time.perf_counter()
        for f in frames:
            lake.upsert(PERIOD_BARS, f)
        print(f"{time.perf_counter() - started:.3f}", flush=True)


def reader(home: Path, catalog: str | None, confined: bool) -> None:
    """Query every QUERY_EVERY s until stdin closes; print [wall time, latency s] pairs (JSON)."""
    import select

    from warehouse.lake import connect

    con = connect(home, catalog=catalog, confined=confined)
    con.sql(QUERY).fetchall()
    print("ready", flush=True)
    latencies: list[tuple[float, float]] = []
    while True:
        at, started = time.time(), time.perf_counter()
        con.sql(QUERY).fetchall()
        latencies.append((at, time.perf_counter() - started))
        if select.select([sys.stdin], [], [], QUERY_EVERY)[0] and not sys.stdin.readline():
            break
    print(json.dumps(latencies), flush=True)


def _spawn(
    role: str, home: Path, catalog: str | None, confined: bool = True
) -> subprocess.Popen[str]:
    mode = "confined" if confined else "open"
    return subprocess.Popen(
        [sys.executable, "-m", "bench.bench_concurrency", role, str(home), catalog or "", mode],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _ingest(home: Path, catalog: str | None) -> str:
    out, _ = _spawn("writer", home, catalog).communicate(timeout=600)
    return out.strip()


def _with_reader(
    home: Path, catalog: str | None, confined: bool, idle_s: float = 3.0
) -> tuple[str, list[float], list[float]]:
    """(ingest result, idle latencies, latencies during the ingest)."""
    reader_proc = _spawn("reader", home, catalog, confined)
    assert reader_proc.stdout is not None and reader_proc.stdin is not None
    assert reader_proc.stdout.readline().strip() == "ready"
    time.sleep(idle_s)
    started = time.time()
    result = _ingest(home, catalog)
    ended = time.time()
    out, _ = reader_proc.communicate(timeout=60)
    latencies = json.loads(out.strip().splitlines()[-1])
    idle = [s for at, s in latencies if at < started]
    during = [s for at, s in latencies if started <= at <= ended]
    return result, idle, during


def _ms(values: list[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return (
        f"p50 {statistics.median(ordered) * 1000:.0f} / p95 {p95 * 1000:.0f} / "
        f"max {ordered[-1] * 1000:.0f} ms (n={len(ordered)})"
    )


def _seed(home: Path, catalog: str | None) -> None:
    import polars as pl

    from schemas import PERIOD_BARS
    from warehouse.lake import Lake

    with Lake.open(home, source="sim", catalog=catalog) as lake:
        lake.upsert(
            PERIOD_BARS,
            pl.DataFrame(
                {"symbol": ["999999"], "period": ["D"], "adjusted": [True],
                 "date": [date(2019, 12, 31)], "open": [1], "high": [1], "low": [1],
                 "close": [1], "volume": [1]}
            ),
        )  # fmt: skip


def main() -> None:
    rows = SYMBOLS * DAYS * COMMITS
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        results: dict[str, str] = {}
        # (catalog, reader): none, a notebook (kisdb one-liners: unconfined), `kisdb sql` and
        # warehouse.connect()'s default (confined: reopens on each newer snapshot).
        runs = [("sqlite", None), ("sqlite", "open"), ("sqlite", "confined")]
        runs += [("duckdb", None), ("duckdb", "open")]
        for name, mode in runs:
            key = f"{name} {mode or 'alone'}"
            home = base / key.replace(" ", "-")
            catalog = str(home / "lake" / "catalog.ducklake") if name == "duckdb" else None
            _seed(home, catalog)
            if mode is None:
                results[key] = _ingest(home, catalog)
                continue
            results[key], idle, during = _with_reader(home, catalog, mode == "confined")
            print(f"{key:16s} reader idle:          {_ms(idle)}")
            print(f"{key:16s} reader during ingest: {_ms(during)}")
        for key, value in results.items():
            shown = (
                "fails: LakeBusy"
                if value == "busy"
                else f"{rows / float(value):,.0f} rows/s ({value} s)"
            )
            print(f"ingest {rows:,} rows in {COMMITS} commits, {key:14s} {shown}")
        alone = float(results["sqlite alone"])
        for mode in ("open", "confined"):
            ratio = alone / float(results[f"sqlite {mode}"])
            print(f"sqlite: ingest throughput with a {mode} reader / without = {ratio:.2f}")
        print(
            "sqlite vs duckdb-file catalog, ingest time (no reader) = "
            f"{alone / float(results['duckdb alone']):.2f}x"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1:
        role, home, catalog = sys.argv[1], Path(sys.argv[2]), sys.argv[3] or None
        if role == "writer":
            writer(home, catalog)
        else:
            reader(home, catalog, confined=sys.argv[4] == "confined")
    else:
        main()
