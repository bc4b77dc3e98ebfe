"""Pure parser tests on the KIS workbook's real response examples (tests/fixtures/kis/*.json)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from connectors.kis.errors import KisProtocolError
from connectors.kis.market_data.book import parse_order_book
from connectors.kis.market_data.domestic import (
    parse_current_price,
    parse_daily_price,
    parse_minute_bars,
    parse_period_bars,
)
from connectors.kis.market_data.index import parse_index_bars, parse_index_minute_bars
from connectors.kis.market_data.krx_calendar import parse_holidays
from connectors.kis.market_data.overseas import parse_overseas_bars, parse_overseas_minute_bars
from connectors.kis.market_data.rankings import parse_ranking
from schemas import (
    HOLIDAYS,
    INDEX_BARS,
    INDEX_MINUTE_BARS,
    MINUTE_BARS,
    OVERSEAS_BARS,
    OVERSEAS_MINUTE_BARS,
    PERIOD_BARS,
    RANKINGS,
)
from schemas.clock import KST
from schemas.datasets import ORDER_BOOK

FIXTURES = Path(__file__).parent / "fixtures" / "kis"


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def test_period_bars_from_the_workbook_example() -> None:
    df = parse_period_bars(load("period_bars"), symbol="000660", period="D", adjusted=True)
    assert df.schema == PERIOD_BARS.schema
    row = df.row(0, named=True)
    assert row["date"] == date(2022, 5, 9)
    assert (row["open"], row["high"], row["low"], row["close"]) == (107000, 109000, 106500, 107500)
    assert row["volume"] == 2203472 and row["value"] == 237914727500
    assert (row["symbol"], row["period"], row["adjusted"], row["filled"]) == (
        "000660",
        "D",
        True,
        False,
    )
    assert row["revaluation_reason"] is None  # "" on the wire


def test_daily_price_fills_what_the_endpoint_does_not_send() -> None:
    df = parse_daily_price(load("daily_price"), symbol="005930", period="D", adjusted=False)
    assert df.schema == PERIOD_BARS.schema
    assert df["date"].to_list() == [date(2022, 1, 11), date(2022, 1, 10)]
    assert df["close"][0] == 128000 and df["change"][0] == 3500
    assert df["value"].null_count() == 2  # inquire-daily-price has no traded value


def test_minute_bars_today_and_past_build_kst_timestamps() -> None:
    today = parse_minute_bars(load("minute_bars_today"), symbol="000660")
    past = parse_minute_bars(load("minute_bars_past"), symbol="005930", past_days=True)
    for df in (today, past):
        assert df.schema == MINUTE_BARS.schema
        assert str(df.schema["ts"]) == "Datetime(time_unit='us', time_zone='Asia/Seoul')"
    first = today.row(0, named=True)
    assert first["ts"].replace(tzinfo=None) == datetime(2022, 9, 2, 10, 0)
    assert first["ts"].utcoffset().total_seconds() == 9 * 3600
    assert (first["close"], first["volume"], first["cum_value"]) == (92500, 1383, 55858827400)
    assert past["ts"].dt.time().to_list() == [time(14, 0), time(13, 59)]


def test_index_levels_are_exact_two_decimal_decimals() -> None:
    df = parse_index_bars(load("index_bars"), index_code="0001", period="D")
    assert df.schema == INDEX_BARS.schema
    assert df["close"][0] == Decimal("2610.81") and df["open"][0] == Decimal("2634.32")


def test_index_minutes_drop_the_closing_and_after_hours_summary_rows() -> None:
    payload = load("index_minute_bars")
    df = parse_index_minute_bars(payload, index_code="1001")
    assert df.schema == INDEX_MINUTE_BARS.schema
    assert df.height == len(payload["output2"]) - 2  # the 999999 and 888888 pseudo-bars
    assert df["ts"].dt.date().unique().sort().to_list() == [date(2024, 1, 26), date(2024, 1, 29)]
    assert df["close"][0] == Decimal("833.56")


def test_holidays_keep_every_calendar_day_with_flags() -> None:
    df = parse_holidays(load("holidays"))
    assert df.schema == HOLIDAYS.schema
    assert df.height == 24
    year_end = df.filter(pl.col("date") == date(2022, 12, 30)).row(0, named=True)
    assert year_end["business_day"] is True and year_end["market_open"] is False


@pytest.mark.parametrize(
    ("name", "ranking", "first_symbol"),
    [
        ("volume_rank", "volume", "005930"),
        ("fluctuation_rank", "fluctuation", "000040"),
        ("market_cap_rank", "market_cap", "005930"),
    ],
)
def test_rankings_take_the_symbol_from_each_endpoints_field(
    name: str, ranking: str, first_symbol: str
) -> None:
    snap = datetime(2024, 1, 2, 1, 0, tzinfo=UTC)
    df = parse_ranking(load(name), ranking=ranking, market="0000", snapshot_ts=snap)
    assert df.schema == RANKINGS.schema
    assert df.height == 30 and df["rank"].to_list() == list(range(1, 31))
    assert df["symbol"][0] == first_symbol
    assert df["snapshot_ts"][0].replace(tzinfo=None) == datetime(2024, 1, 2, 10, 0)  # KST
    if ranking == "market_cap":
        assert df["market_cap"].null_count() == 0


def test_overseas_bars_are_exact_four_decimal_prices() -> None:
    df = parse_overseas_bars(
        load("overseas_bars"), exchange="NAS", symbol="TSLA", period="D", adjusted=False
    )
    assert df.schema == OVERSEAS_BARS.schema
    row = df.row(0, named=True)
    assert row["date"] == date(2022, 4, 6)
    assert row["close"] == Decimal("1045.7600") and row["high"] == Decimal("1079.0000")
    assert row["change_rate"] == -4.17
    assert df.filter(pl.col("date") == date(2022, 4, 4))["change_rate"][0] == 5.61  # "+5.61"


def test_overseas_minutes_convert_exchange_local_time_to_utc() -> None:
    df = parse_overseas_minute_bars(load("overseas_minute_bars"), exchange="NAS", symbol="TSLA")
    assert df.schema == OVERSEAS_MINUTE_BARS.schema
    row = df.row(0, named=True)
    # 16:00 New York (EST, UTC-5) on 2024-02-22 == 06:00 KST on the 23rd (kymd/khms of the example).
    assert row["ts"] == datetime(2024, 2, 22, 21, 0, tzinfo=UTC)
    assert (row["local_date"], row["local_time"], row["timezone"]) == (
        date(2024, 2, 22),
        time(16, 0),
        "America/New_York",
    )
    assert row["close"] == Decimal("197.4100")


def test_current_price_gives_int_headline_figures_and_the_raw_fields() -> None:
    out = parse_current_price(load("current_price"), symbol="000660")
    assert (out["price"], out["upper_limit"], out["lower_limit"], out["tick_size"]) == (
        128500,
        167000,
        90000,
        500,
    )
    assert out["change_sign"] == "3" and out["raw"]["rprs_mrkt_kor_name"] == "KOSPI200"


def test_an_unknown_field_is_logged_once_and_ignored(caplog: pytest.LogCaptureFixture) -> None:
    payload = load("period_bars")
    payload["output2"][0]["brand_new_kis_field"] = "7"
    caplog.set_level(logging.WARNING, logger="connectors.kis.parsing")
    first = parse_period_bars(payload, symbol="000660", period="D", adjusted=True)
    parse_period_bars(payload, symbol="000660", period="D", adjusted=True)
    hits = [r for r in caplog.records if "brand_new_kis_field" in r.getMessage()]
    assert len(hits) == 1
    assert "brand_new_kis_field" not in first.columns


def test_a_missing_required_field_names_the_endpoint_and_field() -> None:
    payload = load("period_bars")
    del payload["output2"][0]["stck_clpr"]
    with pytest.raises(KisProtocolError, match=r"inquire-daily-itemchartprice.*stck_clpr"):
        parse_period_bars(payload, symbol="000660", period="D", adjusted=True)


def test_a_missing_optional_field_becomes_null() -> None:
    payload = load("period_bars")
    del payload["output2"][0]["revl_issu_reas"]
    df = parse_period_bars(payload, symbol="000660", period="D", adjusted=True)
    assert df["revaluation_reason"].to_list() == [None]


def test_a_value_that_does_not_parse_names_the_field() -> None:
    payload = load("period_bars")
    payload["output2"][0]["acml_vol"] = "12x"
    with pytest.raises(KisProtocolError, match="acml_vol"):
        parse_period_bars(payload, symbol="000660", period="D", adjusted=True)


def test_an_exact_decimal_refuses_digits_it_would_round_away() -> None:
    payload = load("overseas_bars")
    payload["output2"][0]["clos"] = "1045.76001"
    with pytest.raises(KisProtocolError, match="clos"):
        parse_overseas_bars(payload, exchange="NAS", symbol="TSLA", period="D", adjusted=False)


def test_a_required_field_sent_blank_is_refused() -> None:
    payload = load("holidays")
    payload["output"][3]["opnd_yn"] = ""
    with pytest.raises(KisProtocolError, match="market_open"):
        parse_holidays(payload)


def test_empty_and_blank_blocks_give_empty_typed_frames() -> None:
    assert (
        parse_period_bars(
            {"output1": {}, "output2": []}, symbol="005930", period="D", adjusted=True
        ).schema
        == PERIOD_BARS.schema
    )
    assert parse_minute_bars({"output2": [{}]}, symbol="005930").height == 0
    with pytest.raises(KisProtocolError, match="no 'output2' block"):
        parse_period_bars({"rt_cd": "0"}, symbol="005930", period="D", adjusted=True)


def test_order_book_parses_the_workbook_example() -> None:
    # Sheet 041's response example (FHKST01010200), verbatim.
    payload = json.loads((FIXTURES / "order_book.json").read_text(encoding="utf-8"))
    book = parse_order_book(payload, symbol="000660", day=date(2024, 1, 2))
    assert book.height == 1 and book.columns == ORDER_BOOK.column_names
    row = book.row(0, named=True)
    assert row["ts_event"] == datetime(2024, 1, 2, 16, 0, tzinfo=KST)
    assert (row["ask_px_1"], row["bid_px_1"], row["ask_px_10"]) == (128000, 127500, 132500)
    assert (row["ask_qty_1"], row["bid_qty_10"]) == (69454, 15773)
    assert (row["total_ask_qty"], row["total_bid_qty"]) == (830005, 250849)
    assert (row["expected_price"], row["expected_volume"]) == (128000, 220006)
    with pytest.raises(KisProtocolError, match="asked for 005930"):
        parse_order_book(payload, symbol="005930", day=date(2024, 1, 2))
