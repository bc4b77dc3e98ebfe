"""Sans-I/O building blocks shared by the sync and async clients.

Request logic (auth, retries, paging, token issuance) is written once as generators that *yield*
actions — send this request, wait for a rate-limit slot, sleep, take a file lock — and receive the
outcome. `KisClient` and `AsyncKisClient` only differ in how they carry the actions out (the httpx
`Auth.auth_flow` idea, applied to the whole call).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx

from connectors.kis.endpoints import Lane
from connectors.kis.filelock import FileLock

T = TypeVar("T")


@dataclass(frozen=True)
class Send:
    """Send the request; the driver answers with a `Reply` or throws the httpx.TransportError."""

    request: httpx.Request


@dataclass(frozen=True)
class Acquire:
    """Wait for a rate-limit slot in `lane`."""

    lane: Lane


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Lock:
    """Take a (cross-process) file lock; the flow releases it itself."""

    lock: FileLock


Action = Send | Acquire | Sleep | Lock
Flow = Generator[Action, Any, T]


@dataclass(frozen=True)
class Reply:
    """A received HTTP answer, body fully read."""

    status: int
    headers: Mapping[str, str]  # lower-case names
    content: bytes


def reply_from(response: httpx.Response, content: bytes) -> Reply:
    return Reply(response.status_code, {k.lower(): v for k, v in response.headers.items()}, content)


class FlowRun(Generic[T]):
    """The bookkeeping both drivers share while carrying out one flow's actions.

    A driver loops: `action = run.next()` (None once the flow returned `run.result`), carries the
    action out, then `run.resume(outcome)`; an httpx.TransportError goes back into the flow with
    `run.fail(exc)`; any other exception: `run.abort()` and re-raise. Errors the flow raises itself
    come out of `next()`.
    """

    def __init__(self, flow: Flow[T], answered: Callable[[str], None]) -> None:
        self._flow = flow
        self._answered = answered  # closes a rate-limiter ticket
        self._action: Action | None = None
        self._ticket: str | None = None  # from the last Acquire, closed by the Send that follows
        self._value: Any = None
        self._error: BaseException | None = None
        self.result: T

    def next(self) -> Action | None:
        value, error = self._value, self._error
        self._value, self._error = None, None
        try:
            self._action = self._flow.throw(error) if error is not None else self._flow.send(value)
        except StopIteration as stop:
            self.result = stop.value
            return None
        return self._action

    def resume(self, outcome: Any) -> None:
        """The action succeeded with `outcome` (a Reply for Send, a ticket for Acquire, else None)."""
        self._settle()
        if isinstance(self._action, Acquire):
            self._ticket = outcome
        else:
            self._value = outcome

    def fail(self, error: httpx.TransportError) -> None:
        self._settle()
        self._error = error

    def abort(self) -> None:
        """Stop the flow, running its finally blocks (releases locks)."""
        self._settle(always=True)
        self._flow.close()

    def _settle(self, *, always: bool = False) -> None:
        # A Send's answer (or failure) closes the limiter entry its Acquire opened.
        if self._ticket is not None and (always or isinstance(self._action, Send)):
            self._answered(self._ticket)
            self._ticket = None


def backoff_delay(
    attempt: int, *, base: float = 0.25, cap: float = 8.0, rng: random.Random | None = None
) -> float:
    """Jittered exponential backoff for retry `attempt` (1-based): in [d/2, d], d = min(cap, base*2^(n-1))."""
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    return ceiling * (0.5 + 0.5 * (rng or random).random())


def not_sent(exc: httpx.TransportError) -> bool:
    """Whether the request certainly never reached the server (safe to say an order was not placed)."""
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
