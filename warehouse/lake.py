"""The market database: a DuckLake catalog holding one partitioned Parquet table per dataset.

    lake = Lake.open(home, source="sim")        # creates catalog + tables on first use
    lake.upsert(PERIOD_BARS, frame)             # idempotent, one transaction, one snapshot
    lake.latest(PERIOD_BARS, symbol="005930", period="D", adjusted=True)
    lake.compact()                              # merge small files, drop files nobody needs

Where things live (defaults; both are parameters so a PostgreSQL catalog and object storage can
replace them): catalog `KISDB_HOME/lake/catalog.sqlite` (SQLite in WAL mode: readers and writers
of one machine never wait for each other, see docs/concurrency.md), data `KISDB_HOME/lake/data/`
(Parquet, partitioned as each dataset declares). A lake made before SQLite was the default keeps
its DuckDB-file catalog `lake/catalog.ducklake` (one writer or many readers at a time).

Errors: `LakeError` > `LakeSourceMismatch` (sim data vs KIS data), `LakeNotFound`, `LakeBusy`.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import duckdb
import polars as pl

from schemas.base import Dataset
from schemas.clock import KST, SEOUL
from schemas.datasets import DATASETS
from warehouse import tables, views
from warehouse.confine import lock_down
from warehouse.extensions import extensions_for, load_extension, new_connection
from warehouse.files import private_dirs, private_file
from warehouse.remote import ConflictRetry, ObjectStore, configure_object_store, run_once
from warehouse.users import LOCK_NAME, UsersLock

Source = Literal["sim", "kis"]
SOURCES: tuple[str, ...] = ("sim", "kis")
CATALOG = "lake"  # the name the lake is attached under in every connection
_METADATA = f"__ducklake_metadata_{CATALOG}"  # DuckLake's name for the attached catalog database
# A writable open deletes unreferenced files older than this: younger ones may belong to a write
# in progress in this very process (file locks do not separate threads of one process).
ORPHAN_GRACE = timedelta(minutes=10)
INFO_TABLE = "lake_info"  # key/value facts about the lake itself (its source stamp)
SQLITE_CATALOG = "catalog.sqlite"  # the default catalog under KISDB_HOME/lake
LEGACY_CATALOG = "catalog.ducklake"  # the DuckDB-file default of lakes made before it
# A compaction that is not the lake's only user deletes replaced files only once this old: a
# long query elsewhere may still be scanning them.
SHARED_FILE_GRACE = timedelta(days=1)
SQLITE_BUSY_TIMEOUT = timedelta(seconds=10)


class LakeError(RuntimeError):
    """Something about the lake itself is wrong (not a data-quality finding)."""


class LakeSourceMismatch(LakeError):
    """The lake holds data from one source (sim or kis) and was asked to take the other's."""


class LakeNotFound(LakeError):
    """A read-only open of a lake that has not been created yet."""


class LakeBusy(LakeError):
    """Another process holds a DuckDB-file catalog's lock (or a compaction a SQLite catalog's
    users lock) for longer than we waited."""


@dataclass(frozen=True)
class UpsertResult:
    inserted: int
    updated: int
    unchanged: int
    replaced: int = 0  # stored rows of the incoming series dropped by `upsert(replace=...)`

    @property
    def written(self) -> int:
        return self.inserted + self.updated + self.replaced


@dataclass(frozen=True)
class FileMergeResult:
    files_before: int  # data files the current snapshot references
    files_after: int
    disk_files_before: int  # Parquet files under a local data path (-1 for object storage)
    disk_files_after: int
    seconds: float


@dataclass(frozen=True)
class LakeLocation:
    """Where the catalog and the data are. `catalog` is what follows `ducklake:` in ATTACH."""

    catalog: str
    data_path: str
    kind: Literal["duckdb", "postgres", "sqlite", "other"]
    explicit_data_path: bool

    @property
    def local_data(self) -> Path | None:
        return None if "://" in self.data_path else Path(self.data_path)

    @property
    def catalog_file(self) -> Path | None:
        """The catalog's file for a DuckDB or SQLite catalog, None for a server."""
        if self.kind == "duckdb":
            return Path(self.catalog)
        if self.kind == "sqlite":
            return Path(self.catalog.removeprefix("sqlite:"))
        return None

    def exists(self) -> bool:
        """Whether the catalog exists; unknowable for a server catalog, so assumed there."""
        file = self.catalog_file
        return file.exists() if file is not None else True

    @property
    def shown(self) -> str:
        """The catalog for messages and reprs: a password written into it is masked."""
        return mask_catalog(self.catalog)

    def __repr__(self) -> str:
        return (
            f"LakeLocation({self.shown!r}, {self.data_path!r}, {self.kind!r}, "
            f"explicit_data_path={self.explicit_data_path})"
        )


_PASSWORD = re.compile(r"(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)")
_URL_USERINFO = re.compile(r"(://[^/:@\s]*:)[^@/\s]*@")


def mask_catalog(catalog: str) -> str:
    """`catalog` with any libpq `password=...` or URL `user:password@` replaced by ****."""
    return _URL_USERINFO.sub(r"\1****@", _PASSWORD.sub(r"\1****", catalog))


