"""After and around a recording: compaction into the lake, replay of a journal, and the Prefect
flows `record_flow` (at the open) and `compact_flow` (after the close) of prefect.yaml."""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
from prefect import flow

from pipelines.config import Config, load_config
from pipelines.embedded import market_clock
from pipelines.recorder.session import RecorderConfig, parse_until, record
from pipelines.runtime import open_lake, resolve_config
from warehouse.compaction import JournalCompactionResult, compact_day, parse_journal
from warehouse.journal import journal_days, journal_path

log = logging.getLogger("kisdb.recorder")

REPLAYED = ("ticks", "quotes", "execution_notices")


def replay(home: Path, day: date) -> Iterator[tuple[str, dict[str, Any]]]:
    """(table, row) for every record of a day's journal, in journal order (line, then record).

    The rows are the ones compaction stores, parsed the same way (account numbers masked);
    control lines, acks and rejected lines yield nothing."""
    parsed = parse_journal(journal_path(home, day))
    streams = [_rows(name, parsed.frames[name]) for name in REPLAYED]
    yield from heapq.merge(*streams, key=lambda item: (item[1]["line"], item[1]["record"]))


def _rows(table: str, frame: pl.DataFrame) -> Iterator[tuple[str, dict[str, Any]]]:
    for row in frame.iter_rows(named=True):
        yield table, row


def compact(config: Config, days: list[date] | None = None) -> list[JournalCompactionResult]:
    """Compact the given KST days' journals (default: every journal day) into the lake, then
    merge the lake's small files."""
    wanted = days if days is not None else journal_days(config.home)
    results: list[JournalCompactionResult] = []
    # The configured lake, as every flow stores into (KISDB_CATALOG / KISDB_DATA_PATH).
    with open_lake(config) as lake:
        for day in wanted:
            result = compact_day(lake, config.home, day)
            if result is None:
                log.warning("no journal for %s", day)
                continue
            log.info(
                "compacted %s: %s rows, %d rejects %s",
                result.journal,
                result.rows,
                result.rejects,
                result.reject_reasons or "",
            )
            results.append(result)
        # Daily runs add small Parquet files to every table; merging them here (the after-close
        # job) keeps the lake at a few files per partition. Snapshots stay readable.
        merged = lake.compact()
        log.info("lake files merged: %d -> %d", merged.files_before, merged.files_after)
    return results


@flow(name="record", log_prints=True)
async def record_flow(
    symbols: list[str],
    quotes: bool = False,
    notices: bool = False,
    until: str = "15:40",
    flush_interval: float = 1.0,
    home: str | None = None,
) -> dict[str, Any]:
    """Scheduled at the open (prefect.yaml); records until `until` (HH:MM KST, after the close)."""
    # A flow parameter must be JSON: the composition root picks the clock (the simulator's in sim).
    app, clock = await asyncio.to_thread(lambda: resolve_config(load_config(home)))
    settings = app.kis
    config = RecorderConfig(
        symbols=tuple(symbols),
        quotes=quotes,
        notices=notices,
        until=parse_until(until, clock.now()),
        flush_interval=flush_interval,
    )
    result = await record(settings, config, clock=clock)
    return {
        "frames": dict(result.stats.frames),
        "dropped": result.stats.dropped,
        "reconnects": result.stats.reconnects,
        "journals": [str(p) for p in result.journals],
        "reason": result.reason,
    }


@flow(name="compact", log_prints=True)
def compact_flow(date_text: str | None = None, home: str | None = None) -> list[dict[str, Any]]:
    """After the close: journal -> ticks / quotes / execution_notices (default: today, KST)."""
    config = load_config(home)
    day = date.fromisoformat(date_text) if date_text else market_clock(config.kis).today()
    return [
        {
            "journal": r.journal,
            "lines": r.lines,
            "rows": r.rows,
            "rejects": r.rejects,
            "reject_reasons": r.reject_reasons,
        }
        for r in compact(config, [day])
    ]
