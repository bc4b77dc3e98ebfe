"""kisdb in a notebook: one-liners over the local market database, FinanceDataReader style.

    import kisdb
    kisdb.bars("005930", "2020")            # adjusted daily bars since 2020-01-01 (polars)
    kisdb.bars(["005930", "000660"], "3y", "2025-06-30", adjusted=False)
    kisdb.minute_bars("005930", "5d")
    kisdb.ticks("005930", "today")           # trades recorded by `kisdb record`
    kisdb.sql("SELECT * FROM foreign_net_buy WHERE symbol = ?", ["005930"])
    kisdb.chart("005930", "1y").show()       # candlesticks + volume (plotly)
    kisdb.bars("005930", "2020").to_pandas() # pandas: pip install 'kisdb[notebook]'

They read the lake only, and never call KIS: a symbol or range not ingested yet comes back empty
(or shorter). `fetch=True` on `bars`/`minute_bars` runs the ingest for that symbol and range first
(a Prefect flow; needs the KIS settings an ingest needs), then reads.

Dates: a year ("2020": from Jan 1, or to Dec 31 as `end`), 2020-03-02, 20200302, "today", or
relative to today in Seoul ("30d", "6m", "3y"). `end` defaults to the newest row.

The lake is the configured one (KISDB_HOME, KISDB_CATALOG, …, as for the CLI), or `home=`. One
read-only connection per home is opened on first use and kept: it never holds up an ingest, and
each call reads the newest data (warehouse.lake.LakeConnection). It reads the lake's files and
your own (e.g. `read_csv`), the lake staying read-only. `kisdb.connect()` returns it for
your own SQL (`.sql(...).pl()`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import plotly.graph_objects as go
    import polars as pl

    from warehouse.lake import LakeConnection

__all__ = ["bars", "chart", "close", "connect", "minute_bars", "sql", "ticks"]

Symbols = str | Sequence[str]
When = str | date | None

_connections: dict[Path | None, LakeConnection] = {}
_YEAR = re.compile(r"^\d{4}$")


def connect(home: str | Path | None = None) -> LakeConnection:
    """The read-only lake connection the one-liners use (opened once per home, then kept)."""
    key = Path(home).expanduser().resolve() if home is not None else None
    con = _connections.get(key)
    if con is None:
        from pipelines.config import load_config
        from pipelines.runtime import connect as open_connection

        # Not confined (warehouse.lake.connect): the notebook's Python can read any file anyway,
        # and an unconfined connection reads the newest snapshot without reopening.
        con = _connections[key] = open_connection(load_config(home), confined=False)
    return con


def close() -> None:
    """Close the kept connections (they close with the process anyway)."""
    while _connections:
        _connections.popitem()[1].close()


def bars(
    symbols: Symbols,
    start: When = None,
    end: When = None,
    *,
    period: str = "D",
    adjusted: bool = True,
    live: bool = False,
    fetch: bool = False,
    home: str | Path | None = None,
) -> pl.DataFrame:
    """Stock bars from the lake: daily by default (`period` "W", "M", "Y"), adjusted for splits
    and other corporate actions unless `adjusted=False`; `live` adds the unfinished period."""
    from warehouse import reads

    names, first, last = _names(symbols), *_span(start, end)
    if fetch:
        from pipelines.bars import ingest_period_bars

        ingest_period_bars(
            symbols=names,
            start=_iso(first),
            end=_iso(last),
            periods=[period],
            adjusted=[adjusted],
            home=_home(home),
        )
    return reads.bars(
        connect(home), names, first, last, period=period, adjusted=adjusted, live=live
    )


def minute_bars(
    symbols: Symbols,
    start: When = None,
    end: When = None,
    *,
    live: bool = False,
    fetch: bool = False,
    home: str | Path | None = None,
) -> pl.DataFrame:
    """One-minute stock bars from the lake (ts in KST)."""
    from warehouse import reads

    names, first, last = _names(symbols), *_span(start, end)
    if fetch:
        from pipelines.minutes import ingest_minute_bars

        ingest_minute_bars(symbols=names, start=_iso(first), end=_iso(last), home=_home(home))
    return reads.minute_bars(connect(home), names, first, last, live=live)


def ticks(
    symbols: Symbols, start: When = None, end: When = None, *, home: str | Path | None = None
) -> pl.DataFrame:
    """Real-time trades recorded by `kisdb record` (KIS keeps no tick history to fetch)."""
    from warehouse import reads

    return reads.ticks(connect(home), _names(symbols), *_span(start, end))


def sql(
    query: str, params: Sequence[object] | None = None, *, home: str | Path | None = None
) -> pl.DataFrame:
    """Any read-only SQL on the lake's tables and views (bars_daily, minutes, foreign_net_buy,
    valuation_daily, …), `?` placeholders filled from `params`."""
    return connect(home).sql(query, params=list(params) if params is not None else None).pl()


def chart(
    symbol: str,
    start: When = "1y",
    end: When = None,
    *,
    adjusted: bool = True,
    home: str | Path | None = None,
) -> go.Figure:
    """A candlestick chart of daily bars with volume below (plotly): `.show()` it in a notebook,
    or `.write_html(path)` (what `kisdb chart` does)."""
    from pipelines.charts import candlestick

    frame = bars(symbol, start, end, adjusted=adjusted, home=home)
    return candlestick(frame, title=f"{symbol} daily{'' if adjusted else ' (raw prices)'}")


def _names(symbols: Symbols) -> list[str]:
    names = [symbols] if isinstance(symbols, str) else list(symbols)
    # KIS writes stock codes as 6 characters; an "A" prefix (as some tools show) is dropped.
    return [n.strip().removeprefix("A") if len(n.strip()) == 7 else n.strip() for n in names]


def _span(start: When, end: When, today: date | None = None) -> tuple[date | None, date | None]:
    """(first, last) days; a bare year means its first day as a start, its last as an end."""
    from pipelines.ranges import check_range, parse_date
    from schemas.clock import KST

    now = today or datetime.now(KST).date()

    def one(value: When, name: str, year_end: bool) -> date | None:
        if isinstance(value, str) and _YEAR.match(value.strip()):
            year = int(value)
            return date(year, 12, 31) if year_end else date(year, 1, 1)
        return parse_date(value, name=name, today=now)

    first, last = one(start, "start", False), one(end, "end", True)
    if first is not None and last is not None:
        check_range(first, last)
    return first, last


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _home(home: str | Path | None) -> str | None:
    return str(Path(home).expanduser()) if home is not None else None
