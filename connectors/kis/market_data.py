"""Market data: one method per KIS quote endpoint, each returning a polars frame of its dataset.

Each endpoint is a pure plan builder (`*_plan`: validate the arguments, then endpoint + lane +
pager + parser) and one `operation` on `MarketData`, which `KisClient` runs blocking and
`AsyncKisClient` awaits (connectors/kis/api.py). Parsing lives in parsing.py, range planning in
windows.py, argument checks in validation.py.

Lanes: ranges (backfills) go on "backfill"; current prices, rankings and today's bars on "live".
"""

from __future__ import annotations

from datetime import date, datetime, time
from functools import partial
from typing import Any, Literal

import polars as pl

from connectors.kis import parsing
from connectors.kis.core import _ClientLogic
from connectors.kis.endpoints import Endpoint
from connectors.kis.steps import Flow, operation
from connectors.kis.validation import (
    check_choice,
    check_exchange,
    check_index_code,
    check_market_scope,
    check_overseas_symbol,
    check_period,
    check_positive,
    check_range,
    check_symbol,
    invalid,
    opt_number,
)
from connectors.kis.windows import (
    CalendarDays,
    DateWindows,
    FetchPlan,
    KeyedMinutes,
    PastMinutes,
    SinglePage,
    TodayMinutes,
    hms,
    ymd,
)
from schemas.clock import KST

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
RANK_DIVISIONS = {"all": "0", "common": "1", "preferred": "2"}


# --- plans: pure, one per endpoint ------------------------------------------------------------------
_EMPTY_CHART: dict[str, Any] = {"output1": {}, "output2": []}


