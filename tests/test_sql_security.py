"""`kisdb sql` and `warehouse.connect()` are read-only and confined to the lake: the attacks of
issue 16 (delete through a re-attach, read a token or any file, write files, install extensions,
change settings) are refused in one line, and the lake is unchanged afterwards."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from schemas import PERIOD_BARS
from tests.helpers import daily_bars
from warehouse.confine import QueryRefused, read_only_statement
from warehouse.lake import Lake, connect

# Run by `make test-scale` (with the fault suite), not by `make test`.
pytestmark = pytest.mark.slow

runner = CliRunner()
TOKEN = "SECRET-ACCESS-TOKEN-0123456789"
ROWS = 20


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with 20 daily bars in Parquet files and a cached token, built once."""
    home = tmp_path_factory.mktemp("template") / "home"
    days = [date(2026, 1, 5) + timedelta(days=i) for i in range(10)]
    with Lake.open(home, source="sim") as lake:
        lake.upsert(PERIOD_BARS, daily_bars(["005930", "000660"], days))
        lake.compact()  # rows leave the catalog for Parquet files
    (home / "tokens").mkdir()
    (home / "tokens" / "sim-0123456789ab.json").write_text(f'{{"access_token": "{TOKEN}"}}')
    return home


@pytest.fixture
def home(template: Path, tmp_path: Path) -> Iterator[Path]:
    copy = tmp_path / "home"
    shutil.copytree(template, copy)
    yield copy


def sql(home: Path, query: str) -> tuple[int, str]:
    result = runner.invoke(app, ["sql", query, "--home", str(home), "--format", "csv"])
    return result.exit_code, result.output


def stored_rows(home: Path) -> int:
    with Lake.open(home, source=None, read_only=True) as lake:
        row = lake.con.execute("SELECT count(*) FROM period_bars").fetchone()
    assert row is not None
    return int(row[0])


def test_a_plain_query_still_works(home: Path) -> None:
    code, out = sql(home, "SELECT count(*) AS n FROM bars_daily")
    assert code == 0, out
    assert out.splitlines() == ["n", str(ROWS)]
    code, out = sql(home, "EXPLAIN SELECT * FROM bars_daily WHERE symbol = '005930'")
    assert code == 0, out


@pytest.mark.parametrize(
    "query",
    [
        "FROM bars_daily",
        "DESCRIBE bars_daily",
        "SHOW TABLES",
        "SUMMARIZE bars_daily",
        "VALUES (1)",
        "WITH x AS (SELECT 1) SELECT * FROM x;",
        "-- comment\nEXPLAIN ANALYZE SELECT 1",
    ],
)
def test_queries_that_only_read_are_accepted(query: str) -> None:
    assert read_only_statement(query) == query


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("PIVOT period_bars ON symbol", "CREATE is not allowed"),
        ("RESET threads", "RESET is not allowed"),
        ("BEGIN", "TRANSACTION is not allowed"),
        ("EXPLAIN (FORMAT json) SELECT 1", "EXPLAIN of anything but a query"),
        ("  ", "needs a query"),
    ],
)
def test_the_refusal_names_the_statement(query: str, reason: str) -> None:
    with pytest.raises(QueryRefused, match=re.escape(reason)):
        read_only_statement(query)


def test_delete_through_a_reattached_catalog_is_refused(home: Path) -> None:
    catalog = "sqlite:" + str(home / "lake" / "catalog.sqlite")
    attack = (
        f"USE memory; DETACH lake; ATTACH 'ducklake:{catalog}' AS w; "
        "DELETE FROM w.main.period_bars WHERE symbol='005930'; SELECT 1"
    )
    code, out = sql(home, attack)
    assert code == 2
    assert "read-only: USE is not allowed" in out
    assert len(out.strip().splitlines()) == 1
    assert stored_rows(home) == ROWS


