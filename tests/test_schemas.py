from datetime import date

import polars as pl
import pytest

from schemas import DATASETS, HOLIDAYS, PERIOD_BARS, SchemaError


def test_every_dataset_has_a_key_made_of_its_columns() -> None:
    for ds in DATASETS.values():
        assert ds.primary_key
        assert set(ds.primary_key) <= set(ds.column_names)


def test_conform_orders_casts_and_fills_nullable_columns() -> None:
    frame = pl.DataFrame(
        {
            "close": [100],
            "symbol": ["005930"],
            "period": ["D"],
            "adjusted": [True],
            "date": [date(2024, 1, 2)],
            "open": [99],
            "high": [101],
            "low": [98],
            "volume": [10],
        }
    )
    out = PERIOD_BARS.conform(frame)
    assert out.columns == PERIOD_BARS.column_names
    assert out.schema["close"] == pl.Int64
    assert out["filled"].to_list() == [None]


def test_conform_names_the_missing_column() -> None:
    with pytest.raises(SchemaError, match="market_open"):
        HOLIDAYS.conform(pl.DataFrame({"date": [date(2024, 1, 1)]}))


def test_conform_refuses_null_keys() -> None:
    frame = pl.DataFrame(
        {"date": [None], "market_open": [True]}, schema={"date": pl.Date, "market_open": pl.Boolean}
    )
    with pytest.raises(SchemaError, match="null values"):
        HOLIDAYS.conform(frame)


def test_field_maps_are_unique_per_dataset() -> None:
    for ds in DATASETS.values():
        wire = [c.kis for c in ds.columns if c.kis]
        assert len(wire) == len(set(wire)), ds.name
