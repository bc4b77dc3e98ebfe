"""The simulator's synthetic market: calendars, tick grid, consistency of bars/ticks, events."""

from __future__ import annotations

import math
import re
from datetime import date, datetime, time, timedelta
from functools import cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.calendar import (
    CSAT_DAYS,
    KST,
    NEW_YORK,
    KrxCalendar,
    UsCalendar,
    package_holidays,
    shipped_krx_holidays,
    weekday_code,
)
from simulator.market import DailyBar, Market
from simulator.ticks import is_on_grid, price_band, round_to_tick, round_to_tick_np, tick_size
from simulator.universe import Split, krx_universe, us_universe

FEW = settings(max_examples=25, deadline=None)
SOME = settings(max_examples=40, deadline=None)


@cache
def market() -> Market:
    return Market(seed=7, generated_symbols=3)


@cache
def krx() -> KrxCalendar:
    return market().calendar


CODES = sorted(market().instruments)
TRADING_DAYS = krx().trading_days(date(2015, 1, 2), date(2027, 12, 30))

codes = st.sampled_from(CODES)
trading_days = st.sampled_from(TRADING_DAYS)
any_day = st.dates(min_value=date(2015, 1, 1), max_value=date(2027, 12, 31))


def listed_day(code: str, d: date) -> bool:
    return market().is_listed(code, d) and krx().is_trading_day(d)


# ---------------------------------------------------------------- tick grid


def test_tick_table() -> None:
    assert [
        tick_size(p)
        for p in (
            1,
            1_999,
            2_000,
            4_999,
            5_000,
            19_999,
            20_000,
            49_999,
            50_000,
            199_999,
            200_000,
            499_999,
            500_000,
            3_000_000,
        )
    ] == [1, 1, 5, 5, 10, 10, 50, 50, 100, 100, 500, 500, 1_000, 1_000]


@SOME
@given(st.floats(min_value=1.0, max_value=5_000_000.0, allow_nan=False))
def test_round_to_tick_lands_on_grid(x: float) -> None:
    down, near, up = (round_to_tick(x, m) for m in ("down", "nearest", "up"))
    assert all(is_on_grid(p) for p in (down, near, up))
    assert down <= near <= up
    assert down <= x + 1e-6 and up >= x - 1e-6
    assert up - down <= tick_size(up)
    arr = np.array([x])
    assert [int(round_to_tick_np(arr, m)[0]) for m in ("down", "nearest", "up")] == [down, near, up]


def test_price_band_is_thirty_percent_on_grid() -> None:
    assert price_band(10_000) == (7_000, 13_000)
    assert price_band(71_900) == (50_400, 93_400)  # 50,330 rounds up, 93,470 down
    with pytest.raises(ValueError):
        round_to_tick(1_000.0, "sideways")  # type: ignore[arg-type]


# ---------------------------------------------------------------- calendars

# chk-holiday workbook example (kis-api.md §5.11): bass_dt, wday, bzdy, tr_day, opnd, sttl.
WORKBOOK_FLAGS = """
20221227 03 YYYY|20221228 04 YYYY|20221229 05 YYYY|20221230 06 YYNN|20221231 07 NYNN|20230101 01 NYNN
20230102 02 YYYY|20230103 03 YYYY|20230106 06 YYYY|20230107 07 NYNN|20230108 01 NYNN|20230109 02 YYYY
"""


def test_day_flags_match_the_workbook_example() -> None:
    for row in WORKBOOK_FLAGS.replace("\n", "|").strip("|").split("|"):
        day, wday, flags = row.split()
        d = date(int(day[:4]), int(day[4:6]), int(day[6:]))
        f = krx().day_flags(d)
        got = "".join("Y" if x else "N" for x in (f.bzdy_yn, f.tr_day_yn, f.opnd_yn, f.sttl_day_yn))
        assert (weekday_code(d), got) == (wday, flags), d


def test_year_end_closure_every_year() -> None:
    for year in range(2015, 2028):
        last_weekday = max(
            d for d in (date(year, 12, 31) - timedelta(days=i) for i in range(7)) if d.weekday() < 5
        )
        assert not krx().is_trading_day(last_weekday)
        assert krx().day_flags(last_weekday).bzdy_yn  # banks are open, the market is not


