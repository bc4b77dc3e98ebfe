"""The asynchronous KIS client core: the same step generators as client.py, driven with awaits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from connectors.kis.core import KisResponse, _ClientLogic
from connectors.kis.endpoints import Endpoint, Lane
from connectors.kis.filelock import FileLock
from connectors.kis.ratelimit import RateLimiter
from connectors.kis.settings import Settings
from connectors.kis.steps import (
    Acquire,
    Flow,
    Lock,
    Reply,
    Send,
    Sleep,
    Step,
    StepRunner,
    reply_from,
)
from connectors.kis.windows import CTX_KEYS, CursorPages
from schemas.clock import SYSTEM_CLOCK, Clock

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
        clock: Clock = SYSTEM_CLOCK,
        transport: httpx.AsyncBaseTransport | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        super().__init__(settings, clock=clock, limiter=limiter)
        self._http = httpx.AsyncClient(transport=transport, timeout=self.timeouts)

    # -- the driver: only the I/O below differs from client.py -----------------------------------
    async def _drive(self, flow: Flow[T]) -> T:
        run = StepRunner(flow, self.limiter.answered)
        while (step := run.next()) is not None:
            try:
                run.resume(await self._perform(step))
            except httpx.TransportError as exc:
                run.fail(exc)
            except BaseException:
                run.abort()
                raise
        return run.result

    async def _perform(self, step: Step) -> Any:
        self._admit(step)
        if isinstance(step, Send):
            return await self._send_http(step.request)
        if isinstance(step, Acquire):
            return await self.limiter.acquire_async(step.lane)
        if isinstance(step, Sleep):
            await asyncio.sleep(step.seconds)
        elif isinstance(step, Lock):
            await _acquire_file_lock(step.lock)
        return None

    async def _send_http(self, request: httpx.Request) -> Reply:
        self._count_call()
        started = time.monotonic()
        try:
            response = await self._http.send(request)
            try:
                reply = reply_from(response, await response.aread())
            finally:
                await response.aclose()
        except httpx.TransportError as exc:
            self._observe(started, None, exc)
            raise
        self._observe(started, reply, None)
        return reply

    # -- public surface beyond the operations ----------------------------------------------------
    async def paginate(
        self,
        endpoint: Endpoint,
        params: Mapping[str, str],
        *,
        lane: Lane = "backfill",
        ctx_keys: tuple[str, ...] = CTX_KEYS,
        max_pages: int = 1000,
    ) -> AsyncIterator[KisResponse]:
        pager = CursorPages(params, what=endpoint.name, ctx_keys=ctx_keys, max_pages=max_pages)
        while (request := pager.request()) is not None:
            response = await self._drive(self._page_flow(endpoint, request, lane))
            yield response
            pager.feed(response.body, response.tr_cont)

    async def aclose(self) -> None:
        self._closing.set()
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
