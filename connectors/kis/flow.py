"""Sans-I/O building blocks shared by the sync and async clients.

Request logic (auth, retries, paging, token issuance) is written once as generators that *yield*
actions — send this request, wait for a rate-limit slot, sleep, take a file lock — and receive the
outcome. `KisClient` and `AsyncKisClient` only differ in how they carry the actions out (the httpx
`Auth.auth_flow` idea, applied to the whole call).
"""

from __future__ import annotations

import random
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

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


def backoff_delay(
    attempt: int, *, base: float = 0.25, cap: float = 8.0, rng: random.Random | None = None
) -> float:
    """Jittered exponential backoff for retry `attempt` (1-based): in [d/2, d], d = min(cap, base*2^(n-1))."""
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    return ceiling * (0.5 + 0.5 * (rng or random).random())


def not_sent(exc: httpx.TransportError) -> bool:
    """Whether the request certainly never reached the server (safe to say an order was not placed)."""
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
