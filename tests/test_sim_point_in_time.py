"""Point in time: an adjusted series reflects only the splits effective on sim-today (no look-ahead),
and the period chart marks the split day (`prtt_rate`, sheet 039)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from simulator.server import RunningSimulator
from tests.helpers import Kis, Q

CHART = Q + "inquire-daily-itemchartprice"
DAILY = "/uapi/overseas-price/v1/quotations/dailyprice"


def _chart(kis: Kis, adj: str, period: str = "D") -> list[dict[str, str]]:
    body = kis.get(
        CHART,
        "FHKST03010100",
        FID_COND_MRKT_DIV_CODE="J",
        FID_INPUT_ISCD="005930",
        FID_INPUT_DATE_1="20180401",
        FID_INPUT_DATE_2="20180531",
        FID_PERIOD_DIV_CODE=period,
        FID_ORG_ADJ_PRC=adj,
    ).json()
    assert body["rt_cd"] == "0", body
    return list(body["output2"])


def test_split_is_applied_from_its_day_on(make_sim: Callable[..., RunningSimulator]) -> None:
    eve = Kis(make_sim(now=datetime(2018, 5, 3, 16, 0), rate_limit=0))
    day = Kis(make_sim(now=datetime(2018, 5, 4, 16, 0), rate_limit=0))
    # The eve of 삼성전자's 1:50 split: "adjusted" (0) is the raw history, ~2.5 million won.
    assert _chart(eve, "0") == _chart(eve, "1")
    assert int(_chart(eve, "0")[0]["stck_clpr"]) > 1_000_000
    # From the split day on, the adjusted history before it is divided by 50.
    adjusted, raw = _chart(day, "0"), _chart(day, "1")
    before = {r["stck_bsop_date"]: r for r in raw}
    for row in adjusted[1:]:
        ratio = int(before[row["stck_bsop_date"]]["stck_clpr"]) / int(row["stck_clpr"])
        assert 49 < ratio < 51
    assert adjusted[0] == raw[0] and adjusted[0]["stck_bsop_date"] == "20180504"


def test_chart_marks_the_split_day(make_sim: Callable[..., RunningSimulator]) -> None:
    kis = Kis(make_sim(now=datetime(2018, 6, 1, 16, 0), rate_limit=0))
    daily = {r["stck_bsop_date"]: r for r in _chart(kis, "0")}
    assert daily["20180504"]["prtt_rate"] == "0.02"
    assert {r["prtt_rate"] for d, r in daily.items() if d != "20180504"} == {"0.00"}
    assert {(r["flng_cls_code"], r["mod_yn"]) for r in daily.values()} == {("00", "N")}
    weekly = {r["stck_bsop_date"]: r["prtt_rate"] for r in _chart(kis, "0", "W")}
    assert weekly["20180504"] == "0.02"
    assert sorted(weekly.values()).count("0.02") == 1


def test_us_adjusted_prices_are_point_in_time(make_sim: Callable[..., RunningSimulator]) -> None:
    """NVDA's 1:10 split of 2024-06-10: MODP=1 on the Friday before is still the raw history."""

    def closes(kis: Kis, modp: str) -> list[str]:
        body = kis.get(
            DAILY, "HHDFS76240000", AUTH="", EXCD="NAS", SYMB="NVDA", GUBN="0", MODP=modp, BYMD=""
        ).json()
        return [r["clos"] for r in body["output2"] if r["xymd"] <= "20240607"]

    eve = Kis(make_sim(now=datetime(2024, 6, 8, 12, 0), rate_limit=0))
    after = Kis(make_sim(now=datetime(2024, 6, 12, 12, 0), rate_limit=0))
    assert closes(eve, "1") == closes(eve, "0")
    old, new = closes(after, "0"), closes(after, "1")
    assert old and all(9.9 < float(a) / float(b) < 10.1 for a, b in zip(old, new, strict=True))


def test_par_value_and_capital_follow_the_split(make_sim: Callable[..., RunningSimulator]) -> None:
    """inquire-price: the par falls 5,000 -> 100 with the 1:50 split, the capital stays (and agrees
    with search-stock-info's `cpta`, in 억)."""

    def price(now: datetime) -> dict[str, str]:
        kis = Kis(make_sim(now=now, rate_limit=0))
        out = kis.get(
            Q + "inquire-price",
            "FHKST01010100",
            FID_COND_MRKT_DIV_CODE="J",
            FID_INPUT_ISCD="005930",
        ).json()["output"]
        info = kis.get(
            Q + "search-stock-info", "CTPF1002R", PRDT_TYPE_CD="300", PDNO="005930"
        ).json()["output"]
        assert int(out["cpfn"]) == int(info["cpta"]) // 10**8 and out["stck_fcam"] == info["papr"]
        return dict(out)

    eve, day = price(datetime(2018, 5, 3, 16, 0)), price(datetime(2018, 5, 4, 16, 0))
    assert (eve["stck_fcam"], day["stck_fcam"]) == ("5000", "100")
    assert eve["cpfn"] == day["cpfn"] and int(day["lstn_stcn"]) == 50 * int(eve["lstn_stcn"])
