"""Every dataset of the market database, one definition each (README "Tables" lists them).

`kis=` names the wire field a column is parsed from. Columns without it are derived (keys the
request implies, such as `symbol` or `period`, or values computed from several fields).
"""

from __future__ import annotations

import polars as pl

from schemas.base import (
    FOREIGN_AMOUNT,
    FOREIGN_PRICE,
    INDEX_VALUE,
    KRW,
    QTY,
    RATE,
    TS_KST,
    TS_RECV,
    TS_UTC,
    Column,
    Dataset,
)
from schemas.research import RESEARCH_DATASETS

S = pl.String()
D = pl.Date()
B = pl.Boolean()
I64 = pl.Int64()

# Every bar dataset carries it; the store sets it from the session calendar (schemas/sessions.py).
FINAL = Column(
    "final",
    B,
    doc="false: the bar's period has not closed yet (provisional, replaced by the next update); "
    "null: stored before the flag existed",
)


def _ohlc(dtype: pl.DataType, kis: tuple[str, str, str, str] | None = None) -> tuple[Column, ...]:
    names = ("open", "high", "low", "close")
    wire = kis or (None, None, None, None)
    return tuple(Column(n, dtype, k, nullable=False) for n, k in zip(names, wire, strict=True))


_STOCK_OHLC = ("stck_oprc", "stck_hgpr", "stck_lwpr", "stck_clpr")
_INDEX_OHLC = ("bstp_nmix_oprc", "bstp_nmix_hgpr", "bstp_nmix_lwpr", "bstp_nmix_prpr")

HOLIDAYS = Dataset(
    name="holidays",
    doc="KRX calendar days from chk-holiday; `market_open` decides whether orders can be placed.",
    columns=(
        Column("date", D, "bass_dt", nullable=False),
        Column("weekday_code", S, "wday_dvsn_cd", doc="01 Sun ... 07 Sat"),
        Column("business_day", B, "bzdy_yn"),
        Column("transaction_day", B, "tr_day_yn"),
        Column("market_open", B, "opnd_yn", nullable=False),
        Column("settlement_day", B, "sttl_day_yn"),
    ),
    primary_key=("date",),
)

SECURITIES = Dataset(
    name="securities",
    doc="Daily snapshot of the KOSPI/KOSDAQ stock master: delisted names stay in history.",
    columns=(
        Column("snapshot_date", D, nullable=False),
        Column("symbol", S, nullable=False),
        Column("isin", S),
        Column("name", S, nullable=False),
        Column("market", S, nullable=False, doc="KOSPI | KOSDAQ"),
    ),
    primary_key=("snapshot_date", "symbol"),
    partition_by=("year(snapshot_date)",),
)

FETCH_LEDGER = Dataset(
    name="fetch_ledger",
    doc="What each ingest fetched, when, and whether the range came back complete.",
    columns=(
        Column("dataset", S, nullable=False),
        Column("key", S, nullable=False, doc="symbol / index code / exchange:symbol / ranking"),
        Column("start", D, nullable=False),
        Column("end", D, nullable=False),
        Column("fetched_at", TS_UTC, nullable=False),
        Column("rows", I64),
        Column("calls", I64),
        Column("complete", B, nullable=False),
        Column("run_id", S),
        Column("error", S),
    ),
    primary_key=("dataset", "key", "start", "end", "fetched_at"),
)

PERIOD_BARS = Dataset(
    name="period_bars",
    doc="Domestic stock period bars (D/W/M/Y), adjusted and raw, from inquire-daily-itemchartprice.",
    columns=(
        Column("symbol", S, nullable=False),
        Column("period", S, nullable=False, doc="D | W | M | Y"),
        Column("adjusted", B, nullable=False),
        Column("date", D, "stck_bsop_date", nullable=False),
        *_ohlc(KRW, _STOCK_OHLC),
        Column("volume", QTY, "acml_vol", nullable=False),
        Column("value", KRW, "acml_tr_pbmn", doc="traded value, KRW"),
        Column("change", KRW, "prdy_vrss"),
        Column("change_sign", S, "prdy_vrss_sign"),
        Column("ex_right_code", S, "flng_cls_code"),
        Column("split_ratio", RATE, "prtt_rate"),
        Column("filled", B, "mod_yn", doc="True when there was no trade and KIS filled the bar"),
        Column("revaluation_reason", S, "revl_issu_reas"),
        FINAL,
    ),
    primary_key=("symbol", "period", "adjusted", "date"),
    partition_by=("period", "year(date)"),
)

