"""Which symbols a flow works on: explicit parameters, a universe file, or the `securities` table.

Pure parsing and validation here; the securities lookup takes the lake as an argument.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.errors import InputError

if TYPE_CHECKING:
    from warehouse.lake import Lake

log = logging.getLogger(__name__)

ALL = "all"  # the universe of every stock in the securities table
# A first `update` without symbols takes the largest names: the market-cap ranking's top 30 of
# KOSPI (0001) and of KOSDAQ (1001), one call each. Later updates keep the symbols stored.
FIRST_RUN_MARKETS = ("0001", "1001")
FIRST_RUN_SIZE = 30 * len(FIRST_RUN_MARKETS)

# Stock short codes are 6 characters, digits for older listings, letters allowed for newer ones
# (the KIS stock master files); ETNs carry a Q prefix in quote APIs.
_STOCK = re.compile(r"^(?:Q?[0-9A-Z]{6})$")
_INDEX = re.compile(r"^[0-9]{4}$")
_OVERSEAS = re.compile(r"^(?P<exchange>[A-Z]{3}):(?P<symbol>[A-Z0-9.\-]{1,16})$")
OVERSEAS_EXCHANGES = frozenset(
    {"NAS", "NYS", "AMS", "HKS", "TSE", "SHS", "SZS", "SHI", "SZI", "HSX", "HNX"}
)


def split_list(text: str | Iterable[str] | None) -> list[str]:
    """ "A,B C" or ["A,B", "C"] -> ["A", "B", "C"] (upper-cased, order kept, duplicates dropped)."""
    if text is None:
        return []
    parts = [text] if isinstance(text, str) else list(text)
    out: list[str] = []
    for part in parts:
        for item in re.split(r"[,\s]+", part.strip()):
            item = item.strip().upper()
            if item and item not in out:
                out.append(item)
    return out


def stock_symbols(text: str | Iterable[str] | None) -> list[str]:
    symbols = split_list(text)
    bad = [s for s in symbols if not _STOCK.match(s)]
    if bad:
        raise InputError(
            f"not a KRX stock code: {', '.join(bad)} (expected 6 characters like 005930)"
        )
    return symbols


def index_codes(text: str | Iterable[str] | None) -> list[str]:
    codes = split_list(text)
    bad = [c for c in codes if not _INDEX.match(c)]
    if bad:
        raise InputError(
            f"not an index code: {', '.join(bad)} (expected 4 digits: 0001 KOSPI, 1001 KOSDAQ, 2001 KOSPI200)"
        )
    return codes


def overseas_symbols(text: str | Iterable[str] | None) -> list[tuple[str, str]]:
    """ "NAS:AAPL,NYS:KO" -> [("NAS", "AAPL"), ("NYS", "KO")]."""
    out: list[tuple[str, str]] = []
    for item in split_list(text):
        match = _OVERSEAS.match(item)
        if not match or match["exchange"] not in OVERSEAS_EXCHANGES:
            raise InputError(
                f"not an overseas symbol: {item} (expected EXCHANGE:TICKER like NAS:AAPL; "
                f"exchanges {', '.join(sorted(OVERSEAS_EXCHANGES))})"
            )
        out.append((match["exchange"], match["symbol"]))
    return out


def read_universe_file(path: str | Path) -> list[str]:
    """One symbol per line (or the first column of a CSV); blank lines and # comments ignored."""
    file = Path(path)
    if not file.is_file():
        raise InputError(f"universe file not found: {file}")
    lines = []
    for raw in file.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            first = line.split(",", 1)[0].strip()
            if first.lower() not in {"symbol", "code"}:  # a CSV header
                lines.append(first)
    if not lines:
        raise InputError(f"universe file {file} lists no symbols")
    return stock_symbols(lines)


def securities_symbols(
    lake: Lake,
    *,
    on: date | None = None,
    markets: Sequence[str] = ("KOSPI", "KOSDAQ"),
    limit: int | None = None,
) -> list[str]:
    """The symbols of the latest `securities` snapshot on or before `on` (the latest if no date).

    A range older than every snapshot takes the earliest one and says so: the universe then
    lacks the symbols delisted before that snapshot (survivorship bias), which a researcher
    must know rather than have the backfill fail.
    """
    from warehouse.planning import snapshot_symbols, universe_snapshot

    used = universe_snapshot(lake, on)
    symbols = snapshot_symbols(lake, on=used, markets=markets) if used else []
    if not symbols:
        raise InputError(
            "the securities table is empty: run `kisdb ingest securities` or pass --symbols"
        )
    if on is not None and used is not None and used > on:
        log.warning(
            "survivorship: no securities snapshot on or before %s; using the earliest (%s), "
            "which lacks symbols delisted before it",
            on,
            used,
        )
    return symbols[:limit] if limit else symbols


def resolve_symbols(
    symbols: str | Iterable[str] | None = None,
    universe: str | Path | None = None,
    lake: Lake | None = None,
    *,
    on: date | None = None,
    limit: int | None = None,
) -> list[str]:
    """Explicit symbols win, then a universe file, then the securities table (also for
    `universe="all"`)."""
    if symbols:
        return stock_symbols(symbols)
    if universe and str(universe) != ALL:
        return read_universe_file(universe)
    if lake is None:
        raise InputError("no symbols: pass --symbols, --universe FILE, or ingest securities first")
    return securities_symbols(lake, on=on, limit=limit)
