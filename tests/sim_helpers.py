"""Small helpers the simulator conformance tests share (raw httpx, no connectors)."""

from __future__ import annotations

from typing import Any

import httpx

from simulator.server import RunningSimulator

Q = "/uapi/domestic-stock/v1/quotations/"
T = "/uapi/domestic-stock/v1/trading/"


OPEN_CLIENTS: list[Kis] = []  # closed by the conftest fixture after each test


class Kis:
    """A bare client: a token, the KIS headers, and get/post returning (status, headers, json)."""

    def __init__(self, sim: RunningSimulator) -> None:
        self.sim = sim
        self.http = httpx.Client(base_url=sim.base_url, timeout=10)
        OPEN_CLIENTS.append(self)
        r = self.http.post(
            "/oauth2/tokenP",
            json={
                "grant_type": "client_credentials",
                "appkey": sim.app_key,
                "appsecret": sim.app_secret,
            },
        )
        assert r.status_code == 200, r.text
        self.token = r.json()["access_token"]

    def headers(self, tr_id: str, tr_cont: str = "") -> dict[str, str]:
        return {
            "authorization": f"Bearer {self.token}",
            "appkey": self.sim.app_key,
            "appsecret": self.sim.app_secret,
            "tr_id": tr_id,
            "custtype": "P",
            "tr_cont": tr_cont,
            "content-type": "application/json; charset=utf-8",
        }

    def get(self, path: str, tr_id: str, tr_cont: str = "", **params: str) -> httpx.Response:
        return self.http.get(path, params=params, headers=self.headers(tr_id, tr_cont))

    def post(self, path: str, tr_id: str, body: dict[str, Any]) -> httpx.Response:
        return self.http.post(path, json=body, headers=self.headers(tr_id))

    def close(self) -> None:
        self.http.close()
