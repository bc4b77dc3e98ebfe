"""The asynchronous KIS client core: the same flows as client.py, driven with awaits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from connectors.kis.core import CursorPaging, KisResponse, _ClientLogic
from connectors.kis.endpoints import Endpoint, Lane
from connectors.kis.filelock import FileLock
from connectors.kis.flow import Acquire, Action, Flow, FlowRun, Lock, Reply, Send, Sleep, reply_from
from connectors.kis.ratelimit import RateLimiter
from connectors.kis.settings import Settings

T = TypeVar("T")


async def _acquire_file_lock(lock: FileLock) -> None:
    """Take a file lock without blocking the event loop; if cancelled meanwhile, let it go later."""
    task = asyncio.ensure_future(asyncio.to_thread(lock.acquire))
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        task.add_done_callback(
            lambda t: lock.release() if not t.cancelled() and t.exception() is None else None
        )
        raise


class _AsyncCoreClient(_ClientLogic):
    """Runs the shared flows over one httpx.AsyncClient."""

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        super().__init__(settings, limiter=limiter)
        self._http = httpx.AsyncClient(transport=transport, timeout=self.settings.timeout)

    # -- the driver: only the I/O below differs from client.py -----------------------------------
    async def _drive(self, flow: Flow[T]) -> T:
        run = FlowRun(flow, self.limiter.answered)
        while (action := run.next()) is not None:
            try:
                run.resume(await self._perform(action))
            except httpx.TransportError as exc:
                run.fail(exc)
            except BaseException:
                run.abort()
                raise
        return run.result

    async def _perform(self, action: Action) -> Any:
        if isinstance(action, Send):
            return await self._send_http(action.request)
        if isinstance(action, Acquire):
            return await self.limiter.acquire_async(action.lane)
        if isinstance(action, Sleep):
            await asyncio.sleep(action.seconds)
        elif isinstance(action, Lock):
            await _acquire_file_lock(action.lock)
        else:  # pragma: no cover - a programming error
            raise TypeError(f"unknown action {action!r}")
        return None

    async def _send_http(self, request: httpx.Request) -> Reply:
        self._count_call()
        response = await self._http.send(request)
        try:
            return reply_from(response, await response.aread())
        finally:
            await response.aclose()

    # -- public surface ---------------------------------------------------------------------------
    async def call(
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
        return await self._drive(
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

    async def paginate(
        self,
        endpoint: Endpoint,
        params: Mapping[str, str],
        *,
        lane: Lane = "backfill",
        ctx_keys: tuple[str, ...] = ("CTX_AREA_FK100", "CTX_AREA_NK100"),
        max_pages: int = 1000,
    ) -> AsyncIterator[KisResponse]:
        pager = CursorPaging(ctx_keys, max_pages)
        request, tr_cont = pager.first(params)
        while True:
            response = await self._drive(self._page_flow(endpoint, request, tr_cont, lane))
            yield response
            step = pager.advance(response, request)
            if step is None:
                return
            request, tr_cont = step

    async def token(self) -> str:
        return await self._drive(self._auth.token_flow())

    async def revoke_token(self) -> bool:
        return await self._drive(self._auth.revoke_flow())

    async def approval_key(self, *, renew: bool = False) -> str:
        return await self._drive(self._auth.approval_flow(renew=renew))

    async def hashkey(self, body: Mapping[str, str]) -> str:
        return await self._drive(self._auth.hashkey_flow(body))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
