"""The endpoints clients call when a symbol object is created or an account is opened (issue 10):
product basics, the book with the expected execution, index minutes, US quotes and the overseas
account, each over a plain httpx client on loopback, on both environments (40580000 on paper where
the workbook says 모의투자 미지원). Field order is the workbook's (the sheet's response example)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import pytest
import websockets

from simulator.quotes.book import ASKING_PRICE_OUTPUT1, ASKING_PRICE_OUTPUT2, LEVELS
from simulator.quotes.info import SEARCH_INFO, SEARCH_STOCK_INFO
from simulator.server import RunningSimulator
from tests.helpers import Kis, Q
from tests.test_sim_ws import approval, ask, sub

OV = "/uapi/overseas-price/v1/quotations/"
OT = "/uapi/overseas-stock/v1/trading/"
SESSION = datetime(2026, 11, 24, 10, 30, 15)  # a Tuesday, KRX continuous trading
NY_SESSION = datetime(2026, 11, 25, 1, 0)  # Tuesday 11:00 in New York

# (path, real TR, paper TR or None when the workbook has no paper version, params)
ENDPOINTS: list[tuple[str, str, str | None, dict[str, str]]] = [
    (Q + "search-info", "CTPF1604R", None, {"PDNO": "005930", "PRDT_TYPE_CD": "300"}),
    (Q + "search-stock-info", "CTPF1002R", None, {"PRDT_TYPE_CD": "300", "PDNO": "000660"}),
    (
        Q + "inquire-asking-price-exp-ccn",
        "FHKST01010200",
        "FHKST01010200",
        {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930"},
    ),
    (
        Q + "inquire-index-timeprice",
        "FHPUP02110200",
        None,
        {"FID_INPUT_HOUR_1": "60", "FID_INPUT_ISCD": "0001", "FID_COND_MRKT_DIV_CODE": "U"},
    ),
    (
        Q + "inquire-index-price",
        "FHPUP02100000",
        None,
        {"FID_COND_MRKT_DIV_CODE": "U", "FID_INPUT_ISCD": "0001"},
    ),
    (OV + "price", "HHDFS00000300", "HHDFS00000300", {"AUTH": "", "EXCD": "NAS", "SYMB": "TSLA"}),
    (OV + "price-detail", "HHDFS76200200", None, {"AUTH": "", "EXCD": "NAS", "SYMB": "TSLA"}),
    (
        OV + "inquire-asking-price",
        "HHDFS76200100",
        None,
        {"AUTH": "", "EXCD": "NAS", "SYMB": "TSLA"},
    ),
    (
        OV + "inquire-daily-chartprice",
        "FHKST03030100",
        "FHKST03030100",
        {
            "FID_COND_MRKT_DIV_CODE": "N",
            "FID_INPUT_ISCD": ".DJI",
            "FID_INPUT_DATE_1": "20260801",
            "FID_INPUT_DATE_2": "20261124",
            "FID_PERIOD_DIV_CODE": "D",
        },
    ),
]

ACCOUNT = {"CANO": "50000000", "ACNT_PRDT_CD": "01"}
BALANCE = {
    **ACCOUNT,
    "WCRC_FRCR_DVSN_CD": "02",
    "NATN_CD": "000",
    "TR_MKET_CD": "00",
    "INQR_DVSN_CD": "00",
}
NCCS = {
    **ACCOUNT,
    "OVRS_EXCG_CD": "NASD",
    "SORT_SQN": "DS",
    "CTX_AREA_FK200": "",
    "CTX_AREA_NK200": "",
}
CCNL = {
    **ACCOUNT,
    "PDNO": "",
    "ORD_STRT_DT": "20261101",
    "ORD_END_DT": "20261124",
    "SLL_BUY_DVSN": "00",
    "CCLD_NCCS_DVSN": "00",
    "OVRS_EXCG_CD": "",
    "SORT_SQN": "DS",
    "ORD_DT": "",
    "ORD_GNO_BRNO": "",
    "ODNO": "",
    "CTX_AREA_NK200": "",
    "CTX_AREA_FK200": "",
}
ACCOUNT_ENDPOINTS = [
    (OT + "inquire-present-balance", "CTRP6504R", "VTRP6504R", BALANCE),
    (OT + "inquire-nccs", "TTTS3018R", None, NCCS),
    (OT + "inquire-ccnl", "TTTS3035R", "VTTS3035R", CCNL),
]


@pytest.mark.parametrize("env", ["real", "paper"])
@pytest.mark.parametrize(
    ("path", "real_tr", "paper_tr", "params"),
    ENDPOINTS + ACCOUNT_ENDPOINTS,
    ids=lambda v: v.rsplit("/", 1)[-1] if isinstance(v, str) and "/" in v else None,
)
def test_served_on_both_environments(
    make_sim: Callable[..., RunningSimulator],
    env: str,
    path: str,
    real_tr: str,
    paper_tr: str | None,
    params: dict[str, str],
) -> None:
    kis = Kis(make_sim(env=env, now=NY_SESSION if OV in path else SESSION, rate_limit=0))
    tr_id = real_tr if env == "real" else (paper_tr or real_tr)
    r = kis.get(path, tr_id, **params)
    body = r.json()
    assert r.status_code == 200
    assert r.headers["tr_id"] == tr_id
    if env == "paper" and paper_tr is None:
        assert (body["rt_cd"], body["msg_cd"]) == ("1", "40580000")
        return
    assert body["rt_cd"] == "0", body
    assert list(body)[-3:] == ["rt_cd", "msg_cd", "msg1"]  # data blocks first, as the examples


def _get(kis: Kis, path: str, tr_id: str, **params: str) -> dict[str, object]:
    body = kis.get(path, tr_id, **params).json()
    assert body["rt_cd"] == "0", body
    return dict(body)


def test_search_stock_info_is_point_in_time(make_sim: Callable[..., RunningSimulator]) -> None:
    """Listed shares and par before and after 삼성전자's 2018-05-04 1:50 split; a delisting only
    once it happened; an IPO unknown before its listing day."""
    before = Kis(make_sim(now=datetime(2018, 5, 3, 16, 0), rate_limit=0))
    after = Kis(make_sim(now=datetime(2018, 5, 4, 16, 0), rate_limit=0))
    path, tr = Q + "search-stock-info", "CTPF1002R"
    old = _get(before, path, tr, PRDT_TYPE_CD="300", PDNO="005930")["output"]
    new = _get(after, path, tr, PRDT_TYPE_CD="300", PDNO="005930")["output"]
    assert isinstance(old, dict) and isinstance(new, dict)
    assert list(new) == list(SEARCH_STOCK_INFO)
    assert int(new["lstg_stqt"]) == 50 * int(old["lstg_stqt"])
    assert (old["papr"], new["papr"]) == ("5000", "100")
    assert old["cpta"] == new["cpta"]
    assert new["std_pdno"] == "KR7005930003" and new["pdno"] == "00000A005930"
    assert new["mket_id_cd"] == "STK" and new["scts_mket_lstg_dt"] == "19750611"
    # 한진해운 (KOSPI) was delisted on 2017-03-07: not yet on 2017-03-06, shown after.
    listed = _get(
        Kis(make_sim(now=datetime(2017, 3, 6, 12, 0), rate_limit=0)),
        path,
        tr,
        PRDT_TYPE_CD="300",
        PDNO="117930",
    )["output"]
    gone = _get(after, path, tr, PRDT_TYPE_CD="300", PDNO="117930")["output"]
    assert isinstance(listed, dict) and isinstance(gone, dict)
    assert listed["lstg_abol_dt"] == "" and listed["tr_stop_yn"] == "N"
    assert gone["lstg_abol_dt"] == gone["scts_mket_lstg_abol_dt"] == "20170307"
    # LG에너지솔루션 listed 2022-01-27: unknown in 2018.
    ipo = before.get(path, tr, PRDT_TYPE_CD="300", PDNO="373220").json()
    assert (ipo["rt_cd"], ipo["msg_cd"]) == ("1", "MCA05918")


def test_search_info_names_domestic_and_us_products(sim: RunningSimulator) -> None:
    kis = Kis(sim)
    krx = _get(kis, Q + "search-info", "CTPF1604R", PDNO="005930", PRDT_TYPE_CD="300")["output"]
    us = _get(kis, Q + "search-info", "CTPF1604R", PDNO="AAPL", PRDT_TYPE_CD="512")["output"]
    assert isinstance(krx, dict) and isinstance(us, dict)
    assert list(krx) == list(us) == list(SEARCH_INFO)
    assert krx["prdt_abrv_name"] == "삼성전자" and krx["std_pdno"] == "KR7005930003"
    assert us["prdt_eng_name"] == "APPLE INC" and us["prdt_clsf_name"] == "해외주식"
    bad = kis.get(Q + "search-info", "CTPF1604R", PDNO="AAPL", PRDT_TYPE_CD="300").json()
    assert bad["msg_cd"] == "MCA05918"


async def _first_book(sim: RunningSimulator, code: str) -> str:
    """The first H0STASP0 record the websocket sends for `code`."""
    key = approval(sim)
    async with websockets.connect(sim.ws_url) as ws:
        await ask(ws, sub(key, "H0STASP0", code))
        while True:
            frame = await asyncio.wait_for(ws.recv(), 10)
            if frame.startswith("0|H0STASP0|"):
                return frame.split("|", 3)[3]


def test_asking_price_is_the_websocket_book(make_sim: Callable[..., RunningSimulator]) -> None:
    """The REST book at sim-now is the H0STASP0 record's book for that second."""
    sim = make_sim(now=SESSION, speed=1e-9, rate_limit=0)
    body = _get(
        Kis(sim),
        Q + "inquire-asking-price-exp-ccn",
        "FHKST01010200",
        FID_COND_MRKT_DIV_CODE="J",
        FID_INPUT_ISCD="005930",
    )
    out1, out2 = body["output1"], body["output2"]
    assert isinstance(out1, dict) and isinstance(out2, dict)
    assert list(out1) == list(ASKING_PRICE_OUTPUT1) and list(out2) == list(ASKING_PRICE_OUTPUT2)
    record = asyncio.run(_first_book(sim, "005930")).split("^")
    assert record[1] == out1["aspr_acpt_hour"] == "103015" and out1["new_mkop_cls_code"] == "20"
    # H0STASP0: code, time, hour class, 10 asks, 10 bids, their 10 + 10 sizes.
    rest = [
        out1[f"{name}{i}"] for name in ("askp", "bidp", "askp_rsqn", "bidp_rsqn") for i in LEVELS
    ]
    assert record[3:43] == rest
    assert int(out1["ntby_aspr_rsqn"]) == int(out1["total_bidp_rsqn"]) - int(
        out1["total_askp_rsqn"]
    )
    asks = [int(out1[f"askp{i}"]) for i in range(1, 11)]
    bids = [int(out1[f"bidp{i}"]) for i in range(1, 11)]
    assert asks == sorted(asks) and bids == sorted(bids, reverse=True) and bids[0] < asks[0]
    assert out2["antc_cnpr"] == "0"  # no expected execution in continuous trading


