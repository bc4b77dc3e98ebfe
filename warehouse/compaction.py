"""Journal -> `ticks`, `quotes`, `execution_notices` (+ `journal_rejects`), vectorised with polars.

Rows are keyed by (journal file name, line, record index in the frame), so compacting the same
file again — or again after more lines were appended — upserts identical rows: idempotent.
A line that cannot be parsed (torn, bad header, wrong field count, a non-numeric price, an
undecryptable notice, an unknown TR) goes whole to `journal_rejects` with the reason; none of
its records reach the data tables. Nothing here raises on bad input.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from schemas.base import Dataset
from schemas.clock import SEOUL
from schemas.datasets import EXECUTION_NOTICES, JOURNAL_REJECTS, QUOTES, TICKS
from schemas.realtime import (
    NOTICE_MIN_FIELDS,
    NOTICE_TRS,
    REALTIME_FIELDS,
    TR_QUOTES,
    TR_TRADES,
    field_index,
)
from warehouse.journal import KINDS, Gap, journal_gaps, journal_path

RAW_LIMIT = 500  # characters of a rejected line kept in the table (the journal has the rest)
_NS_UTC = pl.Datetime("ns", "UTC")


class _Upserter(Protocol):
    def upsert(self, dataset: Dataset, frame: pl.DataFrame) -> Any: ...


@dataclass
class ParsedJournal:
    journal: str
    lines: int
    control_lines: int  # C lines and JSON messages (acks, PINGPONG): no rows, not rejects
    ticks: pl.DataFrame
    quotes: pl.DataFrame
    notices: pl.DataFrame
    rejects: pl.DataFrame

    @property
    def frames(self) -> dict[str, pl.DataFrame]:
        return {
            "ticks": self.ticks,
            "quotes": self.quotes,
            "execution_notices": self.notices,
            "journal_rejects": self.rejects,
        }


@dataclass
class JournalCompactionResult:
    journal: str
    lines: int
    rows: dict[str, int] = field(default_factory=dict)  # parsed rows per table
    upserts: dict[str, Any] = field(default_factory=dict)  # Lake.upsert results per table
    rejects: int = 0
    reject_reasons: dict[str, int] = field(default_factory=dict)
    # Where the stream has holes: disconnects, crashes, stale stretches, overflows (journal_gaps)
    # and every rejected line, whose prints are missing too (reject_gaps); by start time.
    gaps: list[Gap] = field(default_factory=list)


# --- line level --------------------------------------------------------------------------------


def _lines_frame(data: bytes) -> pl.DataFrame:
    # Decoding with replacement keeps invalid bytes from raising; they change the byte length,
    # so the length check below rejects such lines.
    end = data.rfind(b"\n")  # a last chunk without LF is incomplete: never read
    # LF never occurs inside a UTF-8 multi-byte sequence, so decoding first and splitting after
    # gives the same lines as splitting the bytes.
    lines = data[:end].decode("utf-8", errors="replace").split("\n") if end >= 0 else []
    frame = pl.DataFrame({"raw": pl.Series(lines, dtype=pl.String)})
    return frame.with_row_index("line", offset=1).with_columns(pl.col("line").cast(pl.Int64))


def _split_lines(frame: pl.DataFrame) -> pl.DataFrame:
    parts = pl.col("raw").str.splitn("\t", 4)
    frame = frame.with_columns(
        ts_ns=parts.struct.field("field_0").cast(pl.Int64, strict=False),
        kind=parts.struct.field("field_1"),
        size=parts.struct.field("field_2").cast(pl.Int64, strict=False),
        payload=parts.struct.field("field_3"),
    )
    reason = (
        pl.when(pl.col("payload").is_null() | pl.col("ts_ns").is_null() | pl.col("size").is_null())
        .then(pl.lit("torn or corrupt line (bad layout)"))
        .when(pl.col("payload").str.len_bytes() != pl.col("size"))
        .then(pl.lit("torn or corrupt line (length mismatch)"))
        .when(~pl.col("kind").is_in(sorted(KINDS)))
        .then(pl.lit("unknown line kind"))
        .when(pl.col("kind") == "E")
        .then(pl.lit("encrypted frame that could not be decrypted"))
    )
    return frame.with_columns(reason=reason)


def _unescape_json_lines(frame: pl.DataFrame) -> pl.DataFrame:
    """`Dj`/`Ej` lines (payload with CR/LF, rare): decode in Python, then treat as D/E."""
    mask = pl.col("kind").str.ends_with("j") & pl.col("reason").is_null()
    if not frame.select(mask.any()).item():
        return frame

    def decode(text: str) -> str | None:
        try:
            value = json.loads(text)
        except ValueError:
            return None
        return value if isinstance(value, str) else None

    decoded = pl.col("payload").map_elements(decode, return_dtype=pl.String)
    return (
        frame.with_columns(
            payload=pl.when(mask).then(decoded).otherwise(pl.col("payload")),
            kind=pl.when(mask).then(pl.col("kind").str.head(1)).otherwise(pl.col("kind")),
        )
        .with_columns(
            reason=pl.when(mask & pl.col("payload").is_null())
            .then(pl.lit("escaped payload is not a JSON string"))
            .otherwise(pl.col("reason")),
            kind=pl.when(pl.col("kind") == "E").then(pl.lit("E")).otherwise(pl.col("kind")),
        )
        .with_columns(
            reason=pl.when((pl.col("kind") == "E") & pl.col("reason").is_null())
            .then(pl.lit("encrypted frame that could not be decrypted"))
            .otherwise(pl.col("reason"))
        )
    )


def _split_frames(frame: pl.DataFrame) -> pl.DataFrame:
    """D lines: data frame header (`enc|tr|count|payload`) and the `^` fields."""
    head = pl.col("payload").str.splitn("|", 4)
    frame = frame.with_columns(
        tr_id=head.struct.field("field_1"),
        count=head.struct.field("field_2").cast(pl.Int64, strict=False),
        fields=head.struct.field("field_3").str.split("^"),
        header_ok=head.struct.field("field_0").is_in(["0", "1"]),
    )
    n = pl.col("fields").list.len()
    width = pl.col("tr_id").replace_strict(
        {tr: len(f) for tr, f in REALTIME_FIELDS.items()}, default=None, return_dtype=pl.Int64
    )
    short_notice = (
        pl.col("tr_id").is_in(sorted(NOTICE_TRS))
        & (pl.col("count") == 1)
        & (n >= NOTICE_MIN_FIELDS)
        & (n <= width)
    )
    reason = (
        pl.when(
            ~pl.col("header_ok")
            | pl.col("count").is_null()
            | (pl.col("count") < 1)
            | pl.col("fields").is_null()
        )
        .then(pl.lit("bad data frame header"))
        .when(width.is_null())
        .then(pl.concat_str(pl.lit("no table for TR_ID "), pl.col("tr_id")))
        .when((n != width * pl.col("count")) & ~short_notice)
        .then(pl.format("{} has {} fields for {} records", pl.col("tr_id"), n, pl.col("count")))
    )
    return frame.with_columns(reason=reason, width=width)


# --- per-TR typed columns ----------------------------------------------------------------------


def _field(tr_id: str, name: str) -> pl.Expr:
    return pl.col("rec").arr.get(field_index(tr_id)[name])


def _num(tr_id: str, name: str, dtype: type[pl.DataType]) -> pl.Expr:
    # Empty strings mean "no value" in KIS frames; anything else non-numeric is an error, which
    # `_typed` turns into a reject of the line when the column is required.
    return (
        pl.when(_field(tr_id, name) == "")
        .then(None)
        .otherwise(_field(tr_id, name).str.strip_chars().cast(dtype, strict=False))
    )


def _recv_day() -> pl.Expr:
    return pl.col("ts_recv").dt.convert_time_zone(SEOUL).dt.date()


def _event_ts(day: pl.Expr, hhmmss: pl.Expr) -> pl.Expr:
    return (
        pl.concat_str(day.dt.strftime("%Y%m%d"), hhmmss)
        .str.strptime(pl.Datetime("us"), "%Y%m%d%H%M%S", strict=False)
        .dt.replace_time_zone(SEOUL)
    )


def _ticks(rows: pl.DataFrame) -> pl.DataFrame:
    t = TR_TRADES
    day = _field(t, "BSOP_DATE").str.strptime(pl.Date, "%Y%m%d", strict=False)
    return rows.select(
        "journal",
        "line",
        "record",
        date=day,
        symbol=_field(t, "MKSC_SHRN_ISCD"),
        ts_event=_event_ts(day, _field(t, "STCK_CNTG_HOUR")),
        ts_recv="ts_recv",
        price=_num(t, "STCK_PRPR", pl.Int64),
        qty=_num(t, "CNTG_VOL", pl.Int64),
        change=_num(t, "PRDY_VRSS", pl.Int64),
        change_rate=_num(t, "PRDY_CTRT", pl.Float64),
        vwap=_num(t, "WGHN_AVRG_STCK_PRC", pl.Float64),
        open=_num(t, "STCK_OPRC", pl.Int64),
        high=_num(t, "STCK_HGPR", pl.Int64),
        low=_num(t, "STCK_LWPR", pl.Int64),
        ask1=_num(t, "ASKP1", pl.Int64),
        bid1=_num(t, "BIDP1", pl.Int64),
        cum_volume=_num(t, "ACML_VOL", pl.Int64),
        cum_value=_num(t, "ACML_TR_PBMN", pl.Int64),
        side=_field(t, "CCLD_DVSN"),
        session_code=_field(t, "NEW_MKOP_CLS_CODE"),
        hour_class=_field(t, "HOUR_CLS_CODE"),
    )


def _quotes(rows: pl.DataFrame) -> pl.DataFrame:
    q = TR_QUOTES
    levels: dict[str, pl.Expr] = {}
    for i in range(1, 11):
        levels[f"ask_px_{i}"] = _num(q, f"ASKP{i}", pl.Int64)
        levels[f"bid_px_{i}"] = _num(q, f"BIDP{i}", pl.Int64)
        levels[f"ask_qty_{i}"] = _num(q, f"ASKP_RSQN{i}", pl.Int64)
        levels[f"bid_qty_{i}"] = _num(q, f"BIDP_RSQN{i}", pl.Int64)
    return rows.select(
        "journal",
        "line",
        "record",
        date=_recv_day(),
        symbol=_field(q, "MKSC_SHRN_ISCD"),
        ts_event=_event_ts(_recv_day(), _field(q, "BSOP_HOUR")),
        ts_recv="ts_recv",
        hour_class=_field(q, "HOUR_CLS_CODE"),
        **levels,
        total_ask_qty=_num(q, "TOTAL_ASKP_RSQN", pl.Int64),
        total_bid_qty=_num(q, "TOTAL_BIDP_RSQN", pl.Int64),
        cum_volume=_num(q, "ACML_VOL", pl.Int64),
    )


def _notices(rows: pl.DataFrame) -> pl.DataFrame:
    n = "H0STCNI0"  # H0STCNI9 has the same layout
    is_fill = _field(n, "CNTG_YN") == "2"
    account = _field(n, "ACNT_NO")
    return rows.select(
        "journal",
        "line",
        "record",
        date=_recv_day(),
        ts_event=_event_ts(_recv_day(), _field(n, "STCK_CNTG_HOUR")),
        ts_recv="ts_recv",
        # The account number stays in the 0600 journal only; the table keeps its last 2 digits.
        account=pl.concat_str(pl.lit("**"), account.str.slice(-2)),
        order_no=_field(n, "ODER_NO"),
        orig_order_no=_field(n, "OODER_NO"),
        side=_field(n, "SELN_BYOV_CLS"),
        kind=_field(n, "RCTF_CLS"),
        order_type=_field(n, "ODER_KIND"),
        symbol=_field(n, "STCK_SHRN_ISCD"),
        is_fill=is_fill,
        rejected=_field(n, "RFUS_YN") == "1",
        accept_code=_field(n, "ACPT_YN"),
        # Slots 9/10 carry order qty/price on acknowledgements in one layout: fills only.
        fill_qty=pl.when(is_fill).then(_num(n, "CNTG_QTY", pl.Int64)),
        fill_price=pl.when(is_fill).then(_num(n, "CNTG_UNPR", pl.Int64)),
        order_qty=_num(n, "ODER_QTY", pl.Int64),
        order_price=_num(n, "ODER_PRC", pl.Int64),
        name=_field(n, "CNTG_ISNM40"),
    )


# Columns that must parse for a row to be kept; a failure rejects the whole line.
_REQUIRED: dict[str, tuple[str, ...]] = {
    "ticks": ("date", "symbol", "ts_event", "price", "qty"),
    "quotes": ("symbol", "ts_event"),
    "execution_notices": ("ts_event", "order_no", "symbol"),
}


def _records(rows: pl.DataFrame, dataset: Dataset) -> pl.DataFrame:
    """One row per record, its fields as a fixed-width array column `rec`.

    All frames of one TR have exactly `width * count` fields (checked before), so the flattened
    fields of every frame, in order, reshape straight into records: no per-record list copies.
    A short single notice (older layout) is padded with empty strings first.
    """
    width = rows["width"][0]
    fields = pl.col("fields")
    if dataset is EXECUTION_NOTICES:
        pad = pl.lit([""] * width, dtype=pl.List(pl.String))
        fields = pl.concat_list(fields, pad).list.head(width * pl.col("count"))
    flat = rows.select(fields.alias("f"))["f"].explode()
    rec = flat.reshape((-1, width)).alias("rec")
    meta = (
        rows.select("journal", "line", "ts_recv", "count")
        .with_columns(record=pl.int_ranges(0, pl.col("count")))
        .explode("record")
    )
    return meta.with_columns(rec)


def _typed(
    rows: pl.DataFrame, table: str, build: Callable[[pl.DataFrame], pl.DataFrame], dataset: Dataset
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Build one table's rows; lines with any record missing a required value become rejects."""
    if rows.is_empty():
        return dataset.empty(), _reject_frame([], [], [])
    built = build(_records(rows, dataset))
    bad_cols = [pl.when(pl.col(c).is_null()).then(pl.lit(c)) for c in _REQUIRED[table]]
    built = built.with_columns(_bad=pl.concat_str(bad_cols, separator=",", ignore_nulls=True))
    bad_lines = (
        built.filter(pl.col("_bad") != "").group_by("line").agg(pl.col("_bad").first()).sort("line")
    )
    good = built.filter(~pl.col("line").is_in(bad_lines["line"].implode())).drop("_bad")
    raw = rows.select("line", "raw", "ts_recv", "tr_id")
    rejected = bad_lines.join(raw, on="line", how="left").select(
        "line",
        reason=pl.format("bad or missing value in {}", pl.col("_bad")),
        raw="raw",
        ts_recv="ts_recv",
        tr_id="tr_id",
    )
    return dataset.conform(good), rejected


