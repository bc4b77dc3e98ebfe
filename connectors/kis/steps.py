"""The one step protocol both clients speak (the httpx `Auth.auth_flow` idea, applied to every call).

All request logic — auth, retries, paging, order placement and reconciliation — is written once as
generators (`Flow`s) that *yield* steps: send this request, wait for a rate-limit slot, sleep, take a
file lock; the driver answers each step with its outcome. `KisClient` and `AsyncKisClient` differ
only in how they carry steps out (blocking vs awaiting), and `operation` turns one flow method into
the sync method of the one client and the async method of the other.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Coroutine, Generator, Mapping
from dataclasses import dataclass
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, Self, TypeVar, overload

import httpx

from connectors.kis.endpoints import Lane
from connectors.kis.filelock import FileLock

T = TypeVar("T")
P = ParamSpec("P")
S = TypeVar("S")


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


Step = Send | Acquire | Sleep | Lock
Flow = Generator[Step, Any, T]


@dataclass(frozen=True)
class Reply:
    """A received HTTP answer, body fully read."""

    status: int
    headers: Mapping[str, str]  # lower-case names
    content: bytes


def reply_from(response: httpx.Response, content: bytes) -> Reply:
    return Reply(response.status_code, {k.lower(): v for k, v in response.headers.items()}, content)


class StepRunner(Generic[T]):
    """The bookkeeping both drivers share while carrying out one flow's steps.

    A driver loops: `step = run.next()` (None once the flow returned `run.result`), carries the
    step out, then `run.resume(outcome)`; an httpx.TransportError goes back into the flow with
    `run.fail(exc)`; any other exception: `run.abort()` and re-raise. Errors the flow raises itself
    come out of `next()`.
    """

    def __init__(self, flow: Flow[T], answered: Callable[[str], None]) -> None:
        self._flow = flow
        self._answered = answered  # closes a rate-limiter ticket
        self._step: Step | None = None
        self._ticket: str | None = None  # from the last Acquire, closed by the Send that follows
        self._value: Any = None
        self._error: BaseException | None = None
        self.result: T

    def next(self) -> Step | None:
        value, error = self._value, self._error
        self._value, self._error = None, None
        try:
            self._step = self._flow.throw(error) if error is not None else self._flow.send(value)
        except StopIteration as stop:
            self.result = stop.value
            return None
        return self._step

    def resume(self, outcome: Any) -> None:
        """The step succeeded with `outcome` (a Reply for Send, a ticket for Acquire, else None)."""
        self._settle()
        if isinstance(self._step, Acquire):
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
        if self._ticket is not None and (always or isinstance(self._step, Send)):
            self._answered(self._ticket)
            self._ticket = None


class SyncDriver(Protocol):
    def _drive(self, flow: Flow[T]) -> T: ...


class AsyncDriver(Protocol):
    async def _drive(self, flow: Flow[T]) -> T: ...


class operation(Generic[S, P, T]):  # noqa: N801 - used as a decorator, like `property`
    """A client method written once as a flow: `KisClient` runs it blocking, `AsyncKisClient`
    returns a coroutine. The flow method's signature and docstring are the public ones."""

    def __init__(self, flow: Callable[Concatenate[S, P], Flow[T]]) -> None:
        self.flow = flow
        self.__doc__ = flow.__doc__  # help(KisClient.period_bars) shows the method's own text
        # What a bound method shows to inspect/help: the flow's parameters without `self`.
        signature = inspect.signature(flow)
        self._signature = signature.replace(
            parameters=list(signature.parameters.values())[1:],
            return_annotation=inspect.Signature.empty,
        )

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Self: ...

    @overload
    def __get__(self, obj: SyncDriver, owner: type[Any]) -> Callable[P, T]: ...

    @overload
    def __get__(
        self, obj: AsyncDriver, owner: type[Any]
    ) -> Callable[P, Coroutine[Any, Any, T]]: ...

    def __get__(self, obj: Any, owner: type[Any]) -> Any:
        if obj is None:
            return self
        flow, drive = self.flow, obj._drive
        if inspect.iscoroutinefunction(drive):

            @functools.wraps(flow)
            async def run_async(*args: P.args, **kwargs: P.kwargs) -> T:
                result: T = await drive(flow(obj, *args, **kwargs))
                return result

            run_async.__dict__["__signature__"] = self._signature
            return run_async

        @functools.wraps(flow)
        def run(*args: P.args, **kwargs: P.kwargs) -> T:
            result: T = drive(flow(obj, *args, **kwargs))
            return result

        run.__dict__["__signature__"] = self._signature
        return run


def not_sent(exc: httpx.TransportError) -> bool:
    """Whether the request certainly never reached the server (safe to say an order was not placed)."""
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
