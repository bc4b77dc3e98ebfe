"""The pre-encoded realtime tape (simulator/stream.py): every H0STCNT0 record equals one built
field by field from the day's prints (kis-api.md §8.4), and the decimal shortcut formats exactly
like `simulator.wire.dec`."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.market import Market, Tick
from simulator.stream import TapeCache, build_tape, dec_column, hhmmss
from simulator.ticks import tick_size
from simulator.wire import dec

MARKET = Market()


def _pct(a: float, b: float) -> float:
    return 0.0 if b == 0 else a / b * 100.0


def _sign(x: int) -> str:
    return "2" if x > 0 else "5" if x < 0 else "3"


def reference_records(m: Market, code: str, day: date) -> list[str]:
    """H0STCNT0 records the slow way: running aggregates updated print by print."""
    bar = m.daily_bar(code, day)
    prev = m.daily_bar(code, m.calendar.previous_trading_day(day))
    base, prev_volume, listed = (
        bar.prev_close if bar else 0,
        prev.volume if prev else 0,
        m.listed_shares(code, day),
    )
    out: list[str] = []
    volume = value = buys = sells = buy_qty = sell_qty = 0
    high = low = 0
    open_hour = high_hour = low_hour = ""
    t: Tick
    for t in m.ticks(code, day):
        stamp, p = t.time.strftime("%H%M%S"), t.price
        if not volume:
            open_, high, low, open_hour, high_hour, low_hour = p, p, p, stamp, stamp, stamp
        if p > high:
            high, high_hour = p, stamp
        if p < low:
            low, low_hour = p, stamp
        volume, value = volume + t.qty, value + p * t.qty
        if t.side == 1:
            buys, buy_qty = buys + 1, buy_qty + t.qty
        else:
            sells, sell_qty = sells + 1, sell_qty + t.qty
        ask, bid = (p, p - tick_size(p)) if t.side == 1 else (p + tick_size(p), p)
        chg = p - base
        fields = [
            code,
            stamp,
            p,
            _sign(chg),
            chg,
            dec(_pct(chg, base)),
            dec(value / volume),
            open_,
            high,
            low,
            ask,
            bid,
            t.qty,
            volume,
            value,
            sells,
            buys,
            buys - sells,
            dec(buy_qty / sell_qty * 100 if sell_qty else 0),
            sell_qty,
            buy_qty,
            t.side,
            dec(_pct(buy_qty, volume)),
            dec(_pct(volume, prev_volume)),
            open_hour,
            _sign(p - open_),
            p - open_,
            high_hour,
            _sign(p - high),
            p - high,
            low_hour,
            _sign(p - low),
            p - low,
            f"{day:%Y%m%d}",
            "20",
            "N",
            "0",
            "0",
            "0",
            "0",
            dec(_pct(volume, listed)),
            "0",
            "0.00",
            "0",
            "0",
            base,
        ]
        out.append("^".join(map(str, fields)))
    return out


@pytest.mark.parametrize(
    ("code", "day"),
    [
        ("005930", date(2026, 11, 24)),
        ("000660", date(2026, 11, 23)),
        ("035720", date(2020, 3, 19)),  # a crash day: negative changes and rates
        ("051910", date(2026, 1, 2)),  # the year's late open
    ],
)
def test_tape_equals_records_built_print_by_print(code: str, day: date) -> None:
    tape = build_tape(MARKET, code, day)
    expected = reference_records(MARKET, code, day)
    assert len(expected) > 100 and tape.records == expected
    assert all(len(r.split("^")) == 46 for r in tape.records[:50])
    assert tape.seconds == sorted(tape.seconds) and len(tape.seconds) == len(tape.records)
    qty = [t.qty for t in MARKET.ticks(code, day)]
    assert tape.cum_volume[-1] == sum(qty) == MARKET.daily_bar(code, day).volume


def test_a_day_without_prints_is_an_empty_tape() -> None:
    tape = build_tape(MARKET, "005930", date(2026, 11, 22))  # a Sunday
    assert len(tape) == 0 and list(tape.chunks(0, 0, 100)) == []


def test_due_and_chunks_cut_the_tape() -> None:
    tape = build_tape(MARKET, "005930", date(2026, 11, 24))
    ten_thirty = 10 * 3600 + 30 * 60
    end = tape.due(0, ten_thirty)
    assert tape.seconds[end - 1] <= ten_thirty < tape.seconds[end]
    assert (
        tape.due(end, ten_thirty) == end
        and tape.due(0, 86_400) == len(tape)
        and tape.due(0, -1) == 0
    )
    chunks = list(tape.chunks(3, end, 100))
    assert [n for n, _ in chunks[:-1]] == [100] * (len(chunks) - 1) and sum(
        n for n, _ in chunks
    ) == end - 3
    assert "^".join(p for _, p in chunks) == "^".join(tape.records[3:end])
    assert hhmmss(ten_thirty) == "103000" and hhmmss(0) == "000000" and hhmmss(86_399) == "235959"


def test_tape_cache_reuses_and_stays_bounded() -> None:
    cache = TapeCache(MARKET, size=2)
    days = [date(2026, 11, 19), date(2026, 11, 20), date(2026, 11, 23)]
    first = cache.get("005930", days[0])
    assert cache.get("005930", days[0]) is first  # a hit hands back the same records
    cache.get("005930", days[1])
    cache.get("005930", days[2])  # evicts the least recently used: days[0]
    again = cache.get("005930", days[0])
    assert again is not first and again.records == first.records


# Ties of the third decimal (0.125, 2.675 ...), their float neighbours, negatives and large values.
_hundredths = st.integers(-(10**9), 10**9).map(lambda k: k / 100)
_ties = st.integers(0, 99_999).map(lambda k: (k + 0.5) / 100)
_values = st.one_of(
    _hundredths,
    _ties,
    st.floats(-1e6, 1e6, allow_nan=False),
    st.floats(0, 2000, allow_nan=False),
    _ties.map(lambda x: float(np.nextafter(x, 0))),
    _ties.map(lambda x: float(np.nextafter(x, 1e9))),
)


@given(st.lists(_values, min_size=1, max_size=40))
def test_dec_column_formats_exactly_like_dec(values: list[float]) -> None:
    assert dec_column(np.array(values, dtype=np.float64)) == [dec(v) for v in values]