def locate(home: Path, catalog: str | None = None, data_path: str | None = None) -> LakeLocation:
    """Resolve the catalog URL and data path (None = the defaults under `home`: a SQLite
    catalog, or the DuckDB-file one of a lake created before SQLite was the default)."""
    lake_dir = Path(home).expanduser() / "lake"
    legacy = lake_dir / LEGACY_CATALOG
    url = catalog or (str(legacy) if legacy.exists() else f"sqlite:{lake_dir / SQLITE_CATALOG}")
    if url.startswith("ducklake:"):
        url = url.removeprefix("ducklake:")
    kind: Literal["duckdb", "postgres", "sqlite", "other"]
    if url.startswith(("postgres:", "postgresql:")):
        kind = "postgres"
    elif url.startswith("sqlite:"):
        kind = "sqlite"
        url = "sqlite:" + str(Path(url.removeprefix("sqlite:")).expanduser().resolve())
    elif url.startswith("duckdb:") or ":" not in url.split("/")[0] or Path(url).is_absolute():
        kind = "duckdb"
        url = str(Path(url.removeprefix("duckdb:")).expanduser().resolve())
    else:
        kind = "other"
    path = data_path or str(lake_dir / "data")
    if "://" not in path:
        path = str(Path(path).expanduser().resolve())
    if not path.endswith("/"):
        path += "/"
    return LakeLocation(url, path, kind, explicit_data_path=data_path is not None)


def _attach(
    con: duckdb.DuckDBPyConnection,
    loc: LakeLocation,
    *,
    read_only: bool,
    snapshot: int | None,
    lock_timeout: float,
    create: bool = False,
    rebind: bool = False,
) -> None:
    options = []
    if loc.explicit_data_path or create or rebind:
        # Pass DATA_PATH when creating or when asked: DuckLake then checks it against the catalog.
        options.append(f"DATA_PATH {_literal(loc.data_path)}")
    if rebind:
        options.append("OVERRIDE_DATA_PATH true")
    if loc.kind == "sqlite":
        # Never open the catalog with Python's own sqlite3 module: two SQLite libraries in one
        # process drop each other's POSIX locks (sqlite.org/howtocorrupt.html), so WAL mode and
        # the busy timeout are set through the extension. WAL (a property of the file, set by
        # the first writer): readers never block the writer nor it them. The timeout: a writer
        # waits out another's commit (milliseconds) instead of failing.
        options.append(f"META_BUSY_TIMEOUT {int(SQLITE_BUSY_TIMEOUT.total_seconds() * 1000)}")
        if not read_only:
            options.append("META_JOURNAL_MODE 'WAL'")
    if read_only:
        options.append("READ_ONLY")
    if snapshot is not None:
        options.append(f"SNAPSHOT_VERSION {int(snapshot)}")
    opts = f" ({', '.join(options)})" if options else ""
    sql = f"ATTACH {_literal('ducklake:' + loc.catalog)} AS {CATALOG}{opts}"
    deadline = time.monotonic() + lock_timeout
    delay = 0.05
    while True:
        try:
            con.execute(sql)
            return
        except duckdb.Error as exc:
            # A DuckDB-file catalog is locked by a writer (or by readers, for a writer); a SQLite
            # catalog, for the moment of another process's commit ("database is locked").
            if "lock" not in str(exc).lower() or time.monotonic() >= deadline:
                if "lock" in str(exc).lower():
                    raise LakeBusy(
                        f"the lake catalog {loc.shown} is in use by another process "
                        f"(waited {lock_timeout:.0f} s); close other kisdb commands or notebooks "
                        "connected to it, or use a PostgreSQL catalog for concurrent access"
                    ) from exc
                raise
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def open_connection(
    loc: LakeLocation,
    *,
    read_only: bool,
    snapshot: int | None = None,
    lock_timeout: float = 30.0,
    extension_cache: Path | None = None,
    store: ObjectStore | None = None,
) -> tuple[duckdb.DuckDBPyConnection, LakeLocation]:
    """A DuckDB connection with the lake attached as `lake`, USE'd, TimeZone Asia/Seoul, and where
    its data really is (a catalog made with its data elsewhere keeps it there). `store`: the
    credentials of a data path on S3 (default: none, AWS addressing)."""
    needed = extensions_for(loc.catalog, loc.data_path)
    con = new_connection(packaged=tuple(needed))
    try:
        for name in needed:
            load_extension(con, name, cache_dir=extension_cache)
        configure_object_store(con, loc.data_path, store or ObjectStore())  # s3:// (scale-out)
        # TIMESTAMPTZ values display (and date parts compute) in KST; needs icu (built in).
        con.execute(f"SET TimeZone = {_literal(SEOUL)}")
        file = loc.catalog_file
        if file is not None and not read_only:
            private_dirs(file.parent)
        if loc.local_data is not None and not read_only:
            private_dirs(loc.local_data)
        create = not loc.exists()
        attach = partial(
            _attach, con, read_only=read_only, snapshot=snapshot, lock_timeout=lock_timeout
        )
        attach(loc, create=create)
        loc = _bind_data_path(con, loc, attach, read_only=read_only)
        con.execute(f"USE {CATALOG}")
        if file is not None and not read_only:
            private_file(file)
    except BaseException:
        con.close()
        raise
    return con, loc


