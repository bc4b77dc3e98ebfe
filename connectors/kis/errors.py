"""Errors raised by the KIS connector: one tree rooted at `KisError`.

```
KisError                      .transient (retry-worthy), .context (tr_id, path; never secrets)
├── KisConfigError            bad or missing settings
├── KisRequestError           our own validation refused the call before sending
│   ├── KisInvalidArgument    a market-data argument (symbol, dates, period, choice)
│   ├── InvalidOrder          an order request (symbol, quantity, tick grid, division)
│   ├── OrderBlocked          a safety guard (opt-in, kill switch, limits) refused an order
│   └── SubscriptionLimitError more realtime registrations than one session accepts
├── KisTransportError         connect/read timeouts, dropped connections            (transient)
│   └── KisUnreachable        the server failed every attempt for the outage budget (fatal)
├── KisCancelled              the client was closed while the call waited (Ctrl-C, SIGTERM)
├── KisHttpError              non-2xx without a KIS envelope (.status)             (5xx transient)
├── KisProtocolError          a 2xx answer we cannot read (missing block)
│   ├── KisTruncatedAnswer    a 2xx answer that is not JSON (cut short on the way)      (transient)
│   └── FrameError            a websocket message that fits no frame format (also a ValueError)
├── KisApiError               KIS envelope with rt_cd != "0" (.msg_cd .msg1 .rt_cd .status)
│   ├── KisRateLimited        EGW00201                                             (transient)
│   ├── KisTokenError         EGW00121 / EGW00122 / EGW00205
│   │   └── KisTokenExpired   EGW00123
│   ├── KisTokenIssueThrottled EGW00133 (403, error_code body): wait a minute      (transient)
│   ├── KisAuthError          EGW00102-00105, 00003/00004, 00206/00207 ...         (fatal)
│   ├── KisServerError        EGW00001/00002, gateway routing, 5xx with envelope   (transient)
│   ├── KisNotAvailable       API not offered in this environment (EGW02004, paper)
│   └── KisNoData             rt_cd "7" / KIOK0560 "nothing to show"
├── KisPagingError            truncated or inconsistent page sequence              (transient)
├── KisOrderUncertain         an order was sent but its outcome is unknown: reconcile by querying
└── KisWsAckError             the realtime server refused a registration (.msg_cd)  (per code)
```

`error_from_response` maps a KIS answer to a class: the exact `msg_cd` table first, then broad
prefix matches, then the generic class for the status (the ccxt approach).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


class KisError(Exception):
    """Base of every connector error. `transient` says whether retrying later may succeed."""

    transient: bool = False
    hint: str = ""

    def __init__(self, message: str, *, context: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        # Only ever filled by us with non-secret facts (tr_id, path, endpoint name, attempt).
        self.context: dict[str, Any] = dict(context or {})

    def __str__(self) -> str:
        parts = [self.message]
        if self.hint:
            parts.append(self.hint)
        if self.context:
            where = ", ".join(f"{key}={value}" for key, value in self.context.items())
            parts.append(f"[{where}]")
        return " ".join(parts)


class KisConfigError(KisError):
    """Settings are missing or invalid."""


class KisRequestError(KisError):
    """Our own validation refused the call before anything was sent."""


class KisInvalidArgument(KisRequestError):
    """A market-data argument was refused before anything was sent (bad symbol, dates, period)."""


class InvalidOrder(KisRequestError):
    """The order request itself is wrong; nothing was logged or sent."""


class OrderBlocked(KisRequestError):
    """A safety check refused the order before anything was logged or sent. `.guard` names it."""

    def __init__(self, message: str, *, guard: str) -> None:
        super().__init__(message, context={"guard": guard})
        self.guard = guard


class SubscriptionLimitError(KisRequestError):
    """More (tr_id, tr_key) registrations than one KIS websocket session accepts."""


class KisTransportError(KisError):
    """The request did not complete: connect/read timeout or a dropped connection."""

    transient = True
    hint = "Check KIS_BASE_URL and the network; KIS may be down or in maintenance."


class KisUnreachable(KisTransportError):
    """The server failed every attempt (no connection, no answer, or 5xx) for longer than the
    outage budget (connectors/kis/backoff.py): calls stop retrying and a run stops."""

    transient = False


class KisCancelled(KisError):
    """The client was closed while this call waited (a retry delay, the token window): the
    process is being interrupted."""


def transport_error(
    host: str, what: str, exc: BaseException, timeout: float | None, context: Mapping[str, Any]
) -> KisTransportError:
    """The KisTransportError of a failed send of `what` (an endpoint name) to `host`."""
    error = KisTransportError(
        f"cannot reach {host} ({what}): {describe_transport(exc, timeout)}.", context=context
    )
    error.__cause__ = exc
    return error


def describe_transport(exc: BaseException, timeout: float | None = None) -> str:
    """A transport failure in a few words: "connection refused", "host name not found (DNS)"."""
    import httpx  # the connector's HTTP library; imported here so errors.py stays light

    text = str(exc).lower()
    within = f" within {timeout:g} s" if timeout else ""
    if isinstance(exc, httpx.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, httpx.ConnectError):
        if any(
            s in text
            for s in (
                "name or service",
                "nodename",
                "getaddrinfo",
                "errno -2",
                "errno -3",
                "errno -5",
                "11001",
                "temporary failure in name",
            )
        ):
            return "host name not found (DNS)"
        if "refused" in text or "10061" in text or "all connection attempts failed" in text:
            return "connection refused"
        if "unreachable" in text or "no route" in text:
            return "network unreachable"
        return f"cannot connect ({' '.join(str(exc).split()) or type(exc).__name__})"
    if isinstance(exc, httpx.ReadTimeout | httpx.WriteTimeout | httpx.PoolTimeout):
        return f"no answer{within}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "connection closed without an answer"
    return f"connection lost ({type(exc).__name__})"


class KisHttpError(KisError):
    """A non-2xx HTTP answer without a KIS envelope."""

    def __init__(
        self, message: str, *, status: int, context: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message, context=context)
        self.status = status
        self.transient = status >= 500 or status == 429
        if status >= 500:  # a proxy or load balancer answered: KIS itself is not serving
            self.hint = "KIS may be down or in maintenance; check KIS_BASE_URL."


class KisProtocolError(KisError):
    """A 2xx answer the client cannot read (not JSON, or an expected block is missing)."""


class KisTruncatedAnswer(KisProtocolError):
    """A 2xx answer whose body is not a JSON object: cut short or garbled on the way. Asking again
    may well succeed, so idempotent reads retry it like a 5xx; for an order it means the outcome is
    unknown."""

    transient = True


class FrameError(KisProtocolError, ValueError):
    """A websocket message that does not follow the frame format; `reason` is short and stable."""

    def __init__(self, reason: str, text: str = "") -> None:
        super().__init__(f"{reason}: {text[:80]!r}" if text else reason)
        self.reason = reason


class KisApiError(KisError):
    """KIS answered with an envelope whose rt_cd is not "0"."""

    def __init__(
        self,
        message: str,
        *,
        msg_cd: str,
        msg1: str,
        rt_cd: str,
        status: int,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message, context=context)
        self.msg_cd = msg_cd
        self.msg1 = msg1
        self.rt_cd = rt_cd
        self.status = status


class KisRateLimited(KisApiError):
    transient = True
    hint = "Too many requests per second for this app key; the limiter backs off and retries."


class KisTokenError(KisApiError):
    hint = "The access token was refused; the client re-issues it once and resends."


class KisTokenExpired(KisTokenError):
    pass


class KisTokenIssueThrottled(KisApiError):
    transient = True
    hint = "KIS issues one token per minute per app key; wait at least 60 s."


class KisAuthError(KisApiError):
    hint = "Check KIS_APP_KEY / KIS_APP_SECRET (and that they belong to this KIS_ENV)."


class KisServerError(KisApiError):
    transient = True


class KisNotAvailable(KisApiError):
    hint = "This API is not offered in this environment (paper trading lacks many APIs)."


class KisNoData(KisApiError):
    pass


class KisPagingError(KisError):
    """The page sequence was truncated or inconsistent; refetch the whole range."""

    transient = True


class KisOrderUncertain(KisError):
    """An order was sent but no answer came back: reconcile by querying executions, never resend."""


class KisWsAckError(KisError):
    """The realtime server refused a registration (an error ack, kis-api.md §4.4)."""

    def __init__(
        self,
        message: str,
        *,
        msg_cd: str,
        msg1: str,
        transient: bool,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message, context=context)
        self.msg_cd = msg_cd
        self.msg1 = msg1
        self.transient = transient


# Exact table, from kis-api.md §2.5 and §4.
_EXACT: dict[str, type[KisApiError]] = {
    "EGW00201": KisRateLimited,
    "EGW00121": KisTokenError,
    "EGW00122": KisTokenError,
    "EGW00123": KisTokenExpired,
    "EGW00205": KisTokenError,
    "EGW00133": KisTokenIssueThrottled,
    "EGW00003": KisAuthError,
    "EGW00004": KisAuthError,
    "EGW00102": KisAuthError,
    "EGW00103": KisAuthError,
    "EGW00104": KisAuthError,
    "EGW00105": KisAuthError,
    "EGW00206": KisAuthError,
    "EGW00207": KisAuthError,
    "EGW00210": KisAuthError,
    "EGW00304": KisAuthError,
    "EGW00001": KisServerError,
    "EGW00002": KisServerError,
    "EGW00202": KisServerError,
    "EGW00203": KisServerError,
    "EGW00300": KisServerError,
    "EGW00301": KisServerError,
    "EGW00302": KisServerError,
    "EGW02004": KisNotAvailable,
    # "모의투자 조회가 불가합니다" — paper lacks this API (code from one fixture; unconfirmed).
    "40580000": KisNotAvailable,
    "KIOK0560": KisNoData,
}

# Broad matches, longest prefix first.
_PREFIXES: tuple[tuple[str, type[KisApiError]], ...] = (
    ("EGW0012", KisTokenError),
    ("EGW001", KisAuthError),
)

# Codes that mean "the token is bad: issue a new one and resend once".
TOKEN_REFRESH_CODES = frozenset({"EGW00121", "EGW00123"})


def server_failing(status: int, content: bytes) -> bool:
    """Whether an answer says the server itself is failing (a 5xx that is not one of KIS's
    gateway answers about this call: rate limit, token, credentials). Such answers extend an
    outage (connectors/kis/backoff.py HostHealth); any other answer shows the server is up."""
    if status < 500:
        return False
    try:
        body = json.loads(content) if content else None
    except ValueError:
        body = None
    if not isinstance(body, dict) or not ("msg_cd" in body or "error_code" in body):
        return True
    return isinstance(error_from_response(status, body, {}), KisServerError | KisHttpError)


def is_failure(status: int, body: Mapping[str, Any] | None) -> bool:
    """Whether an answer is an error: any non-2xx, or a body with rt_cd != "0" or error_code."""
    if not 200 <= status < 300:
        return True
    if body is None:
        return False
    if "error_code" in body:
        return True
    rt_cd = body.get("rt_cd")
    return rt_cd is not None and str(rt_cd) != "0"


def error_class_for(msg_cd: str, status: int, rt_cd: str = "1") -> type[KisApiError]:
    """Pick the class for a KIS code: exact table, then prefixes, then by status."""
    exact = _EXACT.get(msg_cd)
    if exact is not None:
        return exact
    for prefix, cls in _PREFIXES:
        if msg_cd.startswith(prefix):
            return cls
    if rt_cd == "7":
        return KisNoData
    if status >= 500:
        return KisServerError
    return KisApiError


def error_from_response(
    status: int, body: Mapping[str, Any] | None, context: Mapping[str, Any]
) -> KisApiError | KisHttpError:
    """Turn a failed answer into the matching exception (it is returned, not raised)."""
    if body and ("msg_cd" in body or "error_code" in body):
        # /oauth2/* refusals use error_code/error_description instead of the envelope.
        msg_cd = str(body.get("msg_cd") or body.get("error_code") or "").strip()
        msg1 = str(body.get("msg1") or body.get("error_description") or "").strip()
        rt_cd = str(body.get("rt_cd", "1")).strip()
        cls = error_class_for(msg_cd, status, rt_cd)
        message = f"KIS refused the call: {msg_cd} {msg1} (HTTP {status})"
        return cls(message, msg_cd=msg_cd, msg1=msg1, rt_cd=rt_cd, status=status, context=context)
    return KisHttpError(f"HTTP {status} without a KIS envelope", status=status, context=context)