def period_bars_plan(
    symbol: str, start: date, end: date, period: str, adjusted: bool
) -> FetchPlan[pl.DataFrame]:
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
    return FetchPlan(
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


def daily_price_plan(symbol: str, period: str, adjusted: bool) -> FetchPlan[pl.DataFrame]:
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
    return FetchPlan(
        INQUIRE_DAILY_PRICE,
        "live",
        lambda: SinglePage(parse, params, what=f"daily_price {symbol}", key=("date",)),
        empty={"output": []},
    )


def current_price_plan(symbol: str) -> FetchPlan[dict[str, Any]]:
    symbol = check_symbol(symbol)
    params = {"FID_COND_MRKT_DIV_CODE": KRX, "FID_INPUT_ISCD": symbol}
    parse = partial(parsing.parse_current_price, symbol=symbol)
    return FetchPlan(
        INQUIRE_PRICE, "live", lambda: SinglePage(parse, params, what=f"current_price {symbol}")
    )


def today_minutes_plan(symbol: str, until: time | None, now: datetime) -> FetchPlan[pl.DataFrame]:
    symbol = check_symbol(symbol)
    if until is not None and not isinstance(until, time):
        raise invalid(f"until must be a datetime.time, got {until!r}")
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
    return FetchPlan(
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


def past_minutes_plan(symbol: str, start_day: date, end_day: date) -> FetchPlan[pl.DataFrame]:
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
    return FetchPlan(
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


def index_bars_plan(
    index_code: str, start: date, end: date, period: str
) -> FetchPlan[pl.DataFrame]:
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
    return FetchPlan(
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


def index_minutes_plan(
    index_code: str, interval_s: int, include_past: bool
) -> FetchPlan[pl.DataFrame]:
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
    return FetchPlan(
        INDEX_MINUTE_CHART,
        "live",
        lambda: SinglePage(parse, params, what=f"index_minute_bars {code}", key=("ts",)),
        empty=_EMPTY_CHART,
    )


def holidays_plan(start: date, end: date) -> FetchPlan[pl.DataFrame]:
    start, end = check_range(start, end)

    def params(cursor: date) -> dict[str, str]:
        return {"BASS_DT": ymd(cursor), "CTX_AREA_NK": "", "CTX_AREA_FK": ""}

    return FetchPlan(
        HOLIDAY_CHECK,
        "backfill",
        lambda: CalendarDays(
            parsing.parse_holidays, params, start=start, end=end, what=f"holidays {start}..{end}"
        ),
        empty={"output": []},
    )


def _ranking_plan(
    endpoint: Endpoint, ranking: str, market: str, params: dict[str, str], now: datetime
) -> FetchPlan[pl.DataFrame]:
    # The snapshot is stamped when it is taken, to the second (the key of the rankings table).
    snapshot = now.astimezone(KST).replace(microsecond=0)
    parse = partial(parsing.parse_ranking, ranking=ranking, market=market, snapshot_ts=snapshot)
    return FetchPlan(
        endpoint,
        "live",
        lambda: SinglePage(parse, params, what=f"{ranking} ranking {market}", key=("rank",)),
        empty={"output": []},
    )


def volume_rank_plan(
    market: str,
    sort: str,
    division: str,
    min_price: int | None,
    max_price: int | None,
    min_volume: int | None,
    now: datetime,
) -> FetchPlan[pl.DataFrame]:
    market = check_market_scope(market)
    params = {
        "FID_COND_MRKT_DIV_CODE": KRX,
        "FID_COND_SCR_DIV_CODE": "20171",
        "FID_INPUT_ISCD": market,
        "FID_DIV_CLS_CODE": check_choice(division, "division", RANK_DIVISIONS),
        "FID_BLNG_CLS_CODE": check_choice(sort, "sort", VOLUME_SORTS),
        "FID_TRGT_CLS_CODE": "111111111",  # include every margin class
        "FID_TRGT_EXLS_CLS_CODE": "0000000000",  # exclude nothing
        "FID_INPUT_PRICE_1": opt_number(min_price, "min_price"),
        "FID_INPUT_PRICE_2": opt_number(max_price, "max_price"),
        "FID_VOL_CNT": opt_number(min_volume, "min_volume"),
        "FID_INPUT_DATE_1": "",
    }
    return _ranking_plan(VOLUME_RANK, "volume", market, params, now)


def fluctuation_rank_plan(
    market: str,
    sort: str,
    days: int,
    min_price: int | None,
    max_price: int | None,
    min_volume: int | None,
    now: datetime,
) -> FetchPlan[pl.DataFrame]:
    market = check_market_scope(market)
    sort_code = check_choice(sort, "sort", FLUCTUATION_SORTS)
    if not isinstance(days, int) or isinstance(days, bool) or days < 0:
        raise invalid(f"days must be 0 (today) or a positive number of days, got {days!r}")
    # The spec names these parameters in lowercase (unlike volume-rank).
    params = {
        "fid_cond_mrkt_div_code": KRX,
        "fid_cond_scr_div_code": "20170",
        "fid_input_iscd": market,
        "fid_rank_sort_cls_code": sort_code,
        "fid_input_cnt_1": str(days),
        # Rise/fall measured against the previous close; the other sorts take 0.
        "fid_prc_cls_code": "1" if sort_code in {"0", "1"} else "0",
        "fid_input_price_1": opt_number(min_price, "min_price"),
        "fid_input_price_2": opt_number(max_price, "max_price"),
        "fid_vol_cnt": opt_number(min_volume, "min_volume"),
        "fid_trgt_cls_code": "0",
        "fid_trgt_exls_cls_code": "0",
        "fid_div_cls_code": "0",
        "fid_rsfl_rate1": "",
        "fid_rsfl_rate2": "",
    }
    return _ranking_plan(FLUCTUATION_RANK, "fluctuation", market, params, now)


def market_cap_rank_plan(
    market: str,
    division: str,
    min_price: int | None,
    max_price: int | None,
    min_volume: int | None,
    now: datetime,
) -> FetchPlan[pl.DataFrame]:
    market = check_market_scope(market)
    params = {
        "fid_input_price_2": opt_number(max_price, "max_price"),
        "fid_cond_mrkt_div_code": KRX,
        "fid_cond_scr_div_code": "20174",
        "fid_div_cls_code": check_choice(division, "division", RANK_DIVISIONS),
        "fid_input_iscd": market,
        "fid_trgt_cls_code": "0",
        "fid_trgt_exls_cls_code": "0",
        "fid_input_price_1": opt_number(min_price, "min_price"),
        "fid_vol_cnt": opt_number(min_volume, "min_volume"),
    }
    return _ranking_plan(MARKET_CAP_RANK, "market_cap", market, params, now)


def overseas_bars_plan(
    exchange: str, symbol: str, start: date, end: date, period: str, adjusted: bool
) -> FetchPlan[pl.DataFrame]:
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
    return FetchPlan(
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


def overseas_minutes_plan(
    exchange: str, symbol: str, interval_min: int, since: datetime | None
) -> FetchPlan[pl.DataFrame]:
    exchange = check_exchange(exchange, parsing.EXCHANGE_ZONES)
    symbol = check_overseas_symbol(symbol)
    interval_min = check_positive(interval_min, "interval_min", 60)
    if since is not None and (not isinstance(since, datetime) or since.tzinfo is None):
        raise invalid(f"since must be a timezone-aware datetime or None, got {since!r}")

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
    return FetchPlan(
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


def minute_plan(
    symbol: str,
    day: date | None,
    start_day: date | None,
    end_day: date | None,
    until: time | None,
    now: datetime,
) -> FetchPlan[pl.DataFrame]:
    if day is not None and (start_day is not None or end_day is not None):
        raise invalid("pass either day or start_day/end_day, not both")
    if (start_day is None) != (end_day is None):
        raise invalid("start_day and end_day go together")
    if day is not None:
        return past_minutes_plan(symbol, day, day)
    if start_day is not None and end_day is not None:
        return past_minutes_plan(symbol, start_day, end_day)
    return today_minutes_plan(symbol, until, now)


# --- the client methods ----------------------------------------------------------------------------
class MarketData(_ClientLogic):
    """Market-data methods of `KisClient` (blocking) and `AsyncKisClient` (awaitable)."""

    @operation
    def holidays(self, start: date, end: date) -> Flow[pl.DataFrame]:
        """KRX calendar days in [start, end] (HOLIDAYS); `market_open` says whether it trades."""
        return self._fetch_flow(holidays_plan(start, end))

    @operation
    def period_bars(
        self, symbol: str, start: date, end: date, period: Period = "D", adjusted: bool = True
    ) -> Flow[pl.DataFrame]:
        """Stock bars in [start, end] (PERIOD_BARS), 100 per call, oldest first."""
        return self._fetch_flow(period_bars_plan(symbol, start, end, period, adjusted))

    @operation
    def daily_price(
        self, symbol: str, period: Literal["D", "W", "M"] = "D", adjusted: bool = True
    ) -> Flow[pl.DataFrame]:
        """The last 30 days/weeks/months in one call (PERIOD_BARS)."""
        return self._fetch_flow(daily_price_plan(symbol, period, adjusted))

    @operation
    def current_price(self, symbol: str) -> Flow[dict[str, Any]]:
        """Current price and the day's figures as a dict (KRW ints); `raw` has every field."""
        return self._fetch_flow(current_price_plan(symbol))

    @operation
    def minute_bars(
        self,
        symbol: str,
        day: date | None = None,
        *,
        start_day: date | None = None,
        end_day: date | None = None,
        until: time | None = None,
    ) -> Flow[pl.DataFrame]:
        """One-minute bars (MINUTE_BARS): today's by default, or a past day / day range."""
        plan = minute_plan(symbol, day, start_day, end_day, until, self.clock.now())
        return self._fetch_flow(plan)

    @operation
    def index_bars(
        self, index_code: str, start: date, end: date, period: Period = "D"
    ) -> Flow[pl.DataFrame]:
        """Index bars in [start, end] (INDEX_BARS), 50 per call."""
        return self._fetch_flow(index_bars_plan(index_code, start, end, period))

    @operation
    def index_minute_bars(
        self, index_code: str, interval_s: int = 60, *, include_past: bool = False
    ) -> Flow[pl.DataFrame]:
        """The latest index bars of `interval_s` seconds (INDEX_MINUTE_BARS), one call."""
        return self._fetch_flow(index_minutes_plan(index_code, interval_s, include_past))

    @operation
    def volume_rank(
        self,
        market: str = "0000",
        *,
        sort: str = "volume",
        division: str = "all",
        min_price: int | None = None,
        max_price: int | None = None,
        min_volume: int | None = None,
    ) -> Flow[pl.DataFrame]:
        """Top 30 by volume (RANKINGS, ranking='volume')."""
        now = self.clock.now()
        plan = volume_rank_plan(market, sort, division, min_price, max_price, min_volume, now)
        return self._fetch_flow(plan)

    @operation
    def fluctuation_rank(
        self,
        market: str = "0000",
        *,
        sort: str = "rise",
        days: int = 0,
        min_price: int | None = None,
        max_price: int | None = None,
        min_volume: int | None = None,
    ) -> Flow[pl.DataFrame]:
        """Top 30 risers/fallers (RANKINGS, ranking='fluctuation')."""
        now = self.clock.now()
        plan = fluctuation_rank_plan(market, sort, days, min_price, max_price, min_volume, now)
        return self._fetch_flow(plan)

    @operation
    def market_cap_rank(
        self,
        market: str = "0000",
        *,
        division: str = "all",
        min_price: int | None = None,
        max_price: int | None = None,
        min_volume: int | None = None,
    ) -> Flow[pl.DataFrame]:
        """Top 30 by market cap (RANKINGS, ranking='market_cap')."""
        now = self.clock.now()
        plan = market_cap_rank_plan(market, division, min_price, max_price, min_volume, now)
        return self._fetch_flow(plan)

    @operation
    def overseas_bars(
        self,
        exchange: str,
        symbol: str,
        start: date,
        end: date,
        period: Literal["D", "W", "M"] = "D",
        adjusted: bool = True,
    ) -> Flow[pl.DataFrame]:
        """Overseas bars in [start, end] (OVERSEAS_BARS), exact decimals, 100 per call."""
        return self._fetch_flow(overseas_bars_plan(exchange, symbol, start, end, period, adjusted))

    @operation
    def overseas_minute_bars(
        self, exchange: str, symbol: str, interval_min: int = 1, *, since: datetime | None = None
    ) -> Flow[pl.DataFrame]:
        """Overseas minute bars back to `since` (default: all the server keeps, ~1 month)."""
        return self._fetch_flow(overseas_minutes_plan(exchange, symbol, interval_min, since))
