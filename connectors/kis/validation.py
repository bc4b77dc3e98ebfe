"""Argument checks shared by every endpoint: refuse a bad symbol, date or choice before sending.

One symbol rule for quotes and orders alike (kis-api.md §9.4): a 6-character short code starting
with a digit (newer listings carry letters, e.g. 0126Z0; ELWs like 57K924), or an ETN's Q + 6.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime

from connectors.kis.errors import KisInvalidArgument

SYMBOL = re.compile(r"[0-9][0-9A-Z]{5}|Q[0-9A-Z]{6}")
_INDEX = re.compile(r"[0-9]{4}")
_OVERSEAS_SYMBOL = re.compile(r"[A-Z0-9][A-Z0-9.\-/]{0,15}")
PERIODS = ("D", "W", "M", "Y")


def is_krx_symbol(text: str) -> bool:
    return SYMBOL.fullmatch(text) is not None


def check_symbol(symbol: object) -> str:
    if not isinstance(symbol, str) or not is_krx_symbol(symbol):
        raise KisInvalidArgument(
            f"symbol must be a 6-character KRX short code like '005930' (ETN: 'Q500001'), got {symbol!r}"
        )
    return symbol


def check_index_code(code: object) -> str:
    if not isinstance(code, str) or not _INDEX.fullmatch(code):
        raise KisInvalidArgument(
            f"index code must be 4 digits like '0001' (KOSPI) or '1001' (KOSDAQ), got {code!r}"
        )
    return code


def check_market_scope(market: object) -> str:
    if not isinstance(market, str) or not _INDEX.fullmatch(market):
        raise KisInvalidArgument(
            f"market must be '0000' (all) or an index code like '0001', '1001', '2001', got {market!r}"
        )
    return market


def check_day(value: object, name: str) -> date:
    # datetime is a date subclass; a time of day here would be silently dropped, so refuse it.
    if not isinstance(value, date) or isinstance(value, datetime):
        raise KisInvalidArgument(f"{name} must be a datetime.date, got {value!r}")
    return value


def check_range(start: object, end: object) -> tuple[date, date]:
    s, e = check_day(start, "start"), check_day(end, "end")
    if s > e:
        raise KisInvalidArgument(f"start {s} is after end {e}")
    return s, e


def check_period(period: object, allowed: tuple[str, ...] | Mapping[str, str] = PERIODS) -> str:
    if not isinstance(period, str) or period not in allowed:
        raise KisInvalidArgument(f"period must be one of {sorted(allowed)}, got {period!r}")
    return period


def check_choice(value: object, name: str, choices: Mapping[str, str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise KisInvalidArgument(f"{name} must be one of {sorted(choices)}, got {value!r}")
    return choices[value]


def check_exchange(exchange: object, allowed: frozenset[str] | Mapping[str, str]) -> str:
    if not isinstance(exchange, str) or exchange not in allowed:
        raise KisInvalidArgument(
            f"exchange must be one of {sorted(allowed)} (KIS quote codes), got {exchange!r}"
        )
    return exchange


def check_overseas_symbol(symbol: object) -> str:
    if not isinstance(symbol, str) or not _OVERSEAS_SYMBOL.fullmatch(symbol):
        raise KisInvalidArgument(
            f"overseas symbol must be an upper-case ticker like 'AAPL', got {symbol!r}"
        )
    return symbol


def check_positive(value: object, name: str, maximum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= maximum:
        raise KisInvalidArgument(f"{name} must be an integer in 1..{maximum}, got {value!r}")
    return value


def opt_number(value: int | None, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise KisInvalidArgument(f"{name} must be a non-negative integer or None, got {value!r}")
    return str(value)
