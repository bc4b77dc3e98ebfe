"""Frames for one or more symbols over a date range, read from an open lake connection: what the
`kisdb` notebook one-liners and `kisdb chart` return. Reading only: nothing is fetched here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Protocol

import duckdb
import polars as pl

from warehouse.views import FINAL_ONLY

PERIODS = ("D", "W", "M", "Y")


class Queryable(Protocol):
    """A connection with the lake's tables (a DuckDB connection or warehouse.lake.LakeConnection)."""

    def sql(self, query: str, *, params: object = None) -> duckdb.DuckDBPyRelation: ...


def bars(
    con: Queryable,
    symbols: Sequence[str],
    start: date | None,
    end: date | None,
    *,
    period: str = "D",
    adjusted: bool = True,
    live: bool = False,
) -> pl.DataFrame:
    """Stock period bars, one row per (symbol, date), oldest first. `live` adds the provisional
    bar of a period that has not closed (final = false)."""
    if period not in PERIODS:
        raise ValueError(f"period must be one of {PERIODS}, not {period!r}")
    where = ["period = ?", "adjusted = ?"] + ([] if live else [FINAL_ONLY])
    return _read(
        con,
        "period_bars",
        "date",
        symbols,
        start,
        end,
        where,
        [period, adjusted],
        "period, adjusted",
    )


def minute_bars(
    con: Queryable,
    symbols: Sequence[str],
    start: date | None,
    end: date | None,
    *,
    live: bool = False,
) -> pl.DataFrame:
    """Stock one-minute bars (ts in KST), oldest first."""
    return _read(con, "minute_bars", "ts", symbols, start, end, [] if live else [FINAL_ONLY], [])


def ticks(
    con: Queryable, symbols: Sequence[str], start: date | None, end: date | None
) -> pl.DataFrame:
    """Recorded real-time trades (`kisdb record`), in arrival order."""
    return _read(con, "ticks", "ts_event", symbols, start, end, [], [], order_tail="journal, line")


def _read(
    con: Queryable,
    table: str,
    order: str,
    symbols: Sequence[str],
    start: date | None,
    end: date | None,
    where: list[str],
    params: list[object],
    exclude: str = "",
    order_tail: str = "",
) -> pl.DataFrame:
    if not symbols:
        raise ValueError("give at least one symbol, e.g. '005930'")
    conds = [f"symbol IN ({', '.join('?' for _ in symbols)})", *where]
    values: list[object] = [*symbols, *params]
    if start is not None:
        conds.append("date >= ?")
        values.append(start)
    if end is not None:
        conds.append("date <= ?")
        values.append(end)
    columns = f"* EXCLUDE ({exclude})" if exclude else "*"
    keys = ", ".join(k for k in ("symbol", order, order_tail) if k)
    query = f"SELECT {columns} FROM lake.main.{table} WHERE {' AND '.join(conds)} ORDER BY {keys}"
    return con.sql(query, params=values).pl()