def _reject_frame(
    lines: Sequence[int], reasons: Sequence[str], raws: Sequence[str]
) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "line": lines,
            "reason": reasons,
            "raw": raws,
            "ts_recv": [None] * len(lines),
            "tr_id": [None] * len(lines),
        },
        schema={
            "line": pl.Int64,
            "reason": pl.String,
            "raw": pl.String,
            "ts_recv": _NS_UTC,
            "tr_id": pl.String,
        },
    )


def parse_journal_bytes(data: bytes, journal: str) -> ParsedJournal:
    """Parse one journal file's content (pure: no I/O)."""
    lines = _unescape_json_lines(_split_lines(_lines_frame(data)))
    lines = lines.with_columns(ts_recv=pl.col("ts_ns").cast(_NS_UTC), journal=pl.lit(journal))
    bad_lines = lines.filter(pl.col("reason").is_not_null())
    ok = lines.filter(pl.col("reason").is_null())
    is_frame = (pl.col("kind") == "D") & pl.col("payload").str.contains(r"^[01]\|")
    control = ok.filter(~is_frame)
    # A D line that is neither JSON nor a data frame is malformed (e.g. a frame cut short).
    junk = control.filter((pl.col("kind") == "D") & ~pl.col("payload").str.starts_with("{"))
    frames = _split_frames(ok.filter(is_frame))
    bad_frames = frames.filter(pl.col("reason").is_not_null())
    frames = frames.filter(pl.col("reason").is_null())

    ticks, rej_t = _typed(frames.filter(pl.col("tr_id") == TR_TRADES), "ticks", _ticks, TICKS)
    quotes, rej_q = _typed(frames.filter(pl.col("tr_id") == TR_QUOTES), "quotes", _quotes, QUOTES)
    notices, rej_n = _typed(
        frames.filter(pl.col("tr_id").is_in(sorted(NOTICE_TRS))),
        "execution_notices",
        _notices,
        EXECUTION_NOTICES,
    )

    cols = ["line", "reason", "raw", "ts_recv", "tr_id"]
    rejects = pl.concat(
        [
            bad_lines.with_columns(tr_id=pl.lit(None, pl.String)).select(cols),
            junk.with_columns(
                reason=pl.lit("not a data frame or JSON message"), tr_id=pl.lit(None, pl.String)
            ).select(cols),
            bad_frames.select(cols),
            rej_t.select(cols),
            rej_q.select(cols),
            rej_n.select(cols),
        ],
        how="vertical_relaxed",
    )
    # Notice payloads carry the account number and HTS ID: keep them out of the lake.
    rejects = rejects.with_columns(
        journal=pl.lit(journal),
        raw=pl.when(
            pl.col("tr_id").is_in(sorted(NOTICE_TRS))
            | pl.col("raw").str.contains("|H0STCNI", literal=True)
        )
        .then(pl.lit("(execution notice withheld; see the journal line)"))
        .otherwise(pl.col("raw").str.head(RAW_LIMIT)),
    ).sort("line")
    return ParsedJournal(
        journal=journal,
        lines=lines.height,
        control_lines=control.height - junk.height,
        ticks=ticks,
        quotes=quotes,
        notices=notices,
        rejects=JOURNAL_REJECTS.conform(rejects),
    )


