"""The simulator's wire as clients see it byte for byte: header names and casing read off the raw
socket (httpx normalises names, so it cannot tell `content-type` from `Content-Type`), tr_cont on
every TR response, notice-stream unsubscribe, and the inputs clients send in the wild."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from urllib.parse import urlencode

import pytest
import websockets

from simulator.server import RunningSimulator
from tests.helpers import Kis, Q
from tests.test_sim_ws import approval, ask, run, sub


def raw_exchange(sim: RunningSimulator, request: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
    """Send one HTTP/1.1 request on a raw socket; (status line, header (name, value) pairs as
    sent, body). The request asks for no keep-alive handling of its own."""
    host, port = sim.base_url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines[1:]]
        length = int(dict(headers)["Content-Length"])
        while len(body) < length:
            body += conn.recv(65536)
    return lines[0], headers, body  # type: ignore[return-value]


def get_request(kis: Kis, path: str, tr_id: str, params: dict[str, str]) -> bytes:
    headers = kis.headers(tr_id)
    lines = [f"GET {path}?{urlencode(params)} HTTP/1.1", "Host: sim"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def post_request(path: str, body: dict[str, str]) -> bytes:
    data = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: sim\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


def assert_no_lowercase_hyphenated(headers: list[tuple[str, str]]) -> None:
    # The official sample turns every all-lowercase header name into a namedtuple field.
    names = [name for name, _ in headers]
    assert not [n for n in names if n.islower() and not n.isidentifier()], names


@pytest.mark.parametrize("env", ["real", "paper"])
def test_tr_responses_carry_kis_headers_as_kis_writes_them(
    env: str, make_sim: Callable[..., RunningSimulator]
) -> None:
    sim = make_sim(env=env, rate_limit=0)
    kis = Kis(sim)
    params = {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930"}
    status, headers, body = raw_exchange(
        sim, get_request(kis, Q + "inquire-price", "FHKST01010100", params)
    )
    assert status == "HTTP/1.1 200 OK"
    assert_no_lowercase_hyphenated(headers)
    names = [name for name, _ in headers]
    assert names[:3] == ["Content-Type", "Content-Length", "tr_id"]
    fields = dict(headers)
    assert fields["Content-Type"] == "application/json; charset=utf-8"
    assert fields["tr_id"] == "FHKST01010100" and fields["tr_cont"] == ""
    assert len(fields["gt_uid"]) == 32 and int(fields["gt_uid"], 16) >= 0
    assert json.loads(body)["output"]["stck_shrn_iscd"] == "005930"
    # A cached answer (same request, same sim second) still gets its own transaction id.
    again = dict(
        raw_exchange(sim, get_request(kis, Q + "inquire-price", "FHKST01010100", params))[1]
    )
    assert again["gt_uid"] != fields["gt_uid"] and again["tr_cont"] == ""
    # A real-only API on paper is refused, with the same header block.
    refused = raw_exchange(
        sim, get_request(kis, Q + "chk-holiday", "CTCA0903R", {"BASS_DT": "20261124"})
    )
    assert [name for name, _ in refused[1]] == names
    assert json.loads(refused[2])["rt_cd"] == ("0" if env == "real" else "1")


def test_rejections_and_oauth_send_no_lowercase_hyphenated_names(sim: RunningSimulator) -> None:
    kis = Kis(sim)
    rejected = raw_exchange(
        sim, get_request(kis, Q + "inquire-price", "FHKST99999999", {"FID_INPUT_ISCD": "005930"})
    )
    assert json.loads(rejected[2])["msg_cd"] == "OPSQ0002"
    assert dict(rejected[1])["tr_cont"] == "" and dict(rejected[1])["tr_id"] == "FHKST99999999"
    token = raw_exchange(
        sim,
        post_request(
            "/oauth2/Approval",
            {
                "grant_type": "client_credentials",
                "appkey": sim.app_key,
                "secretkey": sim.app_secret,
            },
        ),
    )
    # A path the simulator lacks is refused with the KIS headers too (clients read tr_cont
    # before they look at the status).
    missing = raw_exchange(sim, get_request(kis, "/uapi/nothing", "FHKST99999999", {}))
    assert dict(missing[1])["tr_cont"] == "" and json.loads(missing[2])["msg_cd"] == "EGW00101"
    master = raw_exchange(
        sim, b"GET /common/master/kospi_code.mst.zip HTTP/1.1\r\nHost: sim\r\n\r\n"
    )
    for status, headers, _ in (rejected, token, missing, master):
        assert_no_lowercase_hyphenated(headers)
        assert "Content-Type" in dict(headers) and "Date" in dict(headers), status
    assert dict(token[1])["Content-Type"] == "application/json; charset=utf-8"
    assert missing[0].startswith("HTTP/1.1 404") and master[0] == "HTTP/1.1 200 OK"


def test_notice_stream_unsubscribes_like_any_other(sim: RunningSimulator) -> None:
    key = approval(sim)

    async def scenario() -> list[dict]:
        async with websockets.connect(sim.ws_url) as ws:
            return [
                await ask(ws, sub(key, "H0STCNI0", sim.hts_id)),
                await ask(ws, sub(key, "H0STCNI0", sim.hts_id, "2")),
                await ask(ws, sub(key, "H0STCNI0", sim.hts_id, "2")),
                await ask(ws, sub(key, "H0STCNI0", sim.hts_id)),
            ]

    subscribed, removed, gone, again = run(scenario())
    assert subscribed["body"]["msg_cd"] == "OPSP0000"
    assert removed["body"]["msg_cd"] == "OPSP0001" and removed["body"]["rt_cd"] == "0"
    assert gone["body"]["msg_cd"] == "OPSP0003"  # removed: a second unsubscribe finds nothing
    assert again["body"]["msg_cd"] == "OPSP0000"  # and it can be registered anew


def test_period_chart_from_the_beginning_answers_the_newest_window(sim: RunningSimulator) -> None:
    kis = Kis(sim)
    for path, tr_id, params in (
        (
            Q + "inquire-daily-itemchartprice",
            "FHKST03010100",
            {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930", "FID_ORG_ADJ_PRC": "0"},
        ),
        (
            Q + "inquire-daily-indexchartprice",
            "FHKUP03500100",
            {"FID_COND_MRKT_DIV_CODE": "U", "FID_INPUT_ISCD": "0001"},
        ),
    ):
        window = {**params, "FID_INPUT_DATE_2": "20261124", "FID_PERIOD_DIV_CODE": "D"}
        everything = kis.get(path, tr_id, **window, FID_INPUT_DATE_1="00000101").json()
        recent = kis.get(path, tr_id, **window, FID_INPUT_DATE_1="20200101").json()
        assert everything["rt_cd"] == "0", everything
        rows = everything["output2"]
        # The newest window: as many rows as a call ever answers (100 stock, 50 index bars).
        assert len(rows) in {50, 100} and rows[0]["stck_bsop_date"] == "20261124"
        assert rows == recent["output2"]
        bad = kis.get(path, tr_id, **window, FID_INPUT_DATE_1="00001301").json()
        assert bad["msg_cd"] == "OPSQ2002"  # not a date at all


def test_minute_chart_hour_zero_empty_or_future_means_now(sim: RunningSimulator) -> None:
    kis = Kis(sim)

    def bars(hour: str) -> list[str]:
        body = kis.get(
            Q + "inquire-time-itemchartprice",
            "FHKST03010200",
            FID_ETC_CLS_CODE="",
            FID_COND_MRKT_DIV_CODE="J",
            FID_INPUT_ISCD="005930",
            FID_INPUT_HOUR_1=hour,
            FID_PW_DATA_INCU_YN="N",
        ).json()
        assert body["rt_cd"] == "0", body
        return [row["stck_cntg_hour"] for row in body["output2"]]

    now = bars(sim.clock.now().strftime("%H%M%S"))
    assert len(now) == 30 and now[0] <= sim.clock.now().strftime("%H%M%S")
    assert bars("000000") == bars("") == bars("153000") == now
    assert bars("100000")[0] == "100000"
