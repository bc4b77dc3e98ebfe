"""Orders: pure parts — request validation, tick grid, bodies, parsing, matching, guards, the log."""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.kis.errors import InvalidOrder
from connectors.kis.order_guard import (
    DailyOrderCounter,
    OrderBlocked,
    OrderGuards,
    check_kill_switch,
    check_order_limits,
    require_opt_in,
)
from connectors.kis.order_log import JsonlOrderLog, OrderLogEntry, new_client_order_id
from connectors.kis.orders.model import (
    OrderChange,
    OrderRequest,
    on_tick_grid,
    snap_to_tick,
    tick_size,
)
from connectors.kis.orders.reconcile import match_change, match_placement
from connectors.kis.orders.wire import (
    BUYABLE,
    DAILY_CCLD,
    DAILY_CCLD_OLD,
    EXECUTION_COLUMNS,
    HOLDING_COLUMNS,
    MODIFIABLE_COLUMNS,
    ORDER_BUY,
    ORDER_CHANGE,
    ORDER_SELL,
    executions_windows,
    mask_account,
    parse_ack,
    parse_buyable,
    parse_cash,
    rows_to_frame,
    three_months_before,
)

FIXTURES = Path(__file__).parent / "fixtures" / "kis"


# -- request values --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"symbol": "5930", "qty": 1, "price": 70000}, "not a KRX short code"),
        ({"symbol": "005930", "qty": 0, "price": 70000}, "quantity"),
        ({"symbol": "005930", "qty": -3, "price": 70000}, "quantity"),
        ({"symbol": "005930", "qty": 1, "price": 70050}, "tick grid"),
        ({"symbol": "005930", "qty": 1, "price": 0, "division": "00"}, "positive"),
        (
            {"symbol": "005930", "qty": 1, "price": 70000, "division": "99"},
            "unknown order division",
        ),
        ({"symbol": "005930", "qty": 1, "price": 70000, "division": "01"}, "takes no price"),
        ({"symbol": "005930", "qty": 1, "division": "00"}, "needs a price"),
        ({"symbol": "005930", "qty": 1, "price": 70000, "division": "22"}, "stop price"),
        (
            {"symbol": "005930", "qty": 1, "price": 70000, "stop_price": 69000},
            "only valid for stop-limit",
        ),
    ],
)
def test_bad_requests_are_refused_with_a_clear_reason(kwargs: dict, fragment: str) -> None:
    with pytest.raises(InvalidOrder, match=fragment):
        OrderRequest("buy", **kwargs)


def test_request_defaults_and_normalisation() -> None:
    limit = OrderRequest("buy", " 005930 ", 10, 70000)
    assert (limit.symbol, limit.division, limit.notional) == ("005930", "00", 700_000)
    market = OrderRequest("sell", "000660", 5)
    assert (market.division, market.price, market.division_name) == ("01", None, "market")
    assert OrderRequest("buy", "Q500001", 1, 10_000, "ioc").division == "11"
    assert OrderRequest("buy", "0126Z0", 1, 1_999).price == 1_999


def test_order_body_is_uppercase_strings() -> None:
    body = OrderRequest("sell", "005930", 3, 70000).body("12345678", "01")
    assert body == {
        "CANO": "12345678",
        "ACNT_PRDT_CD": "01",
        "PDNO": "005930",
        "ORD_DVSN": "00",
        "ORD_QTY": "3",
        "ORD_UNPR": "70000",
        "EXCG_ID_DVSN_CD": "KRX",
        "SLL_TYPE": "01",
    }
    assert OrderRequest("buy", "005930", 3).body("12345678", "01")["ORD_UNPR"] == "0"


def test_order_change_values() -> None:
    assert OrderChange("cancel", "1569157").order_no == "0001569157"
    with pytest.raises(InvalidOrder, match="order number"):
        OrderChange("cancel", "12ab")
    with pytest.raises(InvalidOrder, match="new price"):
        OrderChange("modify", "1")
    with pytest.raises(InvalidOrder, match="no price or division"):
        OrderChange("cancel", "1", price=70000)
    assert OrderChange("modify", "1", price=None, division="market").price is None


def test_tr_ids_real_and_paper() -> None:
    assert (ORDER_BUY.tr_id("real"), ORDER_BUY.tr_id("paper")) == ("TTTC0012U", "VTTC0012U")
    assert (ORDER_SELL.tr_id("real"), ORDER_SELL.tr_id("paper")) == ("TTTC0011U", "VTTC0011U")
    assert (ORDER_CHANGE.tr_id("real"), ORDER_CHANGE.tr_id("paper")) == ("TTTC0013U", "VTTC0013U")
    assert BUYABLE.tr_id("paper") == "VTTC8908R"
    assert not ORDER_BUY.idempotent and not ORDER_CHANGE.idempotent and DAILY_CCLD.idempotent


