"""Overseas quotations over the wire: every dailyprice row's sign/diff/rate is measured from the
previous bar's close (also for a page's oldest row, whose previous bar is on the next page or
before the history), and the minute API fills the session's KST start/end (sktm/ektm)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

import pytest

from simulator.market import period_start
from simulator.server import RunningSimulator
from tests.helpers import Kis

DAILY = "/uapi/overseas-price/v1/quotations/dailyprice"
MINUTES = "/uapi/overseas-price/v1/quotations/inquire-time-itemchartprice"


def _change(close: str, prev: float) -> tuple[str, str, str]:
    """(sign, diff, rate) as the API writes them for `close` against `prev`."""
    diff = round(float(close) - prev, 4)
    sign = "2" if diff > 0 else "5" if diff < 0 else "3"
    rate = diff / prev * 100
    return sign, f"{abs(diff):.4f}", ("" if f"{rate:.2f}".startswith("-") else "+") + f"{rate:.2f}"


def _page(kis: Kis, symbol: str, gubn: str, modp: str, bymd: str) -> list[dict[str, str]]:
    body = kis.get(
        DAILY, "HHDFS76240000", AUTH="", EXCD="NAS", SYMB=symbol, GUBN=gubn, MODP=modp, BYMD=bymd
    ).json()
    assert body["rt_cd"] == "0", body
    return list(body["output2"])


@pytest.mark.parametrize(
    ("symbol", "gubn", "modp", "bymd"),
    [
        ("MSFT", "0", "0", "20261120"),
        ("AAPL", "0", "1", "20260612"),
        ("MSFT", "1", "0", "20261120"),
        ("NVDA", "2", "1", "20261120"),
    ],
)
def test_every_row_changes_from_the_previous_close(
    sim: RunningSimulator, symbol: str, gubn: str, modp: str, bymd: str
) -> None:
    kis = Kis(sim)
    first = _page(kis, symbol, gubn, modp, bymd)
    oldest = datetime.strptime(first[-1]["xymd"], "%Y%m%d").date()
    # The next page ends the day before the oldest row's week/month began (a mid-period BYMD would
    # end on that period's partial bar).
    before = period_start(oldest, {"0": "D", "1": "W", "2": "M"}[gubn]) - timedelta(days=1)
    second = _page(kis, symbol, gubn, modp, before.strftime("%Y%m%d"))
    rows = first + second
    assert len(first) == 100 and [r["xymd"] for r in rows] == sorted(
        {r["xymd"] for r in rows}, reverse=True
    )
    for row, older in zip(rows, rows[1:], strict=False):  # across the page boundary too
        assert (row["sign"], row["diff"], row["rate"]) == _change(
            row["clos"], float(older["clos"])
        ), row["xymd"]


@pytest.mark.parametrize("gubn", ["0", "1", "2"])
def test_the_first_bar_of_the_history_changes_from_the_base_price(
    sim: RunningSimulator, gubn: str
) -> None:
    rows = _page(Kis(sim), "MSFT", gubn, "0", "20150415")
    first = datetime.strptime(rows[-1]["xymd"], "%Y%m%d").date()
    assert first < date(2015, 2, 1) and len(rows) < 100
    period = {"0": "D", "1": "W", "2": "M"}[gubn]
    base = sim.market.overseas_close_before("NAS", "MSFT", period_start(first, period))
    assert base != float(rows[-1]["open"])
    assert (rows[-1]["sign"], rows[-1]["diff"], rows[-1]["rate"]) == _change(rows[-1]["clos"], base)


@pytest.mark.parametrize(
    ("now", "kst"),
    [
        (datetime(2026, 11, 24, 10, 30), ("233000", "060000")),  # New York on standard time
        (
            datetime(2026, 7, 1, 10, 30),
            ("223000", "050000"),
        ),  # daylight time: an hour earlier in KST
    ],
)
def test_minute_bars_carry_the_session_in_kst(
    make_sim: Callable[..., RunningSimulator], now: datetime, kst: tuple[str, str]
) -> None:
    kis = Kis(make_sim(rate_limit=0, now=now))
    body = kis.get(
        MINUTES,
        "HHDFS76950200",
        AUTH="",
        EXCD="NAS",
        SYMB="MSFT",
        NMIN="1",
        PINC="1",
        NEXT="",
        NREC="120",
        FILL="",
        KEYB="",
    ).json()
    out1 = body["output1"]
    assert (out1["stim"], out1["etim"]) == ("093000", "160000") and (
        out1["sktm"],
        out1["ektm"],
    ) == kst
    # The session's last bar starts a minute before the close, in KST as well.
    last = body["output2"][0]
    assert last["xhms"] == "155900" and last["khms"] == (
        datetime.strptime(kst[1], "%H%M%S") - timedelta(minutes=1)
    ).strftime("%H%M%S")
