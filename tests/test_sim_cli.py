"""`kisdb sim` options: the account and HTS ID the simulator answers to, as a process on loopback."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
import websockets
from typer.testing import CliRunner

from pipelines.cli import app
from simulator.server import DEFAULT_APP_KEY, DEFAULT_APP_SECRET

OT = "/uapi/overseas-stock/v1/trading/"
CREDENTIALS = {"appkey": DEFAULT_APP_KEY, "appsecret": DEFAULT_APP_SECRET}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def sim_process() -> Iterator[tuple[str, str]]:
    port, ws_port = _free_port(), _free_port()
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "pipelines.cli", "sim"),
            *("--port", str(port), "--ws-port", str(ws_port), "--now", "2026-11-24T10:30:00"),
            *("--account", "12345678-01", "--hts-id", "kisuser9"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + "/", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None, "sim did not start"
                time.sleep(0.2)
        yield base, f"ws://127.0.0.1:{ws_port}"
    finally:
        proc.terminate()
        proc.wait(10)


def test_account_and_hts_id_options(sim_process: tuple[str, str]) -> None:
    base, ws_url = sim_process
    with httpx.Client(base_url=base, timeout=10) as http:
        token = http.post(
            "/oauth2/tokenP", json={"grant_type": "client_credentials", **CREDENTIALS}
        ).json()["access_token"]
        approval = http.post(
            "/oauth2/Approval",
            json={
                "grant_type": "client_credentials",
                "appkey": DEFAULT_APP_KEY,
                "secretkey": DEFAULT_APP_SECRET,
            },
        ).json()["approval_key"]
        headers = {**CREDENTIALS, "authorization": f"Bearer {token}", "tr_id": "TTTS3018R"}
        query = {
            "OVRS_EXCG_CD": "NASD",
            "SORT_SQN": "DS",
            "CTX_AREA_FK200": "",
            "CTX_AREA_NK200": "",
        }

        def nccs(cano: str) -> str:
            params = {"CANO": cano, "ACNT_PRDT_CD": "01", **query}
            return str(
                http.get(OT + "inquire-nccs", params=params, headers=headers).json()["rt_cd"]
            )

        assert (nccs("12345678"), nccs("50000000")) == ("0", "1")

    async def subscribe(key: str) -> str:
        async with websockets.connect(ws_url) as ws:
            await ws.send(
                json.dumps(
                    {
                        "header": {"approval_key": approval, "custtype": "P", "tr_type": "1"},
                        "body": {"input": {"tr_id": "H0STCNI0", "tr_key": key}},
                    }
                )
            )
            return str(json.loads(await asyncio.wait_for(ws.recv(), 5))["body"]["msg_cd"])

    assert asyncio.run(subscribe("kisuser9")) == "OPSP0000"
    assert asyncio.run(subscribe("simuser")) == "OPSP8992"


@pytest.mark.parametrize(
    "args",
    [["--account", "12345678"], ["--account", "1234567a-01"], ["--hts-id", "has space"]],
)
def test_bad_account_or_hts_id_is_a_usage_error(args: list[str]) -> None:
    result = CliRunner().invoke(app, ["sim", *args])
    assert result.exit_code == 2


def test_speed_help_says_its_range() -> None:
    result = CliRunner().invoke(app, ["sim", "--help"], env={"COLUMNS": "200"})
    assert "0.001 and up" in result.output
