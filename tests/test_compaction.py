"""Journal format and compaction: torn lines, 0600, rotation, rejects, idempotent upserts."""

from __future__ import annotations

import os
import stat
import sys
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from schemas.clock import KST
from schemas.datasets import EXECUTION_NOTICES, JOURNAL_REJECTS, QUOTES, TICKS
from tests.helpers import NOTICE_ACK, TRADE, quote_fields
from warehouse.compaction import compact_journal, parse_journal, parse_journal_bytes
from warehouse.journal import (
    BadLine,
    JournalLine,
    JournalWriter,
    encode_line,
    journal_path,
    kst_day,
    read_journal,
)
from warehouse.lake import Lake

T0 = int(datetime(2026, 11, 24, 9, 30, tzinfo=KST).timestamp() * 1e9)
PAYLOAD = TRADE.split("|", 3)[3]


def trade(price: int, hhmmss: str = "093354") -> str:
    return PAYLOAD.replace("093354^71900", f"{hhmmss}^{price}", 1)


def write_day(home: Path) -> Path:
    """A journal with every kind of line compaction must handle; returns its path."""
    with JournalWriter(home) as w:
        w.control(T0, "start", pid=1)
        w.append(
            T0 + 1,
            "D",
            '{"header":{"tr_id":"H0STCNT0","tr_key":"005930","encrypt":"N"},'
            '"body":{"rt_cd":"0","msg_cd":"OPSP0000","msg1":"SUBSCRIBE SUCCESS"}}',
        )
        w.append(T0 + 2, "D", f"0|H0STCNT0|001|{trade(71900)}")  # line 3
        w.append(T0 + 3, "D", f"0|H0STCNT0|002|{trade(72000)}^{trade(72100, '093355')}")  # line 4
        w.append(T0 + 4, "D", "0|H0STASP0|001|" + "^".join(quote_fields()))  # line 5
        w.append(T0 + 5, "D", f"1|H0STCNI0|001|{NOTICE_ACK}")  # line 6
        w.append(T0 + 6, "D", TRADE[:60])  # 7 cut short
        w.append(
            T0 + 7, "D", f"0|H0STCNT0|001|{trade(71900).replace('^1^3052507^', '^x^3052507^')}"
        )  # 8
        w.append(T0 + 8, "D", "0|H0STXXX0|001|a^b")  # 9 unknown TR
        w.append(T0 + 9, "E", "1|H0STCNI0|001|bm90IGRlY3J5cHRhYmxl")  # 10
        w.append(T0 + 10, "D", "garbage\nwith a newline")  # 11 (Dj)
        w.append(T0 + 11, "D", '{"header":{"tr_id":"PINGPONG","datetime":"20261124093000"}}')
        w.control(T0 + 12, "disconnect", reason="test")
        return journal_path(home, date(2026, 11, 24))


def test_lines_carry_their_length_and_escape_newlines() -> None:
    assert encode_line(5, "D", "0|X|001|가") == "5\tD\t11\t0|X|001|가\n".encode()
    line = encode_line(7, "D", "a\nb")
    assert line == b'7\tDj\t6\t"a\\nb"\n'


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_journal_is_private_and_rotates_per_kst_day(tmp_path: Path) -> None:
    late = int(datetime(2026, 11, 24, 23, 59, 59, tzinfo=KST).timestamp() * 1e9)
    with JournalWriter(tmp_path) as w:
        w.append(late, "D", "0|H0STCNT0|001|a")
        w.append(late + 2 * 10**9, "D", "0|H0STCNT0|001|b")  # 00:00:01 KST next day
    assert [p.name for p in w.paths] == ["20261124.journal", "20261125.journal"]
    assert kst_day(late) == date(2026, 11, 24)
    for path in w.paths:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert len(list(read_journal(path))) == 1


def test_torn_last_line_is_skipped_then_sealed_on_restart(tmp_path: Path) -> None:
    with JournalWriter(tmp_path) as w:
        w.append(T0, "D", "0|H0STCNT0|001|a")
    path = w.paths[0]
    with path.open("ab") as f:  # a crash in the middle of a write
        f.write(encode_line(T0 + 1, "D", "0|H0STCNT0|001|bbbb")[:-6])
    assert [e.line for e in read_journal(path)] == [1]  # the incomplete tail is not read
    with JournalWriter(tmp_path) as w2:  # restart: same day, same file
        w2.append(T0 + 2, "D", "0|H0STCNT0|001|c")
    assert w2.sealed_torn_tail == [path]
    entries = list(read_journal(path))
    assert isinstance(entries[1], BadLine) and "length mismatch" in entries[1].reason
    assert isinstance(entries[2], JournalLine) and entries[2].payload == "0|H0STCNT0|001|c"


