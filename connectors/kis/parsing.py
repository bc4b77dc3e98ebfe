"""The machinery of the market-data parsers (which sit with their endpoints in market_data/): one
KIS response body -> one polars frame shaped by its dataset, through a `WireTable`.

Every parser works the same way (vectorised, no per-row Python):
1. take the response block (`output`, `output2`, ...) as a list of dicts of strings;
2. check the wire fields: a field a required column is parsed from must be there (else
   `KisProtocolError` naming the endpoint and the field); a field we have never heard of is logged
   once per (endpoint, field) and otherwise ignored, because KIS appends fields without notice;
3. rename through the dataset's field map and cast the strings ("128500", "2642.07", "20240102",
   "+5.61", "Y") to the column types: integer KRW, exact decimals, dates, booleans;
4. add what the request implies (symbol, period, adjusted, ...) and derive timestamps;
5. `Dataset.conform`, so column order and dtypes are exactly the table's.

No I/O happens here; the sample payloads in tests/fixtures/kis are the workbook's real examples.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from connectors.kis.errors import KisProtocolError
from schemas import (
    Dataset,
    SchemaError,
)
from schemas.clock import SEOUL

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WireTable:
    """How one response block of one endpoint maps onto a dataset."""

    endpoint: str  # for messages and the unknown-field log
    dataset: Dataset
    block: str  # "output", "output2"
    # Wire fields the workbook lists for this block that we deliberately do not store.
    ignored: frozenset[str] = frozenset()
    # Extra wire -> column renames beyond the dataset's field map (e.g. per-endpoint symbol field).
    renames: Mapping[str, str] = field(default_factory=dict)
    # Wire fields this parser needs beyond the required columns (e.g. the bar time for `ts`).
    needs: frozenset[str] = frozenset()
    # Dataset wire fields this endpoint does not send at all (their columns stay null).
    absent: frozenset[str] = frozenset()
    # Rows that are summaries, not data: wire field -> marker values (dropped before casting).
    summary_rows: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @property
    def field_map(self) -> dict[str, str]:
        mapping = {w: c for w, c in self.dataset.field_map.items() if w not in self.absent}
        mapping.update(self.renames)
        return mapping

    @property
    def required(self) -> frozenset[str]:
        """Wire fields without which the rows cannot be stored: key and non-null columns."""
        must = {c.name for c in self.dataset.columns if not c.nullable}
        must.update(self.dataset.primary_key)
        wire = {w for w, c in self.field_map.items() if c in must}
        return frozenset(wire | self.needs)

    @property
    def known(self) -> frozenset[str]:
        return frozenset(self.field_map) | self.ignored | self.needs


_seen_unknown: set[tuple[str, str]] = set()
_seen_lock = threading.Lock()


def _note_unknown(endpoint: str, fields: Iterable[str]) -> None:
    """Log each unexpected field once per process: KIS adds fields over time; we keep going."""
    with _seen_lock:
        new = sorted(f for f in fields if (endpoint, f) not in _seen_unknown)
        _seen_unknown.update((endpoint, f) for f in new)
    if new:
        log.warning("%s: KIS sent fields this parser does not know (ignored): %s", endpoint, new)


def block_rows(payload: Mapping[str, Any], endpoint: str, block: str) -> list[dict[str, Any]]:
    """The block as a list of row dicts; an object block is one row; blank rows are dropped."""
    if block not in payload:
        raise KisProtocolError(
            f"{endpoint}: the response has no {block!r} block (keys: {sorted(payload)})",
            context={"endpoint": endpoint},
        )
    value = payload[block]
    rows = [value] if isinstance(value, Mapping) else value
    if not isinstance(rows, list):
        raise KisProtocolError(
            f"{endpoint}: block {block!r} is a {type(value).__name__}, expected an object or array",
            context={"endpoint": endpoint},
        )
    # KIS answers "no data" on some charts with one all-blank row ([{}] or every value "").
    return [
        dict(r) for r in rows if isinstance(r, Mapping) and any(str(v).strip() for v in r.values())
    ]


def _text(name: str) -> pl.Expr:
    s = pl.col(name).cast(pl.String).str.strip_chars()
    return pl.when(s == "").then(None).otherwise(s)


def _number_text(name: str) -> pl.Expr:
    # Overseas rates carry an explicit "+" ("+5.61"); the casts below refuse it.
    return _text(name).str.strip_prefix("+")


def _converter(wire: str, dtype: pl.DataType) -> pl.Expr:
    """The expression turning one KIS string field into `dtype`, strictly."""
    if isinstance(dtype, pl.Decimal):
        text = _number_text(wire)
        scale = dtype.scale or 0
        # polars rounds extra fraction digits; an exact column must refuse them instead.
        too_precise = text.str.contains(rf"\.\d{{{scale}}}\d*[1-9]")
        return (
            pl.when(too_precise.fill_null(False))
            .then(pl.lit("not-exact"))
            .otherwise(text)
            .cast(dtype, strict=True)
        )
    if dtype.is_integer() or dtype.is_float():
        return _number_text(wire).cast(dtype, strict=True)
    if dtype == pl.Boolean:
        return _text(wire).replace_strict({"Y": True, "N": False}, return_dtype=pl.Boolean)
    if dtype == pl.Date:
        return _text(wire).str.strptime(pl.Date, "%Y%m%d", strict=True)
    if dtype == pl.Time:
        return _text(wire).str.strptime(pl.Time, "%H%M%S", strict=True)
    return _text(wire)


def _cast_all(raw: pl.DataFrame, table: WireTable, exprs: dict[str, pl.Expr]) -> pl.DataFrame:
    """Apply the converters; on failure name the field and show offending values."""
    try:
        return raw.select(**exprs)
    except pl.exceptions.PolarsError:
        pass
    for name, expr in exprs.items():
        try:
            raw.select(expr)
        except pl.exceptions.PolarsError as exc:
            wire = next((w for w, c in table.field_map.items() if c == name), name)
            sample = raw.get_column(wire).head(3).to_list() if wire in raw.columns else []
            raise KisProtocolError(
                f"{table.endpoint}: field {wire!r} has values that do not parse as "
                f"{_dtype_of(table, name)} (first values {sample}): {exc}".splitlines()[0],
                context={"endpoint": table.endpoint, "field": wire},
            ) from None
    raise AssertionError("unreachable: the combined select failed but no single column did")


def _dtype_of(table: WireTable, column: str) -> pl.DataType | str:
    col = table.dataset.column_index.get(column)
    if col is not None:
        return col.dtype
    return MINUTE_TIME.get(column, "text")


def wire_frame(
    payload: Mapping[str, Any], table: WireTable, extra: Mapping[str, pl.DataType] | None = None
) -> pl.DataFrame:
    """Rows of `table.block`, checked, renamed and typed; only mapped columns (plus `extra`)."""
    rows = block_rows(payload, table.endpoint, table.block)
    mapping = table.field_map
    extra = extra or {}
    if not rows:
        schema = {c: table.dataset.column_index[c].dtype for c in mapping.values()}
        schema.update(extra)
        return pl.DataFrame(schema=schema)
    raw = pl.from_dicts(rows, infer_schema_length=None)
    present = set(raw.columns)
    missing = sorted(table.required - present)
    if missing:
        raise KisProtocolError(
            f"{table.endpoint}: the response lacks field(s) {missing} in {table.block!r}; "
            "the API changed or this is not the expected endpoint",
            context={"endpoint": table.endpoint, "field": missing[0]},
        )
    unknown = present - table.known
    if unknown:
        _note_unknown(table.endpoint, unknown)
    for wire, markers in table.summary_rows.items():
        raw = raw.filter(~pl.col(wire).cast(pl.String).str.strip_chars().is_in(list(markers)))
    exprs: dict[str, pl.Expr] = {}
    for wire, column in mapping.items():
        if wire in present:
            exprs[column] = _converter(wire, table.dataset.column_index[column].dtype)
    for wire, dtype in extra.items():
        if wire in present:
            exprs[wire] = _converter(wire, dtype)
    return _cast_all(raw, table, exprs)


def conform(frame: pl.DataFrame, table: WireTable) -> pl.DataFrame:
    try:
        return table.dataset.conform(frame)
    except SchemaError as exc:
        raise KisProtocolError(
            f"{table.endpoint}: {exc}", context={"endpoint": table.endpoint}
        ) from None


def kst_timestamp(date_col: str, time_col: str) -> pl.Expr:
    """Date + HHMMSS wall time in KST -> tz-aware timestamp."""
    return pl.col(date_col).dt.combine(pl.col(time_col), "us").dt.replace_time_zone(SEOUL)


# Minute charts carry the bar time in this field (HHMMSS).
MINUTE_TIME = {"stck_cntg_hour": pl.Time()}
