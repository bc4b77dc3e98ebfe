"""The simulator's realtime server: approval, session and subscription rules, frame formats,
encrypted execution notices, PINGPONG and dropped connections."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pytest
import websockets
from Crypto.Cipher import AES
from Crypto.Util.Padding import unpad

from simulator.server import RunningSimulator
from simulator.stream import build_tape
from tests.helpers import Kis, T


def approval(sim: RunningSimulator) -> str:
    r = httpx.post(
        sim.base_url + "/oauth2/Approval",
        json={
            "grant_type": "client_credentials",
            "appkey": sim.app_key,
            "secretkey": sim.app_secret,
        },
    )
    return r.json()["approval_key"]


def sub(key: str, tr_id: str, tr_key: str, tr_type: str = "1") -> str:
    return json.dumps(
        {
            "header": {
                "approval_key": key,
                "custtype": "P",
                "tr_type": tr_type,
                "content-type": "utf-8",
            },
            "body": {"input": {"tr_id": tr_id, "tr_key": tr_key}},
        }
    )


async def ask(ws: Any, message: str) -> dict:
    await ws.send(message)
    while True:
        reply = await asyncio.wait_for(ws.recv(), 5)
        if reply.startswith("{") and "PINGPONG" not in reply:
            return json.loads(reply)


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_subscription_rules(sim: RunningSimulator) -> None:
    key = approval(sim)

    async def scenario() -> None:
        async with websockets.connect(sim.ws_url) as ws:
            bad = await ask(ws, sub("not-a-key", "H0STCNT0", "005930"))
            assert bad["body"]["msg_cd"] == "OPSP0011" and bad["body"]["rt_cd"] != "0"
            ok = await ask(ws, sub(key, "H0STCNT0", "005930"))
            assert ok["header"] == {"tr_id": "H0STCNT0", "tr_key": "005930", "encrypt": "N"}
            assert ok["body"]["msg_cd"] == "OPSP0000" and ok["body"]["msg1"] == "SUBSCRIBE SUCCESS"
            assert len(ok["body"]["output"]["key"]) == 32 and len(ok["body"]["output"]["iv"]) == 16
            assert (await ask(ws, sub(key, "H0STCNT0", "005930")))["body"]["msg_cd"] == "OPSP0002"
            assert (await ask(ws, sub(key, "H0XXXXX0", "005930")))["body"]["msg_cd"] == "OPSP8991"
            assert (await ask(ws, sub(key, "H0STCNT0", "000000")))["body"]["msg_cd"] == "OPSP8992"
            assert (await ask(ws, sub(key, "H0STCNI0", "someone")))["body"]["msg_cd"] == "OPSP8992"
            notice = await ask(ws, sub(key, "H0STCNI0", sim.hts_id))
            assert notice["header"]["encrypt"] == "Y"
            codes = sorted(
                c for c in sim.market.instruments if sim.market.is_listed(c, sim.clock.today())
            )
            replies = [await ask(ws, sub(key, "H0STASP0", c)) for c in codes[:40]]
            assert [r["body"]["msg_cd"] for r in replies].count(
                "OPSP0000"
            ) == 39  # 41 registrations in all
            assert replies[-1]["body"]["msg_cd"] == "OPSP0008"
            unsub = await ask(ws, sub(key, "H0STCNT0", "005930", "2"))
            assert unsub["body"]["msg_cd"] == "OPSP0001" and unsub["body"]["msg1"].startswith(
                "UNSUB"
            )
            assert (await ask(ws, sub(key, "H0STCNT0", "005930", "2")))["body"][
                "msg_cd"
            ] == "OPSP0003"
            async with websockets.connect(sim.ws_url) as second:
                other = await ask(second, sub(key, "H0STCNT0", "000660"))
                assert other["body"]["msg_cd"] == "OPSP8996"
            assert (await ask(ws, "{broken"))["body"]["rt_cd"] != "0"

    run(scenario())


def test_the_book_moves_every_market_second_between_prints(
    make_sim: Callable[..., RunningSimulator],
) -> None:
    # At speed 1 a stock prints about every ten seconds; its book still changes every second.
    sim = make_sim(rate_limit=0, speed=1, ws_ping_interval=0)
    key = approval(sim)

    async def scenario() -> list[list[str]]:
        books: list[list[str]] = []
        async with websockets.connect(sim.ws_url) as ws:
            await ask(ws, sub(key, "H0STASP0", "005930"))
            while len(books) < 3:
                frame = await asyncio.wait_for(ws.recv(), 5)
                if frame.startswith("0|H0STASP0|001|"):
                    books.append(frame.split("|", 3)[3].split("^"))
        return books

    books = run(scenario())
    stamps = [b[1] for b in books]
    assert stamps == sorted(set(stamps))  # one snapshot per market second, in order
    day = sim.clock.now().date()
    printed = {f"{t.time:%H%M%S}" for t in sim.market.ticks("005930", day)}
    assert any(s not in printed for s in stamps)  # not only when a trade printed
    assert all(len(b) == 59 and int(b[3]) > int(b[13]) for b in books)  # ask 1 above bid 1


def test_trade_and_quote_frames(make_sim: Callable[..., RunningSimulator]) -> None:
    sim = make_sim(rate_limit=0, speed=600)
    key = approval(sim)

    async def scenario() -> tuple[list[str], list[str], int]:
        trades: list[str] = []
        books: list[str] = []
        multi = 0
        async with websockets.connect(sim.ws_url) as ws:
            await ask(ws, sub(key, "H0STCNT0", "005930"))
            await ask(ws, sub(key, "H0STASP0", "005930"))
            while len(trades) < 40 * 46 or not books:
                frame = await asyncio.wait_for(ws.recv(), 10)
                if frame[0] != "0":
                    continue
                enc, tr_id, count, payload = frame.split("|", 3)
                values = payload.split("^")
                n = int(count)
                multi += n > 1
                assert len(count) == 3
                (trades if tr_id == "H0STCNT0" else books).extend(values)
                assert len(values) == n * (46 if tr_id == "H0STCNT0" else 59)
        return trades, books, multi

    trades, books, multi = run(scenario())
    assert multi > 0
    records = [trades[i : i + 46] for i in range(0, len(trades), 46)]
    assert all(r[0] == "005930" and r[33] == "20261124" for r in records)
    stamps = [r[1] for r in records]
    assert stamps == sorted(stamps) and stamps[0] >= "103000"
    volumes = [int(r[13]) for r in records]
    assert all(
        b - a == int(r[12]) for a, b, r in zip(volumes, volumes[1:], records[1:], strict=False)
    )
    book = books[:59]
    asks = [int(p) for p in book[3:13]]
    assert asks == sorted(asks) and int(book[13]) < asks[0]


def test_execution_notices_are_encrypted(sim: RunningSimulator) -> None:
    key = approval(sim)
    kis = Kis(sim)

    async def scenario() -> list[list[str]]:
        async with websockets.connect(sim.ws_url) as ws:
            ack = await ask(ws, sub(key, "H0STCNI0", sim.hts_id))
            aes_key, iv = ack["body"]["output"]["key"], ack["body"]["output"]["iv"]
            body = {
                "CANO": "50000000",
                "ACNT_PRDT_CD": "01",
                "PDNO": "000660",
                "ORD_DVSN": "01",
                "ORD_QTY": "5",
                "ORD_UNPR": "0",
            }
            res = await asyncio.to_thread(kis.post, T + "order-cash", "TTTC0012U", body)
            assert res.json()["rt_cd"] == "0"
            notices: list[list[str]] = []
            while sum(int(n[9]) for n in notices if n[13] == "2") < 5:
                frame = await asyncio.wait_for(ws.recv(), 5)
                if frame.startswith("1|H0STCNI0|"):
                    raw = base64.b64decode(frame.split("|", 3)[3])
                    text = unpad(
                        AES.new(aes_key.encode(), AES.MODE_CBC, iv.encode()).decrypt(raw), 16
                    ).decode()
                    notices.append(text.split("^"))
            return notices

    notices = run(scenario())
    assert all(len(n) == 26 and n[0] == sim.hts_id for n in notices)
    assert notices[0][13] == "1" and notices[0][9] == "0000000005" and notices[0][16] == "000000005"
    assert notices[0][8] == "000660" and notices[0][4] == "02"
    fills = [n for n in notices if n[13] == "2"]
    assert fills and all(int(n[10]) > 0 for n in fills)


def test_pingpong_and_drops(make_sim: Callable[..., RunningSimulator]) -> None:
    sim = make_sim(rate_limit=0, ws_ping_interval=0.2, speed=60)
    key = approval(sim)

    async def scenario() -> None:
        async with websockets.connect(sim.ws_url) as ws:
            ping = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert ping["header"]["tr_id"] == "PINGPONG" and len(ping["header"]["datetime"]) == 14
            await ws.send(json.dumps(ping))  # the client's echo is accepted silently
            await ask(ws, sub(key, "H0STCNT0", "005930"))
            sim.drop_ws_connections()
            with pytest.raises(websockets.ConnectionClosed):
                for _ in range(1000):
                    await asyncio.wait_for(ws.recv(), 5)
        sim.set_faults("ws_drop_after_frames=3")
        async with websockets.connect(sim.ws_url) as ws:
            # The dropped session no longer holds the app key.
            assert (await ask(ws, sub(key, "H0STCNT0", "005930")))["body"]["msg_cd"] == "OPSP0000"
            data = 0
            with pytest.raises(websockets.ConnectionClosed):
                for _ in range(1000):
                    frame = await asyncio.wait_for(ws.recv(), 5)
                    data += frame[0] == "0"
            assert data == 3

    run(scenario())


def test_speed_drives_a_complete_tape_across_days(
    make_sim: Callable[..., RunningSimulator],
) -> None:
    """At 100,000x a 50 ms cycle covers 5,000 market seconds: frames carry up to 100 records, the
    stream runs through the close, the night and the next sessions, and what arrives is the
    market's tape without gaps (each day a contiguous run; a day after the first starts at its
    first print, a day before the last ends at its last)."""
    sim = make_sim(
        rate_limit=0, speed=100_000, now=datetime(2026, 11, 24, 15, 0), ws_ping_interval=0
    )
    key = approval(sim)

    async def scenario() -> tuple[list[str], list[int], int]:
        records: list[str] = []
        counts: list[int] = []
        books = 0
        days: set[str] = set()  # kept as frames come (a set over all records each frame is O(n²))
        # The client stops reading with frames still in flight, so the server's close reply sits
        # behind them until the close timeout (10 s by default): nothing to wait for here.
        async with websockets.connect(sim.ws_url, max_size=None, close_timeout=1) as ws:
            await ask(ws, sub(key, "H0STCNT0", "000660"))
            await ask(ws, sub(key, "H0STASP0", "000660"))
            while len(days) < 3:
                frame = await asyncio.wait_for(ws.recv(), 10)
                if frame.startswith("0|H0STASP0|"):
                    books += 1
                elif frame.startswith("0|H0STCNT0|"):
                    _, _, count, payload = frame.split("|", 3)
                    values = payload.split("^")
                    counts.append(int(count))
                    records += ["^".join(values[i : i + 46]) for i in range(0, len(values), 46)]
                    days.add(values[33])  # one day per frame (a frame is a slice of one tape)
        return records, counts, books

    records, counts, books = run(scenario())
    assert max(counts) == 100 and books > 0
    by_day: dict[str, list[str]] = {}
    for r in records:
        by_day.setdefault(r.split("^", 34)[33], []).append(r)
    days = sorted(by_day)
    assert days == list(by_day)  # days arrive in order
    cal = sim.market.calendar
    parsed = [datetime.strptime(d, "%Y%m%d").date() for d in days]
    assert all(cal.next_trading_day(a) == b for a, b in zip(parsed, parsed[1:], strict=False))
    for i, (d, got) in enumerate(zip(parsed, by_day.values(), strict=True)):
        tape = build_tape(sim.market, "000660", d).records
        start = 0 if i else tape.index(got[0])
        assert got == tape[start : start + len(got)], d
        if i < len(days) - 1:
            assert start + len(got) == len(tape), f"{d} was cut short"
    sent = sim.stats.snapshot()
    assert (
        sent["ws_records_sent"] >= len(records) + books
        and sent["ws_frames_sent"] >= len(counts) + books
    )