CORPORATE_ACTIONS = Dataset(
    name="corporate_actions",
    doc="Corporate actions (splits, ex-rights, ...): KSD schedules and events seen in the charts.",
    columns=(
        Column("symbol", S, nullable=False),
        Column(
            "date",
            D,
            nullable=False,
            doc="effective date: the first day at the new basis (dividends: the record date)",
        ),
        Column(
            "kind",
            S,
            nullable=False,
            doc="par_value_change | bonus_issue | rights_issue | cash_dividend | stock_dividend | "
            "merger | company_split | capital_reduction | ... (KSD schedules); split | ex_rights | "
            "ex_dividend | ... (chart)",
        ),
        Column(
            "ratio",
            RATE,
            doc="shares after per share before (rights_issue: new shares offered per share; "
            "chart: KIS's prtt_rate)",
        ),
        Column("source", S, nullable=False, doc="ksdinfo:<schedule> | chart"),
        Column("record_date", D),
        Column("detail", S),
        # Last: a lake made before it gets it by ADD COLUMN, which appends.
        Column("amount", KRW, doc="KRW per share: a cash dividend, a rights issue's price"),
    ),
    primary_key=("symbol", "date", "kind", "source"),
)

# Events that leave the adjusted price basis alone (KRX does not adjust the base price for a
# cash dividend; a stock dividend, also flagged ex_dividend by the chart, moves the adjusted
# closes, which the overlap check sees): no reason to restate an adjusted history.
PRICE_NEUTRAL_ACTIONS = ("cash_dividend", "ex_dividend", "ex_interim_dividend")

INDEX_BARS = Dataset(
    name="index_bars",
    doc="Index period bars (D/W/M/Y) from inquire-daily-indexchartprice.",
    columns=(
        Column("index_code", S, nullable=False),
        Column("period", S, nullable=False),
        Column("date", D, "stck_bsop_date", nullable=False),
        *_ohlc(INDEX_VALUE, _INDEX_OHLC),
        Column("volume", QTY, "acml_vol"),
        Column("value", KRW, "acml_tr_pbmn"),
        Column("filled", B, "mod_yn"),
        FINAL,
    ),
    primary_key=("index_code", "period", "date"),
    partition_by=("period", "year(date)"),
)

MINUTE_BARS = Dataset(
    name="minute_bars",
    doc="Domestic stock one-minute bars (today's and past days'); ts is the bar's minute, KST.",
    columns=(
        Column("symbol", S, nullable=False),
        Column("ts", TS_KST, nullable=False),
        Column("date", D, "stck_bsop_date", nullable=False),
        Column("open", KRW, "stck_oprc", nullable=False),
        Column("high", KRW, "stck_hgpr", nullable=False),
        Column("low", KRW, "stck_lwpr", nullable=False),
        Column("close", KRW, "stck_prpr", nullable=False),
        Column("volume", QTY, "cntg_vol", nullable=False),
        Column("cum_value", KRW, "acml_tr_pbmn", doc="cumulative traded value at the bar"),
        FINAL,
    ),
    primary_key=("symbol", "ts"),
    partition_by=("year(date)", "month(date)"),
)

INDEX_MINUTE_BARS = Dataset(
    name="index_minute_bars",
    doc="Index minute bars from inquire-time-indexchartprice.",
    columns=(
        Column("index_code", S, nullable=False),
        Column("ts", TS_KST, nullable=False),
        Column("date", D, "stck_bsop_date", nullable=False),
        *_ohlc(INDEX_VALUE, _INDEX_OHLC),
        Column("volume", QTY, "cntg_vol"),
        Column("cum_value", KRW, "acml_tr_pbmn"),
        FINAL,
    ),
    primary_key=("index_code", "ts"),
    partition_by=("year(date)", "month(date)"),
)

