"""Dataset definitions: columns, types, primary key, partitioning and the KIS field map.

A `Dataset` is pure data. Connectors use it to shape the frames they return (`conform`), the
warehouse uses it to create and upsert tables. No I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import polars as pl

from schemas.clock import SEOUL

# Shared dtypes, named once so every dataset agrees on them.
KRW = pl.Int64()  # KRW prices and amounts are whole won
QTY = pl.Int64()
INDEX_VALUE = pl.Decimal(12, 2)  # index levels come with exactly 2 decimals: keep them exact
FOREIGN_PRICE = pl.Decimal(
    18, 4
)  # overseas prices come with up to 4 decimals (zdiv): keep them exact
FOREIGN_AMOUNT = pl.Decimal(24, 4)
RATE = pl.Float64()  # percentages are derived figures; exactness buys nothing
TS_KST = pl.Datetime("us", SEOUL)
TS_UTC = pl.Datetime("us", "UTC")
TS_RECV = pl.Datetime("ns", "UTC")  # receive time keeps the nanoseconds we stamp


class SchemaError(ValueError):
    """A frame does not fit its dataset (missing column, null key, wrong type)."""


@dataclass(frozen=True)
class Column:
    name: str
    dtype: pl.DataType
    kis: str | None = None  # the KIS wire field this column is parsed from, if any
    nullable: bool = True
    doc: str = ""


@dataclass(frozen=True)
class Dataset:
    """One table of the market database."""

    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    # DuckLake partition expressions, e.g. ("period", "year(date)").
    partition_by: tuple[str, ...] = ()
    doc: str = ""
    column_index: Mapping[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index = {c.name: c for c in self.columns}
        if len(index) != len(self.columns):
            raise SchemaError(f"{self.name}: duplicate column names")
        missing = [k for k in self.primary_key if k not in index]
        if missing:
            raise SchemaError(f"{self.name}: primary key columns {missing} are not columns")
        object.__setattr__(self, "column_index", index)

    @property
    def schema(self) -> pl.Schema:
        return pl.Schema({c.name: c.dtype for c in self.columns})

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def field_map(self) -> dict[str, str]:
        """KIS wire name -> our column name, for the columns parsed straight from KIS fields."""
        return {c.kis: c.name for c in self.columns if c.kis}

    def empty(self) -> pl.DataFrame:
        return pl.DataFrame(schema=self.schema)

    def conform(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Select and cast `frame` to this dataset's columns, in order; refuse null keys.

        Missing nullable columns are added as nulls; a missing key or non-null column is an error
        that names it, so a wrong field map fails loudly instead of storing empty data.
        """
        exprs = []
        for col in self.columns:
            if col.name in frame.columns:
                exprs.append(pl.col(col.name).cast(col.dtype, strict=True))
            elif col.nullable and col.name not in self.primary_key:
                exprs.append(pl.lit(None, dtype=col.dtype).alias(col.name))
            else:
                raise SchemaError(
                    f"{self.name}: column {col.name!r} is missing (have {sorted(frame.columns)})"
                )
        out = frame.select(exprs)
        required = [c.name for c in self.columns if not c.nullable or c.name in self.primary_key]
        if out.height and required:
            nulls = out.select(pl.col(required).null_count()).row(0, named=True)
            bad = [name for name, n in nulls.items() if n]
            if bad:
                raise SchemaError(f"{self.name}: null values in required columns {bad}")
        return out