def _bind_data_path(
    con: duckdb.DuckDBPyConnection,
    loc: LakeLocation,
    attach: Callable[..., None],
    *,
    read_only: bool,
) -> LakeLocation:
    """Make a copied or moved home read and write its own data.

    DuckLake stores the data path in the catalog as an absolute path, so a copy of a home would
    read (and `compact` would delete) the original's files, and a moved home the old location.
    A home's catalog whose stored path is some home's `lake/data/` (its own layout) is re-attached
    with this home's data path; when writable, the stored path is updated too, so plain DuckDB
    sees the right files. A catalog created with its data elsewhere (KISDB_DATA_PATH) keeps it.
    """
    if loc.catalog_file is None or loc.explicit_data_path:
        return loc
    row = con.execute(
        f"SELECT value FROM {_METADATA}.ducklake_metadata WHERE key = 'data_path'"
    ).fetchone()
    stored = str(row[0]) if row else loc.data_path
    if stored == loc.data_path:
        return loc
    if not _home_layout(stored):
        return replace(loc, data_path=stored, explicit_data_path=True)
    con.execute(f"DETACH {CATALOG}")
    attach(loc, rebind=True)
    if not read_only:
        con.execute(
            f"UPDATE {_METADATA}.ducklake_metadata SET value = ? WHERE key = 'data_path'",
            [loc.data_path],
        )
    return loc


def _home_layout(data_path: str) -> bool:
    """Whether a data path is a home's default `<home>/lake/data/` (local, not object storage)."""
    path = Path(data_path)
    return "://" not in data_path and path.name == "data" and path.parent.name == "lake"


