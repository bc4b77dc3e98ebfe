"""Market data: one method per KIS quote endpoint, each returning a polars frame of its dataset.

`MarketDataMixin` (sync) and `AsyncMarketDataMixin` (async) are composed into `KisClient` /
`AsyncKisClient` by connectors/kis/api.py. Every method validates its arguments before anything is
sent, builds a `Job` (endpoint + lane + pager, pure and shared by both mixins), and runs it with
the client's `call`. Parsing lives in parsing.py, range planning in windows.py.

Lanes: ranges (backfills) go on "backfill"; current prices, rankings and today's bars on "live".
"""

from __future__ import annotations

import re
from collections.abc import Generator, Mapping
from datetime import date, datetime, time
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, Protocol
from zoneinfo import ZoneInfo

import polars as pl

from connectors.kis import parsing
from connectors.kis.endpoints import Endpoint, Lane
from connectors.kis.errors import KisNoData, KisPagingError, KisRequestError
from connectors.kis.windows import (
    CalendarDays,
    DateWindows,
    Job,
    KeyedMinutes,
    Pager,
    PastMinutes,
    Request,
    SinglePage,
    TodayMinutes,
    hms,
    ymd,
)

if TYPE_CHECKING:
    from connectors.kis.core import KisResponse

KST = ZoneInfo("Asia/Seoul")
_Q = "/uapi/domestic-stock/v1/quotations"
_RANK = "/uapi/domestic-stock/v1/ranking"
_OVERSEAS = "/uapi/overseas-price/v1/quotations"

# --- endpoints (kis-api.md §5, §6) ------------------------------------------------------------------
INQUIRE_PRICE = Endpoint(
    "inquire-price", "GET", f"{_Q}/inquire-price", "FHKST01010100", "FHKST01010100"
)
INQUIRE_DAILY_PRICE = Endpoint(
    "inquire-daily-price", "GET", f"{_Q}/inquire-daily-price", "FHKST01010400", "FHKST01010400"
)
PERIOD_CHART = Endpoint(
    "inquire-daily-itemchartprice",
    "GET",
    f"{_Q}/inquire-daily-itemchartprice",
    "FHKST03010100",
    "FHKST03010100",
)
TODAY_MINUTE_CHART = Endpoint(
    "inquire-time-itemchartprice",
    "GET",
    f"{_Q}/inquire-time-itemchartprice",
    "FHKST03010200",
    "FHKST03010200",
)
PAST_MINUTE_CHART = Endpoint(
    "inquire-time-dailychartprice",
    "GET",
    f"{_Q}/inquire-time-dailychartprice",
    "FHKST03010230",
    None,
)
INDEX_CHART = Endpoint(
    "inquire-daily-indexchartprice",
    "GET",
    f"{_Q}/inquire-daily-indexchartprice",
    "FHKUP03500100",
    "FHKUP03500100",
)
INDEX_MINUTE_CHART = Endpoint(
    "inquire-time-indexchartprice",
    "GET",
    f"{_Q}/inquire-time-indexchartprice",
    "FHKUP03500200",
    None,
)
VOLUME_RANK = Endpoint("volume-rank", "GET", f"{_Q}/volume-rank", "FHPST01710000", None)
FLUCTUATION_RANK = Endpoint(
    "ranking/fluctuation", "GET", f"{_RANK}/fluctuation", "FHPST01700000", None
)
MARKET_CAP_RANK = Endpoint(
    "ranking/market-cap", "GET", f"{_RANK}/market-cap", "FHPST01740000", None
)
HOLIDAY_CHECK = Endpoint("chk-holiday", "GET", f"{_Q}/chk-holiday", "CTCA0903R", None)
OVERSEAS_DAILY = Endpoint(
    "overseas-dailyprice", "GET", f"{_OVERSEAS}/dailyprice", "HHDFS76240000", "HHDFS76240000"
)
OVERSEAS_MINUTE_CHART = Endpoint(
    "overseas-inquire-time-itemchartprice",
    "GET",
    f"{_OVERSEAS}/inquire-time-itemchartprice",
    "HHDFS76950200",
    None,
)
ENDPOINTS: tuple[Endpoint, ...] = (
    INQUIRE_PRICE,
    INQUIRE_DAILY_PRICE,
    PERIOD_CHART,
    TODAY_MINUTE_CHART,
    PAST_MINUTE_CHART,
    INDEX_CHART,
    INDEX_MINUTE_CHART,
    VOLUME_RANK,
    FLUCTUATION_RANK,
    MARKET_CAP_RANK,
    HOLIDAY_CHECK,
    OVERSEAS_DAILY,
    OVERSEAS_MINUTE_CHART,
)

