"""The `listings` view: every symbol ever seen, its last stored trading day, delisted or not."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from schemas import PERIOD_BARS, SECURITIES, STOCK_INFO
from warehouse.lake import Lake
from warehouse.planning import delisted_symbols

D1, D2, D3 = date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 4)


def _bars(symbol: str, days: list[date], final: list[bool]) -> pl.DataFrame:
    n = len(days)
    return pl.DataFrame(
        {
            "symbol": [symbol] * n,
            "period": ["D"] * n,
            "adjusted": [False] * n,
            "date": days,
            **{c: [100] * n for c in ("open", "high", "low", "close", "volume", "value")},
            "final": final,
        }
    )


def _snapshots(*rows: tuple[date, str]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "snapshot_date": [d for d, _ in rows],
            "symbol": [s for _, s in rows],
            "name": [f"name {s}" for _, s in rows],
            "market": ["KOSPI"] * len(rows),
        }
    )


def _listings(lake: Lake) -> list[tuple[object, ...]]:
    return lake.con.execute(
        "SELECT symbol, first_trading_day, last_trading_day, delisting_date, delisted "
        "FROM listings ORDER BY symbol"
    ).fetchall()


def test_listings_from_snapshots_and_bars_then_stock_info(tmp_path: Path) -> None:
    with Lake.open(tmp_path / "home", source="sim") as lake:
        assert delisted_symbols(lake) == set()  # no tables yet: no view, nothing delisted
        # A left the master after D2; B stays; C has bars but was never in a snapshot.
        lake.upsert(SECURITIES, _snapshots((D2, "A"), (D2, "B"), (D3, "B")))
        lake.upsert(PERIOD_BARS, _bars("A", [D1, D2], [True, True]))
        lake.upsert(PERIOD_BARS, _bars("B", [D1, D2, D3], [True, True, False]))
        lake.upsert(PERIOD_BARS, _bars("C", [D1], [True]))
    with Lake.open(tmp_path / "home", source="sim", read_only=True) as lake:
        assert _listings(lake) == [
            ("A", D1, D2, None, True),
            ("B", D1, D2, None, False),  # D3 is provisional: not a stored trading day yet
            ("C", D1, D1, None, False),
        ]
        assert delisted_symbols(lake) == {"A"}
    info = pl.DataFrame(
        {
            "snapshot_date": [D3, D3],
            "symbol": ["C", "B"],
            "listed_shares": [1, 1],
            "delisting_date": [D2, date(2024, 6, 1)],  # B's is announced, not yet passed
        }
    )
    with Lake.open(tmp_path / "home", source="sim") as lake:
        lake.upsert(STOCK_INFO, info)
    with Lake.open(tmp_path / "home", source="sim", read_only=True) as lake:
        rows = {r[0]: r[3:] for r in _listings(lake)}
        assert rows == {"A": (None, True), "B": (date(2024, 6, 1), False), "C": (D2, True)}
