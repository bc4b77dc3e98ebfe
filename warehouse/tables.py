"""Dataset -> DuckLake table: type mapping, DDL, and the frame conversions at the boundary.

Type choices (polars -> DuckDB, all supported by DuckLake 1.0):

* Int64 -> BIGINT, Float64 -> DOUBLE, String -> VARCHAR, Boolean -> BOOLEAN, Date -> DATE,
  Time -> TIME, Decimal(p, s) -> DECIMAL(p, s) (exact overseas prices and index levels).
* Datetime("us", tz) -> TIMESTAMPTZ. The instant is stored; DuckDB shows it in the session
  TimeZone, which we set to Asia/Seoul. Reading back converts to the dataset's zone.
* Datetime("ns", tz) -> TIMESTAMP_NS holding *UTC wall time* (naive). DuckDB has no
  nanosecond TIMESTAMPTZ: an Arrow `timestamp[ns, tz]` would be truncated to microseconds, and
  casting TIMESTAMPTZ to TIMESTAMP_NS uses the session zone. So ns columns cross the boundary as
  naive UTC (`to_lake`) and get their zone back on the way out (`from_lake`).
* Datetime without a zone -> TIMESTAMP (us) or TIMESTAMP_NS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from schemas.base import Column, Dataset

if TYPE_CHECKING:  # loaded by the first write: a command that only reads never imports it
    import pyarrow as pa

SCHEMA = "main"


class UnsupportedType(TypeError):
    """A dataset column has a polars dtype we have no DuckDB mapping for."""


def duckdb_type(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Decimal):
        return f"DECIMAL({dtype.precision},{dtype.scale})"
    if isinstance(dtype, pl.Datetime):
        if dtype.time_unit == "ns":
            return "TIMESTAMP_NS"
        return "TIMESTAMPTZ" if dtype.time_zone else "TIMESTAMP"
    simple: dict[type[pl.DataType], str] = {
        pl.Int64: "BIGINT",
        pl.Int32: "INTEGER",
        pl.Int16: "SMALLINT",
        pl.Int8: "TINYINT",
        pl.UInt64: "UBIGINT",
        pl.UInt32: "UINTEGER",
        pl.Float64: "DOUBLE",
        pl.Float32: "FLOAT",
        pl.String: "VARCHAR",
        pl.Boolean: "BOOLEAN",
        pl.Date: "DATE",
        pl.Time: "TIME",
    }
    for cls, name in simple.items():
        if isinstance(dtype, cls):
            return name
    raise UnsupportedType(f"no DuckDB type for polars {dtype!r}; add it to warehouse.tables")


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def required(dataset: Dataset, column: Column) -> bool:
    return not column.nullable or column.name in dataset.primary_key


def create_table_sql(dataset: Dataset, catalog: str) -> str:
    cols = ",\n  ".join(
        f"{quote(c.name)} {duckdb_type(c.dtype)}{' NOT NULL' if required(dataset, c) else ''}"
        for c in dataset.columns
    )
    return f"CREATE TABLE IF NOT EXISTS {qualified(dataset.name, catalog)} (\n  {cols}\n)"


def partition_sql(dataset: Dataset, catalog: str) -> str | None:
    """`ALTER TABLE … SET PARTITIONED BY (…)` from the dataset's DuckLake partition expressions."""
    if not dataset.partition_by:
        return None
    exprs = ", ".join(dataset.partition_by)
    return f"ALTER TABLE {qualified(dataset.name, catalog)} SET PARTITIONED BY ({exprs})"


def qualified(table: str, catalog: str) -> str:
    return f"{quote(catalog)}.{SCHEMA}.{quote(table)}"


def _ns_with_zone(dtype: pl.DataType) -> bool:
    return (
        isinstance(dtype, pl.Datetime) and dtype.time_unit == "ns" and dtype.time_zone is not None
    )


def to_lake(dataset: Dataset, frame: pl.DataFrame) -> pl.DataFrame:
    """A conformed frame in the shape DuckDB stores losslessly (ns zoned -> naive UTC)."""
    exprs = [
        pl.col(c.name).dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        for c in dataset.columns
        if _ns_with_zone(c.dtype)
    ]
    return frame.with_columns(exprs) if exprs else frame


def to_lake_arrow(dataset: Dataset, frame: pl.DataFrame) -> pa.Table:
    """`to_lake` as Arrow for DuckDB, times as microseconds: polars times are nanoseconds, which
    DuckDB reads as TIME_NS and cannot compare with a table's TIME column (an upsert's diff)."""
    import pyarrow as pa

    table = to_lake(dataset, frame).to_arrow()
    ns_time = pa.time64("ns")
    if not any(f.type == ns_time for f in table.schema):
        return table
    return table.cast(
        pa.schema([f.with_type(pa.time64("us")) if f.type == ns_time else f for f in table.schema])
    )


def from_lake(dataset: Dataset, frame: pl.DataFrame) -> pl.DataFrame:
    """Undo `to_lake` and restore the dataset's dtypes (zones, decimals) on a frame read back."""
    exprs = []
    for c in dataset.columns:
        if c.name not in frame.columns:
            continue
        if _ns_with_zone(c.dtype):
            assert isinstance(c.dtype, pl.Datetime)
            exprs.append(
                pl.col(c.name)
                .dt.replace_time_zone("UTC")
                .dt.convert_time_zone(c.dtype.time_zone or "UTC")
            )
        else:
            exprs.append(pl.col(c.name).cast(c.dtype))
    return frame.with_columns(exprs) if exprs else frame


# Columns that carry a row's calendar date, in order of preference, for cursors and checks.
_DATE_COLUMNS = ("date", "local_date", "snapshot_date")


def date_column(dataset: Dataset) -> str | None:
    for name in _DATE_COLUMNS:
        col = dataset.column_index.get(name)
        if col is not None and isinstance(col.dtype, pl.Date):
            return name
    return None


def tables_markdown(datasets: list[Dataset]) -> str:
    """A Markdown table of datasets (name, key, partitioning, columns with DuckDB types), for docs.

    README.md embeds this output; a test keeps the two in step.
    """
    lines = ["| table | primary key | partitioned by | columns |", "| --- | --- | --- | --- |"]
    for d in datasets:
        cols = ", ".join(f"`{c.name}` {duckdb_type(c.dtype)}" for c in d.columns)
        key = ", ".join(d.primary_key)
        parts = ", ".join(d.partition_by) or "-"
        lines.append(f"| `{d.name}` | {key} | {parts} | {cols} |")
    return "\n".join(lines)
