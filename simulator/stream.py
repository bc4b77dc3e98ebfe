"""The realtime trade tape of one instrument-day, pre-encoded for the wire.

The websocket server used to build every H0STCNT0 record field by field as the clock reached it
(~13 µs a record, most of the server's time at high sim speeds). Every field is a function of the
day's prints up to that one (running open/high/low, volume, value, buy/sell counts ...), so the
whole day is computed at once with numpy and encoded once per (code, day); streaming is then
"records [i, j) of the day", a list slice joined into a frame.

Pure: `encode_trades` maps columns to strings; `build_tape` adds the market look-ups; a server
keeps recent tapes in a `TapeCache`.
"""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from simulator.ticks import tick_size
from simulator.wire import dec, rate, sign_code

if TYPE_CHECKING:
    from simulator.market import Market, TickColumns

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

# A liquid large cap prints 30,000-60,000 times a day (~330 bytes a print: 10-20 MB a tape), a
# small cap a few thousand. 48 days cover a full 41-registration session (a cursor also keeps its
# own tape) at a few hundred MB at worst.
TAPE_CACHE_DAYS = 48
_HUNDREDTHS = 100_000
_SMALL_INTS = 100_000


@dataclass(frozen=True)
class TradeTape:
    """A day's H0STCNT0 records in print order, with what the stream needs to cut and to quote."""

    code: str
    day: date
    seconds: list[int]  # print times, seconds since midnight, ascending
    records: list[str]  # '^'-joined 46 fields per print
    cum_volume: list[int]  # accumulated volume after each print (the order book's field 53)

    def __len__(self) -> int:
        return len(self.records)

    def due(self, start: int, until_second: int) -> int:
        """End index of the prints from `start` stamped at or before `until_second`."""
        return bisect.bisect_right(self.seconds, until_second, lo=start)

    def chunks(self, start: int, end: int, size: int) -> Iterable[tuple[int, str]]:
        """(count, '^'-joined records) for prints [start, end), at most `size` a chunk."""
        for i in range(start, end, size):
            part = self.records[i : min(i + size, end)]
            yield len(part), "^".join(part)


def hhmmss(seconds: int) -> str:
    return _clock_strings()[seconds]


@cache
def _clock_strings() -> list[str]:
    """HHMMSS for every second of a day (built once: the hot path only indexes)."""
    return [f"{h:02d}{m:02d}{s:02d}" for h in range(24) for m in range(60) for s in range(60)]


@cache
def _hundredths() -> npt.NDArray[np.object_]:
    """ "0.00" ... "999.99" by hundredths: rates and ratios are looked up, not formatted."""
    return np.array([f"{k // 100}.{k % 100:02d}" for k in range(_HUNDREDTHS)], dtype=object)


def _ints(a: I64) -> list[str]:
    if a.shape[0] and int(a.min()) >= 0 and int(a.max()) < _SMALL_INTS:
        looked_up: list[str] = _small_ints()[a].tolist()
        return looked_up
    return list(map(str, a.tolist()))


@cache
def _small_ints() -> npt.NDArray[np.object_]:
    """str(i) for 0 <= i < _SMALL_INTS (counts and quantities are looked up)."""
    return np.array([str(i) for i in range(_SMALL_INTS)], dtype=object)


def _few_ints(a: I64) -> list[str]:
    """str() of a column with few distinct values (prices, differences): each formatted once."""
    values, inverse = np.unique(a, return_inverse=True)
    out: list[str] = np.array(_ints(values), dtype=object)[inverse].tolist()
    return out


def dec_column(x: F64) -> list[str]:
    """Two-place decimals exactly as `simulator.wire.dec` writes them.

    Values in [0, 1000) come from a table by rint(x * 100); that equals the correctly rounded
    decimal unless x * 100 sits within float noise of a half (a tie), and those few, like negative
    or large values, are formatted one by one."""
    y = x * 100.0
    k = np.rint(y)
    table_ok = (y >= 0) & (k < _HUNDREDTHS) & (np.abs(np.abs(y - np.trunc(y)) - 0.5) > 1e-6)
    out: list[str] = _hundredths()[np.where(table_ok, k, 0).astype(np.int64)].tolist()
    if not table_ok.all():
        for i in np.flatnonzero(~table_ok).tolist():
            out[i] = dec(float(x[i]))
    return out


def _pct(num: I64, base: I64 | int) -> F64:
    """num / base * 100, 0 where base is 0 (`simulator.wire.rate`), with no divide warnings."""
    num_f = num.astype(np.float64)
    base_f = np.broadcast_to(np.asarray(base, dtype=np.float64), num_f.shape)
    out = np.zeros_like(num_f)
    np.divide(num_f, base_f, out=out, where=base_f != 0)
    return out * 100.0


def _first_reached(new_extreme: npt.NDArray[np.bool_]) -> I64:
    """For each print, the index of the print that set the running extreme in force."""
    idx = np.where(new_extreme, np.arange(new_extreme.shape[0]), 0)
    return np.maximum.accumulate(idx)


def _signed(x: I64) -> list[str]:
    """ "sign^diff" (KIS sign code, then the difference) for a column of differences."""
    values, inverse = np.unique(x, return_inverse=True)
    segs = [f"{sign_code(v)}^{v}" for v in values.tolist()]
    out: list[str] = np.array(segs, dtype=object)[inverse].tolist()
    return out


