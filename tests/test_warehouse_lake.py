"""The lake on real DuckDB/DuckLake in tmp_path: tables, upserts, types, snapshots, compaction."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from schemas import (
    DATASETS,
    MINUTE_BARS,
    OVERSEAS_MINUTE_BARS,
    PERIOD_BARS,
    TICKS,
    SchemaError,
)
from schemas.clock import SEOUL
from tests.helpers import daily_bars
from warehouse import tables
from warehouse.extensions import ExtensionUnavailable, load_extension, new_connection
from warehouse.lake import (
    Lake,
    LakeError,
    LakeNotFound,
    LakeSourceMismatch,
    connect,
    locate,
    mask_catalog,
)


def minute_bars(symbols: list[str], day: date, minutes: int = 30) -> pl.DataFrame:
    start = datetime.combine(day, time(9, 0))
    frame = pl.DataFrame(
        {
            "symbol": [s for s in symbols for _ in range(minutes)],
            "ts": [start + timedelta(minutes=m) for _ in symbols for m in range(minutes)],
        }
    )
    return frame.with_columns(
        pl.col("ts").dt.replace_time_zone(SEOUL),
        date=pl.lit(day),
        open=pl.lit(100),
        high=pl.lit(110),
        low=pl.lit(90),
        close=pl.lit(105),
        volume=pl.lit(7),
    )


@pytest.fixture
def lake(tmp_path: Path):
    with Lake.open(tmp_path, source="sim") as lk:
        yield lk


def test_open_creates_every_dataset_table_with_its_declared_types(lake: Lake) -> None:
    for dataset in DATASETS.values():
        rows = lake.con.execute(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
            "WHERE table_catalog = 'lake' AND table_name = ? ORDER BY ordinal_position",
            [dataset.name],
        ).fetchall()
        assert [r[0] for r in rows] == dataset.column_names, dataset.name
        for (name, dtype, nullable), col in zip(rows, dataset.columns, strict=True):
            expected = tables.duckdb_type(col.dtype)
            aliases = {"TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE"}
            assert dtype == aliases.get(expected, expected), (dataset.name, name)
            assert (nullable == "NO") == tables.required(dataset, col), (dataset.name, name)


def test_partitioned_layout_follows_the_schema(lake: Lake, tmp_path: Path) -> None:
    frame = daily_bars([f"{i:06d}" for i in range(5)], [date(2025, 12, 30), date(2026, 1, 2)])
    lake.upsert(PERIOD_BARS, frame)
    lake.compact()  # flushes rows small enough to have been inlined into the catalog
    root = tmp_path / "lake" / "data" / "main" / "period_bars"
    parts = {p.relative_to(root).parts[:2] for p in root.rglob("*.parquet")}
    assert parts == {("period=D", "year=2025"), ("period=D", "year=2026")}


def test_upsert_counts_and_is_idempotent(lake: Lake) -> None:
    days = [date(2026, 1, 5) + timedelta(days=i) for i in range(4)]
    frame = daily_bars(["005930", "000660"], days)
    empty = lake.upsert(PERIOD_BARS, frame.head(0))
    assert (empty.inserted, empty.updated, empty.unchanged) == (0, 0, 0)
    first_write = lake.upsert(PERIOD_BARS, frame)
    assert (first_write.inserted, first_write.updated, first_write.unchanged) == (8, 0, 0)
    first = lake.table(PERIOD_BARS)
    snapshots = lake.snapshots().height

    again = lake.upsert(PERIOD_BARS, frame)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, frame.height)
    assert_frame_equal(lake.table(PERIOD_BARS), first)
    assert lake.snapshots().height == snapshots  # nothing written, no new snapshot

    changed = frame.with_columns(
        close=pl.when(pl.col("date") == days[-1]).then(pl.col("close") + 1).otherwise("close")
    )
    extra = daily_bars(["035720"], days[:1])
    result = lake.upsert(PERIOD_BARS, pl.concat([changed, extra]))
    assert (result.inserted, result.updated, result.unchanged) == (1, 2, 6)
    stored = lake.table(PERIOD_BARS)
    assert stored.height == 9
    assert stored.filter(pl.col("date") == days[-1], pl.col("symbol") == "005930")[
        "close"
    ].item() == (
        frame.filter(pl.col("date") == days[-1], pl.col("symbol") == "005930")["close"].item() + 1
    )


def test_upsert_dedupes_the_frame_last_row_wins(lake: Lake) -> None:
    one = daily_bars(["005930"], [date(2026, 1, 5)])
    dup = pl.concat([one, one.with_columns(close=pl.lit(1, pl.Int64))])
    result = lake.upsert(PERIOD_BARS, dup)
    assert result.inserted == 1
    assert lake.table(PERIOD_BARS)["close"].to_list() == [1]


def test_upsert_refuses_null_keys_and_writes_nothing(lake: Lake) -> None:
    bad = daily_bars(["005930"], [date(2026, 1, 5)]).with_columns(symbol=pl.lit(None, pl.String))
    with pytest.raises(SchemaError, match="symbol"):
        lake.upsert(PERIOD_BARS, bad)
    assert lake.table(PERIOD_BARS).height == 0


def test_types_round_trip_exactly(lake: Lake) -> None:
    ticks = pl.DataFrame(
        {
            "journal": ["j1", "j1"],
            "line": [1, 2],
            "record": [0, 0],
            "date": [date(2026, 1, 5)] * 2,
            "symbol": ["005930"] * 2,
            "price": [70000, 70100],
            "qty": [1, 2],
        }
    ).with_columns(
        ts_event=pl.lit(datetime(2026, 1, 5, 9, 0, 1)).dt.replace_time_zone(SEOUL),
        # nanoseconds that a microsecond type would lose
        ts_recv=pl.Series([1_767_571_201_000_000_123, 1_767_571_201_000_000_999]).cast(
            pl.Datetime("ns", "UTC")
        ),
    )
    lake.upsert(TICKS, ticks)
    back = lake.table(TICKS)
    assert back.schema == TICKS.schema
    assert back["ts_recv"].dt.nanosecond().to_list() == [123, 999]
    assert back["ts_event"].to_list() == TICKS.conform(ticks)["ts_event"].to_list()

    over = pl.DataFrame(
        {
            "exchange": ["NAS"],
            "symbol": ["AAPL"],
            "timezone": ["America/New_York"],
            "local_date": [date(2026, 1, 5)],
            "local_time": [time(9, 31)],
            "open": [Decimal("243.1234")],
            "high": [Decimal("243.5")],
            "low": [Decimal("242.0001")],
            "close": [Decimal("243.2")],
            "value": [Decimal("12345678901234.5678")],
        }
    ).with_columns(ts=pl.lit(datetime(2026, 1, 5, 14, 31)).dt.replace_time_zone("UTC"))
    lake.upsert(OVERSEAS_MINUTE_BARS, over)
    back = lake.table(OVERSEAS_MINUTE_BARS)
    assert back.schema == OVERSEAS_MINUTE_BARS.schema
    assert back["open"].item() == Decimal("243.1234")
    assert back["value"].item() == Decimal("12345678901234.5678")
    assert back["local_time"].item() == time(9, 31)
    # TIMESTAMPTZ shows in Seoul time in SQL
    shown = lake.con.sql("SELECT strftime(ts, '%H:%M %Z') FROM overseas_minute_bars").fetchone()
    assert shown is not None and shown[0].startswith("23:31")


def test_latest_is_the_cursor(lake: Lake) -> None:
    assert lake.latest(PERIOD_BARS, symbol="005930", period="D", adjusted=True) is None
    days = [date(2026, 1, 5), date(2026, 1, 6)]
    lake.upsert(PERIOD_BARS, daily_bars(["005930"], days))
    lake.upsert(PERIOD_BARS, daily_bars(["000660"], [date(2026, 1, 9)]))
    assert lake.latest(PERIOD_BARS, symbol="005930", period="D", adjusted=True) == days[-1]
    assert lake.latest(PERIOD_BARS) == date(2026, 1, 9)
    lake.upsert(MINUTE_BARS, minute_bars(["005930"], days[0], minutes=12))
    assert lake.latest(MINUTE_BARS, "ts", symbol="005930") == datetime(
        2026, 1, 5, 9, 11, tzinfo=lake.latest(MINUTE_BARS, "ts").tzinfo
    )
    with pytest.raises(ValueError, match="no column"):
        lake.latest(PERIOD_BARS, ticker="005930")


def test_source_stamp_refuses_the_other_source(tmp_path: Path) -> None:
    Lake.open(tmp_path, source="sim").close()
    with pytest.raises(LakeSourceMismatch, match="'sim' data and refuses 'kis'"):
        Lake.open(tmp_path, source="kis")
    with Lake.open(tmp_path, source=None, read_only=True) as ro:
        assert ro.source == "sim"
    with pytest.raises(ValueError, match="source"):
        Lake.open(tmp_path, source=None)


def test_read_only_and_missing_lakes(tmp_path: Path) -> None:
    with pytest.raises(LakeNotFound, match="kisdb update"):
        connect(tmp_path / "nowhere")
    with Lake.open(tmp_path, source="kis") as lk:
        lk.upsert(PERIOD_BARS, daily_bars(["005930"], [date(2026, 1, 5)]))
    with (
        Lake.open(tmp_path, source="kis", read_only=True) as ro,
        pytest.raises(LakeError, match="read-only"),
    ):
        ro.upsert(PERIOD_BARS, daily_bars(["005930"], [date(2026, 1, 6)]))


def test_snapshots_allow_time_travel(tmp_path: Path) -> None:
    day = date(2026, 1, 5)
    with Lake.open(tmp_path, source="sim") as lk:
        lk.upsert(PERIOD_BARS, daily_bars(["005930"], [day]))
        before = lk.current_snapshot()
        lk.upsert(PERIOD_BARS, daily_bars(["005930"], [day], bump=500))
        snaps = lk.snapshots()
        assert snaps.columns[:3] == ["id", "time", "changes"]
        assert snaps["id"].max() == lk.current_snapshot() > before
        assert "upsert period_bars: +0 ~1" in snaps["message"].to_list()
        past = lk.con.sql(f"SELECT close FROM period_bars AT (VERSION => {before})").fetchone()
        assert past == (10_010,)
    con = connect(tmp_path, snapshot=before)
    try:
        assert con.sql("SELECT close FROM bars_daily").fetchone() == (10_010,)
    finally:
        con.close()
    con = connect(tmp_path)
    try:
        assert con.sql("SELECT close FROM bars_daily").fetchone() == (10_510,)
        with pytest.raises(duckdb.Error):
            con.execute("DELETE FROM period_bars")
    finally:
        con.close()


def test_compaction_merges_small_files_and_keeps_history(tmp_path: Path) -> None:
    start = date(2026, 1, 5)
    symbols = [f"{i:06d}" for i in range(4)]
    with Lake.open(tmp_path, source="sim") as lk:
        for i in range(12):
            lk.upsert(MINUTE_BARS, minute_bars(symbols, start + timedelta(days=i), minutes=5))
        middle = lk.current_snapshot()
        expected_then = lk.con.sql(
            f"SELECT count(*) FROM minute_bars AT (VERSION => {middle})"
        ).fetchone()
        for i in range(12, 20):
            lk.upsert(MINUTE_BARS, minute_bars(symbols, start + timedelta(days=i), minutes=5))
        table_before = lk.table(MINUTE_BARS)
        result = lk.compact()
        assert result.files_before >= 20
        assert result.files_after <= 2  # one month partition each (Jan), maybe Jan + nothing else
        assert result.disk_files_after < result.disk_files_before
        assert_frame_equal(lk.table(MINUTE_BARS), table_before)
        again = lk.con.sql(f"SELECT count(*) FROM minute_bars AT (VERSION => {middle})").fetchone()
        assert again == expected_then == (12 * 4 * 5,)
        assert lk.file_count(MINUTE_BARS) == result.files_after


def test_friendly_views(tmp_path: Path) -> None:
    day = date(2026, 1, 5)
    with Lake.open(tmp_path, source="sim") as lk:
        adjusted = daily_bars(["005930"], [day])
        lk.upsert(
            PERIOD_BARS,
            pl.concat(
                [adjusted, adjusted.with_columns(adjusted=pl.lit(False), close=pl.lit(1, pl.Int64))]
            ),
        )
        lk.upsert(MINUTE_BARS, minute_bars(["005930"], day, minutes=3))
    con = connect(tmp_path)
    try:
        assert con.sql("SELECT close FROM bars_daily").pl()["close"].to_list() == [10_010]
        assert con.sql("SELECT close FROM bars_daily_raw").pl()["close"].to_list() == [1]
        assert "period" not in con.sql("FROM bars_daily").columns
        frame = con.sql("SELECT * FROM minutes ORDER BY ts").pl()
        assert frame.height == 3 and frame.schema["ts"] == pl.Datetime("us", SEOUL)
        for view in (
            "bars_weekly",
            "bars_monthly",
            "index_daily",
            "trading_days",
            "securities_latest",
        ):
            assert con.sql(f"SELECT count(*) FROM {view}").fetchone() == (0,)
    finally:
        con.close()


def test_extensions_load_from_the_package_without_network() -> None:
    con = new_connection()
    try:
        where = load_extension(con, "ducklake")
        assert "duckdb_extension_ducklake" in where
        assert load_extension(con, "json") == "built-in"
        setting = con.sql("SELECT current_setting('autoinstall_known_extensions')").fetchone()
        assert setting == (False,)
        with pytest.raises(ExtensionUnavailable, match="pip install 'duckdb-extension-vss"):
            load_extension(con, "vss")
    finally:
        con.close()


def test_docs_table_matches_the_schemas() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "warehouse.md").read_text(
        encoding="utf-8"
    )
    assert tables.tables_markdown(list(DATASETS.values())) in doc, (
        "docs/warehouse.md is stale: paste warehouse.tables.tables_markdown(...) output into it"
    )


def test_a_password_in_the_catalog_never_shows(tmp_path: Path) -> None:
    loc = locate(tmp_path, "postgres:dbname=lake host=db user=kisdb password=hunter22 port=5432")
    assert loc.kind == "postgres" and "password=hunter22" in loc.catalog  # ATTACH gets it as given
    assert loc.shown == "postgres:dbname=lake host=db user=kisdb password=**** port=5432"
    assert "hunter22" not in repr(loc)
    assert (
        mask_catalog("postgresql://kisdb:hunter22@db:5432/lake")
        == "postgresql://kisdb:****@db:5432/lake"
    )
    assert (
        mask_catalog("postgres:dbname=lake password='a b' host=db")
        == "postgres:dbname=lake password=**** host=db"
    )
    assert mask_catalog(str(tmp_path / "catalog.ducklake")) == str(tmp_path / "catalog.ducklake")


def test_planning_reads_bounds_dates_days_and_the_latest_snapshot(lake: Lake) -> None:
    from schemas import HOLIDAYS, SECURITIES
    from warehouse.planning import (
        snapshot_symbols,
        stored_bounds,
        stored_dates,
        trading_days_or_weekdays,
    )

    days = [date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 4)]
    lake.upsert(PERIOD_BARS, daily_bars(["005930", "000660"], days))
    assert stored_bounds(lake, PERIOD_BARS, ("symbol",)) == {
        ("005930",): (days[0], days[-1]),
        ("000660",): (days[0], days[-1]),
    }
    assert stored_dates(lake, PERIOD_BARS, days[1], date(2024, 2, 1)) == set(days[1:])

    # 2024-01-03 closed by the holidays table; outside its cover, weekdays stand in.
    calendar = pl.DataFrame(
        {"date": days, "market_open": [True, False, True]}, schema_overrides={"date": pl.Date}
    )
    lake.upsert(HOLIDAYS, calendar)
    assert trading_days_or_weekdays(lake, date(2024, 1, 2), date(2024, 1, 8)) == [
        date(2024, 1, 2),
        date(2024, 1, 4),
        date(2024, 1, 5),  # Friday: not in the table, a weekday
        date(2024, 1, 8),
    ]

    snapshot = pl.DataFrame(
        {
            "snapshot_date": [date(2024, 1, 2)] * 3 + [date(2024, 1, 3)] * 2,
            "symbol": ["005930", "000660", "035720", "005930", "091990"],
            "name": ["a", "b", "c", "a", "d"],
            "market": ["KOSPI", "KOSPI", "KOSPI", "KOSPI", "KOSDAQ"],
        }
    )
    lake.upsert(SECURITIES, snapshot)
    assert snapshot_symbols(lake) == ["005930", "091990"]
    assert snapshot_symbols(lake, markets=("KOSDAQ",)) == ["091990"]
    assert snapshot_symbols(lake, on=date(2024, 1, 2)) == ["000660", "005930", "035720"]
    assert snapshot_symbols(lake, on=date(2023, 12, 31)) == []
