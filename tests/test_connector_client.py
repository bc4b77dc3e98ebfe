"""KisClient / AsyncKisClient against a tiny scripted KIS-like loopback server.

The simulator covers the realistic paths (test_connector_sim.py); this server exists to script
exact faults one request at a time (a dropped connection on an order, a 502 without envelope, a
token refused twice) that a market simulator has no reason to offer.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from connectors.kis import (
    AsyncKisClient,
    Endpoint,
    KisAuthError,
    KisClient,
    KisOrderUncertain,
    KisRateLimited,
    KisServerError,
    KisTokenExpired,
    KisTransportError,
    Settings,
)
from connectors.kis.archive import read_archive
from connectors.kis.auth import read_ledger

APP_KEY = "PSloopbackAppKey0123456789abcdefghij"
APP_SECRET = "loopbackSecret" + "x" * 166
ACCOUNT = "50123456-01"

ECHO = Endpoint("echo", "GET", "/uapi/echo", "FHKST01010100", "FHKST01010100")
PAGED = Endpoint("paged", "GET", "/uapi/paged", "TTTC8434R", "VTTC8434R")
ORDER = Endpoint("order_cash", "POST", "/uapi/order", "TTTC0012U", "VTTC0012U", idempotent=False)


class Loopback:
    """A scripted KIS-shaped server. `script[path]` is a list of canned answers used first."""

    def __init__(self) -> None:
        self.tokens: dict[str, bool] = {}  # token -> expired
        self.tokens_issued = 0
        self.last_issue = -1e9
        self.issue_interval = 60.0
        self.ttl = 86400
        self.requests: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self.script: dict[str, list[Any]] = {}
        self.lock = threading.Lock()
        self._ids = itertools.count(1)
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # silence stderr
                pass

            def do_GET(self) -> None:
                owner.handle(self, {})

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                owner.handle(self, json.loads(self.rfile.read(length) or b"{}"))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def expire_tokens(self) -> None:
        with self.lock:
            for token in self.tokens:
                self.tokens[token] = True

    def handle(self, h: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        url = urlsplit(h.path)
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        headers = {k.lower(): v for k, v in h.headers.items()}
        with self.lock:
            self.requests.append((url.path, headers, {**query, **body}))
            canned = self.script.get(url.path, [])
            action = canned.pop(0) if canned else None
        if action == "drop":
            h.close_connection = True
            h.connection.shutdown(2)
            return
        if action is not None:
            status, payload = action
            return self.reply(h, status, payload)
        if url.path == "/oauth2/tokenP":
            with self.lock:
                if time.monotonic() - self.last_issue < self.issue_interval:
                    return self.reply(
                        h,
                        403,
                        {
                            "error_code": "EGW00133",
                            "error_description": "접근토큰 발급 잠시 후 다시 시도하세요(1분당 1회)",
                        },
                    )
                if body.get("appsecret") != APP_SECRET:
                    return self.reply(
                        h,
                        403,
                        {
                            "error_code": "EGW00105",
                            "error_description": "유효하지 않은 AppSecret입니다.",
                        },
                    )
                self.last_issue = time.monotonic()
                self.tokens_issued += 1
                token = f"token-{next(self._ids)}-{'z' * 40}"
                self.tokens[token] = False
            return self.reply(
                h,
                200,
                {
                    "access_token": token,
                    "token_type": "Bearer",
                    "expires_in": self.ttl,
                    "access_token_token_expired": "2099-01-01 00:00:00",
                },
            )
        if url.path == "/oauth2/Approval":
            return self.reply(h, 200, {"approval_key": f"approval-{next(self._ids)}"})
        if url.path == "/oauth2/revokeP":
            with self.lock:
                self.tokens.pop(body.get("token", ""), None)
            return self.reply(h, 200, {"code": 200, "message": "접근토큰 폐기에 성공하였습니다"})
        if url.path == "/uapi/hashkey":
            digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
            return self.reply(h, 200, {"BODY": body, "HASH": digest})
        token = headers.get("authorization", "").removeprefix("Bearer ")
        with self.lock:
            expired = self.tokens.get(token)
        if expired is None:
            return self.reply(
                h, 500, {"rt_cd": "1", "msg_cd": "EGW00121", "msg1": "유효하지 않은 token 입니다."}
            )
        if expired:
            return self.reply(
                h, 500, {"rt_cd": "1", "msg_cd": "EGW00123", "msg1": "기간이 만료된 token 입니다."}
            )
        if url.path == "/uapi/paged":
            page = int((query.get("CTX_AREA_NK100") or "0").strip() or 0)
            last = page >= 2
            more = "D" if last else ("F" if page == 0 else "M")
            out = {
                "rt_cd": "0",
                "msg_cd": "KIOK0510",
                "msg1": "조회가 완료되었습니다".ljust(80),
                "output1": [{"row": str(page)}],
                "ctx_area_fk100": f"{page + 1}".ljust(100),
                "ctx_area_nk100": f"{page + 1}".ljust(100),
            }
            return self.reply(h, 200, out, {"tr_cont": more})
        out = {
            "rt_cd": "0",
            "msg_cd": "MCA00000",
            "msg1": "정상처리 되었습니다.",
            "output": {
                "tr_id": headers.get("tr_id"),
                "custtype": headers.get("custtype"),
                "hashkey": headers.get("hashkey", ""),
                "params": {**query, **body},
            },
        }
        return self.reply(h, 200, out)

    @staticmethod
    def reply(
        h: BaseHTTPRequestHandler, status: int, payload: Any, headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode()
        h.send_response(status)
        h.send_header("content-type", "application/json; charset=utf-8")
        h.send_header("content-length", str(len(data)))
        for key, value in (headers or {}).items():
            h.send_header(key, value)
        h.end_headers()
        h.wfile.write(data)


@pytest.fixture
def server() -> Iterator[Loopback]:
    loopback = Loopback()
    yield loopback
    loopback.close()


def make_settings(server: Loopback, home: Path, **changes: Any) -> Settings:
    return Settings.from_env(
        {
            "KIS_ENV": "sim",
            "KIS_BASE_URL": server.base_url,
            "KIS_WS_URL": "ws://127.0.0.1:1",
            "KIS_APP_KEY": APP_KEY,
            "KIS_APP_SECRET": APP_SECRET,
            "KIS_ACCOUNT": ACCOUNT,
            "KISDB_HOME": str(home),
            "KIS_RATE_LIMIT": "200",
        },
        **changes,
    )


def test_call_headers_token_reuse_and_ledger(server: Loopback, tmp_path: Path) -> None:
    with KisClient(make_settings(server, tmp_path)) as client:
        first = client.call(ECHO, params={"FID_INPUT_ISCD": "005930"})
        second = client.call(ECHO, params={"FID_INPUT_ISCD": "000660"})
    out = first.block()
    assert out["tr_id"] == "FHKST01010100" and out["custtype"] == "P"
    assert second.block()["params"] == {"FID_INPUT_ISCD": "000660"}
    assert server.tokens_issued == 1 and client.calls == 3  # one tokenP, two calls
    # A second client (another "process" sharing the home) reuses the cached token.
    with KisClient(make_settings(server, tmp_path)) as other:
        other.call(ECHO)
    assert server.tokens_issued == 1
    cache = next((tmp_path / "tokens").glob("sim-*[0-9a-f].json"))
    assert os.name != "posix" or cache.stat().st_mode & 0o777 == 0o600
    ledger = read_ledger(tmp_path)
    assert [e["event"] for e in ledger] == ["token"] and ledger[0]["key"] == "PSlo****"
    assert APP_KEY not in json.dumps(ledger)


def test_expired_token_refreshes_once_and_resends(server: Loopback, tmp_path: Path) -> None:
    server.issue_interval = 0.3
    with KisClient(make_settings(server, tmp_path, token_issue_interval=0.3)) as client:
        client.call(ECHO)
        server.expire_tokens()
        assert client.call(ECHO).status == 200
        assert server.tokens_issued == 2
        # Refused twice in a row: surfaced, not looped.
        server.script["/uapi/echo"] = [
            (500, {"rt_cd": "1", "msg_cd": "EGW00123", "msg1": "기간이 만료된 token 입니다."})
        ] * 2
        with pytest.raises(KisTokenExpired):
            client.call(ECHO)
    reasons = [e["reason"] for e in read_ledger(tmp_path)]
    assert reasons[:2] == ["no cached token", "server refused the cached token"]


def test_short_lived_token_is_reused_then_renewed_before_expiry(
    server: Loopback, tmp_path: Path
) -> None:
    server.ttl, server.issue_interval = 2, 0.2
    with KisClient(make_settings(server, tmp_path, token_issue_interval=0.3)) as client:
        client.call(ECHO)
        client.call(ECHO)
        assert server.tokens_issued == 1
        time.sleep(1.85)  # past 90 % of the two-second life: renewed before the server refuses it
        client.call(ECHO)
    assert server.tokens_issued == 2
    assert [e["reason"] for e in read_ledger(tmp_path)] == [
        "no cached token",
        "cached token expires soon",
    ]


def test_token_issue_waits_out_the_one_per_minute_window(server: Loopback, tmp_path: Path) -> None:
    server.issue_interval = 1.0
    with KisClient(make_settings(server, tmp_path, token_issue_interval=1.0)) as client:
        client.call(ECHO)
        server.expire_tokens()
        start = time.monotonic()
        client.call(ECHO)
        assert time.monotonic() - start >= 0.9  # waited for the window instead of drawing EGW00133
    assert server.tokens_issued == 2


def test_retries_transient_errors_on_queries(server: Loopback, tmp_path: Path) -> None:
    server.script["/uapi/echo"] = [
        "drop",
        (502, {"oops": "bad gateway"}),
        (500, {"rt_cd": "1", "msg_cd": "EGW00201", "msg1": "초당 거래건수를 초과하였습니다."}),
        (500, {"rt_cd": "1", "msg_cd": "EGW00002", "msg1": "서버 에러가 발생했습니다."}),
    ]
    with KisClient(make_settings(server, tmp_path, max_retries=4)) as client:
        assert client.call(ECHO).status == 200
        assert client.calls == 1 + 5
        server.script["/uapi/echo"] = [(500, {"rt_cd": "1", "msg_cd": "EGW00002", "msg1": "x"})] * 3
        client2 = KisClient(make_settings(server, tmp_path, max_retries=2))
        with pytest.raises(KisServerError) as info:
            client2.call(ECHO)
        client2.close()
    assert info.value.transient and info.value.context["tr_id"] == "FHKST01010100"


def test_orders_are_never_retried(server: Loopback, tmp_path: Path) -> None:
    body = {"CANO": "50123456", "ACNT_PRDT_CD": "01", "PDNO": "005930", "ORD_QTY": "1"}
    with KisClient(make_settings(server, tmp_path)) as client:
        ok = client.call(ORDER, body=body, lane="order", hashkey=True)
        expected = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        assert ok.block()["hashkey"] == expected and ok.block()["tr_id"] == "TTTC0012U"
        server.script["/uapi/order"] = ["drop"]
        before = len([r for r in server.requests if r[0] == "/uapi/order"])
        with pytest.raises(KisOrderUncertain, match="query executions"):
            client.call(ORDER, body=body, lane="order")
        server.script["/uapi/order"] = [(500, {"rt_cd": "1", "msg_cd": "EGW00201", "msg1": "초당"})]
        with pytest.raises(KisRateLimited):
            client.call(ORDER, body=body, lane="order")
        server.script["/uapi/order"] = [(502, {})]
        with pytest.raises(KisOrderUncertain):
            client.call(ORDER, body=body, lane="order")
    after = len([r for r in server.requests if r[0] == "/uapi/order"])
    assert after - before == 3  # exactly one send per attempt


def test_paginate_follows_cursors_and_archives(server: Loopback, tmp_path: Path) -> None:
    settings = make_settings(server, tmp_path)
    with KisClient(settings) as client, client.archive("backfill-test") as writer:
        pages = list(client.paginate(PAGED, {"CANO": settings.cano, "ACNT_PRDT_CD": "01"}))
    assert [p.block("output1")[0]["row"] for p in pages] == ["0", "1", "2"]
    assert [p.tr_cont for p in pages] == ["F", "M", "D"]
    sent = [r for r in server.requests if r[0] == "/uapi/paged"]
    assert [r[1]["tr_cont"] for r in sent] == ["", "N", "N"]
    assert sent[2][2]["CTX_AREA_NK100"].strip() == "2"
    assert writer is not None and writer.pages == 3
    archived = list(read_archive(writer.path))
    assert [a["body"]["output1"][0]["row"] for a in archived] == ["0", "1", "2"]
    assert all(a["params"]["CANO"] == "****" for a in archived)
    assert os.name != "posix" or writer.path.stat().st_mode & 0o777 == 0o600
    assert "50123456" not in writer.path.read_bytes().decode("latin-1")


def test_secrets_never_in_logs_or_errors(
    server: Loopback, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = make_settings(server, tmp_path)
    server.issue_interval = 0.0
    with KisClient(settings) as client:
        client.call(ECHO, params={"CANO": settings.cano, "ACNT_PRDT_CD": "01"})
        token = client.token()
        server.script["/uapi/echo"] = [
            (500, {"rt_cd": "1", "msg_cd": "EGW00103", "msg1": "유효하지 않은 AppKey입니다."})
        ]
        with pytest.raises(KisAuthError) as info:
            client.call(ECHO, params={"CANO": settings.cano})
        bad = KisClient(make_settings(server, tmp_path / "other", app_secret="wrong" * 10))
        with pytest.raises(KisAuthError) as bad_info:
            bad.call(ECHO)
        bad.close()
    texts = [
        caplog.text,
        str(info.value),
        repr(info.value),
        str(bad_info.value),
        repr(settings),
        repr(client),
    ]
    assert any("GET" in r.getMessage() for r in caplog.records)  # httpx did log the request
    for text in texts:
        for secret in (APP_KEY, APP_SECRET, token, "50123456", "wrong" * 10):
            assert secret not in text


def test_async_client_shares_the_core(server: Loopback, tmp_path: Path) -> None:
    async def main() -> tuple[list[str], list[str], str]:
        async with AsyncKisClient(make_settings(server, tmp_path)) as client:
            answers = await asyncio.gather(
                *(client.call(ECHO, params={"N": str(i)}) for i in range(8))
            )
            rows = [p.block("output1")[0]["row"] async for p in client.paginate(PAGED, {})]
            key = await client.approval_key()
            return [a.block()["params"]["N"] for a in answers], rows, key

    numbers, rows, key = asyncio.run(main())
    assert numbers == [str(i) for i in range(8)] and rows == ["0", "1", "2"]
    assert key.startswith("approval-") and server.tokens_issued == 1
    # The approval key is cached for the next client too.
    with KisClient(make_settings(server, tmp_path)) as client:
        assert client.approval_key() == key
    assert [e["event"] for e in read_ledger(tmp_path)] == ["token", "approval"]


def test_transport_error_surfaces_after_retries(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "KIS_ENV": "sim",
            "KIS_BASE_URL": "http://127.0.0.1:9",
            "KIS_APP_KEY": APP_KEY,
            "KIS_APP_SECRET": APP_SECRET,
            "KISDB_HOME": str(tmp_path),
        },
        max_retries=1,
    )
    with KisClient(settings) as client, pytest.raises(KisTransportError) as info:
        client.call(ECHO)
    assert info.value.transient and "token" in str(info.value)
    # Nothing reached a server: no issuance attempt is counted, so the retries (and the next
    # command) do not wait out KIS's one-token-per-minute window.
    cache = json.loads(client._auth.cache_path.read_text())
    assert not cache.get("last_attempt")


def test_revoke_drops_the_cache(server: Loopback, tmp_path: Path) -> None:
    server.issue_interval = 0.2
    with KisClient(make_settings(server, tmp_path, token_issue_interval=0.3)) as client:
        token = client.token()
        assert client.revoke_token() is True
        assert token not in server.tokens
        assert client.revoke_token() is False
        assert client.token() != token
    assert [e["event"] for e in read_ledger(tmp_path)] == ["token", "revoke", "token"]
