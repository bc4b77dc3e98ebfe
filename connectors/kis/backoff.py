"""One backoff policy for everything that retries: REST calls, websocket reconnects, lake conflicts.

`delay_for(error, attempt)` answers "how long before retry number `attempt`?", or None when the
error is not transient (retrying cannot help). Delays double from `base` up to `cap`, drawn from
[d * (1 - jitter), d] so clients sharing a key (or a lake) do not retry in lockstep. The number of
attempts is the caller's budget (`Settings.max_retries` for REST), counted once per request.

On top of the per-request budget, `HostHealth` bounds how long a client keeps trying a server that
fails *every* attempt, whichever request makes them (`Outage`): a wrong URL, no network or KIS
down ends a command in seconds with `KisUnreachable`, instead of each of a backfill's requests
spending its own retries (and the token's one-per-minute window) in turn.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from connectors.kis.errors import KisUnreachable


@dataclass(frozen=True)
class Backoff:
    base: float = 0.25  # the ceiling of the first delay, seconds
    cap: float = 8.0  # no delay exceeds this
    jitter: float = 0.5  # the fraction of the ceiling left to chance

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """The delay before retry `attempt` (1-based): in [d*(1-jitter), d], d = min(cap, base*2^(n-1))."""
        ceiling = min(self.cap, self.base * 2.0 ** max(0, attempt - 1))
        draw = rng.random() if rng is not None else random.random()
        return ceiling * (1.0 - self.jitter * (1.0 - draw))


REST_BACKOFF = Backoff()


def delay_for(
    error: BaseException,
    attempt: int,
    policy: Backoff = REST_BACKOFF,
    rng: random.Random | None = None,
) -> float | None:
    """The wait before retry `attempt` after `error`, or None if `error` is not worth retrying."""
    if not getattr(error, "transient", False):
        return None
    return policy.delay(attempt, rng)


@dataclass(frozen=True)
class Outage:
    """How long a server may fail every attempt before calls stop trying it (`KisUnreachable`).

    A connect failure (refused, DNS, no route, connect timeout) means nothing answers there: a
    short budget. A failed answer (read timeout, dropped connection, 5xx) may be a blip of a
    reachable host: longer, so a restart or a gateway hiccup is retried through. An attempt is
    not started when the failing streak plus the last failed attempt's duration would pass the
    budget (a server that accepts but never answers costs one read timeout, not several).
    """

    connect: float = 5.0
    answer: float = 12.0


OUTAGE = Outage()


@dataclass(frozen=True)
class _Failure:
    cause: str  # "connection refused", "HTTP 503", "no answer within 10 s"
    connect: bool  # a connect failure (nothing reachable) rather than a failed answer
    duration: float  # how long that attempt took


class HostHealth:
    """The failing streak of one server, shared by every thread of a client.

    `failed` records an attempt that got no usable answer, `answered` ends the streak, and
    `admit(wait)` raises `KisUnreachable` when waiting `wait` seconds and trying again would take
    the streak past its `Outage` budget. A streak whose last failure is older than the budget is
    forgotten: the next attempt finds out afresh (the network may be back).
    """

    def __init__(
        self, host: str, outage: Outage = OUTAGE, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.host = host
        self.outage = outage
        self._clock = clock
        self._lock = threading.Lock()
        self._since: float | None = None  # when the first failed attempt of the streak began
        self._ended = 0.0  # when the last failed attempt ended
        self._last: _Failure | None = None

    def answered(self) -> None:
        with self._lock:
            self._since, self._last = None, None

    def failed(self, started: float, cause: str, *, connect: bool) -> None:
        now = self._clock()
        with self._lock:
            if self._since is None or now - self._ended > self._budget():
                self._since = started
            self._ended = now
            self._last = _Failure(cause, connect, now - started)

    def _budget(self) -> float:
        if self._last is None:
            return self.outage.answer
        return self.outage.connect if self._last.connect else self.outage.answer

    def admit(self, wait: float = 0.0) -> None:
        """Raise KisUnreachable if `wait` seconds and one more attempt would pass the budget."""
        now = self._clock()
        with self._lock:
            last, since = self._last, self._since
            if last is None or since is None:
                return
            budget = self._budget()
            if now - self._ended > budget:  # stale: try afresh
                self._since, self._last = None, None
                return
            streak = now - since
            if streak + wait + last.duration <= budget:
                return
        what = f"cannot reach {self.host}" if last.connect else f"no usable answer from {self.host}"
        raise KisUnreachable(f"{what}: {last.cause} (every attempt for {streak:.1f} s).")
