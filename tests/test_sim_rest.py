"""Conformance of the simulator's REST surface with the KIS workbook (kis-spec) and kis-api.md."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta

import httpx
import pytest

from simulator.faults import FaultSpecError, parse_faults
from simulator.server import RunningSimulator
from tests.helpers import Kis, Q

TOKEN_BODY = {"grant_type": "client_credentials"}


@pytest.fixture
def kis(sim: RunningSimulator) -> Iterator[Kis]:
    client = Kis(sim)
    yield client
    client.close()


CASES = [
    (
        "028",
        Q + "inquire-price",
        "FHKST01010100",
        {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930"},
    ),
    (
        "027",
        Q + "inquire-daily-price",
        "FHKST01010400",
        {
            "FID_COND_MRKT_DIV_CODE": "J",
            "FID_INPUT_ISCD": "005930",
            "FID_PERIOD_DIV_CODE": "D",
            "FID_ORG_ADJ_PRC": "0000000001",
        },
    ),
    (
        "039",
        Q + "inquire-daily-itemchartprice",
        "FHKST03010100",
        {
            "FID_COND_MRKT_DIV_CODE": "J",
            "FID_INPUT_ISCD": "000660",
            "FID_INPUT_DATE_1": "20260101",
            "FID_INPUT_DATE_2": "20261124",
            "FID_PERIOD_DIV_CODE": "D",
            "FID_ORG_ADJ_PRC": "0",
        },
    ),
    (
        "048",
        Q + "inquire-time-itemchartprice",
        "FHKST03010200",
        {
            "FID_ETC_CLS_CODE": "",
            "FID_COND_MRKT_DIV_CODE": "J",
            "FID_INPUT_ISCD": "005930",
            "FID_INPUT_HOUR_1": "103000",
            "FID_PW_DATA_INCU_YN": "N",
        },
    ),
    (
        "038",
        Q + "inquire-time-dailychartprice",
        "FHKST03010230",
        {
            "FID_COND_MRKT_DIV_CODE": "J",
            "FID_INPUT_ISCD": "005930",
            "FID_INPUT_HOUR_1": "153000",
            "FID_INPUT_DATE_1": "20261120",
            "FID_PW_DATA_INCU_YN": "Y",
            "FID_FAKE_TICK_INCU_YN": "",
        },
    ),
    (
        "072",
        Q + "inquire-daily-indexchartprice",
        "FHKUP03500100",
        {
            "FID_COND_MRKT_DIV_CODE": "U",
            "FID_INPUT_ISCD": "0001",
            "FID_INPUT_DATE_1": "20260101",
            "FID_INPUT_DATE_2": "20261124",
            "FID_PERIOD_DIV_CODE": "D",
        },
    ),
    (
        "075",
        Q + "inquire-time-indexchartprice",
        "FHKUP03500200",
        {
            "FID_COND_MRKT_DIV_CODE": "U",
            "FID_ETC_CLS_CODE": "0",
            "FID_INPUT_ISCD": "1001",
            "FID_INPUT_HOUR_1": "120",
            "FID_PW_DATA_INCU_YN": "Y",
        },
    ),
    (
        "078",
        Q + "inquire-index-price",
        "FHPUP02100000",
        {"FID_COND_MRKT_DIV_CODE": "U", "FID_INPUT_ISCD": "0001"},
    ),
    (
        "149",
        Q + "volume-rank",
        "FHPST01710000",
        {
            "FID_COND_MRKT_DIV_CODE": "J",
            "FID_COND_SCR_DIV_CODE": "20171",
            "FID_INPUT_ISCD": "0000",
            "FID_DIV_CLS_CODE": "0",
            "FID_BLNG_CLS_CODE": "0",
            "FID_TRGT_CLS_CODE": "111111111",
            "FID_TRGT_EXLS_CLS_CODE": "000000",
            "FID_INPUT_PRICE_1": "",
            "FID_INPUT_PRICE_2": "",
            "FID_VOL_CNT": "",
            "FID_INPUT_DATE_1": "0",
        },
    ),
    (
        "157",
        "/uapi/domestic-stock/v1/ranking/fluctuation",
        "FHPST01700000",
        {
            "fid_cond_mrkt_div_code": "J",
            "fid_cond_scr_div_code": "20170",
            "fid_input_iscd": "0000",
            "fid_rank_sort_cls_code": "0",
            "fid_input_cnt_1": "0",
            "fid_prc_cls_code": "0",
        },
    ),
    (
        "155",
        "/uapi/domestic-stock/v1/ranking/market-cap",
        "FHPST01740000",
        {
            "fid_cond_mrkt_div_code": "J",
            "fid_cond_scr_div_code": "20174",
            "fid_input_iscd": "0000",
            "fid_div_cls_code": "0",
        },
    ),
    (
        "076",
        Q + "chk-holiday",
        "CTCA0903R",
        {"BASS_DT": "20261224", "CTX_AREA_NK": "", "CTX_AREA_FK": ""},
    ),
    (
        "254",
        "/uapi/overseas-price/v1/quotations/dailyprice",
        "HHDFS76240000",
        {"AUTH": "", "EXCD": "NAS", "SYMB": "AAPL", "GUBN": "0", "BYMD": "", "MODP": "1"},
    ),
    (
        "261",
        "/uapi/overseas-price/v1/quotations/inquire-time-itemchartprice",
        "HHDFS76950200",
        {
            "AUTH": "",
            "EXCD": "NAS",
            "SYMB": "AAPL",
            "NMIN": "1",
            "PINC": "1",
            "NEXT": "",
            "NREC": "120",
            "FILL": "",
            "KEYB": "",
        },
    ),
]


def test_row_caps_and_newest_first(kis: Kis) -> None:
    for _, path, tr_id, params in CASES:
        body = kis.get(path, tr_id, **params).json()
        rows = body.get("output2") or (
            body["output"] if isinstance(body.get("output"), list) else []
        )
        cap = {
            "inquire-daily-price": 30,
            "inquire-daily-itemchartprice": 100,
            "inquire-time-itemchartprice": 30,
            "inquire-time-dailychartprice": 120,
            "inquire-daily-indexchartprice": 50,
            "inquire-time-indexchartprice": 102,
            "volume-rank": 30,
            "fluctuation": 30,
            "market-cap": 30,
            "chk-holiday": 24,
            "dailyprice": 100,
        }
        name = path.rsplit("/", 1)[1]
        if "overseas" in path and name == "inquire-time-itemchartprice":
            cap_n = 120
        else:
            cap_n = cap.get(name, 1)
        assert len(rows) <= cap_n, path
        keys = [
            (r.get("stck_bsop_date") or r.get("xymd") or "")
            + (r.get("stck_cntg_hour") or r.get("xhms") or "")
            for r in rows
        ]
        if name not in {
            "volume-rank",
            "fluctuation",
            "market-cap",
            "chk-holiday",
            "inquire-price",
            "inquire-index-price",
        }:
            assert keys == sorted(keys, reverse=True) and len(set(keys)) == len(keys), path


def test_today_is_cut_at_sim_now(kis: Kis, sim: RunningSimulator) -> None:
    r = kis.get(
        Q + "inquire-time-itemchartprice",
        "FHKST03010200",
        FID_ETC_CLS_CODE="",
        FID_COND_MRKT_DIV_CODE="J",
        FID_INPUT_ISCD="005930",
        FID_INPUT_HOUR_1="160000",
        FID_PW_DATA_INCU_YN="N",
    ).json()
    now = sim.clock.now().strftime("%H%M%S")
    assert r["output2"] and all(row["stck_cntg_hour"] <= now for row in r["output2"])
    price = kis.get(
        Q + "inquire-price", "FHKST01010100", FID_COND_MRKT_DIV_CODE="J", FID_INPUT_ISCD="005930"
    ).json()
    full = sim.market.daily_bar("005930", sim.clock.today())
    assert 0 < int(price["output"]["acml_vol"]) < full.volume
    assert r["output2"][0]["acml_tr_pbmn"] == price["output"]["acml_tr_pbmn"] or int(
        r["output2"][0]["acml_tr_pbmn"]
    ) <= int(price["output"]["acml_tr_pbmn"])


def test_period_charts_on_a_closed_day_end_at_the_last_session(
    make_sim: Callable[..., RunningSimulator],
) -> None:
    """Pinned on a Saturday, the stock and index period charts answer with the completed days
    (this used to be an HTTP 500: the session of a closed day was looked up)."""
    kis = Kis(make_sim(rate_limit=0, now=datetime(2026, 11, 28, 12, 0)))
    dates = {"FID_INPUT_DATE_1": "20261101", "FID_INPUT_DATE_2": "20261130"}
    stock = kis.get(
        Q + "inquire-daily-itemchartprice",
        "FHKST03010100",
        FID_COND_MRKT_DIV_CODE="J",
        FID_INPUT_ISCD="005930",
        FID_PERIOD_DIV_CODE="D",
        FID_ORG_ADJ_PRC="0",
        **dates,
    )
    index = kis.get(
        Q + "inquire-daily-indexchartprice",
        "FHKUP03500100",
        FID_COND_MRKT_DIV_CODE="U",
        FID_INPUT_ISCD="0001",
        FID_PERIOD_DIV_CODE="D",
        **dates,
    )
    for r in (stock, index):
        assert r.status_code == 200, r.text
        assert r.json()["output2"][0]["stck_bsop_date"] == "20261127"  # Friday, newest first


def test_period_chart_pages_backward_without_loss(kis: Kis, sim: RunningSimulator) -> None:
    start, end = date(2024, 1, 1), date(2026, 11, 20)
    seen: list[str] = []
    cursor = end
    while cursor >= start:
        body = kis.get(
            Q + "inquire-daily-itemchartprice",
            "FHKST03010100",
            FID_COND_MRKT_DIV_CODE="J",
            FID_INPUT_ISCD="005930",
            FID_INPUT_DATE_1=start.strftime("%Y%m%d"),
            FID_INPUT_DATE_2=cursor.strftime("%Y%m%d"),
            FID_PERIOD_DIV_CODE="D",
            FID_ORG_ADJ_PRC="1",
        ).json()
        rows = body["output2"]
        if not rows:
            break
        seen.extend(r["stck_bsop_date"] for r in rows)
        oldest = datetime.strptime(rows[-1]["stck_bsop_date"], "%Y%m%d").date()
        cursor = oldest - timedelta(days=1)
    expected = [
        b.date.strftime("%Y%m%d") for b in sim.market.daily_bars("005930", start, end, False)
    ]
    assert len(seen) > 300 and seen == expected[::-1]


def test_adjusted_and_raw_differ_before_the_split(kis: Kis, sim: RunningSimulator) -> None:
    split = next(i for i in sim.market.instruments.values() if i.split is not None)
    before = split.split.date - timedelta(days=10)
    rows = {}
    for adj in "01":
        body = kis.get(
            Q + "inquire-daily-itemchartprice",
            "FHKST03010100",
            FID_COND_MRKT_DIV_CODE="J",
            FID_INPUT_ISCD=split.code,
            FID_INPUT_DATE_1=before.strftime("%Y%m%d"),
            FID_INPUT_DATE_2=(before + timedelta(days=4)).strftime("%Y%m%d"),
            FID_PERIOD_DIV_CODE="D",
            FID_ORG_ADJ_PRC=adj,
        ).json()
        rows[adj] = body["output2"]
    assert rows["0"] and int(rows["1"][0]["stck_clpr"]) > int(
        rows["0"][0]["stck_clpr"]
    )  # 0 = adjusted


def _pages(
    kis: Kis,
    path: str,
    tr_id: str,
    params: dict[str, str],
    cursor: Callable[[dict], dict[str, str]],
) -> list[dict]:
    pages, tr_cont, extra = [], "", {}
    for _ in range(50):
        r = kis.get(path, tr_id, tr_cont, **{**params, **extra})
        pages.append(r.json())
        if r.headers.get("tr_cont") not in {"F", "M"}:
            break
        tr_cont, extra = "N", cursor(r.json())
    return pages


def test_holiday_pages_by_bass_dt_never_by_tr_cont(kis: Kis) -> None:
    # Sheet 076: "tr_cont를 이용한 다음조회 불가 API": one answer per call, tr_cont always "";
    # callers continue with BASS_DT = last date + 1.
    days: list[str] = []
    pages = []
    start = date(2027, 9, 1)
    while start <= date(2027, 12, 31):
        r = kis.get(
            Q + "chk-holiday",
            "CTCA0903R",
            BASS_DT=start.strftime("%Y%m%d"),
            CTX_AREA_NK="",
            CTX_AREA_FK="",
        )
        assert r.headers["tr_cont"] == ""
        pages.append(r.json())
        days += [row["bass_dt"] for row in pages[-1]["output"]]
        start = datetime.strptime(days[-1], "%Y%m%d").date() + timedelta(days=1)
    expected = [
        (date(2027, 9, 1) + timedelta(days=i)).strftime("%Y%m%d")
        for i in range((date(2027, 12, 31) - date(2027, 9, 1)).days + 1)
    ]
    assert days == expected and len(pages) > 3
    assert all(len(p["ctx_area_nk"]) == 20 for p in pages)
    assert pages[0]["msg_cd"] == "KIOK0500" and pages[-1]["msg_cd"] == "KIOK0460"
    flags = {row["bass_dt"]: row for p in pages for row in p["output"]}
    assert (
        flags["20270920"]["opnd_yn"] == "Y" and flags["20270925"]["opnd_yn"] == "N"
    )  # Monday / Saturday
    # A tr_cont N "next page" request is not a continuation: the same answer from BASS_DT.
    again = kis.get(
        Q + "chk-holiday",
        "CTCA0903R",
        "N",
        BASS_DT="20270901",
        CTX_AREA_NK=pages[0]["ctx_area_nk"],
        CTX_AREA_FK=pages[0]["ctx_area_fk"],
    )
    assert again.json()["output"] == pages[0]["output"] and again.headers["tr_cont"] == ""


def test_past_minute_bars_page_with_tr_cont(kis: Kis, sim: RunningSimulator) -> None:
    params = {
        "FID_COND_MRKT_DIV_CODE": "J",
        "FID_INPUT_ISCD": "000660",
        "FID_INPUT_HOUR_1": "153000",
        "FID_INPUT_DATE_1": "20261120",
        "FID_PW_DATA_INCU_YN": "Y",
        "FID_FAKE_TICK_INCU_YN": "",
    }
    pages = _pages(kis, Q + "inquire-time-dailychartprice", "FHKST03010230", params, lambda b: {})[
        :4
    ]
    stamps = [r["stck_bsop_date"] + r["stck_cntg_hour"] for p in pages for r in p["output2"]]
    days = sorted({s[:8] for s in stamps})
    expected = []
    for d in days:
        expected += [
            d + b.time.strftime("%H%M%S")
            for b in sim.market.minute_bars("000660", datetime.strptime(d, "%Y%m%d").date())
        ]
    assert len(stamps) == 480 and stamps == sorted(expected, reverse=True)[:480]


def test_overseas_paging(kis: Kis, sim: RunningSimulator) -> None:
    base = {"AUTH": "", "EXCD": "NAS", "SYMB": "MSFT", "GUBN": "0", "MODP": "0"}
    seen, bymd = [], "20261120"
    for _ in range(3):
        rows = kis.get(
            "/uapi/overseas-price/v1/quotations/dailyprice", "HHDFS76240000", **base, BYMD=bymd
        ).json()["output2"]
        seen += [r["xymd"] for r in rows]
        bymd = (datetime.strptime(rows[-1]["xymd"], "%Y%m%d") - timedelta(days=1)).strftime(
            "%Y%m%d"
        )
    assert len(seen) == 300 and seen == sorted(set(seen), reverse=True)
    mins, keyb = [], ""
    for _ in range(3):
        body = kis.get(
            "/uapi/overseas-price/v1/quotations/inquire-time-itemchartprice",
            "HHDFS76950200",
            AUTH="",
            EXCD="NAS",
            SYMB="MSFT",
            NMIN="5",
            PINC="1",
            NEXT="1" if keyb else "",
            NREC="120",
            FILL="",
            KEYB=keyb,
        ).json()
        rows = body["output2"]
        mins += [r["xymd"] + r["xhms"] for r in rows]
        last = datetime.strptime(mins[-1], "%Y%m%d%H%M%S") - timedelta(minutes=1)
        keyb = last.strftime("%Y%m%d%H%M%S")
        assert body["output1"]["next"] == "1"
    assert len(mins) == 360 and mins == sorted(set(mins), reverse=True)


# -- rules ------------------------------------------------------------------------------------------


def test_token_rules(make_sim: Callable[..., RunningSimulator]) -> None:
    sim = make_sim(token_ttl=3600)
    http = httpx.Client(base_url=sim.base_url)
    body = {**TOKEN_BODY, "appkey": sim.app_key, "appsecret": sim.app_secret}
    first = http.post("/oauth2/tokenP", json=body)
    assert first.status_code == 200 and first.json()["expires_in"] == 3600
    assert len(first.json()["access_token_token_expired"]) == 19
    again = http.post("/oauth2/tokenP", json=body)
    assert again.status_code == 403 and again.json()["error_code"] == "EGW00133"
    sim.reset_token_window()
    assert (
        http.post("/oauth2/tokenP", json=body).json()["access_token"]
        == first.json()["access_token"]
    )
    assert (
        http.post("/oauth2/tokenP", json={**body, "appsecret": "x"}).json()["error_code"]
        == "EGW00105"
    )
    assert (
        http.post("/oauth2/tokenP", json={**body, "appkey": "x"}).json()["error_code"] == "EGW00103"
    )
    ak = http.post(
        "/oauth2/Approval", json={**TOKEN_BODY, "appkey": sim.app_key, "secretkey": sim.app_secret}
    )
    assert ak.status_code == 200 and len(ak.json()["approval_key"]) == 36
    hk = http.post(
        "/uapi/hashkey",
        json={"CANO": "1"},
        headers={"appkey": sim.app_key, "appsecret": sim.app_secret},
    )
    assert hk.json()["BODY"] == {"CANO": "1"} and len(hk.json()["HASH"]) == 64
    revoke = http.post(
        "/oauth2/revokeP",
        json={
            "appkey": sim.app_key,
            "appsecret": sim.app_secret,
            "token": first.json()["access_token"],
        },
    )
    assert revoke.json() == {"code": 200, "message": "접근토큰 폐기에 성공하였습니다"}
    assert sim.stats.snapshot()["tokens_issued"] == 1


def test_gateway_errors(kis: Kis, sim: RunningSimulator) -> None:
    params = {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930"}
    path = Q + "inquire-price"

    def call(**headers: str) -> tuple[int, str]:
        r = kis.http.get(path, params=params, headers={**kis.headers("FHKST01010100"), **headers})
        return r.status_code, r.json()["msg_cd"]

    assert call(authorization="") == (500, "EGW00122")
    assert call(authorization="Bearer nonsense") == (500, "EGW00121")
    assert call(authorization=kis.token) == (500, "EGW00205")
    assert call(appkey="PSwrong") == (500, "EGW00103")
    assert call(appsecret="wrong") == (500, "EGW00105")
    assert call(tr_id="FHKST99999999") == (200, "OPSQ0002")
    assert call() == (200, "MCA00000")
    sim.expire_tokens()
    assert call() == (500, "EGW00123")


def test_rate_limit_sliding_window(make_sim: Callable[..., RunningSimulator]) -> None:
    sim = make_sim(rate_limit=5)
    kis = Kis(sim)
    codes = [
        kis.get(
            Q + "inquire-price",
            "FHKST01010100",
            FID_COND_MRKT_DIV_CODE="J",
            FID_INPUT_ISCD="005930",
        )
        for _ in range(12)
    ]
    ok = [r for r in codes if r.status_code == 200]
    limited = [r for r in codes if r.status_code == 500]
    assert len(ok) == 5 and limited and all(r.json()["msg_cd"] == "EGW00201" for r in limited)
    assert limited[0].json()["msg1"] == "초당 거래건수를 초과하였습니다."
    time.sleep(1.05)  # the window under test slides on the wall clock: one second on, room again
    assert (
        kis.get(
            Q + "inquire-price",
            "FHKST01010100",
            FID_COND_MRKT_DIV_CODE="J",
            FID_INPUT_ISCD="005930",
        ).status_code
        == 200
    )
    assert sim.stats.snapshot()["rate_limited"] == len(limited)


def test_paper_environment_rules(make_sim: Callable[..., RunningSimulator]) -> None:
    sim = make_sim(env="paper", rate_limit=0)
    kis = Kis(sim)
    r = kis.get(Q + "chk-holiday", "CTCA0903R", BASS_DT="20261124", CTX_AREA_NK="", CTX_AREA_FK="")
    assert r.json()["msg_cd"] == "40580000" and r.json()["rt_cd"] == "1"
    r = kis.get(
        "/uapi/domestic-stock/v1/trading/inquire-balance",
        "TTTC8434R",
        CANO="50000000",
        ACNT_PRDT_CD="01",
    )
    assert r.json()["msg_cd"] == "OPSQ0002"
    r = kis.get(
        Q + "inquire-price", "FHKST01010100", FID_COND_MRKT_DIV_CODE="J", FID_INPUT_ISCD="005930"
    )
    assert r.json()["rt_cd"] == "0"


def test_bad_input_never_yields_a_traceback(kis: Kis) -> None:
    r = kis.get(
        Q + "inquire-price", "FHKST01010100", FID_COND_MRKT_DIV_CODE="J", FID_INPUT_ISCD="999999"
    )
    assert r.json() == {"rt_cd": "1", "msg_cd": "MCA05918", "msg1": "종목코드 오류입니다."}
    r = kis.http.get("/uapi/nothing/here")
    assert r.status_code == 404 and r.json()["rt_cd"] == "1"
    garbage = ["", "x", "2026-13-45", "99999999", "-1", "'; DROP", "\u0000", "A" * 500]
    for _, path, tr_id, params in CASES:
        for i, name in enumerate(params):
            r = kis.get(path, tr_id, **{**params, name: garbage[i % len(garbage)]})
            assert r.status_code == 200, (path, name, r.text)
            body = r.json()
            assert body["rt_cd"] in {"0", "1"} and "Traceback" not in r.text
    r = kis.http.post(
        "/uapi/domestic-stock/v1/trading/order-cash",
        content=b"{not json",
        headers=kis.headers("TTTC0012U"),
    )
    assert r.status_code == 200 and r.json()["rt_cd"] == "1"


def test_injected_faults(make_sim: Callable[..., RunningSimulator]) -> None:
    sim = make_sim(rate_limit=0, faults="http5xx=1")
    kis = Kis(sim)
    r = kis.get(
        Q + "inquire-price", "FHKST01010100", FID_COND_MRKT_DIV_CODE="J", FID_INPUT_ISCD="005930"
    )
    assert r.status_code == 500 and r.json()["msg_cd"] == "EGW00002"
    sim.set_faults("malformed=1")
    r = kis.get(
        Q + "inquire-price", "FHKST01010100", FID_COND_MRKT_DIV_CODE="J", FID_INPUT_ISCD="005930"
    )
    with pytest.raises(ValueError):
        r.json()
    sim.set_faults("ratelimit_storm=1s@1s")
    r = kis.get(
        Q + "inquire-price", "FHKST01010100", FID_COND_MRKT_DIV_CODE="J", FID_INPUT_ISCD="005930"
    )
    assert r.json()["msg_cd"] == "EGW00201"
    sim.set_faults("latency=100ms")
    t = time.monotonic()
    kis.get(
        Q + "inquire-price", "FHKST01010100", FID_COND_MRKT_DIV_CODE="J", FID_INPUT_ISCD="005930"
    )
    assert time.monotonic() - t >= 0.1


def test_fault_grammar() -> None:
    spec = parse_faults(
        "http5xx=0.05, latency=20ms..40ms,ratelimit_storm=2s@5s,expire_tokens,ws_drop_after=10s,"
        "ws_drop_after_frames=500,malformed=0.01"
    )
    assert (
        spec.http5xx == 0.05 and spec.latency == (0.02, 0.04) and spec.ratelimit_storm == (2.0, 5.0)
    )
    assert (
        spec.expire_tokens_after == 60.0
        and spec.ws_drop_after == 10.0
        and spec.ws_drop_after_frames == 500
    )
    assert spec.in_storm(6.0) and not spec.in_storm(8.0)
    for bad in [
        "http5xx=2",
        "latency=fast",
        "nope=1",
        "ratelimit_storm=2s",
        "http5xx=0.1,http5xx=0.2",
        "ws_drop_after_frames=0",
    ]:
        with pytest.raises(FaultSpecError):
            parse_faults(bad)