# -- tick grid -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("price", "tick"),
    [
        (1_999, 1),
        (2_000, 5),
        (4_995, 5),
        (5_000, 10),
        (19_990, 10),
        (20_000, 50),
        (49_950, 50),
        (50_000, 100),
        (199_900, 100),
        (200_000, 500),
        (499_500, 500),
        (500_000, 1_000),
    ],
)
def test_tick_bands(price: int, tick: int) -> None:
    assert tick_size(price) == tick
    assert on_tick_grid(price)
    assert tick == 1 or not on_tick_grid(price + 1)


@given(st.integers(min_value=1, max_value=3_000_000), st.sampled_from(["buy", "sell"]))
def test_snap_lands_on_the_grid_on_the_safe_side(price: int, side: str) -> None:
    snapped = snap_to_tick(price, side)  # type: ignore[arg-type]
    assert on_tick_grid(snapped)
    assert snapped <= price if side == "buy" else snapped >= price
    assert abs(snapped - price) < tick_size(max(price, snapped)) or snapped == price
    # The stock grid is inside the ETF grid: a stock-valid price is never off-grid for an ETF.
    assert on_tick_grid(snapped, "etf")


# -- parsing (the workbook's real examples) --------------------------------------------------------
def _example(name: str) -> dict:
    """A response example from the KIS workbook (kis-spec/sheets), stored as a fixture."""
    return json.loads((FIXTURES / f"{name}.json").read_text("utf-8"))


def test_parse_order_ack_from_workbook_example() -> None:
    body = _example("order_cash")
    order_no, org_no, order_time = parse_ack(body)
    assert order_no and order_no.isdigit() and len(order_no) == 10
    assert org_no and order_time and len(order_time) == 6
    assert parse_ack(
        {"output": {"odno": "0000000007", "krx_fwdg_ord_orgno": "06010", "ord_tmd": "090000"}}
    ) == (
        "0000000007",
        "06010",
        "090000",
    )


def test_parse_balance_example() -> None:
    body = _example("inquire_balance")
    holdings = rows_to_frame(body["output1"], HOLDING_COLUMNS)
    assert holdings.columns == list(HOLDING_COLUMNS)
    assert holdings["qty"].dtype.is_integer() and holdings["avg_price"].dtype.is_float()
    cash = parse_cash(body["output2"])
    assert cash.deposit is not None and cash.total_value is not None


def test_parse_buyable_and_modifiable_examples() -> None:
    buyable = parse_buyable("005930", _example("inquire_psbl_order")["output"])
    assert buyable.cash is not None and buyable.max_qty is not None
    frame = rows_to_frame(_example("inquire_psbl_rvsecncl")["output"], MODIFIABLE_COLUMNS)
    assert frame.columns == list(MODIFIABLE_COLUMNS) and frame["modifiable_qty"].dtype.is_integer()
    assert parse_ack(_example("order_rvsecncl"))[0] is not None


def test_parse_executions_example() -> None:
    body = _example("inquire_daily_ccld")
    frame = rows_to_frame(body["output1"], EXECUTION_COLUMNS)
    assert frame.height == len(body["output1"]) > 0
    assert set(frame["side"].drop_nulls()) <= {"buy", "sell"}
    assert frame.schema["order_date"].is_temporal()


# -- reconciliation matching -----------------------------------------------------------------------
def _row(odno: str, **kw: str) -> dict[str, str]:
    base = {
        "odno": odno,
        "orgn_odno": "",
        "pdno": "005930",
        "sll_buy_dvsn_cd": "02",
        "ord_qty": "10",
        "ord_dvsn_cd": "00",
        "ord_unpr": "70000",
        "ord_tmd": "093000",
        "ord_gno_brno": "06010",
    }
    return {**base, **kw}


def test_match_placement_narrows_to_unattributed_same_order() -> None:
    order = OrderRequest("buy", "005930", 10, 70000)
    rows = [
        _row("0000000001"),  # ours from an earlier attempt (known)
        _row("0000000002", ord_qty="11"),
        _row("0000000003", sll_buy_dvsn_cd="01"),
        _row("0000000004", ord_unpr="70100"),
        _row("0000000005", orgn_odno="0000000001"),  # a modify order
        _row("0000000006"),
    ]
    found = match_placement(rows, order, known_order_nos={"1"})
    assert [r["odno"] for r in found] == ["0000000006"]
    assert len(match_placement(rows, order, known_order_nos=set())) == 2


