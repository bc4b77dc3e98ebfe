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
from connectors.kis.flow import Acquire, Flow, Lock, Reply, Send, Sleep
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

    @classmethod
    def from_env(cls, **overrides: Any) -> Self:
        return cls(Settings.from_env(**overrides))

    async def _drive(self, flow: Flow[T]) -> T:
        value: Any = None
        error: BaseException | None = None
        ticket: str | None = None  # from the last Acquire, closed by the Send that follows it
        while True:
            try:
                action = flow.throw(error) if error is not None else flow.send(value)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            value, error = None, None
            try:
                if isinstance(action, Send):
                    try:
                        value = await self._send_http(action.request)
                    finally:
                        if ticket is not None:  # the answer (or failure) closes the limiter entry
                            self.limiter.answered(ticket)
                            ticket = None
                elif isinstance(action, Acquire):
                    ticket = await self.limiter.acquire_async(action.lane)
                elif isinstance(action, Sleep):
                    await asyncio.sleep(action.seconds)
                elif isinstance(action, Lock):
                    await _acquire_file_lock(action.lock)
                else:  # pragma: no cover - a programming error
                    raise TypeError(f"unknown action {action!r}")
            except httpx.TransportError as exc:
                error = exc
            except BaseException:
                flow.close()
                raise

    async def _send_http(self, request: httpx.Request) -> Reply:
        self._count_call()
        response = await self._http.send(request)
        try:
            content = await response.aread()
        finally:
            await response.aclose()
        return Reply(
            response.status_code, {k.lower(): v for k, v in response.headers.items()}, content
        )

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

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(env={self.settings.env!r}, base_url={self.settings.base_url!r})"
        )
