"""What the sync and async clients share: request building, response checking, and the flows
(auth, limiter, retries, paging) written once as sans-I/O generators (see steps.py).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import httpx

from connectors.kis.archive import ArchiveWriter, archive_path
from connectors.kis.auth import Auth
from connectors.kis.backoff import HostHealth, delay_for
from connectors.kis.endpoints import Endpoint, Lane
from connectors.kis.errors import (
    TOKEN_REFRESH_CODES,
    KisCancelled,
    KisError,
    KisHttpError,
    KisOrderUncertain,
    KisProtocolError,
    KisRateLimited,
    KisServerError,
    KisTokenError,
    KisTruncatedAnswer,
    describe_transport,
    error_from_response,
    is_failure,
    server_failing,
    transport_error,
)
from connectors.kis.ratelimit import RateLimiter, shared_limiter
from connectors.kis.settings import Settings
from connectors.kis.steps import Acquire, Flow, Reply, Send, Sleep, Step, not_sent, operation
from connectors.kis.windows import MORE, CursorPages, FetchPlan, PageRequest, fetch_flow
from schemas.clock import SYSTEM_CLOCK, Clock

log = logging.getLogger("connectors.kis")

T = TypeVar("T")
_CONNECT_TIMEOUT = 5.0  # seconds; the read timeout is Settings.timeout
RATE_LIMIT_PENALTY = 0.5  # seconds every sender on the key pauses after an EGW00201
# Gateway timeouts that say "check the previous transaction": for an order the outcome is unknown.
_UNCERTAIN_CODES = frozenset({"EGW00301", "EGW00302"})


@dataclass(frozen=True)
class KisResponse:
    status: int
    headers: Mapping[str, str]
    body: dict[str, Any]
    endpoint: Endpoint
    params: Mapping[str, str] = field(default_factory=dict)

    @property
    def tr_cont(self) -> str:
        return str(self.headers.get("tr_cont", "")).strip()

    @property
    def has_more(self) -> bool:
        return self.tr_cont in MORE

    @property
    def msg_cd(self) -> str:
        return str(self.body.get("msg_cd", "")).strip()

    def block(self, name: str = "output") -> Any:
        """body[name] (a dict or a list of dicts); a clear error naming what is there if absent."""
        if name not in self.body:
            present = sorted(k for k in self.body if k.startswith("output"))
            raise KisProtocolError(
                f"response has no {name!r} block (blocks present: {present or 'none'})",
                context={"endpoint": self.endpoint.name, "path": self.endpoint.path},
            )
        return self.body[name]


def build_request(
    settings: Settings,
    endpoint: Endpoint,
    tr_id: str,
    token: str,
    *,
    params: Mapping[str, str] | None,
    body: Mapping[str, str] | None,
    tr_cont: str,
    hashkey: str | None,
    extra_headers: Mapping[str, str] | None,
) -> httpx.Request:
    """The HTTP request for one call (kis-api.md §1.2)."""
    assert settings.base_url and settings.app_key and settings.app_secret
    headers = {
        "content-type": "application/json; charset=utf-8",
        "authorization": f"Bearer {token}",
        "appkey": settings.app_key.reveal(),
        "appsecret": settings.app_secret.reveal(),
        "tr_id": tr_id,
        "custtype": "P",
        "tr_cont": tr_cont,
    }
    if hashkey:
        headers["hashkey"] = hashkey
    headers.update(extra_headers or {})
    url = settings.base_url.rstrip("/") + endpoint.path
    if endpoint.method == "GET":
        return httpx.Request("GET", url, params=dict(params or {}), headers=headers)
    return httpx.Request(
        "POST", url, params=dict(params or {}) or None, json=dict(body or {}), headers=headers
    )


def parse_reply(
    reply: Reply, endpoint: Endpoint, params: Mapping[str, str], context: Mapping[str, Any]
) -> KisResponse:
    """Decode an answer; raise the mapped KisError for any failure."""
    try:
        decoded = json.loads(reply.content) if reply.content else None
    except ValueError:
        decoded = None
    body = decoded if isinstance(decoded, dict) else None
    if is_failure(reply.status, body):
        raise error_from_response(reply.status, body, context)
    if body is None:
        raise KisTruncatedAnswer(
            f"HTTP {reply.status} answer is not a JSON object", context=context
        )
    return KisResponse(reply.status, reply.headers, body, endpoint, dict(params))


class _Redactor(logging.Filter):
    """Replaces registered secret values in log records (httpx logs full URLs, with query strings)."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()

    def add(self, values: list[str]) -> None:
        self._secrets.update(v for v in values if len(v) >= 4)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = message
        for value in self._secrets:
            if value in redacted:
                redacted = redacted.replace(value, "****")
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


_redactor = _Redactor()
# A logger's filters see only the records logged on that very logger, not those its children
# propagate, so the filter goes on every logger that may carry a request or account detail.
_REDACTED_LOGGERS = (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "connectors.kis",
    "connectors.kis.auth",
    "connectors.kis.orders",
    "connectors.kis.parsing",
    "connectors.kis.ws_client",
)
for _name in _REDACTED_LOGGERS:
    logging.getLogger(_name).addFilter(_redactor)


