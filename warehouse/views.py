"""Friendly research views over the raw tables, created as TEMP views in each connection.

TEMP views live in the connection, not in the lake, so read-only connections and connections
attached at an old snapshot get them too, and changing a view never needs a lake migration.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import duckdb


@dataclass(frozen=True)
class View:
    name: str
    table: str  # the lake table it reads; the view is skipped when that table does not exist
    sql: str  # SELECT with `{t}` standing for the qualified table
    doc: str


# Provisional bars (`final = false`: the period has not closed) are left out of the default views;
# the `*_live` views include them. Rows stored before the flag existed (null) count as final.
FINAL_ONLY = "final IS NOT FALSE"


def _bars(period: str, adjusted: bool, live: bool = False) -> str:
    flag = "adjusted" if adjusted else "NOT adjusted"
    final = "" if live else f" AND {FINAL_ONLY}"
    return f"SELECT * EXCLUDE (period, adjusted) FROM {{t}} WHERE period = '{period}' AND {flag}{final}"


def _select(where: str, live: bool, exclude: str = "") -> str:
    conds = [where] if where else []
    if not live:
        conds.append(FINAL_ONLY)
    columns = f"* EXCLUDE ({exclude})" if exclude else "*"
    return f"SELECT {columns} FROM {{t}}" + (f" WHERE {' AND '.join(conds)}" if conds else "")


def _with_live(name: str, table: str, final_sql: str, live_sql: str, doc: str) -> list[View]:
    return [
        View(name, table, final_sql, f"{doc}, final only"),
        View(f"{name}_live", table, live_sql, f"{doc}, incl. the unfinished period (final false)"),
    ]


_BAR_VIEWS: list[View] = [
    *_with_live(
        "bars_daily", "period_bars", _bars("D", True), _bars("D", True, True), "adjusted daily"
    ),
    *_with_live(
        "bars_daily_raw",
        "period_bars",
        _bars("D", False),
        _bars("D", False, True),
        "unadjusted daily stock bars",
    ),
    *_with_live(
        "bars_weekly",
        "period_bars",
        _bars("W", True),
        _bars("W", True, True),
        "adjusted weekly stock bars",
    ),
    *_with_live(
        "bars_monthly",
        "period_bars",
        _bars("M", True),
        _bars("M", True, True),
        "adjusted monthly stock bars",
    ),
    *_with_live(
        "bars_yearly",
        "period_bars",
        _bars("Y", True),
        _bars("Y", True, True),
        "adjusted yearly stock bars",
    ),
    *_with_live(
        "index_daily",
        "index_bars",
        _select("period = 'D'", False, "period"),
        _select("period = 'D'", True, "period"),
        "daily index bars",
    ),
    *_with_live(
        "minutes",
        "minute_bars",
        _select("", False),
        _select("", True),
        "stock one-minute bars (ts in KST)",
    ),
    *_with_live(
        "index_minutes",
        "index_minute_bars",
        _select("", False),
        _select("", True),
        "index one-minute bars",
    ),
    *_with_live(
        "overseas_daily",
        "overseas_bars",
        _select("period = 'D' AND adjusted", False, "period, adjusted"),
        _select("period = 'D' AND adjusted", True, "period, adjusted"),
        "adjusted daily overseas bars (exchange-local dates, exact decimals)",
    ),
]

VIEWS: tuple[View, ...] = (
    *_BAR_VIEWS,
    View(
        "trading_days",
        "holidays",
        "SELECT date FROM {t} WHERE market_open",
        "KRX days the market is open",
    ),
    View(
        "securities_latest",
        "securities",
        "SELECT * FROM {t} "
        "QUALIFY row_number() OVER (PARTITION BY symbol ORDER BY snapshot_date DESC) = 1",
        "each symbol's most recent master-file row",
    ),
)


def _rolling(column: str, days: int) -> str:
    # Rows are trading days (one per stored day); the missing-day check guards the window.
    return (
        f"sum({column}) OVER (PARTITION BY symbol ORDER BY date "
        f"ROWS BETWEEN {days - 1} PRECEDING AND CURRENT ROW) AS {column}_{days}d"
    )


# Research views (issue 15).
VIEWS += (
    View(
        "foreign_net_buy",
        "investor_flows",
        "SELECT symbol, date, net_volume, net_value, "
        + ", ".join(_rolling(c, n) for c in ("net_volume", "net_value") for n in (5, 20))
        + " FROM {t} WHERE investor = 'foreign'",
        "foreign investors' daily net buying per stock (shares, KRW) with 5/20-day sums",
    ),
    View(
        "short_ratio",
        "short_sales",
        "SELECT symbol, date, short_volume, volume, short_value, value, "
        "short_volume / nullif(volume, 0) AS short_ratio, "
        "short_value / nullif(value, 0) AS short_value_ratio FROM {t}",
        "share of each stock-day's volume and value sold short (0..1)",
    ),
    View(
        "valuation_daily",
        "financials",
        # Point in time: each day takes the annual ratios known that day. A restatement is known
        # from the day we saw it; a period's first figures from the legal filing deadline (90
        # days after the fiscal year) or the day we saw them, whichever came first.
        "WITH r AS (SELECT symbol, period_end, seen_date, eps, bps, "
        "CASE WHEN seen_date = min(seen_date) OVER (PARTITION BY symbol, period_end) "
        "THEN least(seen_date, CAST(period_end + INTERVAL 90 DAY AS DATE)) "
        "ELSE seen_date END AS known_from "
        "FROM {t} WHERE statement = 'ratios' AND period_kind = 'annual') "
        "SELECT b.symbol, b.date, b.close, r.period_end, r.known_from, r.eps, r.bps, "
        "b.close / nullif(r.eps, 0) AS per, b.close / nullif(r.bps, 0) AS pbr "
        "FROM bars_daily_raw b ASOF LEFT JOIN r "
        "ON b.symbol = r.symbol AND b.date >= r.known_from",
        "PER and PBR per stock-day from the annual EPS/BPS known that day (no look-ahead)",
    ),
    View(
        "market_cap_daily",
        "stock_info",
        # The listed shares of the latest snapshot on or before each day (none before the first).
        "SELECT b.symbol, b.date, b.close, s.listed_shares, "
        "b.close * s.listed_shares AS market_cap "
        "FROM bars_daily_raw b ASOF JOIN {t} s "
        "ON b.symbol = s.symbol AND b.date >= s.snapshot_date",
        "market cap per stock-day: unadjusted close x listed shares known that day, KRW",
    ),
)


def view_statements(existing_tables: Iterable[str], catalog: str = "lake") -> dict[str, str]:
    """CREATE OR REPLACE TEMP VIEW per view whose table exists, by view name, in order (views
    may read earlier ones). Also what `kisdb attach` prints for other DuckDB clients."""
    have = set(existing_tables)
    return {
        view.name: f'CREATE OR REPLACE TEMP VIEW "{view.name}" AS '
        + view.sql.format(t=f'"{catalog}".main."{view.table}"')
        for view in VIEWS
        if view.table in have
    }


def create_views(
    con: duckdb.DuckDBPyConnection, existing_tables: Iterable[str], catalog: str = "lake"
) -> list[str]:
    """Create (or replace) every view whose table exists; returns the names created."""
    statements = view_statements(existing_tables, catalog)
    for sql in statements.values():
        con.execute(sql)
    return list(statements)