def test_index_timeprice_buckets_the_session(make_sim: Callable[..., RunningSimulator]) -> None:
    kis = Kis(make_sim(now=SESSION, speed=1e-9, rate_limit=0))
    params = {"FID_INPUT_ISCD": "0001", "FID_COND_MRKT_DIV_CODE": "U"}
    minutes = _get(
        kis, Q + "inquire-index-timeprice", "FHPUP02110200", FID_INPUT_HOUR_1="60", **params
    )
    fives = _get(
        kis, Q + "inquire-index-timeprice", "FHPUP02110200", FID_INPUT_HOUR_1="300", **params
    )
    one, five = minutes["output"], fives["output"]
    assert isinstance(one, list) and isinstance(five, list)
    assert one[0]["bsop_hour"] == "103000" and one[-1]["bsop_hour"] == "090000"
    assert len(one) == 91 and len(five) == 19
    assert one[0]["acml_vol"] == five[0]["acml_vol"]  # both accumulate the whole day so far
    assert sum(int(r["cntg_vol"]) for r in one) == int(one[0]["acml_vol"])


def test_us_quotes_agree(make_sim: Callable[..., RunningSimulator]) -> None:
    """price, price-detail and the book show the same session so far, built from the minute bars."""
    sim = make_sim(now=NY_SESSION, speed=1e-9, rate_limit=0)
    kis = Kis(sim)
    q = {"AUTH": "", "EXCD": "NAS", "SYMB": "AAPL"}
    price = _get(kis, OV + "price", "HHDFS00000300", **q)["output"]
    detail = _get(kis, OV + "price-detail", "HHDFS76200200", **q)["output"]
    book = _get(kis, OV + "inquire-asking-price", "HHDFS76200100", **q)
    assert isinstance(price, dict) and isinstance(detail, dict)
    bars = [
        b
        for b in sim.market.overseas_minute_bars("NAS", "AAPL", date(2026, 11, 24))
        if b.local_time and b.local_time.hour < 11
    ]
    assert price["last"] == detail["last"] == book["output1"]["last"] == f"{bars[-1].close:.4f}"  # type: ignore[index]
    assert int(price["tvol"]) == sum(b.volume for b in bars) == int(detail["tvol"])
    assert price["rsym"] == "DNASAAPL" and price["ordy"] == "매도불가"
    levels = book["output2"]
    assert isinstance(levels, dict)
    assert float(levels["pbid1"]) < float(levels["pask1"]) < float(levels["pask2"])
    assert list(book["output3"]) == ["vstm", "vetm", "csbp", "cshi", "cslo", "iep", "iev"]  # type: ignore[arg-type]


