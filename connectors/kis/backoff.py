"""One backoff policy for everything that retries: REST calls, websocket reconnects, lake conflicts.

`delay_for(error, attempt)` answers "how long before retry number `attempt`?", or None when the
error is not transient (retrying cannot help). Delays double from `base` up to `cap`, drawn from
[d * (1 - jitter), d] so clients sharing a key (or a lake) do not retry in lockstep. The number of
attempts is the caller's budget (`Settings.max_retries` for REST), counted once per request.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


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
