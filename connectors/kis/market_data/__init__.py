"""Market data: one method per KIS quote endpoint, each returning a polars frame of its dataset.

One module per endpoint family (domestic, index, rankings, overseas, krx_calendar) holds each
endpoint with its wire table, parser and plan builder; `MarketData` turns every plan into an
`operation`, which `KisClient` runs blocking and `AsyncKisClient` awaits (connectors/kis/api.py).
Range planning lives in windows.py, argument checks in validation.py.

Lanes: ranges (backfills) go on "backfill"; current prices, rankings and today's bars on "live".
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any, Literal

import polars as pl

from connectors.kis.core import _ClientLogic
from connectors.kis.market_data.book import order_book_plan
from connectors.kis.market_data.common import Period
from connectors.kis.market_data.credit import credit_balance_plan
from connectors.kis.market_data.domestic import (
    current_price_plan,
    daily_price_plan,
    minute_plan,
    period_bars_plan,
)
from connectors.kis.market_data.financials import financials_plan
from connectors.kis.market_data.index import index_bars_plan, index_minutes_plan
from connectors.kis.market_data.investors import (
    investor_flows_plan,
    market_investor_flows_plan,
    recent_investor_flows_plan,
)
from connectors.kis.market_data.krx_calendar import holidays_plan
from connectors.kis.market_data.ksdinfo import Schedule, par_value_changes_plan, schedule_plan
from connectors.kis.market_data.overseas import overseas_bars_plan, overseas_minutes_plan
from connectors.kis.market_data.program_trades import program_trades_plan
from connectors.kis.market_data.rankings import (
    fluctuation_rank_plan,
    market_cap_rank_plan,
    volume_rank_plan,
)
from connectors.kis.market_data.short_sales import short_sales_plan
from connectors.kis.market_data.stock_info import stock_info_plan
from connectors.kis.steps import Flow, operation
from schemas.clock import KST


class MarketData(_ClientLogic):
    """Market-data methods of `KisClient` (blocking) and `AsyncKisClient` (awaitable)."""

    @operation
    def holidays(self, start: date, end: date) -> Flow[pl.DataFrame]:
        """KRX calendar days in [start, end] (HOLIDAYS); `market_open` says whether it trades."""
        return self._fetch_flow(holidays_plan(start, end))

    @operation
    def par_value_changes(self, start: date, end: date, symbol: str = "") -> Flow[pl.DataFrame]:
        """KSD par-value change schedule (splits, reverse splits) with record dates in [start,
        end], every symbol or one (CORPORATE_ACTIONS; real accounts only)."""
        return self._fetch_flow(par_value_changes_plan(start, end, symbol))

    @operation
    def ksd_schedule(
        self, schedule: Schedule, start: date, end: date, symbol: str = ""
    ) -> Flow[pl.DataFrame]:
        """One KSD schedule (ksdinfo.SCHEDULES: par value, bonus and rights issues, dividends,
        mergers and splits, capital reductions) with record dates in [start, end], every symbol
        or one (CORPORATE_ACTIONS; real accounts only)."""
        return self._fetch_flow(schedule_plan(schedule, start, end, symbol))

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
    def order_book(self, symbol: str) -> Flow[pl.DataFrame]:
        """The 10-level book and the expected match, now (ORDER_BOOK, one row)."""
        return self._fetch_flow(order_book_plan(symbol, self.clock.today()))

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

    @operation
    def investor_flows(self, symbol: str, start: date, end: date) -> Flow[pl.DataFrame]:
        """Shares and KRW bought/sold per investor type per day in [start, end] (INVESTOR_FLOWS).

        Real environment only; today's figures exist from 15:40 KST."""
        return self._fetch_flow(investor_flows_plan(symbol, start, end))

    @operation
    def recent_investor_flows(self, symbol: str) -> Flow[pl.DataFrame]:
        """The last 30 days KIS shows of foreign, individual and institution buying and selling
        (INVESTOR_FLOWS rows of those three types; FHKST01010900, one call). Paper too: the
        paper account's investor flows; today's figures exist after the close."""
        return self._fetch_flow(recent_investor_flows_plan(symbol))

    @operation
    def market_investor_flows(self, market: str, start: date, end: date) -> Flow[pl.DataFrame]:
        """Net shares and KRW per investor type per day of KOSPI or KOSDAQ in [start, end]
        (MARKET_INVESTOR_FLOWS). Real environment only."""
        return self._fetch_flow(market_investor_flows_plan(market, start, end))

    @operation
    def short_sales(self, symbol: str, start: date, end: date) -> Flow[pl.DataFrame]:
        """Shares and KRW sold short per day in [start, end] (SHORT_SALES). Real environment only."""
        return self._fetch_flow(short_sales_plan(symbol, start, end))

    @operation
    def credit_balance(self, symbol: str, start: date, end: date) -> Flow[pl.DataFrame]:
        """Margin and stock loans opened, repaid and outstanding per trade date in [start, end]
        (CREDIT_BALANCE), plus the few days before `start` that settle inside it. Real only."""
        return self._fetch_flow(credit_balance_plan(symbol, start, end))

    @operation
    def program_trades(self, symbol: str, start: date, end: date) -> Flow[pl.DataFrame]:
        """Shares and KRW bought/sold by program trading per day in [start, end]
        (PROGRAM_TRADES). Real environment only."""
        return self._fetch_flow(program_trades_plan(symbol, start, end))

    @operation
    def financials(
        self, symbol: str, statement: str = "balance_sheet", period_kind: str = "annual"
    ) -> Flow[pl.DataFrame]:
        """Every fiscal period KIS keeps of one statement (balance_sheet, income_statement,
        ratios), annual or quarterly (FINANCIALS), stamped with today (KST) as seen_date."""
        seen = self.clock.now().astimezone(KST).date()
        return self._fetch_flow(financials_plan(symbol, statement, period_kind, seen))

    @operation
    def stock_info(self, symbol: str) -> Flow[pl.DataFrame]:
        """Today's (KST) basic facts of one stock: listed shares, par value, listing date,
        sector (STOCK_INFO, one row). Real environment only."""
        today = self.clock.now().astimezone(KST).date()
        return self._fetch_flow(stock_info_plan(symbol, today))