def encode_trades(
    code: str, day: date, cols: TickColumns, prev_close: int, prev_volume: int, listed: int
) -> list[str]:
    """The 46 H0STCNT0 fields of every print of the day (kis-api.md §8.4), each record as the
    stream sends it when that print happens: running aggregates include the print itself.

    Same values and text as formatting each record field by field (a test holds the two equal);
    fields that depend on the price alone are formatted once per distinct price."""
    p = np.asarray(cols.price, dtype=np.int64)
    n = p.shape[0]
    if n == 0:
        return []
    q = np.asarray(cols.qty, dtype=np.int64)
    buy = np.asarray(cols.side) == 1
    volume = np.cumsum(q)
    value = np.cumsum(p * q)
    buy_count = np.cumsum(buy)
    sell_count = np.arange(1, n + 1) - buy_count
    buy_qty = np.cumsum(np.where(buy, q, 0))
    sell_qty = volume - buy_qty
    high = np.maximum.accumulate(p)
    low = np.minimum.accumulate(p)
    open_ = int(p[0])
    strength = np.zeros(n, dtype=np.float64)
    np.divide(buy_qty, sell_qty, out=strength, where=sell_qty > 0)
    strength *= 100.0  # buy/sell then x100, as the scalar formula rounds

    # price^sign^change^rate and ask^bid: functions of (price, side), formatted per distinct pair.
    levels, at_level = np.unique(p * 2 + buy, return_inverse=True)
    by_level = []
    for key in levels.tolist():
        price, is_buy = key >> 1, key & 1
        change = price - prev_close
        tick = tick_size(price)
        ask, bid = (
            (price, price - tick) if is_buy else (price + tick, price)
        )  # a buy lifts the offer
        by_level.append(
            (
                f"{price}^{sign_code(change)}^{change}^{dec(rate(change, prev_close))}",
                f"{ask}^{bid}",
            )
        )
    price_part = np.array([a for a, _ in by_level], dtype=object)[at_level].tolist()
    book_part = np.array([b for _, b in by_level], dtype=object)[at_level].tolist()

    clock = _clock_strings()
    stamps = [clock[s] for s in cols.seconds]
    stamps_arr = np.array(stamps, dtype=object)
    high_hour = stamps_arr[_first_reached(np.concatenate([[True], p[1:] > high[:-1]]))].tolist()
    low_hour = stamps_arr[_first_reached(np.concatenate([[True], p[1:] < low[:-1]]))].tolist()

    # Runs of fields that never change within the day are joined once.
    columns: list[list[str]] = [
        [code] * n,
        stamps,
        price_part,
        _vwap(value, volume),
        [str(open_)] * n,
        _few_ints(high),
        _few_ints(low),
        book_part,
        _few_ints(q),
        _ints(volume),
        _ints(value),
        _ints(sell_count),
        _ints(buy_count),
        _ints(buy_count - sell_count),
        dec_column(strength),
        _ints(sell_qty),
        _ints(buy_qty),
        ["1" if b else "5" for b in buy.tolist()],
        dec_column(_pct(buy_qty, volume)),
        dec_column(_pct(volume, prev_volume)),
        [stamps[0]] * n,
        _signed(p - open_),
        high_hour,
        _signed(p - high),
        low_hour,
        _signed(p - low),
        [f"{day:%Y%m%d}^20^N^0^0^0^0"] * n,
        dec_column(_pct(volume, listed)),
        [f"0^0.00^0^0^{prev_close}"] * n,
    ]
    return list(map("^".join, zip(*columns, strict=True)))


def _vwap(value: I64, volume: I64) -> list[str]:
    """Two-place VWAPs (positive, beyond the table's range): formatted one by one."""
    return list(map("{:.2f}".format, (value / volume).tolist()))


def build_tape(market: Market, code: str, day: date) -> TradeTape:
    """The tape of (code, day); empty when the instrument did not trade that day."""
    cols = market.tick_columns(code, day)
    if cols is None:
        return TradeTape(code, day, [], [], [])
    bar = market.daily_bar(code, day)
    prev = market.daily_bar(code, market.calendar.previous_trading_day(day))
    records = encode_trades(
        code,
        day,
        cols,
        bar.prev_close if bar else 0,
        prev.volume if prev else 0,
        market.listed_shares(code, day),
    )
    return TradeTape(code, day, cols.seconds, records, np.cumsum(cols.qty).tolist())


class TapeCache:
    """One market's tapes by (code, day), the least recently used dropped beyond `size`. Owned by
    a server (not module-global), so a stopped simulator's market is not kept alive."""

    def __init__(self, market: Market, size: int = TAPE_CACHE_DAYS) -> None:
        self.market = market
        self._size = size
        self._tapes: OrderedDict[tuple[str, date], TradeTape] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, code: str, day: date) -> TradeTape:
        key = (code, day)
        with self._lock:
            tape = self._tapes.get(key)
            if tape is not None:
                self._tapes.move_to_end(key)
                return tape
        tape = build_tape(
            self.market, code, day
        )  # outside the lock: pure, a race only builds twice
        with self._lock:
            self._tapes[key] = tape
            while len(self._tapes) > self._size:
                self._tapes.popitem(last=False)
        return tape