class Lake:
    """One open lake: a connection with the catalog attached, plus the write/maintenance API."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        location: LakeLocation,
        source: str | None,
        read_only: bool,
        retry: ConflictRetry = run_once,
        users: UsersLock | None = None,
    ) -> None:
        self.con = con
        self.location = location
        self.source = source
        self.read_only = read_only
        self.retry = retry  # reruns an upsert after a commit conflict (concurrent writers)
        self.users = users  # a local SQLite catalog's shared users lock (see compact)

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        home: Path,
        *,
        source: Source | None,
        catalog: str | None = None,
        data_path: str | None = None,
        read_only: bool = False,
        snapshot: int | None = None,
        lock_timeout: float = 30.0,
        store: ObjectStore | None = None,
        retry: ConflictRetry = run_once,
    ) -> Lake:
        """Open (and on first use create) the lake under `home`.

        `source` is where the data comes from ("sim" or "kis"); a lake stamped with the other one
        raises `LakeSourceMismatch`. `source=None` is allowed only read-only ("whatever it holds").
        """
        if source is not None and source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, not {source!r}")
        if source is None and not read_only:
            raise ValueError("writing to a lake needs its source: 'sim' or 'kis'")
        if snapshot is not None and not read_only:
            raise ValueError("a past snapshot can only be opened read-only")
        home = Path(home).expanduser()
        loc = locate(home, catalog, data_path)
        if read_only and not loc.exists():
            raise LakeNotFound(
                f"no lake at {loc.shown}; run `kisdb update` (or an ingest) to create it"
            )
        users = _users_lock(loc, read_only=read_only, timeout=lock_timeout)
        try:
            con, loc = open_connection(
                loc,
                read_only=read_only,
                snapshot=snapshot,
                lock_timeout=lock_timeout,
                extension_cache=None if read_only else home / "extensions",
                store=store,
            )
        except BaseException:
            if users is not None:
                users.close()
            raise
        lake = cls(con, loc, source, read_only, retry, users)
        try:
            # One look at the catalog serves every check: each statement on a DuckLake catalog
            # is a transaction that reads the catalog's metadata again.
            columns = lake._columns()
            if not read_only:
                columns = lake._create_tables(columns)
                if loc.catalog_file is not None:
                    # A write in progress elsewhere is younger than the grace: see compact()
                    lake._delete_orphans(ORPHAN_GRACE)
            lake._check_stamp(source, set(columns))
            views.create_views(con, columns)
        except BaseException:
            lake.close()
            raise
        return lake

    def _columns(self) -> dict[str, set[str]]:
        """The lake's tables and their columns."""
        rows = self.con.execute(
            "SELECT table_name, column_name FROM duckdb_columns() "
            "WHERE database_name = ? AND schema_name = ?",
            [CATALOG, tables.SCHEMA],
        ).fetchall()
        columns: dict[str, set[str]] = {}
        for table, column in rows:
            columns.setdefault(table, set()).add(column)
        return columns

    def _create_tables(self, existing: dict[str, set[str]]) -> dict[str, set[str]]:
        """Create missing tables and columns, all in one transaction (one snapshot); the tables
        and columns there are then."""
        statements: list[str] = []
        if INFO_TABLE not in existing:
            statements.append(
                f"CREATE TABLE {tables.qualified(INFO_TABLE, CATALOG)} "
                "(key VARCHAR NOT NULL, value VARCHAR)"
            )
        for dataset in DATASETS.values():
            if dataset.name not in existing:
                statements.append(tables.create_table_sql(dataset, CATALOG))
                part = tables.partition_sql(dataset, CATALOG)
                if part:
                    statements.append(part)
            else:
                statements.extend(_missing_columns_sql(dataset, existing[dataset.name]))
        if not statements:
            return existing
        self._transaction(statements, message="create tables")
        return self._columns()

    def _check_stamp(self, source: str | None, names: set[str]) -> None:
        if INFO_TABLE not in names:
            if source is None:
                return
            raise LakeError(f"the lake at {self.location.shown} has no {INFO_TABLE} table")
        row = self.con.execute(
            f"SELECT value FROM {tables.qualified(INFO_TABLE, CATALOG)} WHERE key = 'source'"
        ).fetchone()
        stamped = row[0] if row else None
        if stamped is None:
            if source is not None and not self.read_only:
                self._transaction(
                    [
                        f"INSERT INTO {tables.qualified(INFO_TABLE, CATALOG)} VALUES "
                        f"('source', {_literal(source)}), "
                        f"('created_at', {_literal(datetime.now(KST).isoformat())})"
                    ],
                    message=f"stamp source={source}",
                )
            self.source = source
            return
        if source is not None and stamped != source:
            raise LakeSourceMismatch(
                f"the lake at {self.location.shown} holds {stamped!r} data and refuses "
                f"{source!r} data; use a different KISDB_HOME (or catalog) for {source!r}"
            )
        self.source = stamped

    # -- reading -----------------------------------------------------------------------------

    def table_names(self) -> set[str]:
        return set(self._columns())

    def table(self, dataset: Dataset | str) -> pl.DataFrame:
        """The whole table as a frame in the dataset's dtypes, sorted by primary key."""
        ds = _dataset(dataset)
        order = ", ".join(tables.quote(k) for k in ds.primary_key)
        frame = self.con.sql(
            f"SELECT * FROM {tables.qualified(ds.name, CATALOG)} ORDER BY {order}"
        ).pl()
        if frame.height == 0:
            return ds.empty()
        return tables.from_lake(ds, frame).select(ds.column_names)

    def latest(self, dataset: Dataset, column: str = "date", **key: object) -> Any | None:
        """Max of `column` among rows matching `key` (the incremental cursor), None when empty."""
        names = [column, *key]
        unknown = [n for n in names if n not in dataset.column_index]
        if unknown:
            raise ValueError(f"{dataset.name} has no column(s) {unknown}")
        where = " AND ".join(f"{tables.quote(k)} = ?" for k in key) or "TRUE"
        row = self.con.execute(
            f"SELECT max({tables.quote(column)}) FROM {tables.qualified(dataset.name, CATALOG)} "
            f"WHERE {where}",
            list(key.values()),
        ).fetchone()
        return row[0] if row else None

    @contextlib.contextmanager
    def read_transaction(self) -> Iterator[None]:
        """Run the block's reads in one transaction: one consistent snapshot, and DuckLake reads
        the catalog's metadata once instead of once a statement (a planner's hundred queries).
        Nothing may be written inside it: it ends with a rollback."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        finally:
            self._rollback()

    def snapshots(self) -> pl.DataFrame:
        """Every snapshot: id, time (KST), changes, author, message."""
        return self.con.sql(
            f"SELECT snapshot_id AS id, snapshot_time AS time, changes, author, "
            f"commit_message AS message FROM ducklake_snapshots({_literal(CATALOG)}) ORDER BY id"
        ).pl()

    def current_snapshot(self) -> int:
        row = self.con.execute(f"SELECT id FROM {CATALOG}.current_snapshot()").fetchone()
        assert row is not None
        return int(row[0])

    def file_count(self, dataset: Dataset | None = None) -> int:
        """Data files (not delete files) the current snapshot references."""
        names = [dataset.name] if dataset else sorted(DATASETS)
        total = 0
        for name in names:
            row = self.con.execute(
                "SELECT count(*) FROM ducklake_list_files(?, ?)", [CATALOG, name]
            ).fetchone()
            total += int(row[0]) if row else 0
        return total

    def disk_file_count(self) -> int:
        """Parquet files physically under a local data path (-1 when it is object storage)."""
        local = self.location.local_data
        if local is None:
            return -1
        return sum(1 for _ in local.rglob("*.parquet")) if local.exists() else 0

    # -- writing -----------------------------------------------------------------------------

    def upsert(
        self, dataset: Dataset, frame: pl.DataFrame, *, replace: str | None = None
    ) -> UpsertResult:
        """Insert new keys, update changed rows, leave identical rows alone; one transaction.

        The frame is conformed to the dataset and deduplicated on the primary key (last row
        wins). Rows equal to what is stored are not rewritten, so re-running an ingest writes
        nothing and makes no new snapshot. A crash at any point leaves the previous snapshot.

        `replace`, a SQL condition on stored rows (e.g. "final IS FALSE", or "TRUE" for a whole
        re-fetched history), deletes in the same transaction the stored rows of the incoming
        series (the primary key without its date axis) that match it and are not in the frame:
        a provisional weekly bar labelled with last Wednesday is gone once the final one lands.
        """
        self._writable()
        frame = dataset.conform(frame)
        if frame.height == 0:
            return UpsertResult(0, 0, 0)
        pk = list(dataset.primary_key)
        frame = frame.unique(subset=pk, keep="last", maintain_order=True)
        incoming = "_kisdb_incoming"
        self.con.register(incoming, tables.to_lake_arrow(dataset, frame))
        try:
            # Concurrent writers (shared catalog): a commit conflict reruns the whole upsert.
            return self.retry(lambda: self._upsert_registered(dataset, incoming, frame, replace))
        finally:
            self.con.unregister(incoming)

    def _upsert_registered(
        self, dataset: Dataset, incoming: str, frame: pl.DataFrame, replace: str | None
    ) -> UpsertResult:
        target = tables.qualified(dataset.name, CATALOG)
        pk = list(dataset.primary_key)
        cols = dataset.column_names
        q = tables.quote
        prune, params = _prune_filter(dataset, frame)
        order = ", ".join(q(k) for k in pk)
        col_list = ", ".join(q(c) for c in cols)
        self.con.execute("BEGIN TRANSACTION")
        try:
            replaced = self._drop_replaced(dataset, target, incoming, replace) if replace else 0
            overlap = self.con.execute(
                f"SELECT 1 FROM {target} t WHERE {prune} LIMIT 1", params
            ).fetchone()
            if overlap is None:
                # Nothing stored in the key range: a plain sorted insert (the backfill fast path).
                self._commit_message(f"upsert {dataset.name}: +{frame.height}")
                self.con.execute(
                    f"INSERT INTO {target} ({col_list}) SELECT {col_list} FROM {incoming} "
                    f"ORDER BY {order}"
                )
                self.con.execute("COMMIT")
                return UpsertResult(frame.height, 0, 0, replaced)
            on = " AND ".join(f"t.{q(k)} = i.{q(k)}" for k in pk)
            values = [c for c in cols if c not in pk]
            same = " AND ".join(f"i.{q(c)} IS NOT DISTINCT FROM t.{q(c)}" for c in values) or "TRUE"
            delta = "_kisdb_delta"
            self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE {delta} AS "
                f"SELECT i.*, t.{q(pk[0])} IS NULL AS _is_new FROM {incoming} i "
                f"LEFT JOIN (SELECT * FROM {target} t WHERE {prune}) t ON {on} "
                f"WHERE t.{q(pk[0])} IS NULL OR NOT ({same})",
                params,
            )
            row = self.con.execute(
                f"SELECT count(*) FILTER (WHERE _is_new), count(*) FILTER (WHERE NOT _is_new) "
                f"FROM {delta}"
            ).fetchone()
            assert row is not None
            inserted, updated = int(row[0]), int(row[1])
            if inserted or updated or replaced:
                dropped = f" -{replaced}" if replaced else ""
                self._commit_message(f"upsert {dataset.name}: +{inserted} ~{updated}{dropped}")
                on_d = " AND ".join(f"t.{q(k)} = d.{q(k)}" for k in pk)
                set_list = ", ".join(f"{q(c)} = d.{q(c)}" for c in values)
                update = f"WHEN MATCHED THEN UPDATE SET {set_list} " if set_list else ""
                self.con.execute(
                    f"MERGE INTO {target} t USING {delta} d ON {on_d} {update}"
                    f"WHEN NOT MATCHED THEN INSERT ({col_list}) "
                    f"VALUES ({', '.join('d.' + q(c) for c in cols)})"
                )
            self.con.execute(f"DROP TABLE {delta}")
            self.con.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        return UpsertResult(inserted, updated, frame.height - inserted - updated, replaced)

    def _drop_replaced(self, dataset: Dataset, target: str, incoming: str, replace: str) -> int:
        """Delete (inside the caller's transaction) the stored rows of the incoming series that
        match `replace` and whose key is not incoming; returns the count."""
        q = tables.quote
        pk = list(dataset.primary_key)
        axis = tables.date_column(dataset)
        series = [k for k in pk if k not in (axis, "ts")]
        # Usually nothing matches (no provisional rows): a cheap probe spares the DELETE's scans.
        if (
            self.con.execute(f"SELECT 1 FROM {target} t WHERE ({replace}) LIMIT 1").fetchone()
            is None
        ):
            return 0
        in_series = " AND ".join(f"s.{q(k)} = t.{q(k)}" for k in series) or "TRUE"
        same_key = " AND ".join(f"i.{q(k)} = t.{q(k)}" for k in pk)
        row = self.con.execute(
            f"DELETE FROM {target} t WHERE ({replace}) "
            f"AND EXISTS (SELECT 1 FROM {incoming} s WHERE {in_series}) "
            f"AND NOT EXISTS (SELECT 1 FROM {incoming} i WHERE {same_key})"
        ).fetchone()
        return int(row[0]) if row else 0

    def delete(self, dataset: Dataset, **key: object) -> int:
        """Delete the rows matching `key` (e.g. a bad symbol), one transaction; returns the count."""
        self._writable()
        unknown = [k for k in key if k not in dataset.column_index]
        if unknown or not key:
            raise ValueError(f"{dataset.name}: delete needs column filters, not {unknown or key}")
        where = " AND ".join(f"{tables.quote(k)} = ?" for k in key)
        self.con.execute("BEGIN TRANSACTION")
        try:
            row = self.con.execute(
                f"DELETE FROM {tables.qualified(dataset.name, CATALOG)} WHERE {where}",
                list(key.values()),
            ).fetchone()
            self.con.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        return int(row[0]) if row else 0

    def _transaction(self, statements: list[str], *, message: str) -> None:
        self.con.execute("BEGIN TRANSACTION")
        try:
            self._commit_message(message)
            for sql in statements:
                self.con.execute(sql)
            self.con.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise

    def _commit_message(self, message: str) -> None:
        self.con.execute("CALL ducklake_set_commit_message(?, 'kisdb', ?)", [CATALOG, message])

    def _rollback(self) -> None:
        # the failing statement may already have aborted the transaction
        with contextlib.suppress(duckdb.Error):
            self.con.execute("ROLLBACK")

    def _writable(self) -> None:
        if self.read_only:
            raise LakeError("this lake was opened read-only")

    # -- maintenance -------------------------------------------------------------------------

    def compact(
        self,
        *,
        expire_snapshots_older_than: timedelta | None = None,
        file_grace: timedelta | None = None,
    ) -> FileMergeResult:
        """Merge small adjacent files and delete files no snapshot needs any more.

        Merging keeps every snapshot readable (DuckLake points old snapshots at parts of the
        merged files), so time travel survives compaction. Snapshots are expired only when
        `expire_snapshots_older_than` is given. Replaced files are deleted once older than
        `file_grace`: by default 0 when this is the lake's only user (a DuckDB-file catalog's
        lock, or a local SQLite catalog's users lock, says no other process is reading or
        writing), else SHARED_FILE_GRACE, as a long query elsewhere may still scan them. Files
        left behind by a crashed write (never committed) are deleted the same way.
        """
        self._writable()
        started = time.perf_counter()
        before, disk_before = self.file_count(), self.disk_file_count()
        cat = _literal(CATALOG)
        self.con.execute(f"CALL ducklake_flush_inlined_data({cat})")
        self.con.execute(f"CALL ducklake_merge_adjacent_files({cat})")
        self.con.execute(f"CALL ducklake_rewrite_data_files({cat})")
        self.con.execute(f"CALL ducklake_merge_adjacent_files({cat})")
        if expire_snapshots_older_than is not None:
            self.con.execute(
                f"CALL ducklake_expire_snapshots({cat}, older_than => ?::TIMESTAMPTZ)",
                [datetime.now().astimezone() - expire_snapshots_older_than],
            )
        with self._sole_user() as alone:
            grace = file_grace
            if grace is None:
                grace = timedelta(0) if alone else SHARED_FILE_GRACE
            cutoff = datetime.now().astimezone() - grace
            self.con.execute(
                f"CALL ducklake_cleanup_old_files({cat}, older_than => ?::TIMESTAMPTZ)", [cutoff]
            )
            self._delete_orphans(grace)
        return FileMergeResult(
            files_before=before,
            files_after=self.file_count(),
            disk_files_before=disk_before,
            disk_files_after=self.disk_file_count(),
            seconds=time.perf_counter() - started,
        )

    @contextlib.contextmanager
    def _sole_user(self) -> Iterator[bool]:
        """Whether no other connection can be using the lake's files, for the block."""
        if self.location.kind == "duckdb":  # its file lock: one writer or readers, never both
            yield True
        elif self.users is not None:
            with self.users.alone() as alone:
                yield alone
        else:
            yield False

    def _delete_orphans(self, older_than: timedelta) -> None:
        """Delete data files no snapshot references (a crashed write's), once `older_than` old."""
        self.con.execute(
            f"CALL ducklake_delete_orphaned_files({_literal(CATALOG)}, older_than => ?::TIMESTAMPTZ)",
            [datetime.now().astimezone() - older_than],
        )

    # -- files -------------------------------------------------------------------------------

    def current_files(self) -> list[str]:
        """Data and delete files the current snapshot reads (paths, or URLs on object storage)."""
        files: list[str] = []
        for name in self.table_names():
            rows = self.con.execute(
                "SELECT data_file, delete_file FROM ducklake_list_files(?, ?)", [CATALOG, name]
            ).fetchall()
            files.extend(f for row in rows for f in row if f)
        return files

    def missing_files(self) -> list[str]:
        """Files the current snapshot reads that are not on disk (a damaged local lake)."""
        if self.location.local_data is None:
            return []
        return [f for f in self.current_files() if not Path(f).exists()]

    def orphaned_files(self) -> list[Path]:
        """Parquet files under a local data path that no snapshot references: left by a write
        that crashed before its commit. The next write deletes them (after ORPHAN_GRACE), as does
        `compact()`. Works read-only (DuckLake's own listing needs a writable lake)."""
        local = self.location.local_data
        if local is None or not local.exists():
            return []
        rows = self.con.execute(
            f"SELECT path FROM {_METADATA}.ducklake_data_file "
            f"UNION ALL SELECT path FROM {_METADATA}.ducklake_delete_file "
            f"UNION ALL SELECT path FROM {_METADATA}.ducklake_files_scheduled_for_deletion"
        ).fetchall()
        # DuckLake names every file with a fresh UUID: the name alone identifies it.
        known = {str(r[0]).replace("\\", "/").rsplit("/", 1)[-1] for r in rows}
        return sorted(p for p in local.rglob("*.parquet") if p.name not in known)

    def pin(self, snapshot: int) -> None:
        """Re-attach this read-only lake at `snapshot`: later commits elsewhere stay unseen."""
        if not self.read_only:
            raise LakeError("only a read-only lake can be pinned to a snapshot")
        loc = self.location
        self.con.execute("USE memory")
        self.con.execute(f"DETACH {CATALOG}")
        # The data path resolved at open (a moved home's own) is given again.
        rebind = loc.catalog_file is not None and not loc.explicit_data_path
        _attach(self.con, loc, read_only=True, snapshot=snapshot, lock_timeout=30.0, rebind=rebind)
        self.con.execute(f"USE {CATALOG}")  # the views bind to the re-attached lake when used

    def confine(self) -> None:
        """Lock this (read-only) connection into the lake: it reads the lake's files and nothing
        else, writes no file, and no statement can change a setting (see warehouse.confine)."""
        local = self.location.local_data
        if local is None:
            lock_down(self.con, directories=[self.location.data_path])
            return
        # Exact files, not the folder: nothing new can be written among the lake's files. Each
        # as the OS spells it and as DuckLake does (data path + "/"-joined relative path), which
        # differ on Windows only.
        paths: set[str] = set()
        for file in local.rglob("*.parquet"):
            paths.update((str(file), self.location.data_path + file.relative_to(local).as_posix()))
        lock_down(self.con, paths=sorted(paths))

    # -- lifetime ----------------------------------------------------------------------------

    def close(self) -> None:
        self.con.close()
        if self.users is not None:
            self.users.close()

    def __enter__(self) -> Lake:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "read-only" if self.read_only else "read-write"
        return f"Lake({self.location.shown!r}, source={self.source!r}, {mode})"