# Rows per call (kis-api.md §5.0, §6): the pagers stop on a shorter page.
PERIOD_PAGE = 100
INDEX_PAGE = 50
TODAY_MINUTE_PAGE = 30
PAST_MINUTE_PAGE = 120
OVERSEAS_DAILY_PAGE = 100
OVERSEAS_MINUTE_PAGE = 120

KRX = "J"  # FID_COND_MRKT_DIV_CODE: KRX; the datasets do not key on the venue, so one venue only
Period = Literal["D", "W", "M", "Y"]
PERIODS = ("D", "W", "M", "Y")
OVERSEAS_PERIODS = {"D": "0", "W": "1", "M": "2"}
# Quote exchange codes dailyprice accepts (the US daytime codes are minute-bars only).
OVERSEAS_DAILY_EXCHANGES = frozenset(parsing.EXCHANGE_ZONES) - {"BAY", "BAQ", "BAA"}

VOLUME_SORTS = {
    "volume": "0",
    "volume_increase": "1",
    "turnover": "2",
    "value": "3",
    "value_turnover": "4",
}
FLUCTUATION_SORTS = {
    "rise": "0",
    "fall": "1",
    "rise_from_open": "2",
    "fall_from_open": "3",
    "volatility": "4",
}
DIVISIONS = {"all": "0", "common": "1", "preferred": "2"}


class KisInvalidArgument(KisRequestError):
    """A market-data argument was refused before anything was sent (bad symbol, dates, period)."""


# --- validation -------------------------------------------------------------------------------------
_SYMBOL = re.compile(r"(?:[0-9A-Z]{6}|Q[0-9]{6})")  # 6-char short code; ETNs carry a Q prefix
_INDEX = re.compile(r"[0-9]{4}")
_OVERSEAS_SYMBOL = re.compile(r"[A-Z0-9][A-Z0-9.\-/]{0,15}")


def _bad(message: str) -> KisInvalidArgument:
    return KisInvalidArgument(message)


def check_symbol(symbol: object) -> str:
    if not isinstance(symbol, str) or not _SYMBOL.fullmatch(symbol):
        raise _bad(
            f"symbol must be a 6-character KRX short code like '005930' (ETN: 'Q500001'), got {symbol!r}"
        )
    return symbol


def check_index_code(code: object) -> str:
    if not isinstance(code, str) or not _INDEX.fullmatch(code):
        raise _bad(
            f"index code must be 4 digits like '0001' (KOSPI) or '1001' (KOSDAQ), got {code!r}"
        )
    return code


def check_market_scope(market: object) -> str:
    if not isinstance(market, str) or not _INDEX.fullmatch(market):
        raise _bad(
            f"market must be '0000' (all) or an index code like '0001', '1001', '2001', got {market!r}"
        )
    return market


def check_day(value: object, name: str) -> date:
    # datetime is a date subclass; a time of day here would be silently dropped, so refuse it.
    if not isinstance(value, date) or isinstance(value, datetime):
        raise _bad(f"{name} must be a datetime.date, got {value!r}")
    return value


def check_range(start: object, end: object) -> tuple[date, date]:
    s, e = check_day(start, "start"), check_day(end, "end")
    if s > e:
        raise _bad(f"start {s} is after end {e}")
    return s, e


def check_period(period: object, allowed: tuple[str, ...] | Mapping[str, str] = PERIODS) -> str:
    if period not in allowed:
        raise _bad(f"period must be one of {sorted(allowed)}, got {period!r}")
    assert isinstance(period, str)
    return period


def check_choice(value: object, name: str, choices: Mapping[str, str]) -> str:
    if value not in choices:
        raise _bad(f"{name} must be one of {sorted(choices)}, got {value!r}")
    return choices[value]  # type: ignore[index]


def check_exchange(exchange: object, allowed: frozenset[str] | Mapping[str, str]) -> str:
    if exchange not in allowed:
        raise _bad(f"exchange must be one of {sorted(allowed)} (KIS quote codes), got {exchange!r}")
    assert isinstance(exchange, str)
    return exchange