@pytest.mark.parametrize(
    "statement",
    [
        "DETACH lake",
        "DELETE FROM period_bars",
        "WITH x AS (SELECT 1) DELETE FROM period_bars",
        "EXPLAIN ANALYZE DELETE FROM period_bars",
        "CALL ducklake_expire_snapshots('lake', older_than => now())",
        "SET enable_external_access = true",
        "SELECT 1; SELECT 2",
    ],
)
def test_writes_settings_and_several_statements_are_refused(home: Path, statement: str) -> None:
    code, out = sql(home, statement)
    assert code == 2, out
    assert out.startswith("error: kisdb sql ")
    assert stored_rows(home) == ROWS


def test_the_token_cache_cannot_be_read(home: Path) -> None:
    code, out = sql(home, f"SELECT content FROM read_text('{home}/tokens/sim-*.json')")
    assert code == 2
    assert TOKEN not in out
    assert "confined to the lake" in out


def test_files_outside_the_lake_cannot_be_read(home: Path, tmp_path: Path) -> None:
    outside = tmp_path / "passwd.csv"
    outside.write_text("user,password\nroot,hunter2\n")
    for query in (
        f"SELECT * FROM read_csv('{outside}')",
        f"SELECT * FROM '{outside}'",
        f"SELECT * FROM glob('{tmp_path}/*')",
        f"SELECT * FROM read_text('{home}/.env')",
    ):
        code, out = sql(home, query)
        assert code == 2, (query, out)
        assert "hunter2" not in out and "passwd" not in out.split("confined")[0]


@pytest.mark.parametrize(
    ("statement", "created"),
    [
        ("COPY (SELECT * FROM period_bars) TO '{out}/copy.csv'", "copy.csv"),
        ("COPY (SELECT 1) TO '{lake}/data/copy.csv'", None),
        ("EXPORT DATABASE '{out}/export'", "export"),
        ("ATTACH '{out}/new.db' AS n", "new.db"),
    ],
)
def test_no_file_is_written(
    home: Path, tmp_path: Path, statement: str, created: str | None
) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    code, out = sql(home, statement.format(out=out_dir, lake=home / "lake"))
    assert code == 2, out
    assert list(out_dir.iterdir()) == []
    assert not (home / "lake" / "data" / "copy.csv").exists()


def test_extensions_are_never_installed(home: Path) -> None:
    for statement in ("INSTALL httpfs", "LOAD httpfs", "FORCE INSTALL httpfs"):
        code, out = sql(home, statement)
        assert code == 2, out
        assert "is not allowed" in out
    code, out = sql(home, "SELECT * FROM read_parquet('https://example.com/x.parquet')")
    assert code == 2, out


def test_the_notebook_connection_is_read_only_and_confined(home: Path, tmp_path: Path) -> None:
    outside = tmp_path / "mine.csv"
    outside.write_text("a\n1\n")
    con = connect(home)
    try:
        assert con.sql("SELECT count(*) FROM bars_daily").fetchone() == (ROWS,)
        for statement in (
            "DELETE FROM period_bars",
            f"SELECT * FROM read_csv('{outside}')",
            f"SELECT content FROM read_text('{home}/tokens/sim-*.json')",
            f"COPY (SELECT 1) TO '{tmp_path}/x.csv'",
            f"COPY (SELECT 1) TO '{home}/lake/data/x.csv'",
            f"ATTACH '{tmp_path}/new.db'",
            "INSTALL httpfs",
            "SET enable_external_access = true",
            "SET allowed_directories = ['/']",
        ):
            with pytest.raises(duckdb.Error):
                con.execute(statement)
    finally:
        con.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "mine.csv"]
    assert stored_rows(home) == ROWS
    # Asked for: the lake stays read-only, the rest of the machine is the notebook's own.
    con = connect(home, confined=False)
    try:
        assert con.sql(f"SELECT a FROM read_csv('{outside}')").fetchone() == (1,)
        with pytest.raises(duckdb.Error):
            con.execute("DELETE FROM period_bars")
    finally:
        con.close()