def _missing_columns_sql(dataset: Dataset, have: set[str]) -> list[str]:
    """Schema evolution: columns a dataset gained since its table was created (nullable)."""
    return [
        f"ALTER TABLE {tables.qualified(dataset.name, CATALOG)} "
        f"ADD COLUMN {tables.quote(c.name)} {tables.duckdb_type(c.dtype)}"
        for c in dataset.columns
        if c.name not in have
    ]


def _users_lock(loc: LakeLocation, *, read_only: bool, timeout: float) -> UsersLock | None:
    """The shared users lock of a local SQLite catalog (None for other catalogs)."""
    file = loc.catalog_file
    if loc.kind != "sqlite" or file is None:
        return None
    if not read_only:
        private_dirs(file.parent)
    elif not file.parent.exists():
        return None
    try:
        return UsersLock(file.parent / LOCK_NAME, timeout=timeout)
    except TimeoutError as exc:
        raise LakeBusy(
            f"the lake at {loc.shown} is being compacted (waited {timeout:.0f} s); try again"
        ) from exc


def _dataset(dataset: Dataset | str) -> Dataset:
    if isinstance(dataset, Dataset):
        return dataset
    try:
        return DATASETS[dataset]
    except KeyError:
        raise ValueError(f"unknown dataset {dataset!r}; known: {sorted(DATASETS)}") from None