def test_overseas_index_chart(make_sim: Callable[..., RunningSimulator]) -> None:
    kis = Kis(make_sim(now=NY_SESSION, speed=1e-9, rate_limit=0))
    body = _get(
        kis,
        OV + "inquire-daily-chartprice",
        "FHKST03030100",
        FID_COND_MRKT_DIV_CODE="N",
        FID_INPUT_ISCD=".DJI",
        FID_INPUT_DATE_1="20260101",
        FID_INPUT_DATE_2="20261231",
        FID_PERIOD_DIV_CODE="D",
    )
    out1, rows = body["output1"], body["output2"]
    assert isinstance(out1, dict) and isinstance(rows, list)
    assert out1["hts_kor_isnm"] == "다우존스 산업지수" and out1["stck_shrn_iscd"] == ".DJI"
    # The session under way (New York 2026-11-24) is not shown; the 23rd is the newest.
    assert rows[0]["stck_bsop_date"] == "20261123" and len(rows) == 100
    assert out1["ovrs_nmix_prpr"] == rows[0]["ovrs_nmix_prpr"]
    assert out1["ovrs_nmix_prdy_clpr"] == rows[1]["ovrs_nmix_prpr"]
    dates = [r["stck_bsop_date"] for r in rows]
    assert dates == sorted(dates, reverse=True)
    fx = kis.get(
        OV + "inquire-daily-chartprice",
        "FHKST03030100",
        FID_COND_MRKT_DIV_CODE="X",
        FID_INPUT_ISCD="FX@KRW",
        FID_INPUT_DATE_1="20260101",
        FID_INPUT_DATE_2="20261231",
        FID_PERIOD_DIV_CODE="D",
    ).json()
    assert fx["msg_cd"] == "OPSQ2001"