def check_overseas_symbol(symbol: object) -> str:
    if not isinstance(symbol, str) or not _OVERSEAS_SYMBOL.fullmatch(symbol):
        raise _bad(f"overseas symbol must be an upper-case ticker like 'AAPL', got {symbol!r}")
    return symbol


def check_positive(value: object, name: str, maximum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= maximum:
        raise _bad(f"{name} must be an integer in 1..{maximum}, got {value!r}")
    return value


def _opt_number(value: int | None, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _bad(f"{name} must be a non-negative integer or None, got {value!r}")
    return str(value)


def _now_kst() -> datetime:
    return datetime.now(KST)


# --- jobs: pure request plans shared by the sync and async mixins -----------------------------------
_EMPTY_CHART = {"output1": {}, "output2": []}


def period_bars_job(symbol: str, start: date, end: date, period: str, adjusted: bool) -> Job:
    symbol = check_symbol(symbol)
    start, end = check_range(start, end)
    period = check_period(period)

    def params(cursor: date) -> dict[str, str]:
        return {
            "FID_COND_MRKT_DIV_CODE": KRX,
            "FID_INPUT_ISCD": symbol,
            "FID_INPUT_DATE_1": ymd(start),
            "FID_INPUT_DATE_2": ymd(cursor),
            "FID_PERIOD_DIV_CODE": period,
            # On this API 0 = adjusted, 1 = original (the opposite of inquire-daily-price).
            "FID_ORG_ADJ_PRC": "0" if adjusted else "1",
        }

    parse = partial(parsing.parse_period_bars, symbol=symbol, period=period, adjusted=adjusted)
    return Job(
        PERIOD_CHART,
        "backfill",
        lambda: DateWindows(
            parse,
            params,
            start=start,
            end=end,
            period=period,
            page_size=PERIOD_PAGE,
            key=("date",),
            what=f"period_bars {symbol} {period} {start}..{end}",
        ),
        empty=_EMPTY_CHART,
    )


def daily_price_job(symbol: str, period: str, adjusted: bool) -> Job:
    symbol = check_symbol(symbol)
    period = check_period(period, ("D", "W", "M"))
    params = {
        "FID_COND_MRKT_DIV_CODE": KRX,
        "FID_INPUT_ISCD": symbol,
        "FID_PERIOD_DIV_CODE": period,
        # On this API 1 = adjusted, 0 = not adjusted (workbook; kis-api.md §10.2).
        "FID_ORG_ADJ_PRC": "1" if adjusted else "0",
    }
    parse = partial(parsing.parse_daily_price, symbol=symbol, period=period, adjusted=adjusted)
    return Job(
        INQUIRE_DAILY_PRICE,
        "live",
        lambda: SinglePage(parse, params, what=f"daily_price {symbol}", key=("date",)),
        empty={"output": []},
    )


def current_price_job(symbol: str) -> Job:
    symbol = check_symbol(symbol)
    params = {"FID_COND_MRKT_DIV_CODE": KRX, "FID_INPUT_ISCD": symbol}
    parse = partial(parsing.parse_current_price, symbol=symbol)
    return Job(
        INQUIRE_PRICE, "live", lambda: SinglePage(parse, params, what=f"current_price {symbol}")
    )


def today_minutes_job(symbol: str, until: time | None, now: datetime) -> Job:
    symbol = check_symbol(symbol)
    if until is not None and not isinstance(until, time):
        raise _bad(f"until must be a datetime.time, got {until!r}")
    # A time after "now" behaves like now (workbook), so by default ask up to at least the close:
    # that is right whatever clock the server runs on (a simulator may lag the wall clock).
    first = until or max(now.astimezone(KST).time().replace(microsecond=0), time(15, 30))

    def params(cursor: time) -> dict[str, str]:
        return {
            "FID_ETC_CLS_CODE": "",
            "FID_COND_MRKT_DIV_CODE": KRX,
            "FID_INPUT_ISCD": symbol,
            "FID_INPUT_HOUR_1": hms(cursor),
            "FID_PW_DATA_INCU_YN": "N",
        }

    parse = partial(parsing.parse_minute_bars, symbol=symbol)
    return Job(
        TODAY_MINUTE_CHART,
        "live",
        lambda: TodayMinutes(
            parse,
            params,
            until=first,
            page_size=TODAY_MINUTE_PAGE,
            key=("ts",),
            what=f"minute_bars {symbol} today",
        ),
        empty=_EMPTY_CHART,
    )


def past_minutes_job(symbol: str, start_day: date, end_day: date) -> Job:
    symbol = check_symbol(symbol)
    start_day, end_day = check_range(start_day, end_day)

    def params(day: date, cursor: time) -> dict[str, str]:
        return {
            "FID_COND_MRKT_DIV_CODE": KRX,
            "FID_INPUT_ISCD": symbol,
            "FID_INPUT_HOUR_1": hms(cursor),
            "FID_INPUT_DATE_1": ymd(day),
            "FID_PW_DATA_INCU_YN": "Y",
            # The table says blank; the example sends N. Blank is what the table requires.
            "FID_FAKE_TICK_INCU_YN": "",
        }

    parse = partial(parsing.parse_minute_bars, symbol=symbol, past_days=True)
    return Job(
        PAST_MINUTE_CHART,
        "backfill",
        lambda: PastMinutes(
            parse,
            params,
            start_day=start_day,
            end_day=end_day,
            page_size=PAST_MINUTE_PAGE,
            key=("ts",),
            what=f"minute_bars {symbol} {start_day}..{end_day}",
        ),
        empty=_EMPTY_CHART,
    )


def index_bars_job(index_code: str, start: date, end: date, period: str) -> Job:
    code = check_index_code(index_code)
    start, end = check_range(start, end)
    period = check_period(period)

    def params(cursor: date) -> dict[str, str]:
        return {
            "FID_COND_MRKT_DIV_CODE": "U",
            "FID_INPUT_ISCD": code,
            "FID_INPUT_DATE_1": ymd(start),
            "FID_INPUT_DATE_2": ymd(cursor),
            "FID_PERIOD_DIV_CODE": period,
        }

    parse = partial(parsing.parse_index_bars, index_code=code, period=period)
    return Job(
        INDEX_CHART,
        "backfill",
        lambda: DateWindows(
            parse,
            params,
            start=start,
            end=end,
            period=period,
            page_size=INDEX_PAGE,
            key=("date",),
            what=f"index_bars {code} {period} {start}..{end}",
        ),
        empty=_EMPTY_CHART,
    )


def index_minutes_job(index_code: str, interval_s: int, include_past: bool) -> Job:
    code = check_index_code(index_code)
    interval_s = check_positive(interval_s, "interval_s", 3600)
    params = {
        "FID_COND_MRKT_DIV_CODE": "U",
        "FID_ETC_CLS_CODE": "0",
        "FID_INPUT_ISCD": code,
        "FID_INPUT_HOUR_1": str(interval_s),  # here HOUR_1 is the bar length in seconds
        "FID_PW_DATA_INCU_YN": "Y" if include_past else "N",
    }
    parse = partial(parsing.parse_index_minute_bars, index_code=code)
    # One call (at most 102 bars): the API documents no continuation.
    return Job(
        INDEX_MINUTE_CHART,
        "live",
        lambda: SinglePage(parse, params, what=f"index_minute_bars {code}", key=("ts",)),
        empty=_EMPTY_CHART,
    )


def holidays_job(start: date, end: date) -> Job:
    start, end = check_range(start, end)

    def params(cursor: date) -> dict[str, str]:
        return {"BASS_DT": ymd(cursor), "CTX_AREA_NK": "", "CTX_AREA_FK": ""}

    return Job(
        HOLIDAY_CHECK,
        "backfill",
        lambda: CalendarDays(
            parsing.parse_holidays, params, start=start, end=end, what=f"holidays {start}..{end}"
        ),
        empty={"output": []},
    )


def _ranking_job(
    endpoint: Endpoint, ranking: str, market: str, params: dict[str, str], now: datetime
) -> Job:
    # The snapshot is stamped when it is taken, to the second (the key of the rankings table).
    snapshot = now.astimezone(KST).replace(microsecond=0)
    parse = partial(parsing.parse_ranking, ranking=ranking, market=market, snapshot_ts=snapshot)
    return Job(
        endpoint,
        "live",
        lambda: SinglePage(parse, params, what=f"{ranking} ranking {market}", key=("rank",)),
        empty={"output": []},
    )


def volume_rank_job(
    market: str,
    sort: str,
    division: str,
    min_price: int | None,
    max_price: int | None,
    min_volume: int | None,
    now: datetime,
) -> Job:
    market = check_market_scope(market)
    params = {
        "FID_COND_MRKT_DIV_CODE": KRX,
        "FID_COND_SCR_DIV_CODE": "20171",
        "FID_INPUT_ISCD": market,
        "FID_DIV_CLS_CODE": check_choice(division, "division", DIVISIONS),
        "FID_BLNG_CLS_CODE": check_choice(sort, "sort", VOLUME_SORTS),
        "FID_TRGT_CLS_CODE": "111111111",  # include every margin class
        "FID_TRGT_EXLS_CLS_CODE": "0000000000",  # exclude nothing
        "FID_INPUT_PRICE_1": _opt_number(min_price, "min_price"),
        "FID_INPUT_PRICE_2": _opt_number(max_price, "max_price"),
        "FID_VOL_CNT": _opt_number(min_volume, "min_volume"),
        "FID_INPUT_DATE_1": "",
    }
    return _ranking_job(VOLUME_RANK, "volume", market, params, now)


def fluctuation_rank_job(
    market: str,
    sort: str,
    days: int,
    min_price: int | None,
    max_price: int | None,
    min_volume: int | None,
    now: datetime,
) -> Job:
    market = check_market_scope(market)
    sort_code = check_choice(sort, "sort", FLUCTUATION_SORTS)
    if not isinstance(days, int) or isinstance(days, bool) or days < 0:
        raise _bad(f"days must be 0 (today) or a positive number of days, got {days!r}")
    # The spec names these parameters in lowercase (unlike volume-rank).
    params = {
        "fid_cond_mrkt_div_code": KRX,
        "fid_cond_scr_div_code": "20170",
        "fid_input_iscd": market,
        "fid_rank_sort_cls_code": sort_code,
        "fid_input_cnt_1": str(days),
        # Rise/fall measured against the previous close; the other sorts take 0.
        "fid_prc_cls_code": "1" if sort_code in {"0", "1"} else "0",
        "fid_input_price_1": _opt_number(min_price, "min_price"),
        "fid_input_price_2": _opt_number(max_price, "max_price"),
        "fid_vol_cnt": _opt_number(min_volume, "min_volume"),
        "fid_trgt_cls_code": "0",
        "fid_trgt_exls_cls_code": "0",
        "fid_div_cls_code": "0",
        "fid_rsfl_rate1": "",
        "fid_rsfl_rate2": "",
    }
    return _ranking_job(FLUCTUATION_RANK, "fluctuation", market, params, now)


def market_cap_rank_job(
    market: str,
    division: str,
    min_price: int | None,
    max_price: int | None,
    min_volume: int | None,
    now: datetime,
) -> Job:
    market = check_market_scope(market)
    params = {
        "fid_input_price_2": _opt_number(max_price, "max_price"),
        "fid_cond_mrkt_div_code": KRX,
        "fid_cond_scr_div_code": "20174",
        "fid_div_cls_code": check_choice(division, "division", DIVISIONS),
        "fid_input_iscd": market,
        "fid_trgt_cls_code": "0",
        "fid_trgt_exls_cls_code": "0",
        "fid_input_price_1": _opt_number(min_price, "min_price"),
        "fid_vol_cnt": _opt_number(min_volume, "min_volume"),
    }
    return _ranking_job(MARKET_CAP_RANK, "market_cap", market, params, now)


def overseas_bars_job(
    exchange: str, symbol: str, start: date, end: date, period: str, adjusted: bool
) -> Job:
    exchange = check_exchange(exchange, OVERSEAS_DAILY_EXCHANGES)
    symbol = check_overseas_symbol(symbol)
    start, end = check_range(start, end)
    gubn = OVERSEAS_PERIODS[check_period(period, OVERSEAS_PERIODS)]

    def params(cursor: date) -> dict[str, str]:
        return {
            "AUTH": "",
            "EXCD": exchange,
            "SYMB": symbol,
            "GUBN": gubn,
            "BYMD": ymd(cursor),
            "MODP": "1" if adjusted else "0",
            "KEYB": "",
        }

    parse = partial(
        parsing.parse_overseas_bars,
        exchange=exchange,
        symbol=symbol,
        period=period,
        adjusted=adjusted,
    )
    return Job(
        OVERSEAS_DAILY,
        "backfill",
        lambda: DateWindows(
            parse,
            params,
            start=start,
            end=end,
            period=period,
            page_size=OVERSEAS_DAILY_PAGE,
            key=("date",),
            bounded_below=False,
            what=f"overseas_bars {exchange}:{symbol} {period} {start}..{end}",
        ),
        empty=_EMPTY_CHART,
    )


def overseas_minutes_job(
    exchange: str, symbol: str, interval_min: int, since: datetime | None
) -> Job:
    exchange = check_exchange(exchange, parsing.EXCHANGE_ZONES)
    symbol = check_overseas_symbol(symbol)
    interval_min = check_positive(interval_min, "interval_min", 60)
    if since is not None and (not isinstance(since, datetime) or since.tzinfo is None):
        raise _bad(f"since must be a timezone-aware datetime or None, got {since!r}")

    def params(next_flag: str, keyb: str) -> dict[str, str]:
        return {
            "AUTH": "",
            "EXCD": exchange,
            "SYMB": symbol,
            "NMIN": str(interval_min),
            "PINC": "1",  # include previous days: required when continuing
            "NEXT": next_flag,
            "NREC": str(OVERSEAS_MINUTE_PAGE),
            "FILL": "",
            "KEYB": keyb,
        }

    parse = partial(parsing.parse_overseas_minute_bars, exchange=exchange, symbol=symbol)
    return Job(
        OVERSEAS_MINUTE_CHART,
        "backfill",
        lambda: KeyedMinutes(
            parse,
            params,
            since=since,
            key=("ts",),
            what=f"overseas_minute_bars {exchange}:{symbol}",
        ),
        empty=_EMPTY_CHART,
    )


def _minute_job(
    symbol: str,
    day: date | None,
    start_day: date | None,
    end_day: date | None,
    until: time | None,
    now: datetime,
) -> Job:
    if day is not None and (start_day is not None or end_day is not None):
        raise _bad("pass either day or start_day/end_day, not both")
    if (start_day is None) != (end_day is None):
        raise _bad("start_day and end_day go together")
    if day is not None:
        return past_minutes_job(symbol, day, day)
    if start_day is not None and end_day is not None:
        return past_minutes_job(symbol, start_day, end_day)
    return today_minutes_job(symbol, until, now)


# --- drivers ---------------------------------------------------------------------------------------
class _SyncCaller(Protocol):
    def call(
        self,
        endpoint: Endpoint,
        *,
        params: Mapping[str, str] | None = ...,
        tr_cont: str = ...,
        lane: Lane = ...,
    ) -> KisResponse: ...


class _AsyncCaller(Protocol):
    async def call(
        self,
        endpoint: Endpoint,
        *,
        params: Mapping[str, str] | None = ...,
        tr_cont: str = ...,
        lane: Lane = ...,
    ) -> KisResponse: ...


def _job_flow(job: Job) -> Generator[Request, KisResponse | None, Any]:
    """A job's control flow, sans-I/O: yields each page's request and receives its response (None
    when KIS said "nothing to show"); refetches the whole range on a KisPagingError."""
    for attempt in range(1, job.attempts + 1):
        pager: Pager = job.pager()
        try:
            while (request := pager.request()) is not None:
                response = yield request
                if response is None:  # "nothing to show" is an empty page, not a failure
                    assert job.empty is not None
                    pager.feed(job.empty, "")
                else:
                    pager.feed(response.body, response.tr_cont)
            return pager.result()
        except KisPagingError:
            if attempt == job.attempts:
                raise
    raise AssertionError("unreachable")


def run_job(client: _SyncCaller, job: Job) -> Any:
    """Drive a job's flow with blocking calls."""
    flow = _job_flow(job)
    try:
        request = next(flow)
        while True:
            try:
                response: KisResponse | None = client.call(
                    job.endpoint,
                    params=request.params,
                    tr_cont=request.tr_cont,
                    lane=job.lane,  # type: ignore[arg-type]
                )
            except KisNoData:
                if job.empty is None:
                    raise
                response = None
            request = flow.send(response)
    except StopIteration as done:
        return done.value


async def arun_job(client: _AsyncCaller, job: Job) -> Any:
    """The async twin of run_job (same flow; only the awaiting differs)."""
    flow = _job_flow(job)
    try:
        request = next(flow)
        while True:
            try:
                response: KisResponse | None = await client.call(
                    job.endpoint,
                    params=request.params,
                    tr_cont=request.tr_cont,
                    lane=job.lane,  # type: ignore[arg-type]
                )
            except KisNoData:
                if job.empty is None:
                    raise
                response = None
            request = flow.send(response)
    except StopIteration as done:
        return done.value


# --- the mixins ------------------------------------------------------------------------------------
class MarketDataMixin:
    """Market-data methods of `KisClient` (needs the core's `call`)."""

    def holidays(self, start: date, end: date) -> pl.DataFrame:
        """KRX calendar days in [start, end] (HOLIDAYS); `market_open` says whether it trades."""
        return run_job(self, holidays_job(start, end))  # type: ignore[arg-type]

    def period_bars(
        self, symbol: str, start: date, end: date, period: Period = "D", adjusted: bool = True
    ) -> pl.DataFrame:
        """Stock bars in [start, end] (PERIOD_BARS), 100 per call, oldest first."""
        return run_job(self, period_bars_job(symbol, start, end, period, adjusted))  # type: ignore[arg-type]

    def daily_price(
        self, symbol: str, period: Literal["D", "W", "M"] = "D", adjusted: bool = True
    ) -> pl.DataFrame:
        """The last 30 days/weeks/months in one call (PERIOD_BARS)."""
        return run_job(self, daily_price_job(symbol, period, adjusted))  # type: ignore[arg-type]

    def current_price(self, symbol: str) -> dict[str, Any]:
        """Current price and the day's figures as a dict (KRW ints); `raw` has every field."""
        return run_job(self, current_price_job(symbol))  # type: ignore[arg-type]

    def minute_bars(
        self,
        symbol: str,
        day: date | None = None,
        *,
        start_day: date | None = None,
        end_day: date | None = None,
        until: time | None = None,
    ) -> pl.DataFrame:
        """One-minute bars (MINUTE_BARS): today's by default, or a past day / day range."""
        job = _minute_job(symbol, day, start_day, end_day, until, _now_kst())
        return run_job(self, job)  # type: ignore[arg-type]

    def index_bars(
        self, index_code: str, start: date, end: date, period: Period = "D"
    ) -> pl.DataFrame:
        """Index bars in [start, end] (INDEX_BARS), 50 per call."""
        return run_job(self, index_bars_job(index_code, start, end, period))  # type: ignore[arg-type]

    def index_minute_bars(
        self, index_code: str, interval_s: int = 60, *, include_past: bool = False
    ) -> pl.DataFrame:
        """The latest index bars of `interval_s` seconds (INDEX_MINUTE_BARS), one call."""
        return run_job(self, index_minutes_job(index_code, interval_s, include_past))  # type: ignore[arg-type]

    def volume_rank(
        self,
        market: str = "0000",
        *,
        sort: str = "volume",
        division: str = "all",
        min_price: int | None = None,
        max_price: int | None = None,
        min_volume: int | None = None,
    ) -> pl.DataFrame:
        """Top 30 by volume (RANKINGS, ranking='volume')."""
        job = volume_rank_job(market, sort, division, min_price, max_price, min_volume, _now_kst())
        return run_job(self, job)  # type: ignore[arg-type]

    def fluctuation_rank(
        self,
        market: str = "0000",
        *,
        sort: str = "rise",
        days: int = 0,
        min_price: int | None = None,
        max_price: int | None = None,
        min_volume: int | None = None,
    ) -> pl.DataFrame:
        """Top 30 risers/fallers (RANKINGS, ranking='fluctuation')."""
        job = fluctuation_rank_job(market, sort, days, min_price, max_price, min_volume, _now_kst())
        return run_job(self, job)  # type: ignore[arg-type]

    def market_cap_rank(
        self,
        market: str = "0000",
        *,
        division: str = "all",
        min_price: int | None = None,
        max_price: int | None = None,
        min_volume: int | None = None,
    ) -> pl.DataFrame:
        """Top 30 by market cap (RANKINGS, ranking='market_cap')."""
        job = market_cap_rank_job(market, division, min_price, max_price, min_volume, _now_kst())
        return run_job(self, job)  # type: ignore[arg-type]

    def overseas_bars(
        self,
        exchange: str,
        symbol: str,
        start: date,
        end: date,
        period: Literal["D", "W", "M"] = "D",
        adjusted: bool = True,
    ) -> pl.DataFrame:
        """Overseas bars in [start, end] (OVERSEAS_BARS), exact decimals, 100 per call."""
        return run_job(self, overseas_bars_job(exchange, symbol, start, end, period, adjusted))  # type: ignore[arg-type]

    def overseas_minute_bars(
        self, exchange: str, symbol: str, interval_min: int = 1, *, since: datetime | None = None
    ) -> pl.DataFrame:
        """Overseas minute bars back to `since` (default: all the server keeps, ~1 month)."""
        job = overseas_minutes_job(exchange, symbol, interval_min, since)
        return run_job(self, job)  # type: ignore[arg-type]


class AsyncMarketDataMixin:
    """The same methods for `AsyncKisClient`."""

    async def holidays(self, start: date, end: date) -> pl.DataFrame:
        return await arun_job(self, holidays_job(start, end))  # type: ignore[arg-type]

    async def period_bars(
        self, symbol: str, start: date, end: date, period: Period = "D", adjusted: bool = True
    ) -> pl.DataFrame:
        return await arun_job(self, period_bars_job(symbol, start, end, period, adjusted))  # type: ignore[arg-type]

    async def daily_price(
        self, symbol: str, period: Literal["D", "W", "M"] = "D", adjusted: bool = True
    ) -> pl.DataFrame:
        return await arun_job(self, daily_price_job(symbol, period, adjusted))  # type: ignore[arg-type]

    async def current_price(self, symbol: str) -> dict[str, Any]:
        return await arun_job(self, current_price_job(symbol))  # type: ignore[arg-type]

    async def minute_bars(
        self,
        symbol: str,
        day: date | None = None,
        *,
        start_day: date | None = None,
        end_day: date | None = None,
        until: time | None = None,
    ) -> pl.DataFrame:
        job = _minute_job(symbol, day, start_day, end_day, until, _now_kst())
        return await arun_job(self, job)  # type: ignore[arg-type]

    async def index_bars(
        self, index_code: str, start: date, end: date, period: Period = "D"
    ) -> pl.DataFrame:
        return await arun_job(self, index_bars_job(index_code, start, end, period))  # type: ignore[arg-type]

    async def index_minute_bars(
        self, index_code: str, interval_s: int = 60, *, include_past: bool = False
    ) -> pl.DataFrame:
        return await arun_job(self, index_minutes_job(index_code, interval_s, include_past))  # type: ignore[arg-type]

    async def volume_rank(
        self,
        market: str = "0000",
        *,
        sort: str = "volume",
        division: str = "all",
        min_price: int | None = None,
        max_price: int | None = None,
        min_volume: int | None = None,
    ) -> pl.DataFrame:
        job = volume_rank_job(market, sort, division, min_price, max_price, min_volume, _now_kst())
        return await arun_job(self, job)  # type: ignore[arg-type]

    async def fluctuation_rank(
        self,
        market: str = "0000",
        *,
        sort: str = "rise",
        days: int = 0,
        min_price: int | None = None,
        max_price: int | None = None,
        min_volume: int | None = None,
    ) -> pl.DataFrame:
        job = fluctuation_rank_job(market, sort, days, min_price, max_price, min_volume, _now_kst())
        return await arun_job(self, job)  # type: ignore[arg-type]

    async def market_cap_rank(
        self,
        market: str = "0000",
        *,
        division: str = "all",
        min_price: int | None = None,
        max_price: int | None = None,
        min_volume: int | None = None,
    ) -> pl.DataFrame:
        job = market_cap_rank_job(market, division, min_price, max_price, min_volume, _now_kst())
        return await arun_job(self, job)  # type: ignore[arg-type]

    async def overseas_bars(
        self,
        exchange: str,
        symbol: str,
        start: date,
        end: date,
        period: Literal["D", "W", "M"] = "D",
        adjusted: bool = True,
    ) -> pl.DataFrame:
        return await arun_job(
            self, overseas_bars_job(exchange, symbol, start, end, period, adjusted)
        )  # type: ignore[arg-type]

    async def overseas_minute_bars(
        self, exchange: str, symbol: str, interval_min: int = 1, *, since: datetime | None = None
    ) -> pl.DataFrame:
        job = overseas_minutes_job(exchange, symbol, interval_min, since)
        return await arun_job(self, job)  # type: ignore[arg-type]
