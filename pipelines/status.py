"""`kisdb status`: what this installation holds and runs, gathered read-only.

env and home; the lake's location, size and stamp; per dataset its rows, symbols, first and last
date, last update and provisional rows; the recorder; the schedules (Prefect deployments when an
API is configured). `gather` returns plain data (the JSON of `--format json`); the command renders
it. Nothing here writes: the lake is read through the read-only connection, the recorder lock is
only probed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

    from pipelines.config import Config

# Per dataset: the column counted as "symbols" and the one dated (first of each present).
_KEY_COLUMNS = ("symbol", "index_code", "market", "ranking", "key")
_DATE_COLUMNS = ("date", "snapshot_date", "seen_date", "snapshot_ts", "created_at", "fetched_at")


@dataclass
class DatasetStatus:
    name: str
    rows: int
    symbols: int | None
    first: date | None
    last: date | None
    last_update: datetime | None  # KST: the lake snapshot that last wrote it
    provisional: int | None  # bars whose period had not closed when stored (final = false)


@dataclass
class LakeStatus:
    catalog: str
    data_path: str
    exists: bool
    size_bytes: int | None  # local files only (None: an object store or a remote catalog)
    source: str | None = None  # sim | kis (the lake's stamp)
    created_at: str | None = None  # KST
    snapshot: int | None = None
    error: str | None = None


@dataclass
class Status:
    env: str
    home: str
    lake: LakeStatus
    datasets: list[DatasetStatus] = field(default_factory=list)
    recorder: dict[str, Any] = field(default_factory=dict)
    schedules: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        def plain(value: Any) -> Any:
            if isinstance(value, datetime | date):
                return value.isoformat()
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, list):
                return [plain(v) for v in value]
            return value

        return {k: plain(v) for k, v in asdict(self).items()}


def gather(config: Config, *, prefect_timeout: float = 5.0) -> Status:
    """The status of `config`'s installation (never raises for a missing lake or Prefect)."""
    lake = lake_status(config)
    status = Status(env=config.kis.env, home=str(config.home), lake=lake)
    if lake.exists:
        try:
            with _connection(config) as con:
                status.datasets = dataset_statuses(con)
                _stamp(con, lake)
        except Exception as exc:  # noqa: BLE001 - status reports what it cannot read, one line
            lake.error = " ".join(str(exc).split())[:200]
    status.recorder = recorder_status(config.home)
    status.schedules = schedule_status(timeout=prefect_timeout)
    return status


@contextlib.contextmanager
def _connection(config: Config) -> Iterator[duckdb.DuckDBPyConnection]:
    from pipelines.runtime import connect

    con = connect(config, confined=False)  # the catalog's metadata tables are read too
    try:
        yield con
    finally:
        con.close()


def lake_status(config: Config) -> LakeStatus:
    from warehouse.lake import locate

    where = locate(config.home, config.lake.catalog, config.lake.data_path)
    exists = where.exists()
    size: int | None = None
    catalog = where.catalog_file
    if exists and catalog is not None and where.local_data is not None:
        # The catalog file and its write-ahead log beside it, and every data file.
        size = sum(_tree_size(p) for p in catalog.parent.glob(f"{catalog.name}*"))
        size += _tree_size(where.local_data)
    return LakeStatus(
        catalog=where.shown, data_path=where.data_path, exists=exists, size_bytes=size
    )


def _tree_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    if not path.is_dir():
        return 0
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _stamp(con: duckdb.DuckDBPyConnection, lake: LakeStatus) -> None:
    """The lake's source stamp and creation time (lake_info), its current snapshot."""
    from warehouse.lake import CATALOG, INFO_TABLE

    info = dict(con.sql(f"SELECT key, value FROM {CATALOG}.main.{INFO_TABLE}").fetchall())
    lake.source = info.get("source")
    created = info.get("created_at")
    lake.created_at = _kst_text(created) if created else None
    row = con.sql(f"SELECT max(snapshot_id) FROM {CATALOG}.snapshots()").fetchone()
    lake.snapshot = row[0] if row else None


def _kst_text(iso: str) -> str:
    from schemas.clock import KST

    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if moment.tzinfo is None:  # written as local time by an old version: leave it as it was
        return iso
    return moment.astimezone(KST).isoformat(timespec="seconds")