def _prune_filter(dataset: Dataset, frame: pl.DataFrame) -> tuple[str, list[object]]:
    """`t.k BETWEEN min AND max` for each orderable key column, so the scan of the stored table
    skips files (and row groups) whose statistics lie outside the incoming rows' range."""
    parts: list[str] = []
    params: list[object] = []
    for k in dataset.primary_key:
        dtype = dataset.column_index[k].dtype
        if isinstance(dtype, pl.Boolean):
            continue
        lo, hi = frame.get_column(k).min(), frame.get_column(k).max()
        if isinstance(dtype, pl.Datetime) and dtype.time_unit == "ns":
            continue  # stored as naive UTC; not worth converting bounds for a non-key-like column
        cast = tables.duckdb_type(dtype)
        parts.append(f"t.{tables.quote(k)} BETWEEN ?::{cast} AND ?::{cast}")
        params.extend([_param(lo), _param(hi)])
    return (" AND ".join(parts) or "TRUE"), params


def _param(value: object) -> object:
    # DuckDB binds date/datetime/str/int natively; anything else goes as text and is cast.
    if isinstance(value, (date, datetime, str, int, float)) or value is None:
        return value
    return str(value)


def attach_script(loc: LakeLocation, table_names: Iterable[str]) -> str:
    """SQL that attaches the lake read-only in any DuckDB client (CLI, DBeaver, another
    program) with the views kisdb creates per connection. A password in the catalog is masked."""
    extensions = extensions_for(loc.catalog, loc.data_path)
    lines = [
        f"-- The kisdb lake at {loc.shown} (data: {loc.data_path}), read-only, with its views.",
        "-- DuckDB 1.5 or newer: duckdb -init lake.sql, or paste into DBeaver's SQL editor.",
        *(f"INSTALL {name};" for name in extensions),
        *(f"LOAD {name};" for name in extensions),
    ]
    if loc.local_data is None:
        lines.append("-- object storage: CREATE SECRET (TYPE s3, ...) first, as in docs/notebooks")
    lines += [
        f"ATTACH {_literal('ducklake:' + loc.shown)} AS {CATALOG} (READ_ONLY);",
        f"USE {CATALOG};",
        f"SET TimeZone = {_literal(SEOUL)};",
        *(f"{sql};" for sql in views.view_statements(table_names).values()),
    ]
    return "\n".join(lines) + "\n"