def test_sessions_and_late_opens() -> None:
    cal = krx()
    assert cal.session(date(2024, 6, 14)) == (
        datetime(2024, 6, 14, 9),
        datetime(2024, 6, 14, 15, 30),
    )
    assert cal.session(date(2024, 1, 2)) == (datetime(2024, 1, 2, 10), datetime(2024, 1, 2, 15, 30))
    assert cal.session(date(2024, 11, 14)) == (
        datetime(2024, 11, 14, 10),
        datetime(2024, 11, 14, 16, 30),
    )
    assert all(cal.is_trading_day(d) for d in CSAT_DAYS)
    for year in range(2015, 2028):
        first = cal.trading_days(date(year, 1, 1), date(year, 1, 10))[0]
        assert cal.session(first)[0].time() == time(10, 0)
    with pytest.raises(ValueError, match="not a KRX trading day"):
        cal.session(date(2024, 6, 15))
    assert not cal.is_trading_day(date(2026, 6, 3))  # local election day


@SOME
@given(any_day)
def test_trading_day_navigation(d: date) -> None:
    cal = krx()
    prev, nxt = cal.previous_trading_day(d), cal.next_trading_day(d)
    assert prev < d < nxt and cal.is_trading_day(prev) and cal.is_trading_day(nxt)
    between = cal.trading_days(prev, nxt)
    assert between == ([prev, d, nxt] if cal.is_trading_day(d) else [prev, nxt])
    assert all(x.weekday() < 5 for x in between)


def test_the_shipped_krx_holidays_are_the_holidays_package_s() -> None:
    """When this fails the `holidays` package changed KRX's calendar: rewrite the table with
    `python -m simulator.calendar`."""
    years = range(2010, 2031)
    package = {d: str(name) for d, name in package_holidays("XKRX", years).items()}
    assert shipped_krx_holidays() == package
    calendar = KrxCalendar()
    assert calendar.holiday_name(date(2026, 12, 31)) == package[date(2026, 12, 31)]
    # Outside the shipped years the package answers: 2031's New Year's Day.
    assert not calendar.is_trading_day(date(2031, 1, 1))
    assert calendar.is_trading_day(date(2031, 1, 2))


def test_us_calendar() -> None:
    us = UsCalendar()
    assert not us.is_trading_day(date(2025, 1, 9))  # national day of mourning
    assert not us.is_trading_day(date(2024, 7, 4))
    open_, close = us.session(date(2024, 11, 29))
    assert (open_.tzinfo, open_.time(), close.time()) == (NEW_YORK, time(9, 30), time(13, 0))
    assert us.session(date(2024, 6, 14))[1].time() == time(16, 0)


# ---------------------------------------------------------------- daily bars


def test_daily_bars_cover_exactly_the_trading_days_while_listed() -> None:
    m = market()
    for code in ("005930", "373220", "117930", "900001"):
        inst = m.instruments[code]
        bars = m.daily_bars(code, date(2014, 1, 1), date(2030, 1, 1), adjusted=False)
        start = max(inst.listed, m.first_date)
        stop = inst.delisted - timedelta(days=1) if inst.delisted else m.last_date
        assert [b.date for b in bars] == krx().trading_days(start, stop)


def test_every_daily_price_is_on_the_grid_and_inside_the_band() -> None:
    m = market()
    for code in CODES:
        for adjusted in (False, True):
            bars = m.daily_bars(code, m.first_date, m.last_date, adjusted)
            prices = np.array([(b.open, b.high, b.low, b.close, b.prev_close) for b in bars])
            assert (prices % np.vectorize(tick_size)(prices) == 0).all(), code
            for b in bars if not adjusted else ():
                lower, upper = price_band(b.prev_close)
                assert (
                    lower
                    <= b.low
                    <= min(b.open, b.close)
                    <= max(b.open, b.close)
                    <= b.high
                    <= upper
                )
                assert b.volume > 0 and b.low * b.volume <= b.value <= b.high * b.volume