OVERSEAS_BARS = Dataset(
    name="overseas_bars",
    doc="Overseas daily/weekly/monthly bars from dailyprice; prices exact decimals.",
    columns=(
        Column("exchange", S, nullable=False, doc="quote exchange code: NAS, NYS, AMS, ..."),
        Column("symbol", S, nullable=False),
        Column("period", S, nullable=False, doc="D | W | M"),
        Column("adjusted", B, nullable=False),
        Column("date", D, "xymd", nullable=False, doc="exchange-local date"),
        Column("open", FOREIGN_PRICE, "open", nullable=False),
        Column("high", FOREIGN_PRICE, "high", nullable=False),
        Column("low", FOREIGN_PRICE, "low", nullable=False),
        Column("close", FOREIGN_PRICE, "clos", nullable=False),
        Column("volume", QTY, "tvol"),
        Column("value", FOREIGN_AMOUNT, "tamt"),
        Column("change_sign", S, "sign"),
        Column("change_rate", RATE, "rate"),
        FINAL,
    ),
    primary_key=("exchange", "symbol", "period", "adjusted", "date"),
    partition_by=("period", "year(date)"),
)

OVERSEAS_MINUTE_BARS = Dataset(
    name="overseas_minute_bars",
    doc="Overseas minute bars; ts is the instant (UTC), local_date/local_time the exchange's clock.",
    columns=(
        Column("exchange", S, nullable=False),
        Column("symbol", S, nullable=False),
        Column("ts", TS_UTC, nullable=False),
        Column("timezone", S, nullable=False, doc="the exchange's zone, e.g. America/New_York"),
        Column("local_date", D, "xymd", nullable=False),
        Column("local_time", pl.Time(), "xhms", nullable=False),
        Column("open", FOREIGN_PRICE, "open", nullable=False),
        Column("high", FOREIGN_PRICE, "high", nullable=False),
        Column("low", FOREIGN_PRICE, "low", nullable=False),
        Column("close", FOREIGN_PRICE, "last", nullable=False),
        Column("volume", QTY, "evol"),
        Column("value", FOREIGN_AMOUNT, "eamt"),
        FINAL,
    ),
    primary_key=("exchange", "symbol", "ts"),
    partition_by=("year(local_date)", "month(local_date)"),
)

RANKINGS = Dataset(
    name="rankings",
    doc="Ranking snapshots (volume, fluctuation, market cap): at most 30 rows each.",
    columns=(
        Column("ranking", S, nullable=False, doc="volume | fluctuation | market_cap"),
        Column("snapshot_ts", TS_KST, nullable=False),
        Column(
            "market", S, nullable=False, doc="the FID_INPUT_ISCD scope: 0000 all, 0001, 1001, 2001"
        ),
        Column("rank", I64, "data_rank", nullable=False),
        Column("symbol", S, nullable=False, doc="mksc_shrn_iscd or stck_shrn_iscd"),
        Column("name", S, "hts_kor_isnm"),
        Column("price", KRW, "stck_prpr"),
        Column("change", KRW, "prdy_vrss"),
        Column("change_rate", RATE, "prdy_ctrt"),
        Column("volume", QTY, "acml_vol"),
        Column("value", KRW, "acml_tr_pbmn"),
        Column("market_cap", KRW, "stck_avls", doc="100M KRW units (억원) as KIS sends it"),
    ),
    primary_key=("ranking", "snapshot_ts", "market", "rank"),
    partition_by=("ranking", "year(snapshot_ts)"),
)

_JOURNAL_KEY = (
    Column("journal", S, nullable=False, doc="journal file name"),
    Column("line", I64, nullable=False, doc="1-based line number in the journal"),
    Column("record", I64, nullable=False, doc="0-based record index within the frame"),
)