class LakeConnection:
    """A read-only connection to the lake for notebooks and `kisdb sql` that never holds up a
    writer and follows new data: each query (`sql`, `execute`, `query`, `table`, `view`) runs
    on the newest snapshot committed before it started, a consistent one even while an ingest
    commits. Everything else is the DuckDB connection's own (`con.close()`, `con.register`, …).

    How: an unconfined connection attaches the lake as it is (DuckLake reads the newest
    snapshot at the start of each query). A confined one is attached at a fixed snapshot, as
    its allow-list (the files on disk when it opened) must cover everything it reads: before a
    query, one look at the catalog (~1 ms) says whether a newer snapshot exists, and if so a
    new connection is opened on it (~0.3 s on an idle 2-core box). A relation from
    `con.sql(...)` is meant to be read before the next query: it stays on its snapshot, and
    compaction may delete that snapshot's replaced files after the grace period. A connection
    opened with `snapshot=N` stays on N.
    """

    def __init__(
        self, opener: Callable[[int | None], Lake], snapshot: int | None, *, pinned: bool
    ) -> None:
        self._open = opener
        self._follow = snapshot is None and pinned  # reopen on each newer snapshot
        self._live = snapshot is None and not pinned  # DuckLake reads the newest itself
        self._lake = opener(snapshot)
        self._at = self._lake.current_snapshot()  # where a pinned lake is attached

    @property
    def snapshot(self) -> int:
        """The snapshot the last query read (the newest one, unless opened at `snapshot=N`)."""
        return self._newest() if self._live else self._at

    @property
    def lake(self) -> Lake:
        return self._lake

    def _fresh(self) -> duckdb.DuckDBPyConnection:
        if not self._follow:
            return self._lake.con
        newest = self._newest()
        if newest != self._at:
            old = self._lake
            self._lake = self._open(newest)
            self._at = newest
            # Not closed: a relation the notebook still holds reads from it; its DuckDB
            # connection goes with the last such relation.
            if old.users is not None:
                old.users.close()
        return self._lake.con

    def _newest(self) -> int:
        row = self._lake.con.execute(
            f"SELECT max(snapshot_id) FROM {_METADATA}.ducklake_snapshot"
        ).fetchone()
        return int(row[0]) if row and row[0] is not None else self._at

    def sql(self, query: str, *args: Any, **kwargs: Any) -> duckdb.DuckDBPyRelation:
        return self._fresh().sql(query, *args, **kwargs)

    def query(self, query: str, *args: Any, **kwargs: Any) -> duckdb.DuckDBPyRelation:
        return self._fresh().query(query, *args, **kwargs)

    def execute(self, query: str, *args: Any, **kwargs: Any) -> duckdb.DuckDBPyConnection:
        return self._fresh().execute(query, *args, **kwargs)

    def table(self, name: str) -> duckdb.DuckDBPyRelation:
        return self._fresh().table(name)

    def view(self, name: str) -> duckdb.DuckDBPyRelation:
        return self._fresh().view(name)

    def close(self) -> None:
        self._lake.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._lake.con, name)

    def __enter__(self) -> LakeConnection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LakeConnection({self._lake.location.shown!r}, snapshot={self.snapshot})"