def test_samsung_volume_is_realistic() -> None:
    bars = market().daily_bars("005930", date(2023, 1, 1), date(2025, 12, 31), adjusted=False)
    assert 5e6 < float(np.median([b.volume for b in bars])) < 4e7


@FEW
@given(codes, trading_days)
def test_same_seed_same_data_other_seed_other_data(code: str, d: date) -> None:
    again = Market(seed=7, generated_symbols=3)
    other = Market(seed=8, generated_symbols=3)
    window = (d - timedelta(days=20), d + timedelta(days=20))
    mine = market().daily_bars(code, *window, adjusted=False)
    assert again.daily_bars(code, *window, adjusted=False) == mine
    if mine:
        assert other.daily_bars(code, *window, adjusted=False) != mine
    if listed_day(code, d):
        assert again.ticks(code, d) == market().ticks(code, d)
        assert other.ticks(code, d) != market().ticks(code, d)


def test_generated_symbols_do_not_depend_on_how_many() -> None:
    small, big = Market(seed=7, generated_symbols=2), Market(seed=7, generated_symbols=40)
    assert small.instruments["900002"] == big.instruments["900002"]
    assert big.instruments["900040"].name == "SIM종목0040" and "900003" not in small.instruments
    d = date(2021, 3, 3)
    assert small.daily_bars("900002", d, d, False) == big.daily_bars("900002", d, d, False)


def test_listing_events() -> None:
    m = market()
    lges = m.daily_bars("373220", date(2022, 1, 1), date(2022, 2, 28), adjusted=False)
    assert lges[0].date == date(2022, 1, 27) and lges[0].prev_close == 300_000
    assert m.daily_bars("117930", date(2017, 3, 7), date(2018, 1, 1), adjusted=False) == []
    assert m.daily_bar("117930", date(2017, 3, 6)) is not None
    codes_2016 = {i.code for i in m.ranking_universe(date(2016, 6, 1), None)}
    codes_2023 = {i.code for i in m.ranking_universe(date(2023, 6, 1), None)}
    assert "117930" in codes_2016 and "117930" not in codes_2023
    assert "373220" not in codes_2016 and "373220" in codes_2023


def test_universe_tables_load_from_the_package_data() -> None:
    instruments, profiles = krx_universe(seed=7, generated_symbols=0)
    assert len(instruments) == 58 and instruments.keys() == profiles.keys()
    assert all(re.fullmatch(r"\d{6}", code) for code in instruments)  # leading zeros kept
    assert instruments["005930"].split == Split(date(2018, 5, 4), 50)
    assert instruments["117930"].delisted == date(2017, 3, 7)
    assert instruments["000660"].split is None and profiles["000660"].daily_value == 5.0e11
    us, us_profiles = us_universe()
    assert len(us) == 9 and us[("NAS", "AAPL")].name == "APPLE INC"
    assert us_profiles[("NAS", "AAPL")].split == Split(date(2020, 8, 31), 4)


@pytest.mark.parametrize("code", ["005930", "086520"])
def test_adjusted_differs_from_raw_only_before_the_split(code: str) -> None:
    m = market()
    split = m.instruments[code].split
    assert split is not None
    raw = m.daily_bars(code, m.first_date, m.last_date, adjusted=False)
    adj = m.daily_bars(code, m.first_date, m.last_date, adjusted=True)
    assert [b.date for b in raw] == [b.date for b in adj]
    before = 0
    for r, a in zip(raw, adj, strict=True):
        if r.date < split.date:
            before += 1
            for field in ("open", "high", "low", "close", "prev_close"):
                assert getattr(a, field) == round_to_tick(getattr(r, field) / split.ratio)
            assert (a.volume, a.value) == (r.volume * split.ratio, r.value)
        else:
            assert a == r
    assert 0 < before < len(raw)
    day = next(b for b in raw if b.date >= split.date)
    last_before = raw[raw.index(day) - 1]
    assert day.prev_close == round_to_tick(last_before.close / split.ratio)  # the split-day base
    assert m.listed_shares(code, last_before.date) * split.ratio == m.listed_shares(code, day.date)