@pytest.mark.parametrize("env", ["real", "paper"])
def test_empty_overseas_account(make_sim: Callable[..., RunningSimulator], env: str) -> None:
    kis = Kis(make_sim(env=env, now=SESSION, rate_limit=0))
    prefix = "C" if env == "real" else "V"
    balance = _get(kis, OT + "inquire-present-balance", f"{prefix}TRP6504R", **BALANCE)
    assert list(balance)[:3] == ["output1", "output2", "output3"]
    assert balance["output1"] == [] and balance["output2"] == []
    assert balance["output3"]["tot_asst_amt"] == "0"  # type: ignore[index]
    ccnl_tr = "TTTS3035R" if env == "real" else "VTTS3035R"
    ccnl = kis.get(OT + "inquire-ccnl", ccnl_tr, **CCNL).json()
    assert list(ccnl)[:3] == ["ctx_area_nk200", "ctx_area_fk200", "output"]
    assert ccnl["msg_cd"] == "KIOK0560" and ccnl["output"]["mdia_dvsn_name"] == "OpenAPI"
    assert ccnl["ctx_area_fk200"].startswith("50000000^01^^20261101^20261124^00^00^^^")
    assert len(ccnl["ctx_area_fk200"]) == 200
    wrong = kis.get(OT + "inquire-ccnl", ccnl_tr, **{**CCNL, "CANO": "12345678"}).json()
    assert wrong["msg_cd"] == "OPSQ2000"


@pytest.mark.parametrize(
    ("env", "tr_id", "domestic"),
    [("real", "H0GSCNI0", "H0STCNI0"), ("paper", "H0GSCNI9", "H0STCNI9")],
)
def test_overseas_notice_stream_is_accepted(
    make_sim: Callable[..., RunningSimulator], env: str, tr_id: str, domestic: str
) -> None:
    """Subscribe, a wrong HTS ID and unsubscribe are answered as for the domestic notices."""
    sim = make_sim(env=env, now=SESSION, hts_id="kisuser1")
    key = approval(sim)

    async def talk(tr: str) -> list[dict[str, Any]]:
        async with websockets.connect(sim.ws_url) as ws:
            return [
                await ask(ws, sub(key, tr, hts_id, tr_type))
                for tr_type, hts_id in (("1", "kisuser1"), ("1", "someone"), ("2", "kisuser1"))
            ]

    overseas, reference = asyncio.run(talk(tr_id)), asyncio.run(talk(domestic))
    subscribed = overseas[0]
    assert subscribed["body"]["msg_cd"] == "OPSP0000"
    assert subscribed["header"] == {**reference[0]["header"], "tr_id": tr_id}
    assert subscribed["body"]["output"]["key"] and subscribed["body"]["output"]["iv"]
    assert [a["body"]["msg_cd"] for a in overseas] == [a["body"]["msg_cd"] for a in reference]