class _ClientLogic:
    """State and flows shared by both clients; subclasses add the driver (sync or async).

    `clock` is the market's "now" (today's minute bars, ranking snapshots, order days); the
    composition root passes the simulator's clock when it runs one.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock = SYSTEM_CLOCK,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.settings = settings.resolved()
        self.clock = clock
        _redactor.add(self.settings.secrets())
        self._auth = Auth(self.settings)
        assert self.settings.app_key is not None
        key_id = f"{self.settings.env}-{self.settings.app_key.fingerprint()}"
        self.limiter = limiter or shared_limiter(
            self.settings.home, key_id, self.settings.rate_budget, self.settings.rate_utilisation
        )
        self.calls = 0  # requests actually sent by this client (auth calls included)
        self._calls_lock = threading.Lock()
        self._archive: ArchiveWriter | None = None
        self._archive_lock = threading.Lock()
        # The server's failing streak (bounds retries when it is unreachable) and the closing
        # flag that ends other threads' waits when the client is closed (Ctrl-C, SIGTERM).
        self.health = HostHealth(httpx.URL(self.settings.base_url or "").netloc.decode())
        self._closing = threading.Event()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(env={self.settings.env!r}, base_url={self.settings.base_url!r})"
        )

    def _count_call(self) -> None:
        with self._calls_lock:
            self.calls += 1

    # -- what both drivers do around each step ---------------------------------------------------
    def _admit(self, step: Step) -> None:
        """Before a send or a sleep: refuse it when the client is closing, or when the server has
        failed every attempt for longer than the outage budget (KisUnreachable)."""
        if self._closing.is_set():
            raise self._cancelled()
        if isinstance(step, Send):
            self.health.admit()
        elif isinstance(step, Sleep):
            self.health.admit(step.seconds)

    @staticmethod
    def _cancelled() -> KisCancelled:
        return KisCancelled("the KIS client was closed while the call waited (interrupted)")

    def _observe(self, started: float, reply: Reply | None, error: BaseException | None) -> None:
        """Feed one send's outcome to the server's health: a transport error or a 5xx failure
        extends the failing streak, any other answer ends it."""
        if error is not None:
            connect = isinstance(error, httpx.ConnectError | httpx.ConnectTimeout)
            cause = describe_transport(error, self.settings.timeout)
            self.health.failed(started, cause, connect=connect)
        elif reply is not None and server_failing(reply.status, reply.content):
            self.health.failed(started, f"HTTP {reply.status}", connect=False)
        else:
            self.health.answered()

    @property
    def timeouts(self) -> httpx.Timeout:
        """The HTTP timeouts: a connect timeout shorter than the read timeout, since a host that
        does not accept a connection within a few seconds is not there."""
        return httpx.Timeout(
            self.settings.timeout, connect=min(_CONNECT_TIMEOUT, self.settings.timeout)
        )

    # -- raw archive ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def archive(self, run_name: str) -> Iterator[ArchiveWriter | None]:
        """While active, every response page goes to home/raw/<date>/<run_name>.jsonl.gz."""
        if not self.settings.raw_archive:
            yield None
            return
        writer = ArchiveWriter(archive_path(self.settings.home, run_name))
        with self._archive_lock:
            previous, self._archive = self._archive, writer
        try:
            yield writer
        finally:
            with self._archive_lock:
                self._archive = previous
            writer.close()

    def _archive_page(
        self, endpoint: Endpoint, tr_id: str, params: Mapping[str, str], reply: Reply
    ) -> None:
        writer = self._archive
        if writer is None:
            return
        try:
            body: Any = json.loads(reply.content)
        except ValueError:
            body = reply.content.decode("utf-8", "replace")
        writer.write(
            endpoint=endpoint.name,
            tr_id=tr_id,
            path=endpoint.path,
            params=params,
            tr_cont=str(reply.headers.get("tr_cont", "")),
            status=reply.status,
            body=body,
        )

    # -- the call flow ----------------------------------------------------------------------------
    def _call_flow(
        self,
        endpoint: Endpoint,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, str] | None = None,
        tr_cont: str = "",
        lane: Lane = "live",
        hashkey: bool = False,
        extra_headers: Mapping[str, str] | None = None,
        on_send: Callable[[], None] | None = None,
    ) -> Flow[KisResponse]:
        """One call: auth, limiter slot, send, retries (idempotent endpoints only), error mapping.

        Auth steps before the send (token, hashkey) are retried for every endpoint: nothing of the
        call has left the machine yet. `on_send` is told just before the request itself goes out.
        """
        tr_id = endpoint.tr_id(self.settings.tr_env)  # KisNotAvailable before sending on paper
        context = {"endpoint": endpoint.name, "tr_id": tr_id, "path": endpoint.path}
        sent_params = dict(params or {}) if endpoint.method == "GET" else dict(body or {})
        attempt = 0  # retries so far: one budget for this request, whatever went wrong
        hash_value = None
        if hashkey:
            hash_value, attempt = yield from self._preflight(
                partial(self._auth.hashkey_flow, body or {}, lane), endpoint, attempt
            )
        stale: str | None = None
        refreshed = False
        while True:
            token, attempt = yield from self._preflight(
                partial(self._auth.token_flow, stale), endpoint, attempt
            )
            request = build_request(
                self.settings,
                endpoint,
                tr_id,
                token,
                params=params,
                body=body,
                tr_cont=tr_cont,
                hashkey=hash_value,
                extra_headers=extra_headers,
            )
            yield Acquire(lane)
            if on_send is not None:
                on_send()
            try:
                reply: Reply = yield Send(request)
            except httpx.TransportError as exc:
                if not endpoint.idempotent and not not_sent(exc):
                    raise KisOrderUncertain(
                        f"{endpoint.name} was sent but no answer came ({type(exc).__name__}); "
                        "query executions to learn whether it was placed",
                        context=context,
                    ) from exc
                error: KisError = transport_error(
                    self.health.host,
                    endpoint.name,
                    exc,
                    self.settings.timeout,
                    {**context, "attempt": attempt + 1},
                )
            else:
                self._archive_page(endpoint, tr_id, sent_params, reply)
                try:
                    return parse_reply(reply, endpoint, sent_params, context)
                except KisTokenError as exc:
                    if exc.msg_cd in TOKEN_REFRESH_CODES and not refreshed:
                        # Refused before processing, so resending is safe even for an order.
                        refreshed, stale = True, token
                        log.info(
                            "token refused (%s); issuing a new one, resending once", exc.msg_cd
                        )
                        continue
                    raise
                except KisRateLimited as exc:
                    self.limiter.penalise(RATE_LIMIT_PENALTY)
                    error = exc
                except (KisServerError, KisHttpError, KisTruncatedAnswer) as exc:
                    if not endpoint.idempotent and (
                        (isinstance(exc, KisHttpError) and exc.status >= 500)
                        or (isinstance(exc, KisServerError) and exc.msg_cd in _UNCERTAIN_CODES)
                        or isinstance(exc, KisTruncatedAnswer)
                    ):
                        raise KisOrderUncertain(
                            f"{endpoint.name}: server failed after receiving it ({exc}); "
                            "query executions to learn whether it was placed",
                            context=context,
                        ) from exc
                    error = exc
            delay = (
                delay_for(error, attempt + 1)
                if endpoint.idempotent and attempt < self.settings.max_retries
                else None
            )
            if delay is None:
                raise error
            attempt += 1
            log.info(
                "%s on %s; retrying (attempt %d)", type(error).__name__, endpoint.name, attempt
            )
            yield Sleep(delay)

    def _preflight(
        self, make: Callable[[], Flow[T]], endpoint: Endpoint, attempt: int
    ) -> Flow[tuple[T, int]]:
        """Run an auth flow the call needs before it is sent, retrying its transient failures
        within the call's budget; returns the value and the retries used so far."""
        while True:
            try:
                return (yield from make()), attempt
            except KisError as exc:
                delay = delay_for(exc, attempt + 1) if attempt < self.settings.max_retries else None
                if delay is None:
                    raise
                attempt += 1
                log.info(
                    "%s before sending %s; retrying (attempt %d)",
                    type(exc).__name__,
                    endpoint.name,
                    attempt,
                )
                yield Sleep(delay)

    call = operation(_call_flow)

    def _page_flow(self, endpoint: Endpoint, request: PageRequest, lane: Lane) -> Flow[KisResponse]:
        """One page: GET params in the query string, POST params in the body."""
        is_get = endpoint.method == "GET"
        return self._call_flow(
            endpoint,
            params=request.params if is_get else None,
            body=None if is_get else request.params,
            tr_cont=request.tr_cont,
            lane=lane,
        )

    def _fetch_flow(self, plan: FetchPlan[T]) -> Flow[T]:
        return fetch_flow(plan, self._page_flow)

    def _pages_flow(
        self, endpoint: Endpoint, params: Mapping[str, str], lane: Lane
    ) -> Flow[list[dict[str, Any]]]:
        """The bodies of every CTX_AREA_* page (a paging error is not refetched: these are
        account queries, cheap to ask again by hand)."""
        plan = FetchPlan(
            endpoint, lane, lambda: CursorPages(params, what=endpoint.name), attempts=1
        )
        return (yield from self._fetch_flow(plan))

    # -- auth -------------------------------------------------------------------------------------
    @operation
    def token(self) -> Flow[str]:
        """The current access token (issued or read from the shared cache)."""
        return self._auth.token_flow()

    @operation
    def revoke_token(self) -> Flow[bool]:
        return self._auth.revoke_flow()

    @operation
    def approval_key(self, *, renew: bool = False) -> Flow[str]:
        return self._auth.approval_flow(renew=renew)

    @operation
    def hashkey(self, body: Mapping[str, str]) -> Flow[str]:
        return self._auth.hashkey_flow(body)