@FEW
@given(
    codes, any_day, st.integers(min_value=0, max_value=900), st.sampled_from("WMY"), st.booleans()
)
def test_period_bars_aggregate_daily_bars(
    code: str, start: date, span: int, period: str, adjusted: bool
) -> None:
    m = market()
    end = start + timedelta(days=span)
    bars = m.period_bars(code, start, end, period, adjusted)
    key = {
        "W": lambda d: d.isocalendar()[:2],
        "M": lambda d: (d.year, d.month),
        "Y": lambda d: d.year,
    }[period]
    daily = m.daily_bars(code, start - timedelta(days=370), end, adjusted)
    for bar in bars:
        members = [b for b in daily if key(b.date) == key(bar.date)]
        assert bar.date == members[-1].date and start <= bar.date <= end
        assert bar == DailyBar(
            date=members[-1].date,
            open=members[0].open,
            high=max(b.high for b in members),
            low=min(b.low for b in members),
            close=members[-1].close,
            volume=sum(b.volume for b in members),
            value=sum(b.value for b in members),
            prev_close=members[0].prev_close,
        )
    covered = {key(b.date) for b in daily if start <= b.date <= end}
    assert {key(b.date) for b in bars} == covered


# ---------------------------------------------------------------- intraday


@FEW
@given(codes, trading_days)
def test_minutes_aggregate_to_the_day_and_ticks_to_minutes(code: str, d: date) -> None:
    m = market()
    minutes, ticks, day = m.minute_bars(code, d), m.ticks(code, d), m.daily_bar(code, d)
    if day is None:
        assert minutes == [] and ticks == []
        return
    open_at, close_at = krx().session(d)
    assert (minutes[0].time, minutes[-1].time) == (open_at.time(), close_at.time())
    assert (
        len(minutes) == (close_at - open_at).seconds // 60 - 10 + 1
    )  # no bars in the closing call
    assert minutes[0].open == day.open and minutes[-1].close == day.close
    assert max(b.high for b in minutes) == day.high and min(b.low for b in minutes) == day.low
    assert (
        sum(b.volume for b in minutes) == day.volume and sum(b.value for b in minutes) == day.value
    )
    assert [t.seq for t in ticks] == list(range(1, len(ticks) + 1))
    assert [t.time for t in ticks] == sorted(t.time for t in ticks)
    by_minute: dict[time, list] = {}
    for t in ticks:
        stamp = close_at.time() if t.time == close_at.time() else t.time.replace(second=0)
        by_minute.setdefault(stamp, []).append(t)
    assert list(by_minute) == [b.time for b in minutes]
    for bar in minutes:
        group = by_minute[bar.time]
        assert (bar.open, bar.close) == (group[0].price, group[-1].price)
        assert (bar.high, bar.low) == (max(t.price for t in group), min(t.price for t in group))
        assert bar.volume == sum(t.qty for t in group) and bar.value == sum(
            t.price * t.qty for t in group
        )
    assert all(is_on_grid(t.price) and t.qty > 0 and t.side in (1, 5) for t in ticks)


def test_no_intraday_data_on_closed_days() -> None:
    m = market()
    for d in (date(2024, 6, 15), date(2024, 12, 31), date(2026, 6, 3)):
        assert m.minute_bars("005930", d) == [] and m.ticks("005930", d) == []
        assert m.daily_bar("005930", d) is None
        assert m.last_trade("005930", datetime.combine(d, time(11))) is None


@FEW
@given(codes, trading_days, st.integers(min_value=0, max_value=8 * 3600))
def test_intraday_views_agree_with_ticks(code: str, d: date, offset: int) -> None:
    m = market()
    at = datetime.combine(d, time(8, 30)) + timedelta(seconds=offset)
    ticks = [t for t in m.ticks(code, d) if t.time <= at.time()]
    last, bar = m.last_trade(code, at), m.intraday_bar(code, d, at.time())
    if not ticks:
        assert last is None and bar is None
    else:
        assert last == ticks[-1]
        assert bar is not None and (bar.open, bar.close, bar.volume) == (
            ticks[0].price,
            ticks[-1].price,
            sum(t.qty for t in ticks),
        )
    book = m.quote_at(code, at)
    if not m.is_listed(code, d):
        return
    asks, bids = [p for p, _ in book.asks], [p for p, _ in book.bids]
    assert asks == sorted(asks) and bids == sorted(bids, reverse=True)
    assert len(asks) <= 10 and len(bids) <= 10 and (asks or bids)
    assert all(is_on_grid(p) for p in asks + bids) and all(q > 0 for _, q in book.asks + book.bids)
    if asks and bids:
        assert bids[0] < asks[0]
        if last is not None:
            assert bids[0] <= last.price <= asks[0]


