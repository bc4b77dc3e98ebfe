"""A shared lake: DuckLake catalog on PostgreSQL, data on S3-compatible object storage.

Configuration only (the same code paths as the local lake), parsed by `LakeTarget.from_env` from
the variables the composition root hands it (nothing here reads the process environment):

    KISDB_CATALOG     postgres:dbname=lake host=db.internal user=kisdb   (libpq string; password via
                      PGPASSWORD or ~/.pgpass, never in the URL you log). Default: the DuckDB file.
    KISDB_DATA_PATH   s3://bucket/prefix/  (or a local/NFS folder). Default: KISDB_HOME/lake/data.
    KISDB_S3_ENDPOINT host:port or http(s)://host:port of an S3-compatible store (unset: AWS).
    KISDB_S3_KEY_ID / KISDB_S3_SECRET   (fall back to AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)
    KISDB_S3_REGION   (falls back to AWS_REGION / AWS_DEFAULT_REGION, then us-east-1)
    KISDB_S3_URL_STYLE path | vhost (default: path with a custom endpoint, vhost on AWS)
    KISDB_S3_USE_SSL  true/false (default: from the endpoint's scheme; true on AWS)

Concurrent writers: DuckLake commits optimistically. Two transactions that both change the same
table's rows (a MERGE deletes and re-inserts) make the later commit fail with "Transaction
conflict"; `as_conflict` says so, and the lake's `retry` (pipelines passes one) reruns the whole
transaction on a fresh snapshot. Plain inserts into disjoint key ranges (a backfill split by
symbol) do not conflict.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import duckdb

T = TypeVar("T")

OBJECT_STORE_SCHEMES = ("s3://", "s3a://", "r2://", "gs://", "gcs://")
SECRET_NAME = "kisdb_s3"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _flag(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name} must be true/false, got {value!r}")


@dataclass(frozen=True)
class ObjectStore:
    """Credentials and addressing for an S3-compatible store; the secret never shows in a repr."""

    endpoint: str | None = None  # host:port (no scheme), None = AWS
    region: str = "us-east-1"
    key_id: str | None = None
    secret: str | None = field(default=None, repr=False)
    url_style: str = "vhost"
    use_ssl: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ObjectStore:
        def get(*names: str) -> str | None:
            for name in names:
                value = (env.get(name) or "").strip()
                if value:
                    return value
            return None

        endpoint = get("KISDB_S3_ENDPOINT")
        use_ssl = True
        if endpoint is not None:
            if endpoint.startswith(("http://", "https://")):
                use_ssl = endpoint.startswith("https://")
                endpoint = endpoint.split("://", 1)[1]
            endpoint = endpoint.rstrip("/")
        if (ssl := get("KISDB_S3_USE_SSL")) is not None:
            use_ssl = _flag("KISDB_S3_USE_SSL", ssl)
        style = get("KISDB_S3_URL_STYLE") or ("path" if endpoint else "vhost")
        if style not in ("path", "vhost"):
            raise ValueError(f"KISDB_S3_URL_STYLE must be path or vhost, got {style!r}")
        return cls(
            endpoint=endpoint,
            region=get("KISDB_S3_REGION", "AWS_REGION", "AWS_DEFAULT_REGION") or "us-east-1",
            key_id=get("KISDB_S3_KEY_ID", "AWS_ACCESS_KEY_ID"),
            secret=get("KISDB_S3_SECRET", "AWS_SECRET_ACCESS_KEY"),
            url_style=style,
            use_ssl=use_ssl,
        )

    def secret_sql(self, name: str = SECRET_NAME) -> str:
        """CREATE SECRET for DuckDB's httpfs (a temporary, in-memory secret of this connection)."""
        parts = [
            "TYPE s3",
            f"REGION {_quote(self.region)}",
            f"URL_STYLE {_quote(self.url_style)}",
            f"USE_SSL {'true' if self.use_ssl else 'false'}",
        ]
        if self.key_id is not None:
            parts.append(f"KEY_ID {_quote(self.key_id)}")
        if self.secret is not None:
            parts.append(f"SECRET {_quote(self.secret)}")
        if self.endpoint is not None:
            parts.append(f"ENDPOINT {_quote(self.endpoint)}")
        return f"CREATE OR REPLACE SECRET {name} ({', '.join(parts)})"


def is_object_store(path: str) -> bool:
    return path.startswith(OBJECT_STORE_SCHEMES)


def configure_object_store(
    con: duckdb.DuckDBPyConnection, data_path: str, store: ObjectStore
) -> bool:
    """Give `con` the S3 secret a data path on object storage needs (httpfs must be loaded).

    Returns whether a secret was created. The statement text holds the secret, so a failure is
    re-raised without it.
    """
    if not is_object_store(data_path):
        return False
    try:
        con.execute(store.secret_sql())
    except duckdb.Error as exc:
        raise RuntimeError(
            f"could not configure object storage for {data_path}: {type(exc).__name__} "
            "(is duckdb-extension-httpfs installed and loaded?)"
        ) from None
    return True


@dataclass(frozen=True)
class LakeTarget:
    """Where the lake lives: catalog and data path (None: the defaults under the home) and the
    object store's credentials for a data path on S3."""

    catalog: str | None = None
    data_path: str | None = None
    store: ObjectStore = field(default_factory=ObjectStore)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LakeTarget:
        """KISDB_CATALOG, KISDB_DATA_PATH and the KISDB_S3_* variables."""
        return cls(
            catalog=(env.get("KISDB_CATALOG") or "").strip() or None,
            data_path=(env.get("KISDB_DATA_PATH") or "").strip() or None,
            store=ObjectStore.from_env(env),
        )


class LakeConflict(Exception):
    """A commit lost DuckLake's optimistic-concurrency race: rerunning the whole transaction on a
    fresh snapshot can succeed (`transient`, like the connector's errors)."""

    transient = True


def as_conflict(exc: BaseException) -> LakeConflict | None:
    """`exc` classified: a LakeConflict when it is a commit conflict, else None."""
    if not isinstance(exc, duckdb.Error):
        return None
    text = str(exc).lower()
    if "conflict" in text or "failed to commit ducklake transaction" in text:
        return LakeConflict(str(exc))
    return None


class ConflictRetry(Protocol):
    """Runs one whole transaction, again after a commit conflict (the composition root's policy:
    pipelines/lake_retry.py); the default runs it once."""

    def __call__(self, fn: Callable[[], T], /) -> T: ...


def run_once(fn: Callable[[], T]) -> T:
    return fn()