def _open_reader(
    home: Path,
    snapshot: int | None,
    *,
    catalog: str | None,
    data_path: str | None,
    store: ObjectStore | None,
    confined: bool,
) -> Lake:
    """A read-only lake at `snapshot` (None: as it is; confined, the newest one, fixed), confined
    if asked."""
    lake = Lake.open(
        home,
        source=None,
        catalog=catalog,
        data_path=data_path,
        read_only=True,
        snapshot=snapshot,
        store=store,
    )
    try:
        if snapshot is None and confined:
            lake.pin(lake.current_snapshot())
        if confined:
            lake.confine()
    except BaseException:
        lake.close()
        raise
    return lake


def connect(
    home: Path,
    *,
    snapshot: int | None = None,
    catalog: str | None = None,
    data_path: str | None = None,
    store: ObjectStore | None = None,
    confined: bool = True,
) -> LakeConnection:
    """A read-only connection for notebooks: the lake attached as `lake` (as of `snapshot` when
    given, else always the newest data: see LakeConnection), friendly views (bars_daily,
    minutes, …) created, TimeZone Asia/Seoul. Ingests run while it is open.

        con = connect(Path("~/.kisdb"))
        con.sql("SELECT * FROM bars_daily WHERE symbol = '005930'").pl()

    `confined` (the default) also keeps the connection to the lake's own files and locks its
    settings (Lake.confine); `confined=False` lets it read your other files and change settings,
    the lake itself staying read-only. The configured lake (KISDB_HOME, KISDB_CATALOG, … wherever
    they are set): `pipelines.runtime.connect(pipelines.config.load_config())`.
    """
    opener = partial(
        _open_reader,
        home,
        catalog=catalog,
        data_path=data_path,
        store=store,
        confined=confined,
    )
    return LakeConnection(opener, snapshot, pinned=confined)
