"""Scale-out building blocks without servers: the keyring, S3 settings, conflict retries on a real
DuckLake, the chunk planner and the token-cache merge. (The full set-up is in tests/scale.)"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from connectors.kis.errors import KisConfigError
from connectors.kis.keyring import load_keyring, parse_keyring, pick
from connectors.kis.settings import Settings
from pipelines.config import config_from_values
from pipelines.errors import InputError
from pipelines.lake_retry import retry_on_conflict
from pipelines.lease import limit_name, merge_caches
from pipelines.scale import (
    calls_per_symbol,
    chunk_sizes,
    plan_chunks,
    preference,
    year_windows,
)
from warehouse.extensions import load_extension, new_connection
from warehouse.remote import LakeTarget, ObjectStore, as_conflict

SECRET = "VERYsecretAppSecretValue0123456789"
KEYS_TOML = f"""
[[keys]]
name = "main"
app_key = "PSmainKey000000000000000000000000001"
app_secret = "{SECRET}"
account = "12345678-01"

[[keys]]
name = "spare"
app_key = "PSspareKey00000000000000000000000002"
app_secret = "{SECRET}2"
base_url = "http://127.0.0.1:9"
"""


# -- keyring ------------------------------------------------------------------------------------
def test_keyring_gives_each_key_its_own_settings_and_hides_secrets() -> None:
    keys = parse_keyring(KEYS_TOML, "toml")
    assert [k.name for k in keys] == ["main", "spare"]
    base = Settings(env="real", rate_limit=20.0)
    main, spare = (k.apply(base) for k in keys)
    assert main.app_key is not None and main.app_key.reveal().startswith("PSmain")
    assert main.cano == "12345678" and main.rate_limit == 20.0 and main.base_url is None
    assert spare.base_url == "http://127.0.0.1:9" and spare.account is None
    assert keys[0].key_id != keys[1].key_id
    shown = repr(keys) + str(keys[0]) + repr(main)
    assert SECRET not in shown and "PSmainKey" not in shown


def test_keyring_json_list_and_pick() -> None:
    keys = parse_keyring(json.dumps([{"name": "a", "app_key": "K1", "app_secret": "S1"}]), "json")
    assert pick(keys, None) is keys[0] and pick(keys, "a") is keys[0]
    with pytest.raises(KisConfigError, match="no app key named 'b'"):
        pick(keys, "b")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"keys": []}', "non-empty"),
        ('[{"name": "a", "app_key": "K"}]', "missing app_secret"),
        ('[{"name": "Bad Name", "app_key": "K", "app_secret": "S"}]', "lower-case"),
        ('[{"name": "a", "app_key": "K", "app_secret": "S", "colour": 1}]', "unknown field"),
        (
            '[{"name": "a", "app_key": "K", "app_secret": "S"}, {"name": "b", "app_key": "K", "app_secret": "T"}]',
            "listed twice",
        ),
        ('[{"name": "a", "app_key": "K", "app_secret": "' + SECRET + '"', "not valid JSON"),
    ],
)
def test_keyring_rejects_bad_files_without_quoting_secrets(text: str, message: str) -> None:
    with pytest.raises(KisConfigError, match=message) as info:
        parse_keyring(text, "json")
    assert SECRET not in str(info.value)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_keyring_file_must_be_private(tmp_path: Path) -> None:
    path = tmp_path / "keys.toml"
    path.write_text(KEYS_TOML, encoding="utf-8")
    path.chmod(0o644)
    with pytest.raises(KisConfigError, match="chmod 600"):
        load_keyring(path)
    path.chmod(0o600)
    assert len(config_from_values({"KIS_APP_KEYS_FILE": str(path)}).app_keys()) == 2


def test_keyring_falls_back_to_the_single_key() -> None:
    keys = config_from_values(
        {"KIS_APP_KEY": "PSsolo", "KIS_APP_SECRET": "S", "KIS_ENV": "real"}
    ).app_keys()
    assert [k.name for k in keys] == ["default"]
    assert config_from_values({"KIS_ENV": "sim"}).app_keys() == []


# -- object store settings ----------------------------------------------------------------------
def test_object_store_from_env_for_a_local_s3_compatible_server() -> None:
    store = ObjectStore.from_env(
        {
            "KISDB_S3_ENDPOINT": "http://127.0.0.1:9000/",
            "KISDB_S3_KEY_ID": "kid",
            "KISDB_S3_SECRET": SECRET,
        }
    )
    assert (store.endpoint, store.use_ssl, store.url_style) == ("127.0.0.1:9000", False, "path")
    sql = store.secret_sql()
    assert (
        "ENDPOINT '127.0.0.1:9000'" in sql and "USE_SSL false" in sql and "URL_STYLE 'path'" in sql
    )
    assert SECRET not in repr(store)
    aws = ObjectStore.from_env(
        {"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b", "AWS_REGION": "ap-northeast-2"}
    )
    assert (aws.endpoint, aws.use_ssl, aws.url_style, aws.region) == (
        None,
        True,
        "vhost",
        "ap-northeast-2",
    )
    target = LakeTarget.from_env({"KISDB_CATALOG": "postgres:dbname=x", "KISDB_DATA_PATH": " "})
    assert (target.catalog, target.data_path) == ("postgres:dbname=x", None)


def test_duckdb_reads_and_writes_through_the_secret_on_moto(tmp_path: Path) -> None:
    moto = pytest.importorskip("moto.server")
    boto3 = pytest.importorskip("boto3")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = moto.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{port}",
            aws_access_key_id="k",
            aws_secret_access_key="s",
            region_name="us-east-1",
        ).create_bucket(Bucket="kisdb-unit")
        con = new_connection()
        load_extension(con, "httpfs", cache_dir=tmp_path)
        con.execute(
            ObjectStore.from_env(
                {
                    "KISDB_S3_ENDPOINT": f"http://127.0.0.1:{port}",
                    "KISDB_S3_KEY_ID": "k",
                    "KISDB_S3_SECRET": "s",
                }
            ).secret_sql()
        )
        con.execute("COPY (SELECT range AS i FROM range(1000)) TO 's3://kisdb-unit/t/x.parquet'")
        assert con.execute("SELECT sum(i) FROM 's3://kisdb-unit/t/*.parquet'").fetchone() == (
            499500,
        )
    finally:
        server.stop()


# -- conflicts ----------------------------------------------------------------------------------
def test_a_real_ducklake_commit_conflict_is_retried(tmp_path: Path) -> None:
    con = new_connection()
    load_extension(con, "ducklake", cache_dir=tmp_path)
    con.execute(
        f"ATTACH 'ducklake:{tmp_path / 'c.ducklake'}' AS lake (DATA_PATH '{tmp_path / 'd'}/')"
    )
    con.execute("CREATE TABLE lake.t (k INT, v INT)")
    con.execute("INSERT INTO lake.t SELECT range, 0 FROM range(10)")
    a, b = con.cursor(), con.cursor()
    merge = (
        "MERGE INTO lake.t t USING (SELECT range AS k, {v} AS v FROM range(10)) s ON t.k = s.k "
        "WHEN MATCHED THEN UPDATE SET v = s.v WHEN NOT MATCHED THEN INSERT VALUES (s.k, s.v)"
    )
    a.execute("BEGIN")
    a.execute(merge.format(v=1))
    b.execute("BEGIN")
    b.execute(merge.format(v=2))
    a.execute("COMMIT")
    with pytest.raises(duckdb.Error) as info:
        b.execute("COMMIT")
    assert as_conflict(info.value) is not None
    tries = []

    def again() -> None:
        tries.append(1)
        b.execute("BEGIN")
        b.execute(merge.format(v=2))
        if len(tries) == 1:  # a third writer commits in between: the first retry conflicts too
            a.execute("BEGIN")
            a.execute(merge.format(v=3))
            a.execute("COMMIT")
        b.execute("COMMIT")

    retry_on_conflict(again, sleep=lambda _: None)
    assert len(tries) == 2
    assert con.execute("SELECT count(*), min(v), max(v) FROM lake.t").fetchone() == (10, 2, 2)


def test_retry_gives_up_and_ignores_other_errors() -> None:
    calls = []

    def broken() -> None:
        calls.append(1)
        raise duckdb.CatalogException("table x does not exist")

    with pytest.raises(duckdb.CatalogException):
        retry_on_conflict(broken, sleep=lambda _: None)
    assert len(calls) == 1

    def conflicting() -> None:
        calls.append(1)
        raise duckdb.TransactionException("Transaction conflict - another transaction deleted")

    with pytest.raises(duckdb.TransactionException):
        retry_on_conflict(conflicting, attempts=3, sleep=lambda _: None)
    assert len(calls) == 4


# -- planning and leases ------------------------------------------------------------------------
def test_year_windows_cut_at_new_year() -> None:
    assert year_windows(date(2023, 3, 1), date(2025, 6, 30), 2) == [
        (date(2023, 3, 1), date(2024, 12, 31)),
        (date(2025, 1, 1), date(2025, 6, 30)),
    ]
    assert year_windows(date(2024, 5, 5), date(2024, 5, 5), 1) == [
        (date(2024, 5, 5), date(2024, 5, 5))
    ]


def test_chunks_cover_every_symbol_and_day_once_and_rotate_keys() -> None:
    symbols = [f"{i:06d}" for i in range(7)]
    chunks = plan_chunks(
        symbols,
        date(2022, 7, 1),
        date(2025, 2, 3),
        symbols_per_chunk=3,
        years_per_chunk=1,
        keys=["a", "b"],
    )
    covered = [(s, c.start, c.end) for c in chunks for s in c.symbols]
    assert len(covered) == len(set(covered)) == 7 * 4
    for s in symbols:
        spans = sorted((lo, hi) for sym, lo, hi in covered if sym == s)
        assert spans[0][0] == date(2022, 7, 1) and spans[-1][1] == date(2025, 2, 3)
        assert all((b[0] - a[1]).days == 1 for a, b in zip(spans, spans[1:], strict=False))
    assert [c.key for c in chunks[:4]] == ["a", "b", "a", "b"]
    assert chunks[0].parameters() == {
        "symbols": symbols[:3],
        "start": "2022-07-01",
        "end": "2022-12-31",
        "key": "a",
    }


def test_chunks_of_given_sizes_cover_the_whole_range_by_default() -> None:
    symbols = [f"{i:06d}" for i in range(7)]
    chunks = plan_chunks(
        symbols, date(2022, 7, 1), date(2025, 2, 3), symbols_per_chunk=[4, 2, 1], keys=["a", "b"]
    )
    assert [c.symbols for c in chunks] == [tuple(symbols[:4]), tuple(symbols[4:6]), (symbols[6],)]
    assert {(c.start, c.end) for c in chunks} == {(date(2022, 7, 1), date(2025, 2, 3))}
    assert [c.key for c in chunks] == ["a", "b", "a"]
    with pytest.raises(InputError, match="at least 1"):
        plan_chunks(symbols, date(2022, 7, 1), date(2025, 2, 3), symbols_per_chunk=[7, 0])


def test_chunks_are_sized_from_the_key_budget_large_first_small_last() -> None:
    year = (date(2024, 1, 1), date(2024, 12, 31))
    # Daily bars, adjusted and raw: 250 rows a year -> 3 calls each.
    assert calls_per_symbol(["D"], [True, False], *year) == 6
    assert calls_per_symbol(["D", "W", "M", "Y"], [True], *year) == 3 + 1 + 1 + 1
    # 30 s at 20 requests/s = 600 calls = 100 symbols of 6 calls at most...
    assert chunk_sizes(2500, 6, 20.0, 1)[:3] == [100, 100, 100]
    # ... a quarter of what is left for each of 2 keys, down to 5 s of a key (16 symbols)...
    sizes = chunk_sizes(200, 6, 20.0, 2)
    assert sizes == [50, 38, 28, 21, 16, 16, 16, 15] and sum(sizes) == 200
    # ... and with the budget not binding, still chunks for every worker to share.
    assert chunk_sizes(46, 50, 1000.0, 2) == [12, 9, 7, 5, 5, 5, 3]
    assert chunk_sizes(3, 6, 2.0, 4) == [1, 1, 1]
    assert chunk_sizes(10, 10_000, 2.0, 1) == [1] * 10  # a huge symbol still gets a chunk


def test_a_chunk_prefers_its_key_and_knows_the_others() -> None:
    keys = parse_keyring(KEYS_TOML, "toml")
    assert [k.name for k in preference(keys, "spare")] == ["spare", "main"]
    assert [k.name for k in preference(keys, None)] == ["main", "spare"]
    with pytest.raises(KisConfigError, match="no app key named"):
        preference(keys, "nope")


def test_token_cache_merge_keeps_the_newer_token_and_the_later_attempt() -> None:
    local = {"access_token": "old", "issued_at": 100.0, "last_attempt": 500.0}
    shared = {"access_token": "new", "issued_at": 200.0, "last_attempt": 200.0}
    merged = merge_caches(local, shared)
    assert merged["access_token"] == "new" and merged["last_attempt"] == 500.0
    assert merge_caches({}, shared)["access_token"] == "new"
    assert limit_name("abc123") == "kis-app-key-abc123"
