"""Lake commit conflicts are retried with the connector's backoff policy (one policy for every
retry: connectors/kis/backoff.py). The warehouse only classifies a conflict (`as_conflict`); the
loop lives here, in the composition root, which hands it to the lake it opens."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import duckdb

from connectors.kis.backoff import Backoff, delay_for
from warehouse.remote import as_conflict

T = TypeVar("T")

LAKE_BACKOFF = Backoff(base=0.05, cap=2.0)  # commits take milliseconds: start small


def retry_on_conflict(
    fn: Callable[[], T], *, attempts: int = 12, sleep: Callable[[float], None] = time.sleep
) -> T:
    """Call `fn` (one whole transaction) again after a commit conflict, up to `attempts` in all.

    `fn` must be safe to rerun: our writes are upserts that re-read the table each time.
    """
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except duckdb.Error as exc:
            conflict = as_conflict(exc)
            last = attempt == attempts
            delay = None if conflict is None or last else delay_for(conflict, attempt, LAKE_BACKOFF)
            if delay is None:
                raise
            sleep(delay)
    raise AssertionError("unreachable")
