"""Friendly research views over the raw tables, created as TEMP views in each connection.

TEMP views live in the connection, not in the lake, so read-only connections and connections
attached at an old snapshot get them too, and changing a view never needs a lake migration.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import duckdb

from schemas.research import INVESTOR_GROUPS


@dataclass(frozen=True)
class View:
    name: str
    table: str  # the lake table it reads; the view is skipped when that table does not exist
    sql: str  # SELECT with `{t}` standing for the qualified table
    doc: str
    # Further tables it reads, each `{name}` in `sql`; the view is skipped unless all exist.
    needs: tuple[str, ...] = ()


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
    View(
        "market_flows",
        "market_investor_flows",
        # One row per market-day, the four groups side by side: what a flow chart plots.
        "SELECT market, date, "
        + ", ".join(
            f"sum(net_{m}) FILTER (WHERE investor = '{g}') AS {g}_net_{m}"
            for g in INVESTOR_GROUPS
            for m in ("value", "volume")
        )
        + " FROM {t} GROUP BY market, date",
        "net buying per market-day by investor group (KRW to the million, shares)",
    ),
    View(
        "credit_daily",
        "credit_balance",
        "SELECT symbol, date, margin_balance_shares, margin_balance_value, margin_balance_pct, "
        "margin_balance_shares - lag(margin_balance_shares) OVER "
        "(PARTITION BY symbol ORDER BY date) AS margin_change_shares, "
        "stock_loan_balance_shares, stock_loan_balance_value FROM {t}",
        "margin and stock-loan balances per stock-day with the day's change in margin shares",
    ),
    View(
        "program_net_buy",
        "program_trades",
        "SELECT symbol, date, net_volume, net_value, net_value / nullif(value, 0) AS net_share, "
        + ", ".join(_rolling("net_value", n) for n in (5, 20))
        + " FROM {t}",
        "program net buying per stock-day (all programs), its share of value and 5/20-day sums",
    ),
)


def _listings(info: bool) -> str:
    """One row per symbol seen in a `securities` snapshot or in the daily bars: the name and
    market last known, first/last stored trading day (final daily bars), and whether it is
    delisted: its delisting date (stock_info, when `info`) had passed when last looked up, or it
    is gone from the latest securities snapshot."""
    none = "CAST(NULL AS DATE)"
    info_cte = (
        ", i AS (SELECT symbol, arg_max(listing_date, snapshot_date) AS listing_date, "
        "arg_max(delisting_date, snapshot_date) AS delisting_date, "
        "max(snapshot_date) AS looked_up FROM {stock_info} GROUP BY symbol)"
    )
    return (
        "WITH s AS (SELECT symbol, arg_max(name, snapshot_date) AS name, "
        "arg_max(market, snapshot_date) AS market, min(snapshot_date) AS first_seen, "
        "max(snapshot_date) AS last_seen FROM {t} GROUP BY symbol), "
        "latest AS (SELECT max(snapshot_date) AS day FROM {t}), "
        "b AS (SELECT symbol, min(date) AS first_trading_day, max(date) AS last_trading_day "
        f"FROM {{period_bars}} WHERE period = 'D' AND {FINAL_ONLY} GROUP BY symbol), "
        "k AS (SELECT symbol FROM s UNION SELECT symbol FROM b)"
        f"{info_cte if info else ''} "
        "SELECT k.symbol, s.name, s.market, "
        f"{'i.listing_date' if info else none} AS listing_date, "
        f"{'i.delisting_date' if info else none} AS delisting_date, "
        "b.first_trading_day, b.last_trading_day, s.first_seen, s.last_seen, "
        f"{'coalesce(i.delisting_date <= i.looked_up, false)' if info else 'false'} "
        "OR coalesce(s.last_seen < latest.day, false) AS delisted "
        "FROM k CROSS JOIN latest LEFT JOIN s ON s.symbol = k.symbol "
        "LEFT JOIN b ON b.symbol = k.symbol"
        f"{' LEFT JOIN i ON i.symbol = k.symbol' if info else ''} ORDER BY k.symbol"
    )


# Delisted symbols stay in history (issue 11): `listings` says which, and their last trading day.
# The second definition replaces the first when stock_info (search-stock-info) is stored too.
_LISTINGS_DOC = (
    "every symbol ever seen (snapshots or bars): first/last stored trading day, listing and "
    "delisting dates where known, delisted flag"
)
VIEWS += (
    View("listings", "securities", _listings(False), _LISTINGS_DOC, ("period_bars",)),
    View("listings", "securities", _listings(True), _LISTINGS_DOC, ("period_bars", "stock_info")),
)


def view_statements(existing_tables: Iterable[str], catalog: str = "lake") -> dict[str, str]:
    """CREATE OR REPLACE TEMP VIEW per view whose tables exist, by view name, in order (views
    may read earlier ones; a later definition of a name, needing more tables, replaces an
    earlier one). Also what `kisdb attach` prints for other DuckDB clients."""
    have = set(existing_tables)
    statements: dict[str, str] = {}
    for view in VIEWS:
        if view.table not in have or not have.issuperset(view.needs):
            continue
        tables = {n: f'"{catalog}".main."{n}"' for n in view.needs}
        body = view.sql.format(t=f'"{catalog}".main."{view.table}"', **tables)
        statements[view.name] = f'CREATE OR REPLACE TEMP VIEW "{view.name}" AS {body}'
    return statements


def create_views(
    con: duckdb.DuckDBPyConnection, existing_tables: Iterable[str], catalog: str = "lake"
) -> list[str]:
    """Create (or replace) every view whose tables exist; returns the names created.

    One transaction: each statement on a DuckLake catalog would otherwise be a transaction of
    its own that reads the catalog's metadata again (most of the cost of creating the views)."""
    statements = view_statements(existing_tables, catalog)
    con.execute("BEGIN TRANSACTION")
    try:
        for sql in statements.values():
            con.execute(sql)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return list(statements)