def test_match_change_finds_the_modify_of_the_original() -> None:
    rows = [_row("0000000009", orgn_odno="0000000006"), _row("0000000010", orgn_odno="0000000007")]
    assert [r["odno"] for r in match_change(rows, "6", set())] == ["0000000009"]
    assert match_change(rows, "6", {"0000000009"}) == []


def test_executions_windows_split_at_three_months() -> None:
    today = date(2026, 5, 31)
    assert three_months_before(today) == date(2026, 2, 28)
    assert executions_windows(date(2026, 4, 1), today, today) == [
        (DAILY_CCLD, date(2026, 4, 1), today)
    ]
    assert executions_windows(date(2025, 1, 1), date(2025, 2, 1), today) == [
        (DAILY_CCLD_OLD, date(2025, 1, 1), date(2025, 2, 1))
    ]
    assert executions_windows(date(2026, 1, 1), today, today) == [
        (DAILY_CCLD_OLD, date(2026, 1, 1), date(2026, 2, 27)),
        (DAILY_CCLD, date(2026, 2, 28), today),
    ]


def test_mask_account() -> None:
    assert mask_account("12345678", "01") == "****5678-01"


# -- guards ----------------------------------------------------------------------------------------
def test_opt_in_only_for_real() -> None:
    require_opt_in("sim", False)
    require_opt_in("paper", False)
    require_opt_in("real", True)
    with pytest.raises(OrderBlocked, match="--live") as info:
        require_opt_in("real", False)
    assert info.value.guard == "opt_in"


def test_limits() -> None:
    guards = OrderGuards(max_qty=100, max_notional=1_000_000, allowed_symbols=frozenset({"005930"}))
    check_order_limits(guards, symbol="005930", qty=10, notional=700_000)
    for kwargs, guard in [
        ({"symbol": "000660", "qty": 1, "notional": 1}, "allowed_symbols"),
        ({"symbol": "005930", "qty": 101, "notional": 1}, "max_qty"),
        ({"symbol": "005930", "qty": 20, "notional": 1_400_000}, "max_notional"),
        (
            {"symbol": "005930", "qty": 1, "notional": None},
            "max_notional",
        ),  # unknown value: fail closed
    ]:
        with pytest.raises(OrderBlocked) as info:
            check_order_limits(guards, **kwargs)
        assert info.value.guard == guard


def test_guards_from_env(tmp_path: Path) -> None:
    guards = OrderGuards.from_env(
        {
            "KISDB_ORDER_MAX_QTY": "5",
            "KISDB_ORDER_MAX_NOTIONAL": "none",
            "KISDB_ORDER_SYMBOLS": "005930, 000660",
        },
        home=tmp_path,
    )
    assert (guards.max_qty, guards.max_notional) == (5, None)
    assert guards.allowed_symbols == frozenset({"005930", "000660"})
    assert guards.kill_switch == tmp_path / "orders" / "KILL"


def test_kill_switch(tmp_path: Path) -> None:
    switch = tmp_path / "KILL"
    check_kill_switch(switch)
    switch.touch()
    with pytest.raises(OrderBlocked, match="kill switch"):
        check_kill_switch(switch)


def test_daily_counter_persists_and_resets_per_day(tmp_path: Path) -> None:
    day = date(2026, 11, 25)
    counter = DailyOrderCounter(tmp_path)
    assert [counter.reserve(2, day), DailyOrderCounter(tmp_path).reserve(2, day)] == [1, 2]
    with pytest.raises(OrderBlocked, match="daily limit is 2"):
        counter.reserve(2, day)
    assert counter.reserve(2, date(2026, 11, 26)) == 1


# -- the write-ahead log ---------------------------------------------------------------------------
def test_jsonl_log_latest_state_and_torn_line(tmp_path: Path) -> None:
    log = JsonlOrderLog(tmp_path / "orders")
    now = datetime.now(UTC)
    entry = OrderLogEntry(
        new_client_order_id(), now, now, "sim", "buy", symbol="005930", qty=1, price=70000
    )
    log.write(entry)
    log.write(entry.with_outcome("accepted", order_no="0000000001"))
    path = log.files()[0]
    with path.open("ab") as fh:
        fh.write(b'{"client_order_id": "torn')  # a crash mid-write
    latest = log.latest()
    assert list(latest) == [entry.client_order_id]
    assert latest[entry.client_order_id].status == "accepted"
    assert [e.status for e in log.entries()] == ["pending", "accepted"]
    if os.name == "posix":
        assert path.stat().st_mode & 0o777 == 0o600
