"""The synchronous KIS client core. `KisClient` (connectors/kis/api.py) adds the endpoint mixins."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from connectors.kis.core import CursorPaging, KisResponse, _ClientLogic
from connectors.kis.endpoints import Endpoint, Lane
from connectors.kis.flow import Acquire, Action, Flow, FlowRun, Lock, Reply, Send, Sleep, reply_from
from connectors.kis.ratelimit import RateLimiter
from connectors.kis.settings import Settings

T = TypeVar("T")


class _CoreClient(_ClientLogic):
    """Runs the shared flows with blocking I/O over one httpx.Client (thread-safe)."""

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        super().__init__(settings, limiter=limiter)
        self._http = httpx.Client(transport=transport, timeout=self.settings.timeout)

    # -- the driver: only the I/O below differs from aclient.py ----------------------------------
    def _drive(self, flow: Flow[T]) -> T:
        run = FlowRun(flow, self.limiter.answered)
        while (action := run.next()) is not None:
            try:
                run.resume(self._perform(action))
            except httpx.TransportError as exc:
                run.fail(exc)
            except BaseException:
                run.abort()
                raise
        return run.result

    def _perform(self, action: Action) -> Any:
        if isinstance(action, Send):
            return self._send_http(action.request)
        if isinstance(action, Acquire):
            return self.limiter.acquire(action.lane)
        if isinstance(action, Sleep):
            time.sleep(action.seconds)
        elif isinstance(action, Lock):
            action.lock.acquire()
        else:  # pragma: no cover - a programming error
            raise TypeError(f"unknown action {action!r}")
        return None

    def _send_http(self, request: httpx.Request) -> Reply:
        self._count_call()
        response = self._http.send(request)
        try:
            return reply_from(response, response.read())
        finally:
            response.close()

    # -- public surface ---------------------------------------------------------------------------
    def call(
        self,
        endpoint: Endpoint,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, str] | None = None,
        tr_cont: str = "",
        lane: Lane = "live",
        hashkey: bool = False,
        extra_headers: Mapping[str, str] | None = None,
    ) -> KisResponse:
        return self._drive(
            self._call_flow(
                endpoint,
                params=params,
                body=body,
                tr_cont=tr_cont,
                lane=lane,
                hashkey=hashkey,
                extra_headers=extra_headers,
            )
        )

    def paginate(
        self,
        endpoint: Endpoint,
        params: Mapping[str, str],
        *,
        lane: Lane = "backfill",
        ctx_keys: tuple[str, ...] = ("CTX_AREA_FK100", "CTX_AREA_NK100"),
        max_pages: int = 1000,
    ) -> Iterator[KisResponse]:
        pager = CursorPaging(ctx_keys, max_pages)
        request, tr_cont = pager.first(params)
        while True:
            response = self._drive(self._page_flow(endpoint, request, tr_cont, lane))
            yield response
            step = pager.advance(response, request)
            if step is None:
                return
            request, tr_cont = step

    def token(self) -> str:
        """The current access token (issued or read from the shared cache)."""
        return self._drive(self._auth.token_flow())

    def revoke_token(self) -> bool:
        return self._drive(self._auth.revoke_flow())

    def approval_key(self, *, renew: bool = False) -> str:
        return self._drive(self._auth.approval_flow(renew=renew))

    def hashkey(self, body: Mapping[str, str]) -> str:
        return self._drive(self._auth.hashkey_flow(body))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