TICKS = Dataset(
    name="ticks",
    doc="H0STCNT0 real-time trades, compacted from the journal.",
    columns=(
        *_JOURNAL_KEY,
        Column("date", D, "BSOP_DATE", nullable=False),
        Column("symbol", S, "MKSC_SHRN_ISCD", nullable=False),
        Column("ts_event", TS_KST, nullable=False, doc="BSOP_DATE + STCK_CNTG_HOUR, KST"),
        Column("ts_recv", TS_RECV, nullable=False),
        Column("price", KRW, "STCK_PRPR", nullable=False),
        Column("qty", QTY, "CNTG_VOL", nullable=False),
        Column("change", KRW, "PRDY_VRSS"),
        Column("change_rate", RATE, "PRDY_CTRT"),
        Column("vwap", RATE, "WGHN_AVRG_STCK_PRC"),
        Column("open", KRW, "STCK_OPRC"),
        Column("high", KRW, "STCK_HGPR"),
        Column("low", KRW, "STCK_LWPR"),
        Column("ask1", KRW, "ASKP1"),
        Column("bid1", KRW, "BIDP1"),
        Column("cum_volume", QTY, "ACML_VOL"),
        Column("cum_value", KRW, "ACML_TR_PBMN"),
        Column("side", S, "CCLD_DVSN", doc="1 buy-initiated, 5 sell-initiated, 3 pre-market"),
        Column("session_code", S, "NEW_MKOP_CLS_CODE"),
        Column("hour_class", S, "HOUR_CLS_CODE"),
    ),
    primary_key=("journal", "line", "record"),
    partition_by=("year(date)", "month(date)"),
)

QUOTES = Dataset(
    name="quotes",
    doc="H0STASP0 10-level order book snapshots, compacted from the journal.",
    columns=(
        *_JOURNAL_KEY,
        Column("date", D, nullable=False, doc="from the receive time, KST"),
        Column("symbol", S, "MKSC_SHRN_ISCD", nullable=False),
        Column("ts_event", TS_KST, nullable=False, doc="receive date + BSOP_HOUR, KST"),
        Column("ts_recv", TS_RECV, nullable=False),
        Column("hour_class", S, "HOUR_CLS_CODE"),
        *(Column(f"ask_px_{i}", KRW, f"ASKP{i}") for i in range(1, 11)),
        *(Column(f"bid_px_{i}", KRW, f"BIDP{i}") for i in range(1, 11)),
        *(Column(f"ask_qty_{i}", QTY, f"ASKP_RSQN{i}") for i in range(1, 11)),
        *(Column(f"bid_qty_{i}", QTY, f"BIDP_RSQN{i}") for i in range(1, 11)),
        Column("total_ask_qty", QTY, "TOTAL_ASKP_RSQN"),
        Column("total_bid_qty", QTY, "TOTAL_BIDP_RSQN"),
        Column("cum_volume", QTY, "ACML_VOL"),
    ),
    primary_key=("journal", "line", "record"),
    partition_by=("year(date)", "month(date)"),
)

EXECUTION_NOTICES = Dataset(
    name="execution_notices",
    doc="H0STCNI0/H0STCNI9 order acknowledgements and fills (decrypted), from the journal.",
    columns=(
        *_JOURNAL_KEY,
        Column("date", D, nullable=False, doc="from the receive time, KST"),
        Column("ts_event", TS_KST, nullable=False),
        Column("ts_recv", TS_RECV, nullable=False),
        Column("account", S, "ACNT_NO", doc="masked: last 2 digits only"),
        Column("order_no", S, "ODER_NO", nullable=False),
        Column("orig_order_no", S, "OODER_NO"),
        Column("side", S, "SELN_BYOV_CLS", doc="01 sell, 02 buy"),
        Column("kind", S, "RCTF_CLS", doc="0 new, 1 modify, 2 cancel"),
        Column("order_type", S, "ODER_KIND"),
        Column("symbol", S, "STCK_SHRN_ISCD", nullable=False),
        Column("is_fill", B, "CNTG_YN", nullable=False, doc="CNTG_YN == 2"),
        Column("rejected", B, "RFUS_YN"),
        Column("accept_code", S, "ACPT_YN"),
        Column("fill_qty", QTY, "CNTG_QTY", doc="only when is_fill"),
        Column("fill_price", KRW, "CNTG_UNPR", doc="only when is_fill"),
        Column("order_qty", QTY, "ODER_QTY"),
        Column("order_price", KRW, "ODER_PRC"),
        Column("name", S, "CNTG_ISNM40"),
    ),
    primary_key=("journal", "line", "record"),
    partition_by=("year(date)", "month(date)"),
)

