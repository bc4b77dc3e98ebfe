"""The request rate limiter: per app key, shared by every process on the machine, with priority lanes.

KIS allows about `budget` requests per second per app key and answers EGW00201 beyond it; whether it
counts a rolling or a calendar second is unconfirmed, so we obey the stricter rolling reading:

* a sliding log of the last `capacity` = floor(budget) send times: the next send waits until the
  oldest of them is `window` seconds old, with window = capacity / (budget * utilisation) (1.053 s
  for the default 0.97), never less than 1.0 s + 10 ms. Any 1.0 s span then holds at most `capacity`
  sends even if our sends reach the server up to (window - 1.0) s unevenly;
* a minimum spacing of 1/budget between sends, so a burst is spread out rather than fired at once
  (bunched requests reach the server in a less predictable order);
* the server stamps a request somewhere between our send and its answer. Once an answer is back,
  its entry also holds the next sends until answer + 1.0 s + 10 ms, so a request the server saw late
  (a slow first connection, a busy server) cannot squeeze a later one into its second. A request
  still unanswered holds until now + 1.0 s + 10 ms (the server may stamp it at any moment), for at
  most IN_FLIGHT_HOLD seconds after its send (beyond any HTTP timeout: a process killed mid-request
  never answers). Without this, a request in flight for longer than a window (an overloaded
  machine) freed its slot early, and the server saw 21 in a second.

The long-run rate is budget * utilisation. The state (recent sends, waiters, a penalty box) lives in a
JSON file under home/ratelimit/ guarded by a file lock, so all processes using one app key share it.
Waiters register themselves in that state; a waiter may take a slot only when it is the first of
the most urgent lane waiting (order > live > backfill, FIFO inside a lane), in any process. Waiters
heartbeat on every poll; one silent for `STALE_AFTER` seconds (a killed process) is dropped.

The decision is a pure function (`decide`) over a plain dict, so the arithmetic is tested without files.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import os
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from connectors.kis.endpoints import Lane, lane_rank
from connectors.kis.filelock import FileLock, write_private

MIN_MARGIN = 0.010  # seconds beyond 1.0 s the window always keeps
STALE_AFTER = 2.0  # a waiter not seen for this long is considered dead
MAX_SLEEP = 0.25  # waiters re-check (and heartbeat) at least this often
MIN_POLL = 0.002  # shortest sleep between checks when the slot is due but not ours
IN_FLIGHT_HOLD = 60.0  # an unanswered send constrains at most this long (HTTP timeouts are ~10 s)

T = TypeVar("T")
State = dict[str, Any]


@dataclass(frozen=True)
class Pace:
    """How fast sends may go: at most `capacity` per `window` seconds, `spacing` apart."""

    capacity: int
    window: float
    spacing: float

    @classmethod
    def for_budget(cls, budget: float, utilisation: float = 0.97) -> Pace:
        if budget <= 0 or not 0 < utilisation <= 1:
            raise ValueError("budget must be positive and utilisation in (0, 1]")
        capacity = max(1, math.floor(budget))
        window = max(capacity / (budget * utilisation), 1.0 + MIN_MARGIN)
        spacing = min(1.0 / budget, window / capacity)
        return cls(capacity, window, spacing)

    @property
    def rate(self) -> float:
        """Sustained sends per second."""
        return self.capacity / self.window


def empty_state() -> State:
    # sends: [send time, answer time or None, ticket]; only entries that still constrain are kept.
    return {"sends": [], "waiters": {}, "seq": 0, "blocked_until": 0.0}


def _holds_until(entry: list[Any], pace: Pace, now: float) -> float:
    """Until when this send counts against the window, seen at `now` (see the module docstring)."""
    sent, answered = entry[0], entry[1]
    stamped_by = min(now, sent + IN_FLIGHT_HOLD) if answered is None else answered
    return float(max(sent + pace.window, stamped_by + 1.0 + MIN_MARGIN))


def next_slot(state: State, pace: Pace, now: float) -> float:
    """Earliest time the next send may go, from the log, the spacing and any penalty, as known
    at `now` (an unanswered send's hold moves on with the clock)."""
    sends: list[list[Any]] = state["sends"]
    slot = float(state.get("blocked_until", 0.0))
    if sends:
        slot = max(slot, max(e[0] for e in sends) + pace.spacing)
    if len(sends) >= pace.capacity:
        holds = sorted((_holds_until(e, pace, now) for e in sends), reverse=True)
        slot = max(slot, holds[pace.capacity - 1])
    return slot


def _tidy(state: State, now: float, pace: Pace) -> None:
    # Entries whose hold has passed no longer constrain anything; ones sent "in the future" beyond
    # a window mean the wall clock stepped back: drop them rather than stall. The newest entry is
    # kept for the spacing rule.
    sends = state["sends"]
    state["sends"] = [
        e
        for i, e in enumerate(sends)
        if e[0] <= now + pace.window and (_holds_until(e, pace, now) > now or i == len(sends) - 1)
    ]
    state["waiters"] = {w: v for w, v in state["waiters"].items() if now - v[2] < STALE_AFTER}


def decide(state: State, now: float, waiter: str, rank: int, pace: Pace) -> tuple[bool, float]:
    """One check by `waiter` (lane `rank`, 0 = most urgent) at `now`, mutating `state`.

    Returns (granted, seconds to wait before checking again). A grant records the send under the
    waiter's id, which `answered` later completes.
    """
    _tidy(state, now, pace)
    waiters: dict[str, list[float]] = state["waiters"]
    if waiter in waiters:
        waiters[waiter][2] = now
    else:
        state["seq"] = int(state.get("seq", 0)) + 1
        waiters[waiter] = [rank, state["seq"], now]
    slot = next_slot(state, pace, now)
    queue = sorted(waiters, key=lambda w: (waiters[w][0], waiters[w][1]))
    position = queue.index(waiter)
    if position:
        # Not first: our turn is at least `position` slots away. Sleeping until then (rather than
        # polling at the slot) keeps the shared lock free for the waiter whose turn it is.
        return False, max(slot + position * pace.spacing - now, MIN_POLL)
    if slot > now:
        return False, slot - now
    state["sends"].append([now, None, waiter])
    del waiters[waiter]
    return True, 0.0


def answered(state: State, ticket: str, now: float) -> None:
    """Record that the request sent under `ticket` got its answer (or failed) at `now`."""
    for entry in state["sends"]:
        if entry[2] == ticket and entry[1] is None:
            entry[1] = now
            return


def forget(state: State, waiter: str) -> None:
    state["waiters"].pop(waiter, None)


def penalise(state: State, until: float) -> None:
    state["blocked_until"] = max(float(state.get("blocked_until", 0.0)), until)


class _MemoryStore:
    """State for one process only (tests, or no home directory)."""

    def __init__(self) -> None:
        self._state = empty_state()
        self._lock = threading.Lock()

    def transact(self, fn: Callable[[State], T]) -> T:
        with self._lock:
            return fn(self._state)


class _FileStore:
    """State in a JSON file, read-modify-written under a file lock by every process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = FileLock(path.with_suffix(".lock"))

    def transact(self, fn: Callable[[State], T]) -> T:
        with self._lock:
            try:
                state = json.loads(self.path.read_bytes())
                if not isinstance(state, dict) or "sends" not in state:
                    state = empty_state()
            except (FileNotFoundError, ValueError):
                # A torn file (crash mid-write cannot happen with replace, but be safe) = fresh state.
                state = empty_state()
            result = fn(state)
            write_private(self.path, json.dumps(state, separators=(",", ":")).encode())
            return result


class RateLimiter:
    """Paces sends for one app key; `acquire(lane)` blocks until this caller may send."""

    _ids = itertools.count(1)

    def __init__(
        self,
        budget: float,
        *,
        utilisation: float = 0.97,
        state_path: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.budget = budget
        self.pace = Pace.for_budget(budget, utilisation)
        self._store: _MemoryStore | _FileStore = (
            _FileStore(state_path) if state_path is not None else _MemoryStore()
        )
        # Wall clock: comparable across processes (monotonic clocks need not be).
        self._clock = clock

    def _waiter_id(self) -> str:
        return f"{os.getpid()}-{next(self._ids)}"

    def _check(self, waiter: str, rank: int) -> tuple[bool, float]:
        return self._store.transact(lambda s: decide(s, self._clock(), waiter, rank, self.pace))

    def _forget(self, waiter: str) -> None:
        self._store.transact(lambda s: forget(s, waiter))

    def _waits(self, lane: Lane, timeout: float | None) -> Generator[float, None, str]:
        """The pacing loop, sans-I/O: yields how long to sleep, returns the ticket once granted."""
        rank, waiter, start = lane_rank(lane), self._waiter_id(), time.monotonic()
        try:
            while True:
                granted, wait = self._check(waiter, rank)
                if granted:
                    return waiter
                if timeout is not None and time.monotonic() - start + wait > timeout:
                    raise TimeoutError(f"no {lane} rate-limit slot within {timeout} s")
                yield min(wait, MAX_SLEEP)
        except BaseException:  # GeneratorExit too: the caller was interrupted mid-sleep
            self._forget(waiter)
            raise

    def acquire(self, lane: Lane = "live", timeout: float | None = None) -> str:
        """Wait for a send slot; returns the ticket to pass to `answered`. TimeoutError after `timeout`."""
        waits = self._waits(lane, timeout)
        try:
            while True:
                time.sleep(next(waits))
        except StopIteration as granted:
            return str(granted.value)
        finally:
            waits.close()

    async def acquire_async(self, lane: Lane = "live", timeout: float | None = None) -> str:
        """The async twin of `acquire` (the state lock is only held for microseconds)."""
        waits = self._waits(lane, timeout)
        try:
            while True:
                await asyncio.sleep(next(waits))
        except StopIteration as granted:
            return str(granted.value)
        finally:
            waits.close()

    def answered(self, ticket: str) -> None:
        """The request sent with `ticket` has its answer (or failed): tighten the window from now."""
        now = self._clock()
        self._store.transact(lambda s: answered(s, ticket, now))

    def penalise(self, seconds: float) -> None:
        """Hold every sender on this app key for `seconds` (after KIS said EGW00201)."""
        until = self._clock() + seconds
        self._store.transact(lambda s: penalise(s, until))


_shared: dict[tuple[str, str, float, float], RateLimiter] = {}
_shared_lock = threading.Lock()


def shared_limiter(home: Path, key_id: str, budget: float, utilisation: float) -> RateLimiter:
    """The one limiter of this process for an app key (its state file is shared machine-wide)."""
    path = Path(home) / "ratelimit" / f"{key_id}.json"
    registry_key = (str(path.resolve()), key_id, budget, utilisation)
    with _shared_lock:
        limiter = _shared.get(registry_key)
        if limiter is None:
            limiter = RateLimiter(budget, utilisation=utilisation, state_path=path)
            _shared[registry_key] = limiter
        return limiter
