"""The stock master files: the simulator's builder and the connector's parser, each against the
layout of kis-api.md §9.4 written out by hand, and against each other."""

from __future__ import annotations

import zipfile
from datetime import date
from io import BytesIO

import pytest

from connectors.kis.errors import KisProtocolError
from connectors.kis.master import parse_master, parse_master_line, unzip_master
from simulator.master import isin_for, master_text, master_zip
from simulator.universe import krx_universe


def _kis_line(code: str, isin: str, name: str, tail_width: int, *, newline: str = "\n") -> str:
    # Written from the spec, not from simulator.master: short code padded to 9, ISIN, name, tail.
    tail = "ST" + "1" + "0" * (tail_width - 3)
    return f"{code:<9}{isin}{name}{tail}{newline}"


def test_parse_kospi_and_kosdaq_lines_of_the_documented_layout() -> None:
    data = (
        _kis_line("005930", "KR7005930003", "삼성전자", 227)
        + _kis_line("000660", "KR7000660001", "SK하이닉스", 227, newline="\r\n")
    ).encode("cp949")
    frame = parse_master(data, "KOSPI")
    assert frame.rows() == [
        ("005930", "KR7005930003", "삼성전자", "KOSPI", "ST"),
        ("000660", "KR7000660001", "SK하이닉스", "KOSPI", "ST"),
    ]
    kosdaq = parse_master(
        _kis_line("086520", "KR7086520004", "에코프로", 221).encode("cp949"), "KOSDAQ"
    )
    assert kosdaq["name"].to_list() == ["에코프로"]


def test_parse_accepts_the_228_character_tail_reading() -> None:
    # kis-api.md says "a tail of 228 chars"; the official sample counts the newline in it.
    row = parse_master_line(_kis_line("005930", "KR7005930003", "삼성전자", 228), "KOSPI")
    assert (row["symbol"], row["name"], row["group_code"]) == ("005930", "삼성전자", "ST")


def test_parse_refuses_a_row_that_is_not_a_master_row() -> None:
    with pytest.raises(KisProtocolError, match="line 3"):
        parse_master_line("005930   KR7005930003삼성전자", "KOSPI", line_no=3)


def test_isin_check_digits_match_real_codes() -> None:
    assert isin_for("005930") == "KR7005930003"
    assert isin_for("000660") == "KR7000660001"
    assert isin_for("035420") == "KR7035420009"


def test_simulator_master_round_trips_and_lists_only_names_listed_that_day() -> None:
    instruments, _ = krx_universe(seed=7, generated_symbols=0)
    on = date(2016, 6, 1)
    blob = master_zip(instruments.values(), "KOSPI", on)
    with zipfile.ZipFile(BytesIO(blob)) as archive:
        assert archive.namelist() == ["kospi_code.mst"]
    frame = parse_master(unzip_master(blob, "KOSPI"), "KOSPI")
    expected = sorted(
        i.code
        for i in instruments.values()
        if i.market == "KOSPI" and i.listed <= on and (i.delisted is None or on < i.delisted)
    )
    assert frame["symbol"].to_list() == expected
    assert "117930" in expected  # 한진해운, delisted in 2017, is still listed in 2016
    later = parse_master(
        unzip_master(master_zip(instruments.values(), "KOSPI", date(2026, 6, 1)), "KOSPI"), "KOSPI"
    )
    assert "117930" not in later["symbol"].to_list()
    names = dict(zip(frame["symbol"], frame["name"], strict=True))
    assert names["005930"] == instruments["005930"].name
    assert all(len(isin) == 12 for isin in frame["isin"])


def test_simulator_master_lines_have_the_documented_widths() -> None:
    instruments, _ = krx_universe(seed=7, generated_symbols=0)
    text = master_text(instruments.values(), "KOSDAQ", date(2026, 6, 1))
    for line in text.splitlines():
        name = instruments[line[:9].strip()].name
        assert len(line) == 9 + 12 + len(name) + 221
        assert line[9 + 12 + len(name) :][:2] == "ST"
