from datetime import date, datetime, time, timedelta

import polars as pl
import pytest

from schemas import DATASETS, HOLIDAYS, PERIOD_BARS, SchemaError
from schemas.clock import KST
from schemas.periods import PERIODS, period_start
from schemas.sessions import Finality, closed_through, session_hours


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


# --- periods -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "period", "start"),
    [
        (date(2024, 6, 5), "D", date(2024, 6, 5)),
        (date(2024, 6, 8), "D", date(2024, 6, 8)),  # a Saturday is its own day
        (date(2024, 6, 5), "W", date(2024, 6, 3)),  # Wednesday -> Monday
        (date(2024, 6, 3), "W", date(2024, 6, 3)),  # Monday is the start
        (date(2024, 6, 9), "W", date(2024, 6, 3)),  # Sunday ends the Monday week
        (date(2024, 1, 3), "W", date(2024, 1, 1)),
        (date(2025, 1, 2), "W", date(2024, 12, 30)),  # a week across New Year
        (date(2024, 3, 1), "W", date(2024, 2, 26)),  # across the end of a leap February
        (date(2024, 6, 30), "M", date(2024, 6, 1)),
        (date(2024, 2, 29), "M", date(2024, 2, 1)),
        (date(2024, 6, 1), "M", date(2024, 6, 1)),
        (date(2024, 12, 31), "Y", date(2024, 1, 1)),
        (date(2024, 1, 1), "Y", date(2024, 1, 1)),
    ],
)
def test_period_start(day: date, period: str, start: date) -> None:
    assert period_start(day, period) == start


@pytest.mark.parametrize("period", PERIODS)
def test_periods_tile_the_calendar(period: str) -> None:
    """Each day belongs to one period; a new period starts exactly on its own first day."""
    day = date(2023, 12, 1)
    while day < date(2025, 2, 1):
        start, before = period_start(day, period), period_start(day - timedelta(days=1), period)
        assert start <= day
        assert start in (before, day)
        day += timedelta(days=1)


@pytest.mark.parametrize("period", ["d", "Q", "", "1W"])
def test_an_unknown_period_is_refused(period: str) -> None:
    with pytest.raises(ValueError, match="unknown period"):
        period_start(date(2024, 6, 5), period)


def test_sessions_close_on_the_krx_calendar() -> None:
    holidays = {date(2026, 1, 1), date(2026, 11, 25)}  # 2026-11-25 made a holiday for the test

    def is_open(d: date) -> bool:
        return d.weekday() < 5 and d not in holidays

    def at(*args: int) -> datetime:
        return datetime(*args, tzinfo=KST)

    tue = date(2026, 11, 24)
    assert closed_through(at(2026, 11, 24, 8, 0), is_open) == date(2026, 11, 23)  # before the open
    assert closed_through(at(2026, 11, 24, 15, 29), is_open) == date(2026, 11, 23)
    assert closed_through(at(2026, 11, 24, 15, 30), is_open) == tue  # the close
    assert closed_through(at(2026, 11, 25, 10, 0), is_open) == date(2026, 11, 25)  # a holiday
    assert closed_through(at(2026, 11, 28, 10, 0), is_open) == date(2026, 11, 28)  # Saturday
    csat = date(2026, 11, 19)
    assert session_hours(csat, is_open) == (time(10), time(16, 30))
    assert closed_through(at(2026, 11, 19, 16, 0), is_open) == date(2026, 11, 18)
    assert session_hours(date(2026, 1, 2), is_open) == (time(10), time(15, 30))  # first day
    assert session_hours(tue, is_open) == (time(9), time(15, 30))


def test_finality_marks_bars_of_periods_still_trading() -> None:
    # Friday 2026-11-27 after the close: the next session is Monday 2026-11-30.
    finality = Finality(date(2026, 11, 30), datetime(2026, 11, 27, 16, tzinfo=KST))
    bars = pl.DataFrame(
        {
            "period": ["D", "W", "M", "M", "Y"],
            "date": [date(2026, 11, 27)] * 3 + [date(2026, 10, 30), date(2026, 11, 27)],
        }
    )
    final = bars.select(finality.period_final("date", "period"))["final"].to_list()
    # The week is over; November and 2026 still have sessions to trade.
    assert final == [True, True, False, True, False]
    minutes = pl.DataFrame(
        {"ts": [datetime(2026, 11, 27, 15, 59, tzinfo=KST), datetime(2026, 11, 27, 16, tzinfo=KST)]}
    )
    assert minutes.select(finality.minute_final("ts"))["final"].to_list() == [True, False]