JOURNAL_REJECTS = Dataset(
    name="journal_rejects",
    doc="Journal lines compaction could not parse, with the reason; never silently dropped.",
    columns=(
        Column("journal", S, nullable=False),
        Column("line", I64, nullable=False),
        Column("reason", S, nullable=False),
        Column("raw", S),
        Column("ts_recv", TS_RECV),
    ),
    primary_key=("journal", "line"),
)

ORDER_LOG = Dataset(
    name="order_log",
    doc="Every order attempt, written before it is sent and updated with the outcome.",
    columns=(
        Column("client_order_id", S, nullable=False),
        Column("created_at", TS_UTC, nullable=False),
        Column("updated_at", TS_UTC, nullable=False),
        Column("env", S, nullable=False, doc="sim | paper | real"),
        Column("action", S, nullable=False, doc="buy | sell | modify | cancel"),
        Column("symbol", S),
        Column("qty", QTY),
        Column("price", KRW),
        Column("order_division", S, doc="ORD_DVSN"),
        Column("orig_order_no", S),
        Column(
            "status", S, nullable=False, doc="pending | accepted | rejected | uncertain | failed"
        ),
        Column("order_no", S),
        Column("org_no", S),
        Column("msg_cd", S),
        Column("message", S),
        Column("source", S, doc="cli | flow name | python"),
    ),
    primary_key=("client_order_id",),
)

# A live snapshot a client reads, not a lake table (the recorder stores books as `quotes`).
ORDER_BOOK = Dataset(
    name="order_book",
    doc="inquire-asking-price-exp-ccn (FHKST01010200): the 10-level book and the expected match.",
    columns=(
        Column("symbol", S, "stck_shrn_iscd", nullable=False),
        Column(
            "ts_event", TS_KST, nullable=False, doc="today (the client's clock) + aspr_acpt_hour"
        ),
        *(Column(f"ask_px_{i}", KRW, f"askp{i}") for i in range(1, 11)),
        *(Column(f"bid_px_{i}", KRW, f"bidp{i}") for i in range(1, 11)),
        *(Column(f"ask_qty_{i}", QTY, f"askp_rsqn{i}") for i in range(1, 11)),
        *(Column(f"bid_qty_{i}", QTY, f"bidp_rsqn{i}") for i in range(1, 11)),
        Column("total_ask_qty", QTY, "total_askp_rsqn"),
        Column("total_bid_qty", QTY, "total_bidp_rsqn"),
        Column("price", KRW, "stck_prpr", doc="current price"),
        Column("expected_price", KRW, "antc_cnpr", doc="expected match price (auctions)"),
        Column("expected_volume", QTY, "antc_vol"),
    ),
    primary_key=("symbol", "ts_event"),
)


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        HOLIDAYS,
        SECURITIES,
        FETCH_LEDGER,
        PERIOD_BARS,
        CORPORATE_ACTIONS,
        INDEX_BARS,
        MINUTE_BARS,
        INDEX_MINUTE_BARS,
        OVERSEAS_BARS,
        OVERSEAS_MINUTE_BARS,
        RANKINGS,
        TICKS,
        QUOTES,
        EXECUTION_NOTICES,
        JOURNAL_REJECTS,
        ORDER_LOG,
        *RESEARCH_DATASETS,
    )
}