def reject_gaps(rejects: pl.DataFrame) -> list[Gap]:
    """A rejected line (e.g. a frame cut short) is a hole: the records it carried are missing.
    Each becomes a zero-length gap at its receive time, named by line and reason."""
    rows = rejects.select(
        pl.col("ts_recv").dt.epoch("ns").alias("ts"), "line", "reason"
    ).iter_rows()
    return [Gap(ts, ts, f"line {line} rejected: {reason}") for ts, line, reason in rows]


def parse_journal(path: Path) -> ParsedJournal:
    return parse_journal_bytes(Path(path).read_bytes(), Path(path).name)


def compact_journal(lake: _Upserter, path: Path) -> JournalCompactionResult:
    """Parse one journal file and upsert its rows and rejects (idempotent)."""
    parsed = parse_journal(path)
    result = JournalCompactionResult(journal=parsed.journal, lines=parsed.lines)
    datasets = {
        "ticks": TICKS,
        "quotes": QUOTES,
        "execution_notices": EXECUTION_NOTICES,
        "journal_rejects": JOURNAL_REJECTS,
    }
    for name, frame in parsed.frames.items():
        result.rows[name] = frame.height
        if frame.height:
            result.upserts[name] = lake.upsert(datasets[name], frame)
    result.rejects = parsed.rejects.height
    result.gaps = sorted(
        journal_gaps(path) + reject_gaps(parsed.rejects), key=lambda gap: gap.start_ns
    )
    if parsed.rejects.height:
        counts = parsed.rejects.group_by("reason").len().sort("reason")
        result.reject_reasons = dict(zip(counts["reason"], counts["len"], strict=True))
    return result


def compact_day(lake: _Upserter, home: Path, day: date) -> JournalCompactionResult | None:
    """Compact one KST day's journal; None if there is no journal for that day."""
    path = journal_path(home, day)
    return compact_journal(lake, path) if path.exists() else None