def dataset_statuses(con: duckdb.DuckDBPyConnection) -> list[DatasetStatus]:
    """One line per known dataset the lake holds a table for (known: schemas.datasets)."""
    from schemas.datasets import DATASETS
    from warehouse.lake import CATALOG

    tables = {
        name
        for (name,) in con.sql(
            "SELECT table_name FROM duckdb_tables() "
            f"WHERE database_name = '{CATALOG}' AND schema_name = 'main'"
        ).fetchall()
    }
    updates = _last_updates(con)
    out = []
    for name, dataset in DATASETS.items():
        if name not in tables:
            continue
        columns = dataset.column_names
        key = next((c for c in _KEY_COLUMNS if c in columns), None)
        dated = next((c for c in _DATE_COLUMNS if c in columns), None)
        parts = [
            "count(*)",
            f'count(DISTINCT "{key}")' if key else "NULL",
            f'min("{dated}")::DATE' if dated else "NULL",
            f'max("{dated}")::DATE' if dated else "NULL",
            "count(*) FILTER (WHERE final = false)" if "final" in columns else "NULL",
        ]
        row = con.sql(f'SELECT {", ".join(parts)} FROM {CATALOG}.main."{name}"').fetchone()
        assert row is not None  # an aggregate always returns a row
        rows, symbols, first, last, provisional = row
        out.append(DatasetStatus(name, rows, symbols, first, last, updates.get(name), provisional))
    return out


def _last_updates(con: duckdb.DuckDBPyConnection) -> dict[str, datetime]:
    """table -> time of the last snapshot that inserted or deleted rows in it (KST), from the
    lake's snapshot list (inlined small writes included); empty when the catalog cannot say."""
    import duckdb

    from schemas.clock import KST
    from warehouse.lake import CATALOG

    sql = f"""
        WITH entries AS (
            SELECT snapshot_time, unnest(map_entries(changes)) AS e FROM {CATALOG}.snapshots()
        ), touched AS (
            SELECT snapshot_time, try_cast(unnest(e.value) AS BIGINT) AS table_id FROM entries
            WHERE e.key IN
                ('tables_inserted_into', 'tables_deleted_from', 'inlined_insert', 'inlined_delete')
        )
        SELECT t.table_name, max(snapshot_time)
        FROM touched JOIN __ducklake_metadata_{CATALOG}.ducklake_table t USING (table_id)
        WHERE t.end_snapshot IS NULL
        GROUP BY 1"""
    try:
        rows = con.sql(sql).fetchall()
    except duckdb.Error:
        return {}
    return {
        name: (when if when.tzinfo else when.replace(tzinfo=KST)).astimezone(KST)
        for name, when in rows
        if isinstance(when, datetime)
    }


def recorder_status(home: Path) -> dict[str, Any]:
    """Whether a recorder holds this home's journal lock (probed, released at once), who, and the
    latest journal."""
    from connectors.kis.filelock import FileLock
    from pipelines.recorder.lock import LOCK_NAME, OWNER_NAME
    from warehouse.journal import SUFFIX, journal_dir

    folder = journal_dir(home)
    lock_path = folder / LOCK_NAME
    running = False
    if lock_path.exists():
        lock = FileLock(lock_path)
        running = not lock.acquire(timeout=0)
        if not running:
            lock.release()
    owner = None
    if running:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            owner = (folder / OWNER_NAME).read_text(encoding="utf-8").strip() or None
    journals = sorted(folder.glob(f"*{SUFFIX}")) if folder.is_dir() else []
    latest = journals[-1] if journals else None
    return {
        "running": running,
        "owner": owner,
        "journals": len(journals),
        "latest_journal": latest.name if latest else None,
        "latest_journal_bytes": latest.stat().st_size if latest else None,
    }


def schedule_status(*, timeout: float = 5.0) -> dict[str, Any]:
    """The Prefect deployments (name, schedules, paused) when an API is configured."""
    from pipelines.config import prefect_api_configured

    if not prefect_api_configured():
        return {"prefect_api": None, "message": "no Prefect server configured"}
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    try:
        deployments = _deployments(timeout)
    except Exception as exc:  # noqa: BLE001 - an unreachable server is a status, not a crash
        first = " ".join(str(exc).split())[:160] or type(exc).__name__
        return {"prefect_api": url, "message": f"Prefect API unreachable: {first}"}
    return {"prefect_api": url, "deployments": deployments}


def _deployments(timeout: float) -> list[dict[str, Any]]:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True, httpx_settings={"timeout": timeout}) as client:
        found = client.read_deployments()
        flows = {f.id: f.name for f in client.read_flows()}
    out = []
    for d in sorted(found, key=lambda d: (flows.get(d.flow_id, ""), d.name)):
        schedules = [
            getattr(s.schedule, "cron", None) or str(s.schedule) for s in d.schedules or []
        ]
        out.append(
            {
                "name": f"{flows.get(d.flow_id, '?')}/{d.name}",
                "schedules": schedules,
                "paused": bool(d.paused),
            }
        )
    return out
