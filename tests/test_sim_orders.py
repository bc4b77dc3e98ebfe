"""Orders and account queries against the simulator: validation, matching, balances, paging,
modify/cancel, persistence."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from simulator.server import RunningSimulator
from tests.helpers import Kis, T

ACCT = {"CANO": "50000000", "ACNT_PRDT_CD": "01"}


def order(
    kis: Kis,
    side: str,
    code: str,
    qty: int,
    price: int = 0,
    dvsn: str = "00",
    tr: str | None = None,
) -> dict:
    prefix = "V" if kis.sim.config.env == "paper" else "T"
    tr_id = tr or f"{prefix}TTC00{'12' if side == 'buy' else '11'}U"
    body = {**ACCT, "PDNO": code, "ORD_DVSN": dvsn, "ORD_QTY": str(qty), "ORD_UNPR": str(price)}
    return kis.post(T + "order-cash", tr_id, body).json()


def balance(kis: Kis, tr_cont: str = "", nk: str = "", fk: str = "") -> tuple[str, dict]:
    tr = "VTTC8434R" if kis.sim.config.env == "paper" else "TTTC8434R"
    r = kis.get(
        T + "inquire-balance",
        tr,
        tr_cont,
        **ACCT,
        AFHR_FLPR_YN="N",
        OFL_YN="",
        INQR_DVSN="01",
        UNPR_DVSN="01",
        FUND_STTL_ICLD_YN="N",
        FNCG_AMT_AUTO_RDPT_YN="N",
        PRCS_DVSN="00",
        CTX_AREA_FK100=fk,
        CTX_AREA_NK100=nk,
    )
    return r.headers.get("tr_cont", ""), r.json()


def best_ask(sim: RunningSimulator, code: str) -> int:
    return sim.market.quote_at(code, sim.clock.now()).asks[0][0]


def test_market_buy_fills_and_balance_follows(sim: RunningSimulator) -> None:
    kis = Kis(sim)
    res = order(kis, "buy", "000660", 10, 0, "01")
    assert (
        res["rt_cd"] == "0"
        and res["msg_cd"] == "APBK0013"
        and list(res) == ["rt_cd", "msg_cd", "msg1", "output"]
    )
    out = res["output"]
    assert (
        list(out) == ["KRX_FWDG_ORD_ORGNO", "ODNO", "ORD_TMD"]
        and len(out["ODNO"]) == 10
        and out["KRX_FWDG_ORD_ORGNO"] == "06010"
    )
    _, bal = balance(kis)
    row = bal["output1"][0]
    assert row["pdno"] == "000660" and row["hldg_qty"] == "10" and row["thdt_buyqty"] == "10"
    cash = bal["output2"][0]
    spent = int(row["pchs_amt"])
    assert int(cash["dnca_tot_amt"]) == 100_000_000  # T+2: deposit unchanged today
    assert int(cash["prvs_rcdl_excc_amt"]) == 100_000_000 - spent
    assert len(bal["ctx_area_fk100"]) == 100 and bal["msg_cd"] == "KIOK0510"


def test_validation_rejections(sim: RunningSimulator) -> None:
    kis = Kis(sim)
    ask = best_ask(sim, "005930")
    assert order(kis, "buy", "005930", 0, ask)["msg_cd"] == "APBK0016"
    assert order(kis, "buy", "005930", 1, ask + 1)["msg1"] == "주식주문호가단위 오류입니다."
    assert order(kis, "buy", "005930", 1, ask, "01")["rt_cd"] == "1"  # market order with a price
    assert order(kis, "buy", "005930", 1, ask, "99")["rt_cd"] == "1"
    assert order(kis, "buy", "123456", 1, ask)["msg_cd"] == "MCA05918"
    assert order(kis, "buy", "005930", 100_000, ask)["msg_cd"] == "APBK0919"
    assert order(kis, "sell", "005930", 1, ask)["msg_cd"] == "APBK0918"
    bad_acct = kis.post(
        T + "order-cash",
        "TTTC0012U",
        {
            "CANO": "1",
            "ACNT_PRDT_CD": "01",
            "PDNO": "005930",
            "ORD_DVSN": "00",
            "ORD_QTY": "1",
            "ORD_UNPR": str(ask),
        },
    )
    assert bad_acct.json()["rt_cd"] == "1"
    legacy = order(kis, "buy", "005930", 1, ask, "00", tr="TTTC0802U")
    assert legacy["rt_cd"] == "0"


def test_large_order_fills_partially_then_over_time(sim: RunningSimulator) -> None:
    kis = Kis(sim)
    now = sim.clock.now()
    code, book = next(
        (c, b)
        for c in sorted(sim.market.instruments)
        if (b := sim.market.quote_at(c, now)).asks
        and b.asks[0][0] * (b.asks[0][1] + 50) < 60_000_000
    )
    price, qty = book.asks[0][0], book.asks[0][1] + 50  # more than the best level holds
    res = order(kis, "buy", code, qty, price)
    assert res["rt_cd"] == "0", res
    first = sim.account.find(res["output"]["ODNO"])
    assert first is not None and book.asks[0][1] <= first.filled_qty < qty
    early = first.filled_qty
    sim.clock.advance(3 * 3600)
    sim.account.process(sim.clock.now())
    fills = [f for f in sim.account.fills if f.odno == first.odno]
    assert (
        first.filled_qty > early
        and len(fills) >= 2
        and sum(f.qty for f in fills) == first.filled_qty
    )
    assert all(f.price <= price for f in fills)


def test_cancel_and_modify_only_open_quantity(sim: RunningSimulator) -> None:
    kis = Kis(sim)
    low = sim.market.quote_at("005930", sim.clock.now()).bids[-1][0]
    res = order(kis, "buy", "005930", 10, low)
    odno = res["output"]["ODNO"]
    body = {
        **ACCT,
        "KRX_FWDG_ORD_ORGNO": "06010",
        "ORGN_ODNO": odno,
        "ORD_DVSN": "00",
        "RVSE_CNCL_DVSN_CD": "02",
        "ORD_QTY": "4",
        "ORD_UNPR": "0",
        "QTY_ALL_ORD_YN": "N",
    }
    cancel = kis.post(T + "order-rvsecncl", "TTTC0013U", body).json()
    assert cancel["rt_cd"] == "0" and cancel["output"]["ODNO"] != odno
    psbl = kis.get(
        T + "inquire-psbl-rvsecncl",
        "TTTC0084R",
        **ACCT,
        CTX_AREA_FK100="",
        CTX_AREA_NK100="",
        INQR_DVSN_1="0",
        INQR_DVSN_2="0",
    ).json()
    assert [(r["odno"], r["psbl_qty"]) for r in psbl["output"]] == [(odno, "6")]
    too_many = kis.post(T + "order-rvsecncl", "TTTC0013U", {**body, "ORD_QTY": "7"}).json()
    assert too_many["rt_cd"] == "1"
    modify = kis.post(
        T + "order-rvsecncl",
        "TTTC0013U",
        {**body, "RVSE_CNCL_DVSN_CD": "01", "ORD_UNPR": str(low), "QTY_ALL_ORD_YN": "Y"},
    ).json()
    assert modify["rt_cd"] == "0"
    again = kis.post(T + "order-rvsecncl", "TTTC0013U", {**body, "QTY_ALL_ORD_YN": "Y"}).json()
    assert again["rt_cd"] == "1"  # the original has nothing open any more
    ccld = kis.get(
        T + "inquire-daily-ccld",
        "TTTC0081R",
        **ACCT,
        INQR_STRT_DT="20261124",
        INQR_END_DT="20261124",
        SLL_BUY_DVSN_CD="00",
        INQR_DVSN="00",
        PDNO="",
        CCLD_DVSN="00",
        ORD_GNO_BRNO="",
        ODNO="",
        INQR_DVSN_3="00",
        INQR_DVSN_1="",
        CTX_AREA_FK100="",
        CTX_AREA_NK100="",
    ).json()
    rows = ccld["output1"]
    assert len(rows) == 3 and [r["orgn_odno"] for r in rows][:2] == [odno, odno]
    assert next(r for r in rows if r["odno"] == odno)["rmn_qty"] == "0"
    assert "cncl_cfrm_qty" in rows[0] and "excg_id_dvsn_Cd" in rows[0]


def test_daily_ccld_paging_paper(make_sim: Callable[..., RunningSimulator]) -> None:
    sim = make_sim(env="paper", rate_limit=0)
    kis = Kis(sim)
    low = sim.market.quote_at("035420", sim.clock.now()).bids[-1][0]
    placed = [order(kis, "buy", "035420", 1, low)["output"]["ODNO"] for _ in range(37)]
    seen, tr_cont, nk, fk, pages = [], "", "", "", 0
    while True:
        r = kis.get(
            T + "inquire-daily-ccld",
            "VTTC0081R",
            tr_cont,
            **ACCT,
            INQR_STRT_DT="20261124",
            INQR_END_DT="20261124",
            SLL_BUY_DVSN_CD="00",
            INQR_DVSN="00",
            PDNO="",
            CCLD_DVSN="00",
            ORD_GNO_BRNO="",
            ODNO="",
            INQR_DVSN_3="00",
            INQR_DVSN_1="",
            CTX_AREA_FK100=fk,
            CTX_AREA_NK100=nk,
        )
        body, pages = r.json(), pages + 1
        assert len(body["output1"]) <= 15
        seen += [row["odno"] for row in body["output1"]]
        if r.headers["tr_cont"] in {"D", "E"}:
            break
        if pages == 2:  # a new order between pages must not shift the cursor
            placed.append(order(kis, "buy", "035420", 1, low)["output"]["ODNO"])
        tr_cont, nk, fk = "N", body["ctx_area_nk100"], body["ctx_area_fk100"]
    assert pages == 3 and seen == sorted(placed[:37], reverse=True)


def test_paper_orders_before_open_are_refused(make_sim: Callable[..., RunningSimulator]) -> None:
    sim = make_sim(env="paper", rate_limit=0, now=datetime(2026, 11, 24, 8, 10))
    kis = Kis(sim)
    res = order(kis, "buy", "005930", 1, 0, "01")
    assert (res["rt_cd"], res["msg_cd"], res["msg1"]) == (
        "1",
        "40570000",
        "모의투자 장시작전 입니다.",
    )
    real = make_sim(rate_limit=0, now=datetime(2026, 11, 24, 18, 0))
    assert order(Kis(real), "buy", "005930", 1, 0, "01")["msg_cd"] == "APBK0918"


def test_account_persists_across_processes(
    make_sim: Callable[..., RunningSimulator], tmp_path: Path
) -> None:
    first = make_sim(rate_limit=0, state_dir=tmp_path)
    odno = order(Kis(first), "buy", "000660", 3, 0, "01")["output"]["ODNO"]
    first.stop()
    second = make_sim(rate_limit=0, state_dir=tmp_path)
    kis = Kis(second)
    _, bal = balance(kis)
    assert bal["output1"][0]["hldg_qty"] == "3"
    assert second.account.find(odno) is not None
    assert int(order(kis, "buy", "000660", 1, 0, "01")["output"]["ODNO"]) == int(odno) + 1
    assert not list(tmp_path.glob(".account-*"))  # no temp files left behind


def test_psbl_order(sim: RunningSimulator) -> None:
    kis = Kis(sim)
    body = kis.get(
        T + "inquire-psbl-order",
        "TTTC8908R",
        **ACCT,
        PDNO="005930",
        ORD_UNPR="50000",
        ORD_DVSN="00",
        CMA_EVLU_AMT_ICLD_YN="N",
        OVRS_ICLD_YN="N",
    ).json()
    out = body["output"]
    assert (
        out["ord_psbl_cash"] == "100000000"
        and out["max_buy_qty"] == "2000"
        and out["psbl_qty_calc_unpr"] == "50000"
    )
