"""Data-quality report over the lake: set-based SQL checks returning typed findings.

Checks (each a function `(ctx) -> list[Finding]`):

* files          data files the lake needs but are missing from disk (a damaged lake: one error,
                 and the data checks are skipped since they would only fail reading), and
                 unreferenced Parquet files left by an interrupted write (a warning with the count)
* missing_days   trading days (holidays table) absent inside each daily series' stored span,
                 unless a complete fetch in the ledger covered them; one finding per gap range
                 (these are what the next `update` fetches). Daily series: stock and index bars,
                 investor flows per stock (days with all 15 types) and per market, short sales,
                 credit balances, program trades
* off_calendar   rows of those daily series dated on a day the market was closed
* duplicates     primary-key duplicates in every table (DuckLake has no PK constraint)
* ohlc           low <= open, close <= high, positive prices, non-negative volume
* minute_daily   minute bars vs the unadjusted final daily bar: outside the day's range or more
                 volume is an error; a full session that does not add up to the daily bar is a
                 warning (a provisional daily bar is still growing: nothing to compare with)
* ledger         fetches recorded incomplete that no later complete fetch covered (warning)
* investor_flows the four investor groups' net shares sum to zero per stock-day and market-day
                 (every share bought was sold by someone), and buy - sell = net on every row
* short_sales    short volume <= volume and short value <= traded value on every stock-day
* program_trades program buying and selling <= the day's volume and value; buy - sell = net
* credit_balance no negative credit: new, repaid and outstanding shares >= 0 (KIS's own figures do
                 not always carry over exactly, so the day-to-day identity is not checked)
* financials     no period seen before it ended (error); balance sheets whose assets differ from
                 liabilities + equity by more than KIS's rounding to 100M KRW (a warning: the
                 workbook does not say whether equity includes non-controlling interests)
* stock_info     positive listed shares, non-negative par value, listed on or before the
                 snapshot, delisted on or after the listing

`ok` is False when any finding is an error; `kisdb check` exits non-zero then.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import polars as pl

from schemas.base import Dataset
from schemas.clock import SEOUL
from schemas.datasets import (
    DATASETS,
    FETCH_LEDGER,
    HOLIDAYS,
    INDEX_BARS,
    MINUTE_BARS,
    PERIOD_BARS,
)
from schemas.research import (
    CREDIT_BALANCE,
    FINANCIALS,
    FULL_SOURCE_MARK,
    INVESTOR_FLOWS,
    INVESTOR_GROUPS,
    MARKET_INVESTOR_FLOWS,
    PROGRAM_TRADES,
    SHORT_SALES,
    STOCK_INFO,
)
from warehouse import tables
from warehouse.lake import CATALOG, Lake
from warehouse.ledger import ledger_key_sql, series_key

Severity = Literal["error", "warning"]
MAX_FINDINGS_PER_GROUP = 50  # per check and dataset; the rest are summarised in one finding


@dataclass(frozen=True)
class Finding:
    check: str
    dataset: str
    key: str
    detail: str
    severity: Severity = "error"
    start: date | None = None
    end: date | None = None


@dataclass
class CheckReport:
    findings: list[Finding] = field(default_factory=list)
    checks_run: list[str] = field(default_factory=list)
    start: date | None = None
    end: date | None = None

    @property
    def ok(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    @property
    def errors(self) -> int:
        return sum(f.severity == "error" for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(f.severity == "warning" for f in self.findings)

    def gaps(self) -> list[Finding]:
        """The missing-day findings: (dataset, key, start, end) for the next update to fetch."""
        return [f for f in self.findings if f.check == "missing_days"]

    def to_frame(self) -> pl.DataFrame:
        schema = {
            "check": pl.String,
            "severity": pl.String,
            "dataset": pl.String,
            "key": pl.String,
            "start": pl.Date,
            "end": pl.Date,
            "detail": pl.String,
        }
        rows = [
            {
                "check": f.check,
                "severity": f.severity,
                "dataset": f.dataset,
                "key": f.key,
                "start": f.start,
                "end": f.end,
                "detail": f.detail,
            }
            for f in self.findings
        ]
        return pl.DataFrame(rows, schema=schema)


@dataclass(frozen=True)
class _Ctx:
    lake: Lake
    start: date | None
    end: date | None

    def table(self, dataset: Dataset | str) -> str:
        return tables.qualified(dataset if isinstance(dataset, str) else dataset.name, CATALOG)

    def date_filter(self, column: str, alias: str = "") -> tuple[str, list[object]]:
        ref = f"{alias}.{tables.quote(column)}" if alias else tables.quote(column)
        parts: list[str] = ["TRUE"]
        params: list[object] = []
        if self.start is not None:
            parts.append(f"{ref} >= ?")
            params.append(self.start)
        if self.end is not None:
            parts.append(f"{ref} <= ?")
            params.append(self.end)
        return " AND ".join(parts), params

    def rows(self, sql: str, params: list[object] | None = None) -> list[tuple[Any, ...]]:
        """Result rows as DuckDB returns them (Python values typed by the query, not here)."""
        return self.lake.con.execute(sql, params or []).fetchall()


def _capped(findings: list[Finding], check: str, dataset: str, severity: Severity) -> list[Finding]:
    if len(findings) <= MAX_FINDINGS_PER_GROUP:
        return findings
    rest = len(findings) - MAX_FINDINGS_PER_GROUP
    summary = Finding(check, dataset, "*", f"... and {rest} more like these", severity)
    return [*findings[:MAX_FINDINGS_PER_GROUP], summary]


# -- files ---------------------------------------------------------------------------------------


def check_files(ctx: _Ctx) -> list[Finding]:
    out: list[Finding] = []
    missing = ctx.lake.missing_files()
    if missing:
        out.append(
            Finding(
                "files",
                "*",
                "*",
                f"the lake is damaged: {len(missing)} data file(s) are missing, e.g. {missing[0]}; "
                "restore the home from a backup",
                "error",
            )
        )
    orphans = ctx.lake.orphaned_files()
    if orphans:
        out.append(
            Finding(
                "files",
                "*",
                "*",
                f"{len(orphans)} unreferenced Parquet file(s) left by an interrupted write; "
                "the next write or `kisdb compact` deletes them",
                "warning",
            )
        )
    return out


# -- missing trading days ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Daily:
    """A daily series family to hold against the KRX calendar: the rows that count (`only`:
    column = value) and the columns naming one series, as its flow keys the ledger."""

    dataset: Dataset
    only: tuple[str, str] | None = None
    keys: tuple[str, ...] | None = None  # None: the primary key without the date

    def series(self) -> list[str]:
        return list(self.keys) if self.keys is not None else series_key(self.dataset)

    def cond(self, alias: str = "") -> str:
        if self.only is None:
            return "TRUE"
        column, value = self.only
        return f"{alias + '.' if alias else ''}{tables.quote(column)} = '{value}'"


_DAILY_SERIES: tuple[_Daily, ...] = (
    _Daily(PERIOD_BARS, ("period", "D")),
    _Daily(INDEX_BARS, ("period", "D")),
    # A stock-day of investor flows is complete with its "other" row: only FHPTJ04160001 sends it
    # (FHKST01010900's three-group days, a paper account's, cannot be refilled past 30 days).
    _Daily(INVESTOR_FLOWS, ("investor", FULL_SOURCE_MARK), ("symbol", "investor")),
    _Daily(MARKET_INVESTOR_FLOWS, ("investor", "foreign"), ("market",)),
    _Daily(SHORT_SALES),
    _Daily(CREDIT_BALANCE),
    _Daily(PROGRAM_TRADES),
)


def _holiday_span(ctx: _Ctx) -> tuple[date, date] | None:
    row = ctx.rows(f"SELECT min(date), max(date) FROM {ctx.table(HOLIDAYS)}")[0]
    if row[0] is None:
        return None
    assert isinstance(row[0], date) and isinstance(row[1], date)
    return row[0], row[1]


def check_missing_days(ctx: _Ctx) -> list[Finding]:
    span = _holiday_span(ctx)
    out: list[Finding] = []
    for daily in _DAILY_SERIES:
        dataset, cond, keys = daily.dataset, daily.cond(), daily.series()
        key_cols = ", ".join(tables.quote(k) for k in keys)
        dfilter, dparams = ctx.date_filter("date")
        stored = ctx.rows(
            f"SELECT count(*), min(date), max(date) FROM {ctx.table(dataset)} "
            f"WHERE {cond} AND {dfilter}",
            dparams,
        )[0]
        if not stored[0]:
            continue
        if span is None:
            out.append(
                Finding(
                    "missing_days",
                    dataset.name,
                    "*",
                    "the holidays table is empty: ingest holidays to check trading days",
                    "warning",
                )
            )
            continue
        lo, hi = stored[1], stored[2]
        assert isinstance(lo, date) and isinstance(hi, date)
        if lo < span[0] or hi > span[1]:
            out.append(
                Finding(
                    "missing_days",
                    dataset.name,
                    "*",
                    f"rows span {lo}..{hi} but the holidays table covers only "
                    f"{span[0]}..{span[1]}; days outside it are not checked",
                    "warning",
                )
            )
        lkey = ledger_key_sql(dataset, keys, "m")
        sql = f"""
        WITH td AS (
            SELECT date, row_number() OVER (ORDER BY date) AS idx
            FROM {ctx.table(HOLIDAYS)} WHERE market_open
        ),
        bars AS (SELECT {key_cols}, date FROM {ctx.table(dataset)} WHERE {cond} AND {dfilter}),
        series AS (SELECT {key_cols}, min(date) AS lo, max(date) AS hi FROM bars GROUP BY ALL),
        expected AS (
            SELECT s.* EXCLUDE (lo, hi), td.date, td.idx
            FROM series s JOIN td ON td.date BETWEEN s.lo AND s.hi
        ),
        missing AS (
            SELECT m.* FROM (SELECT * FROM expected ANTI JOIN bars USING ({key_cols}, date)) m
            WHERE NOT EXISTS (
                SELECT 1 FROM {ctx.table(FETCH_LEDGER)} l
                WHERE l.dataset = ? AND l.complete AND l.key = {lkey}
                  AND m.date BETWEEN l.start AND l."end"
            )
        ),
        runs AS (
            SELECT *, idx - row_number() OVER (PARTITION BY {key_cols} ORDER BY idx) AS run
            FROM missing
        )
        SELECT {ledger_key_sql(dataset, keys)} AS key, min(date), max(date), count(*)
        FROM runs GROUP BY {key_cols}, run ORDER BY 1, 2
        """
        found = [
            Finding(
                "missing_days",
                dataset.name,
                str(k),
                f"{n} trading day(s) missing: {a}..{b}",
                "error",
                a if isinstance(a, date) else None,
                b if isinstance(b, date) else None,
            )
            for k, a, b, n in ctx.rows(sql, [*dparams, dataset.name])
        ]
        out.extend(_capped(found, "missing_days", dataset.name, "error"))
    return out


def check_off_calendar(ctx: _Ctx) -> list[Finding]:
    out: list[Finding] = []
    for daily in _DAILY_SERIES:
        dataset, keys = daily.dataset, daily.series()
        dfilter, dparams = ctx.date_filter("date", "b")
        cond = daily.cond("b")
        sql = f"""
        SELECT DISTINCT {ledger_key_sql(dataset, keys, "b")} AS key, b.date
        FROM {ctx.table(dataset)} b JOIN {ctx.table(HOLIDAYS)} h ON h.date = b.date
        WHERE {cond} AND NOT h.market_open AND {dfilter} ORDER BY 1, 2
        """
        found = [
            Finding("off_calendar", dataset.name, str(k), f"row on a closed day {d}", "error", d, d)
            for k, d in ctx.rows(sql, dparams)
        ]
        out.extend(_capped(found, "off_calendar", dataset.name, "error"))
    return out


# -- duplicates and OHLC -------------------------------------------------------------------------


def check_duplicates(ctx: _Ctx) -> list[Finding]:
    out: list[Finding] = []
    for dataset in DATASETS.values():
        pk = ", ".join(tables.quote(k) for k in dataset.primary_key)
        column = tables.date_column(dataset)
        dfilter, dparams = ctx.date_filter(column) if column else ("TRUE", [])
        sql = f"""
        SELECT count(*), sum(n), any_value(example) FROM (
            SELECT count(*) AS n, concat_ws(':', {pk}) AS example
            FROM {ctx.table(dataset)} WHERE {dfilter} GROUP BY {pk} HAVING count(*) > 1
        )
        """
        keys, rows, example = ctx.rows(sql, dparams)[0]
        if keys:
            out.append(
                Finding(
                    "duplicates",
                    dataset.name,
                    str(example),
                    f"{keys} primary key(s) stored more than once ({rows} rows)",
                    "error",
                )
            )
    return out


def _ohlc_datasets() -> list[Dataset]:
    need = {"open", "high", "low", "close"}
    return [d for d in DATASETS.values() if need <= set(d.column_names)]


def check_ohlc(ctx: _Ctx) -> list[Finding]:
    out: list[Finding] = []
    for dataset in _ohlc_datasets():
        keys = series_key(dataset)
        column = tables.date_column(dataset)
        dfilter, dparams = ctx.date_filter(column) if column else ("TRUE", [])
        volume = "OR volume < 0" if "volume" in dataset.column_index else ""
        day = tables.quote(column) if column else "NULL"
        sql = f"""
        SELECT {ledger_key_sql(dataset, keys)} AS key, count(*), min({day}), max({day}),
               any_value(concat_ws(' ', 'o', open, 'h', high, 'l', low, 'c', close))
        FROM {ctx.table(dataset)}
        WHERE {dfilter} AND (
            low > open OR low > close OR high < open OR high < close OR low <= 0 {volume}
        )
        GROUP BY ALL ORDER BY 1
        """
        found = [
            Finding(
                "ohlc",
                dataset.name,
                str(k),
                f"{n} bar(s) violate low <= open/close <= high, prices > 0, volume >= 0 "
                f"(e.g. {example})",
                "error",
                a if isinstance(a, date) else None,
                b if isinstance(b, date) else None,
            )
            for k, n, a, b, example in ctx.rows(sql, dparams)
        ]
        out.extend(_capped(found, "ohlc", dataset.name, "error"))
    return out


# -- minute bars vs daily bars -------------------------------------------------------------------

SESSION_CLOSE = "15:30:00"  # the KRX closing auction's bar; a day with it is a full session


def check_minute_vs_daily(ctx: _Ctx) -> list[Finding]:
    mfilter, mparams = ctx.date_filter("date")
    sql = f"""
    WITH m AS (
        SELECT symbol, date, arg_min(open, ts) AS o, max(high) AS h, min(low) AS l,
               arg_max(close, ts) AS c, sum(volume) AS v,
               (max(ts) AT TIME ZONE '{SEOUL}')::TIME >= TIME '{SESSION_CLOSE}' AS full_session
        FROM {ctx.table(MINUTE_BARS)} WHERE {mfilter} GROUP BY symbol, date
    )
    SELECT m.symbol, m.date, m.o, m.h, m.l, m.c, m.v, m.full_session,
           d.open, d.high, d.low, d.close, d.volume
    FROM m JOIN {ctx.table(PERIOD_BARS)} d
      ON d.symbol = m.symbol AND d.date = m.date AND d.period = 'D' AND NOT d.adjusted
         AND d.final IS NOT FALSE
    ORDER BY m.symbol, m.date
    """
    errors: list[Finding] = []
    warnings: list[Finding] = []
    compared = 0
    for sym, day, o, h, low, c, v, full, do, dh, dl, dc, dv in ctx.rows(sql, mparams):
        compared += 1
        assert isinstance(day, date)
        if h > dh or low < dl or v > dv:
            errors.append(
                Finding(
                    "minute_daily",
                    MINUTE_BARS.name,
                    str(sym),
                    f"{day}: minutes high {h} low {low} volume {v} exceed the daily bar "
                    f"(high {dh} low {dl} volume {dv})",
                    "error",
                    day,
                    day,
                )
            )
        elif full and (o, h, low, c, v) != (do, dh, dl, dc, dv):
            warnings.append(
                Finding(
                    "minute_daily",
                    MINUTE_BARS.name,
                    str(sym),
                    f"{day}: minutes o/h/l/c/v {o}/{h}/{low}/{c}/{v} vs daily "
                    f"{do}/{dh}/{dl}/{dc}/{dv}",
                    "warning",
                    day,
                    day,
                )
            )
    out = _capped(errors, "minute_daily", MINUTE_BARS.name, "error")
    out += _capped(warnings, "minute_daily", MINUTE_BARS.name, "warning")
    if not compared:
        have_minutes = ctx.rows(
            f"SELECT count(*) FROM {ctx.table(MINUTE_BARS)} WHERE {mfilter}", mparams
        )[0][0]
        if have_minutes:
            out.append(
                Finding(
                    "minute_daily",
                    MINUTE_BARS.name,
                    "*",
                    "minute bars have no unadjusted daily bars (period D, adjusted false) "
                    "to compare with; ingest raw daily bars to check them",
                    "warning",
                )
            )
    return out


# -- ledger --------------------------------------------------------------------------------------


def check_ledger(ctx: _Ctx) -> list[Finding]:
    t = ctx.table(FETCH_LEDGER)
    sql = f"""
    SELECT l.dataset, l.key, l.start, l."end", l.fetched_at, l.error
    FROM {t} l
    WHERE NOT l.complete AND NOT EXISTS (
        SELECT 1 FROM {t} c
        WHERE c.complete AND c.dataset = l.dataset AND c.key = l.key
          AND c.start <= l.start AND c."end" >= l."end" AND c.fetched_at >= l.fetched_at
    )
    ORDER BY 1, 2, 3
    """
    found = [
        Finding(
            "ledger",
            str(ds),
            str(key),
            f"fetch at {at} came back incomplete{': ' + str(err) if err else ''}",
            "warning",
            a if isinstance(a, date) else None,
            b if isinstance(b, date) else None,
        )
        for ds, key, a, b, at, err in ctx.rows(sql)
    ]
    return _capped(found, "ledger", FETCH_LEDGER.name, "warning")


# -- research datasets ---------------------------------------------------------------------------


# How far the groups' nets may stray from zero, in shares: stock flows come exact; market
# flows in thousands, each of the four groups rounded by up to 500.
_NET_TOLERANCE = {INVESTOR_FLOWS.name: 0, MARKET_INVESTOR_FLOWS.name: 2_000}


def check_investor_flows(ctx: _Ctx) -> list[Finding]:
    dfilter, dparams = ctx.date_filter("date")
    groups = ", ".join(f"'{g}'" for g in INVESTOR_GROUPS)
    out: list[Finding] = []
    # (dataset, its series column, rows where buy - sell must equal net)
    for dataset, key, consistent in (
        (INVESTOR_FLOWS, "symbol", "buy_volume - sell_volume = net_volume"),
        (MARKET_INVESTOR_FLOWS, "market", "TRUE"),  # KIS sends a market's nets only
    ):
        # Only days holding all four groups balance: FHKST01010900 sends three (no "other").
        sql = f"""
        SELECT {key}, date,
               sum(net_volume) FILTER (WHERE investor IN ({groups})) AS groups_net,
               count(*) FILTER (WHERE NOT ({consistent})) AS inconsistent
        FROM {ctx.table(dataset)} WHERE {dfilter}
        GROUP BY {key}, date
        HAVING (count(*) FILTER (WHERE investor IN ({groups})) = {len(INVESTOR_GROUPS)}
                AND abs(groups_net) > {_NET_TOLERANCE[dataset.name]})
            OR inconsistent > 0
        ORDER BY {key}, date
        """
        found = [
            Finding(
                "investor_flows",
                dataset.name,
                str(k),
                f"{day}: {bad} row(s) where buy - sell != net"
                if bad
                else f"{day}: the investor groups' nets sum to {net} shares, not 0",
                "error",
                day,
                day,
            )
            for k, day, net, bad in ctx.rows(sql, dparams)
        ]
        out.extend(_capped(found, "investor_flows", dataset.name, "error"))
    return out


def check_short_sales(ctx: _Ctx) -> list[Finding]:
    dfilter, dparams = ctx.date_filter("date")
    sql = f"""
    SELECT symbol, date, short_volume, volume, short_value, value
    FROM {ctx.table(SHORT_SALES)}
    WHERE {dfilter} AND (short_volume < 0 OR short_volume > volume OR short_value > value)
    ORDER BY symbol, date
    """
    found = [
        Finding(
            "short_sales",
            SHORT_SALES.name,
            str(sym),
            f"{day}: short {sv} shares / {sval} KRW exceed the day's {v} shares / {val} KRW",
            "error",
            day,
            day,
        )
        for sym, day, sv, v, sval, val in ctx.rows(sql, dparams)
    ]
    return _capped(found, "short_sales", SHORT_SALES.name, "error")


def check_program_trades(ctx: _Ctx) -> list[Finding]:
    dfilter, dparams = ctx.date_filter("date")
    sql = f"""
    SELECT symbol, count(*), min(date), max(date)
    FROM {ctx.table(PROGRAM_TRADES)}
    WHERE {dfilter} AND (
        buy_volume > volume OR sell_volume > volume OR buy_value > value OR sell_value > value
        OR buy_volume - sell_volume <> net_volume
    )
    GROUP BY symbol ORDER BY symbol
    """
    found = [
        Finding(
            "program_trades",
            PROGRAM_TRADES.name,
            str(sym),
            f"{n} day(s) where programs traded more than the day's volume or value, "
            "or buy - sell != net",
            "error",
            lo,
            hi,
        )
        for sym, n, lo, hi in ctx.rows(sql, dparams)
    ]
    return _capped(found, "program_trades", PROGRAM_TRADES.name, "error")


def check_credit_balance(ctx: _Ctx) -> list[Finding]:
    dfilter, dparams = ctx.date_filter("date")
    shares = [c.name for c in CREDIT_BALANCE.columns if c.name.endswith("_shares")]
    negative = " OR ".join(f"{tables.quote(c)} < 0" for c in shares)
    sql = f"""
    SELECT symbol, count(*), min(date), max(date)
    FROM {ctx.table(CREDIT_BALANCE)} WHERE {dfilter} AND ({negative})
    GROUP BY symbol ORDER BY symbol
    """
    found = [
        Finding(
            "credit_balance",
            CREDIT_BALANCE.name,
            str(sym),
            f"{n} day(s) with negative credit shares",
            "error",
            lo,
            hi,
        )
        for sym, n, lo, hi in ctx.rows(sql, dparams)
    ]
    return _capped(found, "credit_balance", CREDIT_BALANCE.name, "error")


# Each figure is rounded to 100M KRW on its own, so the identity holds to a few units of that.
_BALANCE_TOLERANCE = 300_000_000


def check_financials(ctx: _Ctx) -> list[Finding]:
    dfilter, dparams = ctx.date_filter("seen_date")
    early = f"""
    SELECT symbol, count(*), min(period_end), max(period_end)
    FROM {ctx.table(FINANCIALS)} WHERE {dfilter} AND seen_date < period_end
    GROUP BY symbol ORDER BY symbol
    """
    found = [
        Finding(
            "financials",
            FINANCIALS.name,
            str(sym),
            f"{n} period(s) stored as seen before they ended",
            "error",
            lo,
            hi,
        )
        for sym, n, lo, hi in ctx.rows(early, dparams)
    ]
    unbalanced = f"""
    SELECT symbol, count(*), min(period_end), max(period_end)
    FROM {ctx.table(FINANCIALS)}
    WHERE {dfilter} AND statement = 'balance_sheet'
      AND abs(total_assets - total_liabilities - total_equity)
          > greatest({_BALANCE_TOLERANCE}, abs(total_assets) // 1000)
    GROUP BY symbol ORDER BY symbol
    """
    found += [
        Finding(
            "financials",
            FINANCIALS.name,
            str(sym),
            f"{n} balance sheet(s) where assets != liabilities + equity",
            "warning",
            lo,
            hi,
        )
        for sym, n, lo, hi in ctx.rows(unbalanced, dparams)
    ]
    return _capped(found, "financials", FINANCIALS.name, "error")


def check_stock_info(ctx: _Ctx) -> list[Finding]:
    dfilter, dparams = ctx.date_filter("snapshot_date")
    sql = f"""
    SELECT symbol, count(*), min(snapshot_date), max(snapshot_date)
    FROM {ctx.table(STOCK_INFO)}
    WHERE {dfilter} AND (
        listed_shares IS NULL OR listed_shares <= 0 OR par_value < 0
        OR listing_date > snapshot_date OR delisting_date < listing_date
    )
    GROUP BY symbol ORDER BY symbol
    """
    found = [
        Finding(
            "stock_info",
            STOCK_INFO.name,
            str(sym),
            f"{n} snapshot(s) with no listed shares, a negative par value, "
            "or listing dates out of order",
            "error",
            lo,
            hi,
        )
        for sym, n, lo, hi in ctx.rows(sql, dparams)
    ]
    return _capped(found, "stock_info", STOCK_INFO.name, "error")


CHECKS: dict[str, Callable[[_Ctx], list[Finding]]] = {
    "files": check_files,  # first: the others read the data files
    "missing_days": check_missing_days,
    "off_calendar": check_off_calendar,
    "duplicates": check_duplicates,
    "ohlc": check_ohlc,
    "minute_daily": check_minute_vs_daily,
    "ledger": check_ledger,
    "investor_flows": check_investor_flows,
    "short_sales": check_short_sales,
    "program_trades": check_program_trades,
    "credit_balance": check_credit_balance,
    "financials": check_financials,
    "stock_info": check_stock_info,
}


def run_checks(
    lake: Lake,
    *,
    start: date | None = None,
    end: date | None = None,
    only: list[str] | None = None,
) -> CheckReport:
    """Run every check (or `only` these) over rows dated within [start, end] (None = all)."""
    unknown = sorted(set(only or []) - set(CHECKS))
    if unknown:
        raise ValueError(f"unknown check(s) {unknown}; known: {sorted(CHECKS)}")
    ctx = _Ctx(lake, start, end)
    report = CheckReport(start=start, end=end)
    for name, check in CHECKS.items():
        if only and name not in only:
            continue
        found = check(ctx)
        report.findings.extend(found)
        report.checks_run.append(name)
        if check is check_files and any(f.severity == "error" for f in found):
            break  # a damaged lake: the data checks would only fail on the missing files
    return report
