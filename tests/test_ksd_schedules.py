"""The KSD schedules (예탁원정보): parsing the workbook's example rows, and the simulator's
schedules agreeing with its own market (dividends flagged on the chart, a merger of a delisted
name, no rows where the market has no such event)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from connectors.kis import KisClient
from connectors.kis.errors import KisProtocolError
from connectors.kis.market_data.ksdinfo import (
    BONUS_ISSUES,
    CAPITAL_REDUCTIONS,
    DIVIDENDS,
    MERGERS_SPLITS,
    RIGHTS_ISSUES,
    Schedule,
    parse_schedule,
)
from simulator.server import RunningSimulator
from tests.helpers import sim_settings


def _rows(schedule: Schedule, *rows: dict[str, str]) -> list[dict[str, Any]]:
    frame = parse_schedule(schedule, {"output1": list(rows)})
    return frame.drop("detail").to_dicts()


# Rows copied from the workbook's response examples (sheets 089, 090, 095, 104, 108).
def test_capital_reduction_rows_from_sheet_089() -> None:
    times = {
        "record_date": "20240226",
        "sht_cd": "000040",
        "isin_name": "케이알모터스",
        "stk_kind": "보통",
        "reduce_cap_type": "무상감자",
        "reduce_cap_rate": " 0.30",
        "comp_way": "곱하기",
        "td_stop_dt": "2024/02/23 ~ 2024/03/17",
        "list_dt": "2024/03/18",
    }
    divided = times | {
        "record_date": "20240207",
        "sht_cd": "219750",
        "reduce_cap_rate": " 4.00",
        "comp_way": "나누기",
        "td_stop_dt": "",
        "list_dt": "",
    }
    zero = divided | {"record_date": "20231227", "sht_cd": "088240", "reduce_cap_rate": " 0.00"}
    common = {"kind": "capital_reduction", "amount": None, "source": "ksdinfo:cap-dcrs"}
    assert _rows(CAPITAL_REDUCTIONS, times, divided, zero) == [
        {"symbol": "000040", "date": date(2024, 3, 18), "ratio": 0.3}
        | common
        | {"record_date": date(2024, 2, 26)},
        # No relisting day yet: dated by the record date.
        {"symbol": "219750", "date": date(2024, 2, 7), "ratio": 0.25}
        | common
        | {"record_date": date(2024, 2, 7)},
        {"symbol": "088240", "date": date(2023, 12, 27), "ratio": None}
        | common
        | {"record_date": date(2023, 12, 27)},
    ]


def test_bonus_issue_rows_from_sheet_090() -> None:
    row = {
        "record_date": "20240314",
        "sht_cd": "377220",
        "isin_name": "프롬바이오",
        "fix_rate": "100.00",
        "odd_rec_price": "000000000",
        "right_dt": "20240313",
        "odd_pay_dt": "",
        "list_date": "20240405",
        "tot_issue_stk_qty": "    14155000",
        "issue_stk_qty": "    14155000",
        "stk_kind": "01",
    }
    big = row | {"record_date": "20240326", "sht_cd": "466100", "fix_rate": "1000.0"}
    big |= {"right_dt": "20240325", "list_date": ""}
    (one, ten) = _rows(BONUS_ISSUES, row, big)
    assert (one["symbol"], one["date"], one["record_date"]) == (
        "377220",
        date(2024, 3, 13),
        date(2024, 3, 14),
    )
    # 100% new shares: 2 shares after per share before; 1000%: 11.
    assert (one["kind"], one["ratio"], ten["ratio"]) == ("bonus_issue", 2.0, 11.0)


def test_dividend_rows_from_sheet_095() -> None:
    cash = {
        "record_date": "20240326",
        "sht_cd": "000720",
        "isin_name": "현대건설",
        "divi_kind": "결산",
        "face_val": "000005000",
        "per_sto_divi_amt": "000000000600",
        "divi_rate": " 12.00",
        "stk_divi_rate": "  0.00",
        "divi_pay_dt": "",
        "stk_div_pay_dt": "",
        "odd_pay_dt": "",
        "stk_kind": "보통",
        "high_divi_gb": "",
    }
    both = cash | {"sht_cd": "000725", "per_sto_divi_amt": "000000000650"}
    both |= {"stk_divi_rate": "  5.00"}
    nothing = cash | {"sht_cd": "000999", "per_sto_divi_amt": "000000000000"}
    frame = parse_schedule(DIVIDENDS, {"output1": [cash, both, nothing]})
    assert frame.select("symbol", "kind", "amount", "ratio").rows() == [
        ("000720", "cash_dividend", 600, None),
        ("000725", "cash_dividend", 650, None),
        ("000725", "stock_dividend", None, 1.05),
    ]
    assert set(frame["date"]) == set(frame["record_date"]) == {date(2024, 3, 26)}
    assert frame["detail"][0] == "결산 보통, face value 5000, 12% of face value"


def test_rights_issue_rows_from_sheet_104() -> None:
    row = {
        "record_date": "20240222",
        "sht_cd": "426530",
        "isin_name": "메타록",
        "tot_issue_stk_qty": "    31000000",
        "issue_stk_qty": "      273199",
        "fix_rate": " 20.00",
        "disc_rate": " 0.00",
        "fix_price": "     500",
        "right_dt": "20240221",
        "sub_term_ft": "20240325",
        "sub_term": "2024/03/25 ~ 2024/03/26",
        "list_date": "",
        "stk_kind": "01",
    }
    (action,) = _rows(RIGHTS_ISSUES, row)
    assert action == {
        "symbol": "426530",
        "date": date(2024, 2, 21),
        "kind": "rights_issue",
        "ratio": 0.2,
        "amount": 500,
        "source": "ksdinfo:paidin-capin",
        "record_date": date(2024, 2, 22),
    }


def test_merger_and_split_rows_from_sheet_108() -> None:
    merger = {
        "record_date": "20240311",
        "sht_cd": "224020",
        "opp_cust_cd": "22402",
        "opp_cust_nm": "에스케이씨에스",
        "cust_cd": "17735",
        "cust_nm": "베셀",
        "merge_type": "흡수합병",
        "merge_rate": " 0.66",
        "td_stop_dt": "2024/03/08 ~ 2024/03/28",
        "list_dt": "20240329",
        "odd_amt_pay_dt": "2024/04/05",
        "tot_issue_stk_qty": "           0",
        "issue_stk_qty": "           0",
        "seq": "00",
    }
    split = merger | {"record_date": "20230531", "sht_cd": "001230", "merge_type": "회사분할"}
    split |= {"merge_rate": " 0.52", "list_dt": "20230616"}
    exchange = merger | {"record_date": "20230626", "sht_cd": "046110", "merge_type": "주식교환"}
    exchange |= {"merge_rate": " 0.00", "list_dt": ""}
    rows = _rows(MERGERS_SPLITS, merger, split, exchange)
    assert [(r["symbol"], r["date"], r["kind"], r["ratio"]) for r in rows] == [
        ("224020", date(2024, 3, 29), "merger", 0.66),
        ("001230", date(2023, 6, 16), "company_split", 0.52),
        ("046110", date(2023, 6, 26), "share_exchange", None),
    ]
    detail = parse_schedule(MERGERS_SPLITS, {"output1": [merger]})["detail"][0]
    assert detail == "흡수합병: 에스케이씨에스 -> 베셀"


def test_a_malformed_schedule_value_names_its_field() -> None:
    row = {"record_date": "2024-13-45", "sht_cd": "000040", "reduce_cap_rate": "1"}
    with pytest.raises(KisProtocolError, match="cap-dcrs: record_date is not a date"):
        parse_schedule(CAPITAL_REDUCTIONS, {"output1": [row]})
    with pytest.raises(KisProtocolError, match="fix_rate is not a number"):
        parse_schedule(BONUS_ISSUES, {"output1": [{"sht_cd": "1", "fix_rate": "x"}]})


# --- the simulator's schedules -------------------------------------------------------------------


@pytest.fixture
def client(make_sim: Any, tmp_path: Path) -> Iterator[KisClient]:
    sim: RunningSimulator = make_sim(now=datetime(2024, 6, 3, 16), rate_limit=0)
    with KisClient(sim_settings(sim, tmp_path)) as c:
        yield c


def test_the_simulator_pays_yearly_dividends_while_listed(client: KisClient) -> None:
    paid = client.ksd_schedule(DIVIDENDS, date(2015, 1, 1), date(2023, 12, 31))
    assert set(paid["kind"]) == {"cash_dividend"} and paid["amount"].min() > 0
    samsung = paid.filter(pl.col("symbol") == "005930").sort("date")
    assert samsung["date"].dt.year().to_list() == list(range(2015, 2024))
    # The year's last trading day; before the 1:50 split of 2018 the amount is 50 times.
    assert samsung["date"][-1] == date(2023, 12, 28)
    assert samsung["amount"].to_list() == [1444 * 50] * 3 + [1444] * 6
    # 한진해운 was delisted on 2017-03-07: nothing after.
    hanjin = paid.filter(pl.col("symbol") == "117930")["date"].dt.year().to_list()
    assert sorted(hanjin) == [2015, 2016]
    one = client.ksd_schedule(DIVIDENDS, date(2023, 1, 1), date(2023, 12, 31), symbol="000720")
    assert one.select("symbol", "amount").rows() == [("000720", 600)]


def test_the_chart_flags_the_ex_dividend_day_and_keeps_prices(client: KisClient) -> None:
    bars = client.period_bars("005930", date(2023, 12, 18), date(2024, 1, 5))
    flagged = bars.filter(pl.col("ex_right_code") != "00")
    # The record date is 2023-12-28, the ex-dividend day the trading day before.
    assert flagged.select("date", "ex_right_code").rows() == [(date(2023, 12, 27), "02")]
    raw = client.period_bars("005930", date(2023, 12, 18), date(2024, 1, 5), adjusted=False)
    assert raw["close"].to_list() == bars["close"].to_list()  # a cash dividend adjusts nothing
    plain = client.period_bars("000270", date(2023, 12, 18), date(2024, 1, 5))
    assert set(plain["ex_right_code"]) == {"00"}


def test_the_merger_schedule_lists_the_delisted_merged_name(client: KisClient) -> None:
    merged = client.ksd_schedule(MERGERS_SPLITS, date(2023, 1, 1), date(2024, 12, 31))
    assert merged.select("symbol", "date", "kind", "ratio", "record_date").rows() == [
        ("091990", date(2024, 1, 12), "merger", 0.45, date(2024, 1, 3))
    ]
    assert client.ksd_schedule(MERGERS_SPLITS, date(2024, 2, 1), date(2024, 12, 31)).height == 0


@pytest.mark.parametrize("schedule", [BONUS_ISSUES, RIGHTS_ISSUES, CAPITAL_REDUCTIONS])
def test_schedules_the_market_has_no_events_in_answer_no_rows(
    client: KisClient, schedule: Schedule
) -> None:
    assert client.ksd_schedule(schedule, date(2015, 1, 1), date(2024, 12, 31)).height == 0


def test_the_last_30_days_flag_the_ex_dividend_day_too(make_sim: Any, tmp_path: Path) -> None:
    sim: RunningSimulator = make_sim(now=datetime(2024, 1, 5, 16), rate_limit=0)
    with KisClient(sim_settings(sim, tmp_path)) as c:
        days = c.daily_price("005930")
    flagged = days.filter(pl.col("ex_right_code") != "00")
    assert flagged.select("date", "ex_right_code").rows() == [(date(2023, 12, 27), "02")]
