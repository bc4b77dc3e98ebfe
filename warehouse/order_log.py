"""Mirror the orders module's write-ahead JSONL log into the `order_log` table.

The JSONL files (KISDB_HOME/orders/order_log-YYYYMMDD.jsonl, one full state of one attempt per
line, latest line wins; format in connectors/kis/order_log.py) stay the source of truth: they are
written before an order is sent. This mirror makes them queryable with SQL. It is idempotent: the
table is keyed by client_order_id and upserted, so re-running it changes nothing, and running it
after more attempts only adds or updates those rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from schemas.datasets import ORDER_LOG
from warehouse.lake import Lake, UpsertResult

FILE_GLOB = "order_log-*.jsonl"
_TIMESTAMPS = ("created_at", "updated_at")


def _complete_lines(path: Path) -> Iterator[str]:
    """Whole lines only: a last line without its newline was torn by a crash mid-write."""
    data = path.read_bytes()
    for raw in data.split(b"\n")[:-1]:
        if raw.strip():
            yield raw.decode("utf-8")


def latest_states(directory: Path) -> list[dict[str, Any]]:
    """The current state of every attempt found under `directory` (latest line per id)."""
    states: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(directory).glob(FILE_GLOB)):
        for line in _complete_lines(path):
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a damaged line cannot be a state we reported as written
            key = record.get("client_order_id")
            if key:
                states[key] = record
    return list(states.values())


def order_log_frame(directory: Path) -> pl.DataFrame:
    """The log as a frame shaped like the ORDER_LOG dataset."""
    records = latest_states(directory)
    if not records:
        return ORDER_LOG.empty()
    columns = ORDER_LOG.column_names
    rows = []
    for record in records:
        row = {name: record.get(name) for name in columns}
        for name in _TIMESTAMPS:
            value = row[name]
            row[name] = datetime.fromisoformat(value) if isinstance(value, str) and value else None
        rows.append(row)
    frame = pl.DataFrame(
        rows,
        schema_overrides={
            "created_at": pl.Datetime("us", "UTC"),
            "updated_at": pl.Datetime("us", "UTC"),
        },
        infer_schema_length=None,
    )
    return ORDER_LOG.conform(frame)


def mirror_order_log(lake: Lake, home: Path) -> UpsertResult:
    """Upsert every attempt logged under home/orders into the lake's order_log table."""
    return lake.upsert(ORDER_LOG, order_log_frame(Path(home) / "orders"))