def test_parse_journal_types_rows_and_keeps_rejects(tmp_path: Path) -> None:
    parsed = parse_journal(write_day(tmp_path))
    assert parsed.lines == 13 and parsed.control_lines == 4
    ticks = parsed.ticks
    assert ticks.select("line", "record", "price").rows() == [
        (3, 0, 71900),
        (4, 0, 72000),
        (4, 1, 72100),
    ]
    assert ticks.schema == TICKS.schema
    row = ticks.row(2, named=True)
    assert row["ts_event"] == datetime(2023, 6, 12, 9, 33, 55, tzinfo=KST)
    assert ticks["ts_recv"].cast(pl.Int64).to_list() == [T0 + 2, T0 + 3, T0 + 3]
    assert (row["qty"], row["cum_volume"], row["vwap"], row["side"]) == (1, 3052507, 72023.83, "1")

    quote = parsed.quotes.row(0, named=True)
    assert (quote["ask_px_1"], quote["bid_px_10"], quote["ask_qty_10"]) == (72000, 71000, 1009)
    assert quote["ts_event"] == datetime(2026, 11, 24, 9, 37, 30, tzinfo=KST)
    assert quote["date"] == date(2026, 11, 24)

    notice = parsed.notices.row(0, named=True)
    assert notice["account"] == "**02" and notice["order_no"] == "0000012345"
    assert (
        notice["is_fill"] is False
        and notice["fill_qty"] is None
        and notice["order_price"] == 250000
    )

    reasons = dict(parsed.rejects.select("line", "reason").rows())
    assert set(reasons) == {7, 8, 9, 10, 11}
    assert "fields for 1 records" in reasons[7]
    assert reasons[8] == "bad or missing value in qty"
    assert reasons[9] == "no table for TR_ID H0STXXX0"
    assert reasons[10] == "encrypted frame that could not be decrypted"
    assert reasons[11] == "not a data frame or JSON message"
    assert parsed.rejects.filter(pl.col("line") == 10)["raw"].item().startswith("(execution notice")


def test_torn_and_garbage_lines_never_crash_compaction() -> None:
    good = encode_line(T0, "D", f"0|H0STCNT0|001|{trade(71900)}")
    data = (
        good
        + b"not a journal line\n"
        + b"\xff\xfe\t\t\n"
        + good[:40]
        + b"\n"
        + b"123\tQ\t1\tx\n"
        + good
        + good[:30]
    )
    parsed = parse_journal_bytes(data, "x.journal")
    assert parsed.ticks["line"].to_list() == [1, 6]
    assert parsed.rejects["line"].to_list() == [2, 3, 4, 5]
    assert parsed.rejects.filter(pl.col("line") == 5)["reason"].item() == "unknown line kind"
    empty = parse_journal_bytes(b"", "y.journal")
    assert empty.lines == 0 and empty.ticks.is_empty() and empty.rejects.is_empty()


def test_compaction_into_the_lake_is_idempotent(tmp_path: Path) -> None:
    path = write_day(tmp_path)
    with Lake.open(tmp_path, source="sim") as lake:
        first = compact_journal(lake, path)
        tables = {
            ds.name: lake.table(ds).sort(
                "line", "record" if "record" in ds.column_names else "line"
            )
            for ds in (TICKS, QUOTES, EXECUTION_NOTICES, JOURNAL_REJECTS)
        }
        second = compact_journal(lake, path)
        assert (
            first.rows
            == second.rows
            == {"ticks": 3, "quotes": 1, "execution_notices": 1, "journal_rejects": 5}
        )
        assert first.upserts["ticks"].inserted == 3
        assert second.upserts["ticks"].inserted == 0 and second.upserts["ticks"].unchanged == 3
        for ds in (TICKS, QUOTES, EXECUTION_NOTICES, JOURNAL_REJECTS):
            again = lake.table(ds).sort("line", "record" if "record" in ds.column_names else "line")
            assert_frame_equal(again, tables[ds.name])
        # More lines appended later: only they are new.
        with JournalWriter(tmp_path) as w:
            w.append(T0 + 100, "D", f"0|H0STCNT0|001|{trade(73000)}")
        third = compact_journal(lake, path)
        assert third.upserts["ticks"].inserted == 1 and lake.table(TICKS).height == 4
