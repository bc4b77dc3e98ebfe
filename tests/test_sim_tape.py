"""The tape looks like a KRX day: a liquid large cap prints more than once a second on average
through continuous trading (tens of thousands of prints), busier at the open and the close than
at lunch, in bursts; a small cap far less; and a client listening at --speed 1 sees trades within
seconds, even at lunch. (That ticks aggregate to minutes and minutes to the day is
tests/test_sim_market.py's.)"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import date, datetime
from statistics import median

import numpy as np
import pytest
import websockets

from simulator.market import Market
from simulator.server import RunningSimulator
from tests.test_sim_ws import approval, ask, sub

MARKET = Market()
DAYS = [date(2016, 6, 1), date(2021, 3, 9), date(2024, 3, 5), date(2026, 11, 24)]
OPEN, CALL = 9 * 3600, 15 * 3600 + 20 * 60  # continuous trading: 09:00 to the closing call


def _seconds(code: str, d: date) -> np.ndarray:
    cols = MARKET.tick_columns(code, d)
    assert cols is not None
    return np.asarray(cols.seconds)


@pytest.mark.parametrize("code", ["005930", "000660"])
@pytest.mark.parametrize("d", DAYS)
def test_a_large_cap_prints_more_than_once_a_second(code: str, d: date) -> None:
    s = _seconds(code, d)
    continuous = s[(s >= OPEN) & (s < CALL)]
    assert len(s) >= 20_000
    assert len(continuous) / (CALL - OPEN) >= 1.0


@pytest.mark.parametrize("d", DAYS)
def test_the_day_is_u_shaped_and_bursty(d: date) -> None:
    s = _seconds("005930", d)
    per_minute = np.bincount((s[(s >= OPEN) & (s < CALL)] - OPEN) // 60, minlength=380)
    first_half_hour, lunch, last_20 = per_minute[:30], per_minute[180:240], per_minute[360:380]
    assert first_half_hour.mean() > 1.5 * lunch.mean()
    assert last_20.mean() > 1.2 * lunch.mean()
    # Bursts: a busy minute is several times a typical one (Poisson noise alone stays within ~1.3x).
    middle = per_minute[60:330]
    assert middle.max() > 2.5 * median(middle.tolist())


@pytest.mark.parametrize("d", DAYS)
def test_small_caps_print_far_less(d: date) -> None:
    large = len(_seconds("005930", d))
    for code in ("032830", "058470"):  # daily value ~2e10 KRW, a twenty-fifth of 005930's
        small = len(_seconds(code, d))
        assert 300 <= small < large / 5


def test_a_listener_at_speed_one_sees_trades_within_seconds(
    make_sim: Callable[..., RunningSimulator],
) -> None:
    """At lunch, the quietest time of the day, in real time."""
    sim = make_sim(now=datetime(2026, 11, 24, 12, 30), speed=1, ws_ping_interval=0)
    key = approval(sim)

    async def first_trade_after() -> float:
        async with websockets.connect(sim.ws_url) as ws:
            await ask(ws, sub(key, "H0STCNT0", "005930"))
            loop = asyncio.get_running_loop()
            start = loop.time()
            while True:
                frame = await asyncio.wait_for(ws.recv(), 10)
                if frame.startswith("0|H0STCNT0|"):
                    return loop.time() - start
                assert (
                    not frame.startswith("{") or "PINGPONG" in json.loads(frame)["header"]["tr_id"]
                )

    assert asyncio.run(first_trade_after()) < 5.0
