"""The synchronous KIS client core: the driver that carries out the shared flows with blocking I/O."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from connectors.kis.core import KisResponse, _ClientLogic
from connectors.kis.endpoints import Endpoint, Lane
from connectors.kis.errors import KisCancelled
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


class _CoreClient(_ClientLogic):
    """Runs the shared flows with blocking I/O over one httpx.Client (thread-safe)."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock = SYSTEM_CLOCK,
        transport: httpx.BaseTransport | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        super().__init__(settings, clock=clock, limiter=limiter)
        self._transport = transport
        # Made by the first request: its TLS context costs a command that sends nothing (~0.1 s).
        self._http_client: httpx.Client | None = None
        self._http_lock = threading.Lock()

    @property
    def _http(self) -> httpx.Client:
        with self._http_lock:
            if self._http_client is None:
                if self._closing.is_set():
                    raise KisCancelled("the client is closed")
                self._http_client = httpx.Client(transport=self._transport, timeout=self.timeouts)
            return self._http_client

    # -- the driver: only the I/O below differs from aclient.py ----------------------------------
    def _drive(self, flow: Flow[T]) -> T:
        run = StepRunner(flow, self.limiter.answered)
        while (step := run.next()) is not None:
            try:
                run.resume(self._perform(step))
            except httpx.TransportError as exc:
                run.fail(exc)
            except BaseException:
                run.abort()
                raise
        return run.result

    def _perform(self, step: Step) -> Any:
        self._admit(step)
        if isinstance(step, Send):
            return self._send_http(step.request)
        if isinstance(step, Acquire):
            return self.limiter.acquire(step.lane)
        if isinstance(step, Sleep):
            if self._closing.wait(step.seconds):  # close() from another thread ends the wait
                raise self._cancelled()
        elif isinstance(step, Lock):
            step.lock.acquire()
        return None

    def _send_http(self, request: httpx.Request) -> Reply:
        self._count_call()
        started = time.monotonic()
        try:
            response = self._http.send(request)
            try:
                reply = reply_from(response, response.read())
            finally:
                response.close()
        except httpx.TransportError as exc:
            self._observe(started, None, exc)
            raise
        self._observe(started, reply, None)
        return reply

    # -- public surface beyond the operations ----------------------------------------------------
    def paginate(
        self,
        endpoint: Endpoint,
        params: Mapping[str, str],
        *,
        lane: Lane = "backfill",
        ctx_keys: tuple[str, ...] = CTX_KEYS,
        max_pages: int = 1000,
    ) -> Iterator[KisResponse]:
        """Each CTX_AREA_* page as it arrives (a paging error surfaces after the page it spoils)."""
        pager = CursorPages(params, what=endpoint.name, ctx_keys=ctx_keys, max_pages=max_pages)
        while (request := pager.request()) is not None:
            response = self._drive(self._page_flow(endpoint, request, lane))
            yield response
            pager.feed(response.body, response.tr_cont)

    def close(self) -> None:
        """Close the connections; a call waiting in another thread (a retry delay, the token
        window) ends at once with KisCancelled."""
        self._closing.set()
        with self._http_lock:
            if self._http_client is not None:
                self._http_client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
