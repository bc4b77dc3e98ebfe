"""Pure parsers: one KIS market-data response body -> one polars frame shaped by its dataset.

Every parser works the same way (vectorised, no per-row Python):
1. take the response block (`output`, `output2`, ...) as a list of dicts of strings;
2. check the wire fields: a field a required column is parsed from must be there (else
   `KisProtocolError` naming the endpoint and the field); a field we have never heard of is logged
   once per (endpoint, field) and otherwise ignored, because KIS appends fields without notice;
3. rename through the dataset's field map and cast the strings ("128500", "2642.07", "20240102",
   "+5.61", "Y") to the column types: integer KRW, exact decimals, dates, booleans;
4. add what the request implies (symbol, period, adjusted, ...) and derive timestamps;
5. `Dataset.conform`, so column order and dtypes are exactly the table's.

No I/O happens here; the sample payloads in tests/fixtures/kis are the workbook's real examples.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

from connectors.kis.errors import KisProtocolError
from schemas import (
    HOLIDAYS,
    INDEX_BARS,
    INDEX_MINUTE_BARS,
    MINUTE_BARS,
    OVERSEAS_BARS,
    OVERSEAS_MINUTE_BARS,
    PERIOD_BARS,
    RANKINGS,
    Dataset,
    SchemaError,
)
from schemas.clock import SEOUL

log = logging.getLogger(__name__)

# Exchange-local time zones of the quote exchange codes (kis-api.md §6.1). The US daytime session
# codes (BAY/BAQ/BAA) report US-local dates and times like the regular codes.
EXCHANGE_ZONES: Mapping[str, str] = {
    "NAS": "America/New_York",
    "NYS": "America/New_York",
    "AMS": "America/New_York",
    "BAY": "America/New_York",
    "BAQ": "America/New_York",
    "BAA": "America/New_York",
    "HKS": "Asia/Hong_Kong",
    "TSE": "Asia/Tokyo",
    "SHS": "Asia/Shanghai",
    "SZS": "Asia/Shanghai",
    "SHI": "Asia/Shanghai",
    "SZI": "Asia/Shanghai",
    "HSX": "Asia/Ho_Chi_Minh",
    "HNX": "Asia/Ho_Chi_Minh",
}


@dataclass(frozen=True)
class WireTable:
    """How one response block of one endpoint maps onto a dataset."""

    endpoint: str  # for messages and the unknown-field log
    dataset: Dataset
    block: str  # "output", "output2"
    # Wire fields the workbook lists for this block that we deliberately do not store.
    ignored: frozenset[str] = frozenset()
    # Extra wire -> column renames beyond the dataset's field map (e.g. per-endpoint symbol field).
    renames: Mapping[str, str] = field(default_factory=dict)
    # Wire fields this parser needs beyond the required columns (e.g. the bar time for `ts`).
    needs: frozenset[str] = frozenset()
    # Dataset wire fields this endpoint does not send at all (their columns stay null).
    absent: frozenset[str] = frozenset()
    # Rows that are summaries, not data: wire field -> marker values (dropped before casting).
    summary_rows: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @property
    def field_map(self) -> dict[str, str]:
        mapping = {w: c for w, c in self.dataset.field_map.items() if w not in self.absent}
        mapping.update(self.renames)
        return mapping

    @property
    def required(self) -> frozenset[str]:
        """Wire fields without which the rows cannot be stored: key and non-null columns."""
        must = {c.name for c in self.dataset.columns if not c.nullable}
        must.update(self.dataset.primary_key)
        wire = {w for w, c in self.field_map.items() if c in must}
        return frozenset(wire | self.needs)

    @property
    def known(self) -> frozenset[str]:
        return frozenset(self.field_map) | self.ignored | self.needs


_seen_unknown: set[tuple[str, str]] = set()
_seen_lock = threading.Lock()


def _note_unknown(endpoint: str, fields: Iterable[str]) -> None:
    """Log each unexpected field once per process: KIS adds fields over time; we keep going."""
    with _seen_lock:
        new = sorted(f for f in fields if (endpoint, f) not in _seen_unknown)
        _seen_unknown.update((endpoint, f) for f in new)
    if new:
        log.warning("%s: KIS sent fields this parser does not know (ignored): %s", endpoint, new)


def block_rows(payload: Mapping[str, Any], endpoint: str, block: str) -> list[dict[str, Any]]:
    """The block as a list of row dicts; an object block is one row; blank rows are dropped."""
    if block not in payload:
        raise KisProtocolError(
            f"{endpoint}: the response has no {block!r} block (keys: {sorted(payload)})",
            context={"endpoint": endpoint},
        )
    value = payload[block]
    rows = [value] if isinstance(value, Mapping) else value
    if not isinstance(rows, list):
        raise KisProtocolError(
            f"{endpoint}: block {block!r} is a {type(value).__name__}, expected an object or array",
            context={"endpoint": endpoint},
        )
    # KIS answers "no data" on some charts with one all-blank row ([{}] or every value "").
    return [
        dict(r) for r in rows if isinstance(r, Mapping) and any(str(v).strip() for v in r.values())
    ]


def _text(name: str) -> pl.Expr:
    s = pl.col(name).cast(pl.String).str.strip_chars()
    return pl.when(s == "").then(None).otherwise(s)


def _number_text(name: str) -> pl.Expr:
    # Overseas rates carry an explicit "+" ("+5.61"); the casts below refuse it.
    return _text(name).str.strip_prefix("+")


def _converter(wire: str, dtype: pl.DataType) -> pl.Expr:
    """The expression turning one KIS string field into `dtype`, strictly."""
    if isinstance(dtype, pl.Decimal):
        text = _number_text(wire)
        scale = dtype.scale or 0
        # polars rounds extra fraction digits; an exact column must refuse them instead.
        too_precise = text.str.contains(rf"\.\d{{{scale}}}\d*[1-9]")
        return (
            pl.when(too_precise.fill_null(False))
            .then(pl.lit("not-exact"))
            .otherwise(text)
            .cast(dtype, strict=True)
        )
    if dtype.is_integer() or dtype.is_float():
        return _number_text(wire).cast(dtype, strict=True)
    if dtype == pl.Boolean:
        return _text(wire).replace_strict({"Y": True, "N": False}, return_dtype=pl.Boolean)
    if dtype == pl.Date:
        return _text(wire).str.strptime(pl.Date, "%Y%m%d", strict=True)
    if dtype == pl.Time:
        return _text(wire).str.strptime(pl.Time, "%H%M%S", strict=True)
    return _text(wire)


def _cast_all(raw: pl.DataFrame, table: WireTable, exprs: dict[str, pl.Expr]) -> pl.DataFrame:
    """Apply the converters; on failure name the field and show offending values."""
    try:
        return raw.select(**exprs)
    except pl.exceptions.PolarsError:
        pass
    for name, expr in exprs.items():
        try:
            raw.select(expr)
        except pl.exceptions.PolarsError as exc:
            wire = next((w for w, c in table.field_map.items() if c == name), name)
            sample = raw.get_column(wire).head(3).to_list() if wire in raw.columns else []
            raise KisProtocolError(
                f"{table.endpoint}: field {wire!r} has values that do not parse as "
                f"{_dtype_of(table, name)} (first values {sample}): {exc}".splitlines()[0],
                context={"endpoint": table.endpoint, "field": wire},
            ) from None
    raise AssertionError("unreachable: the combined select failed but no single column did")


def _dtype_of(table: WireTable, column: str) -> pl.DataType | str:
    col = table.dataset.column_index.get(column)
    if col is not None:
        return col.dtype
    return _MINUTE_TIME.get(column, "text")


def wire_frame(
    payload: Mapping[str, Any], table: WireTable, extra: Mapping[str, pl.DataType] | None = None
) -> pl.DataFrame:
    """Rows of `table.block`, checked, renamed and typed; only mapped columns (plus `extra`)."""
    rows = block_rows(payload, table.endpoint, table.block)
    mapping = table.field_map
    extra = extra or {}
    if not rows:
        schema = {c: table.dataset.column_index[c].dtype for c in mapping.values()}
        schema.update(extra)
        return pl.DataFrame(schema=schema)
    raw = pl.from_dicts(rows, infer_schema_length=None)
    present = set(raw.columns)
    missing = sorted(table.required - present)
    if missing:
        raise KisProtocolError(
            f"{table.endpoint}: the response lacks field(s) {missing} in {table.block!r}; "
            "the API changed or this is not the expected endpoint",
            context={"endpoint": table.endpoint, "field": missing[0]},
        )
    unknown = present - table.known
    if unknown:
        _note_unknown(table.endpoint, unknown)
    for wire, markers in table.summary_rows.items():
        raw = raw.filter(~pl.col(wire).cast(pl.String).str.strip_chars().is_in(list(markers)))
    exprs: dict[str, pl.Expr] = {}
    for wire, column in mapping.items():
        if wire in present:
            exprs[column] = _converter(wire, table.dataset.column_index[column].dtype)
    for wire, dtype in extra.items():
        if wire in present:
            exprs[wire] = _converter(wire, dtype)
    return _cast_all(raw, table, exprs)


def conform(frame: pl.DataFrame, table: WireTable) -> pl.DataFrame:
    try:
        return table.dataset.conform(frame)
    except SchemaError as exc:
        raise KisProtocolError(
            f"{table.endpoint}: {exc}", context={"endpoint": table.endpoint}
        ) from None


def kst_timestamp(date_col: str, time_col: str) -> pl.Expr:
    """Date + HHMMSS wall time in KST -> tz-aware timestamp."""
    return pl.col(date_col).dt.combine(pl.col(time_col), "us").dt.replace_time_zone(SEOUL)


# --- the tables ---------------------------------------------------------------------------------

PERIOD_CHART_TABLE = WireTable("inquire-daily-itemchartprice", PERIOD_BARS, "output2")
DAILY_PRICE_TABLE = WireTable(
    "inquire-daily-price",
    PERIOD_BARS,
    "output",
    ignored=frozenset(
        {"prdy_vrss_vol_rate", "prdy_ctrt", "hts_frgn_ehrt", "frgn_ntby_qty", "acml_prtt_rate"}
    ),
    absent=frozenset({"acml_tr_pbmn", "prtt_rate", "mod_yn", "revl_issu_reas"}),
)
_MINUTE_TIME = {"stck_cntg_hour": pl.Time()}
TODAY_MINUTES_TABLE = WireTable(
    "inquire-time-itemchartprice", MINUTE_BARS, "output2", needs=frozenset(_MINUTE_TIME)
)
PAST_MINUTES_TABLE = WireTable(
    "inquire-time-dailychartprice", MINUTE_BARS, "output2", needs=frozenset(_MINUTE_TIME)
)
INDEX_CHART_TABLE = WireTable("inquire-daily-indexchartprice", INDEX_BARS, "output2")
INDEX_MINUTES_TABLE = WireTable(
    "inquire-time-indexchartprice",
    INDEX_MINUTE_BARS,
    "output2",
    needs=frozenset(_MINUTE_TIME),
    # The workbook example carries two pseudo-bars with times 999999 (closing) and 888888
    # (after-hours) when FID_ETC_CLS_CODE is 0: they are session summaries, not minutes.
    summary_rows={"stck_cntg_hour": frozenset({"999999", "888888"})},
)
HOLIDAY_CHECK_TABLE = WireTable("chk-holiday", HOLIDAYS, "output")
OVERSEAS_DAILY_TABLE = WireTable(
    "overseas dailyprice",
    OVERSEAS_BARS,
    "output2",
    # diff is sent unsigned (direction in `sign`); bid/ask are the day's last quotes.
    ignored=frozenset({"diff", "pbid", "vbid", "pask", "vask"}),
)
OVERSEAS_MINUTES_TABLE = WireTable(
    "overseas inquire-time-itemchartprice",
    OVERSEAS_MINUTE_BARS,
    "output2",
    ignored=frozenset({"tymd", "kymd", "khms"}),
)
_RANK_COMMON = frozenset({"prdy_vrss_sign", "lstn_stcn"})
VOLUME_RANK_TABLE = WireTable(
    "volume-rank",
    RANKINGS,
    "output",
    renames={"mksc_shrn_iscd": "symbol"},
    ignored=_RANK_COMMON
    | frozenset(
        {
            "prdy_vol",
            "avrg_vol",
            "n_befr_clpr_vrss_prpr_rate",
            "vol_inrt",
            "vol_tnrt",
            "nday_vol_tnrt",
            "avrg_tr_pbmn",
            "tr_pbmn_tnrt",
            "nday_tr_pbmn_tnrt",
        }
    ),
    absent=frozenset({"stck_avls"}),
)
FLUCTUATION_RANK_TABLE = WireTable(
    "ranking/fluctuation",
    RANKINGS,
    "output",
    renames={"stck_shrn_iscd": "symbol"},
    ignored=_RANK_COMMON
    | frozenset(
        {
            "stck_hgpr",
            "hgpr_hour",
            "acml_hgpr_date",
            "stck_lwpr",
            "lwpr_hour",
            "acml_lwpr_date",
            "lwpr_vrss_prpr_rate",
            "dsgt_date_clpr_vrss_prpr_rate",
            "cnnt_ascn_dynu",
            "hgpr_vrss_prpr_rate",
            "cnnt_down_dynu",
            "oprc_vrss_prpr_sign",
            "oprc_vrss_prpr",
            "oprc_vrss_prpr_rate",
            "prd_rsfl",
            "prd_rsfl_rate",
        }
    ),
    absent=frozenset({"acml_tr_pbmn", "stck_avls"}),
)
MARKET_CAP_RANK_TABLE = WireTable(
    "ranking/market-cap",
    RANKINGS,
    "output",
    renames={"mksc_shrn_iscd": "symbol"},
    ignored=_RANK_COMMON | frozenset({"mrkt_whol_avls_rlim"}),
    absent=frozenset({"acml_tr_pbmn"}),
)
RANK_TABLES: Mapping[str, WireTable] = {
    "volume": VOLUME_RANK_TABLE,
    "fluctuation": FLUCTUATION_RANK_TABLE,
    "market_cap": MARKET_CAP_RANK_TABLE,
}


# --- parsers --------------------------------------------------------------------------------------


def parse_period_bars(
    payload: Mapping[str, Any], *, symbol: str, period: str, adjusted: bool
) -> pl.DataFrame:
    """inquire-daily-itemchartprice `output2` -> PERIOD_BARS (newest first as sent)."""
    return _bars(payload, PERIOD_CHART_TABLE, symbol=symbol, period=period, adjusted=adjusted)


def parse_daily_price(
    payload: Mapping[str, Any], *, symbol: str, period: str, adjusted: bool
) -> pl.DataFrame:
    """inquire-daily-price `output` (last 30 periods) -> PERIOD_BARS."""
    return _bars(payload, DAILY_PRICE_TABLE, symbol=symbol, period=period, adjusted=adjusted)


def _bars(
    payload: Mapping[str, Any], table: WireTable, *, symbol: str, period: str, adjusted: bool
) -> pl.DataFrame:
    frame = wire_frame(payload, table).with_columns(
        symbol=pl.lit(symbol), period=pl.lit(period), adjusted=pl.lit(adjusted)
    )
    return conform(frame, table)


def parse_minute_bars(
    payload: Mapping[str, Any], *, symbol: str, past_days: bool = False
) -> pl.DataFrame:
    """Today's (inquire-time-itemchartprice) or past days' (inquire-time-dailychartprice) bars."""
    table = PAST_MINUTES_TABLE if past_days else TODAY_MINUTES_TABLE
    frame = wire_frame(payload, table, extra=_MINUTE_TIME)
    frame = frame.with_columns(symbol=pl.lit(symbol), ts=kst_timestamp("date", "stck_cntg_hour"))
    return conform(frame, table)


def parse_index_bars(payload: Mapping[str, Any], *, index_code: str, period: str) -> pl.DataFrame:
    """inquire-daily-indexchartprice `output2` -> INDEX_BARS (2-decimal exact levels)."""
    frame = wire_frame(payload, INDEX_CHART_TABLE).with_columns(
        index_code=pl.lit(index_code), period=pl.lit(period)
    )
    return conform(frame, INDEX_CHART_TABLE)


def parse_index_minute_bars(payload: Mapping[str, Any], *, index_code: str) -> pl.DataFrame:
    """inquire-time-indexchartprice `output2` -> INDEX_MINUTE_BARS."""
    frame = wire_frame(payload, INDEX_MINUTES_TABLE, extra=_MINUTE_TIME)
    frame = frame.with_columns(
        index_code=pl.lit(index_code), ts=kst_timestamp("date", "stck_cntg_hour")
    )
    return conform(frame, INDEX_MINUTES_TABLE)


def parse_holidays(payload: Mapping[str, Any]) -> pl.DataFrame:
    """chk-holiday `output` (one row per calendar day) -> HOLIDAYS."""
    return conform(wire_frame(payload, HOLIDAY_CHECK_TABLE), HOLIDAY_CHECK_TABLE)


def parse_ranking(
    payload: Mapping[str, Any], *, ranking: str, market: str, snapshot_ts: datetime
) -> pl.DataFrame:
    """A ranking `output` (at most 30 rows) -> RANKINGS, stamped with when it was taken."""
    try:
        table = RANK_TABLES[ranking]
    except KeyError:
        raise ValueError(
            f"unknown ranking {ranking!r}; expected one of {sorted(RANK_TABLES)}"
        ) from None
    if snapshot_ts.tzinfo is None:
        raise ValueError("snapshot_ts must be timezone-aware")
    frame = wire_frame(payload, table).with_columns(
        ranking=pl.lit(ranking),
        market=pl.lit(market),
        snapshot_ts=pl.lit(snapshot_ts).dt.convert_time_zone(SEOUL),
    )
    return conform(frame, table)


def parse_overseas_bars(
    payload: Mapping[str, Any], *, exchange: str, symbol: str, period: str, adjusted: bool
) -> pl.DataFrame:
    """Overseas dailyprice `output2` -> OVERSEAS_BARS (exact 4-decimal prices)."""
    frame = wire_frame(payload, OVERSEAS_DAILY_TABLE).with_columns(
        exchange=pl.lit(exchange),
        symbol=pl.lit(symbol),
        period=pl.lit(period),
        adjusted=pl.lit(adjusted),
    )
    return conform(frame, OVERSEAS_DAILY_TABLE)


def parse_overseas_minute_bars(
    payload: Mapping[str, Any], *, exchange: str, symbol: str
) -> pl.DataFrame:
    """Overseas minute bars -> OVERSEAS_MINUTE_BARS; ts from the exchange-local date and time."""
    zone = exchange_zone(exchange)
    frame = wire_frame(payload, OVERSEAS_MINUTES_TABLE)
    local = pl.col("local_date").dt.combine(pl.col("local_time"), "us")
    frame = frame.with_columns(
        exchange=pl.lit(exchange),
        symbol=pl.lit(symbol),
        timezone=pl.lit(zone),
        # Trading hours never fall in a DST fold, so a local wall time names one instant.
        ts=local.dt.replace_time_zone(zone, ambiguous="raise").dt.convert_time_zone("UTC"),
    )
    return conform(frame, OVERSEAS_MINUTES_TABLE)


def exchange_zone(exchange: str) -> str:
    try:
        return EXCHANGE_ZONES[exchange]
    except KeyError:
        raise ValueError(
            f"unknown exchange code {exchange!r}; expected one of {sorted(EXCHANGE_ZONES)}"
        ) from None


# --- current price (a dict, not a dataset) --------------------------------------------------------

_CURRENT_PRICE_INTS: Mapping[str, str] = {
    "stck_prpr": "price",
    "prdy_vrss": "change",
    "stck_oprc": "open",
    "stck_hgpr": "high",
    "stck_lwpr": "low",
    "stck_mxpr": "upper_limit",
    "stck_llam": "lower_limit",
    "stck_sdpr": "base_price",
    "acml_vol": "volume",
    "acml_tr_pbmn": "value",
    "aspr_unit": "tick_size",
    "lstn_stcn": "listed_shares",
}


def parse_current_price(payload: Mapping[str, Any], *, symbol: str) -> dict[str, Any]:
    """inquire-price `output` -> a dict of the headline figures (ints in KRW) plus `raw`.

    The headline keys are always present; `raw` keeps every wire field as sent (strings) for the
    many indicators we do not type.
    """
    endpoint = "inquire-price"
    rows = block_rows(payload, endpoint, "output")
    if not rows:
        raise KisProtocolError(
            f"{endpoint}: empty output for {symbol}", context={"endpoint": endpoint}
        )
    raw = {k: str(v) for k, v in rows[0].items()}
    missing = sorted(w for w in ("stck_prpr", "prdy_vrss_sign") if w not in raw)
    if missing:
        raise KisProtocolError(
            f"{endpoint}: the response lacks field(s) {missing}",
            context={"endpoint": endpoint, "field": missing[0]},
        )
    out: dict[str, Any] = {"symbol": symbol}
    for wire, name in _CURRENT_PRICE_INTS.items():
        out[name] = _int_or_none(raw.get(wire), endpoint, wire)
    rate = (raw.get("prdy_ctrt") or "").strip()
    out["change_rate"] = float(rate) if rate else None
    out["change_sign"] = raw["prdy_vrss_sign"].strip()
    out["raw"] = raw
    return out


def _int_or_none(value: str | None, endpoint: str, wire: str) -> int | None:
    text = (value or "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise KisProtocolError(
            f"{endpoint}: field {wire!r} is not an integer: {text!r}",
            context={"endpoint": endpoint, "field": wire},
        ) from None