def test_intraday_bar_at_the_close_is_the_daily_bar() -> None:
    d = date(2024, 11, 14)  # CSAT day: 10:00-16:30
    assert market().intraday_bar("000660", d, time(16, 30)) == market().daily_bar("000660", d)
    assert market().intraday_bar("000660", d, time(9, 59, 59)) is None


# ---------------------------------------------------------------- indices and overseas


@FEW
@given(st.sampled_from(["0001", "1001", "2001"]), trading_days)
def test_index_minutes_aggregate_to_the_index_day(index_code: str, d: date) -> None:
    m = market()
    (day,) = m.index_bars(index_code, d, d, "D")
    mins = m.index_minute_bars(index_code, d)
    assert (mins[0].open, mins[-1].close) == (day.open, day.close)
    assert max(b.high for b in mins) == day.high and min(b.low for b in mins) == day.low
    assert sum(b.volume for b in mins) == day.volume and sum(b.value for b in mins) == day.value
    assert all(b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high for b in mins)
    assert all(round(x, 2) == x for b in mins for x in (b.open, b.high, b.low, b.close))


def test_index_periods_and_calendar() -> None:
    m = market()
    daily = m.index_bars("0001", date(2024, 1, 1), date(2024, 12, 31), "D")
    assert [b.date for b in daily] == krx().trading_days(date(2024, 1, 1), date(2024, 12, 31))
    months = m.index_bars("0001", date(2024, 1, 1), date(2024, 12, 31), "M")
    assert len(months) == 12 and months[-1].date == date(2024, 12, 30)
    assert months[0].volume == sum(b.volume for b in daily if b.date.month == 1)


@FEW
@given(
    st.sampled_from(sorted(market().overseas)),
    st.dates(min_value=date(2015, 1, 2), max_value=date(2027, 12, 30)),
)
def test_overseas_minutes_aggregate_to_the_day(key: tuple[str, str], d: date) -> None:
    m = market()
    mins = m.overseas_minute_bars(*key, d)
    days = m.overseas_bars(*key, d, d, "D", adjusted=False)
    if not m.us_calendar.is_trading_day(d):
        assert mins == [] and days == []
        return
    (day,) = days
    open_at, close_at = m.us_calendar.session(d)
    assert len(mins) == (close_at - open_at).seconds // 60
    assert mins[0].kst == open_at.astimezone(KST).replace(tzinfo=None)
    assert (mins[0].open, mins[-1].close, sum(b.volume for b in mins)) == (
        day.open,
        day.close,
        day.volume,
    )
    assert max(b.high for b in mins) == day.high and min(b.low for b in mins) == day.low
    assert math.isclose(sum(b.value for b in mins), day.value, rel_tol=1e-9)


def test_overseas_split_adjustment() -> None:
    m = market()
    raw = m.overseas_bars("NAS", "NVDA", date(2024, 6, 3), date(2024, 6, 14), "D", adjusted=False)
    adj = m.overseas_bars("NAS", "NVDA", date(2024, 6, 3), date(2024, 6, 14), "D", adjusted=True)
    for r, a in zip(raw, adj, strict=True):
        if r.local_date < date(2024, 6, 10):
            assert math.isclose(a.close, r.close / 10, abs_tol=1e-4) and a.volume == r.volume * 10
        else:
            assert a == r
    split_day = next(b for b in raw if b.local_date == date(2024, 6, 10))
    assert split_day.open < raw[0].close / 5  # the raw series drops by the ratio on the split day
