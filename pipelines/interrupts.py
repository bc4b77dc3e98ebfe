"""Stopping a command on Ctrl-C or SIGTERM within a second or two, keeping what it stored.

- `install()` (the CLI's `main`) turns SIGTERM (what Prefect, systemd and `docker stop` send) and,
  on Windows, SIGBREAK (Ctrl-Break, what Prefect sends there) into KeyboardInterrupt in the main
  thread, as Ctrl-C already is.
- The main thread then unwinds: the run's lake is closed (a store is one transaction: it is in
  or out), the KIS client is closed, which ends every other thread's retry delay or token wait at
  once (`KisCancelled`), and the local thread pool is left without waiting (pipelines/engine.py).
- The CLI prints `resume_line()` and exits 130; `exit_now` does not wait more than a moment for
  fetch threads still blocked in an HTTP read (up to its timeout): nothing they hold needs saving.

`stored(n)` counts the ranges this process stored (pipelines/jobs.py), for the resume line.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import sys
import threading
import time
from types import FrameType
from typing import TypeVar

T = TypeVar("T")

INTERRUPTED = 130  # the exit code of an interrupted command (128 + SIGINT), SIGTERM included
_POLL = 0.2  # seconds: how often a blocked main thread lets a signal in (Windows needs it)

_stored = 0
_stored_lock = threading.Lock()


def stored(ranges: int) -> None:
    """Note that `ranges` fetched ranges were stored (committed) by this process."""
    global _stored
    with _stored_lock:
        _stored += ranges


def resume_line() -> str:
    """What the CLI prints when a command is interrupted."""
    with _stored_lock:
        count = _stored
    kept = f"{count} range{'s' if count != 1 else ''} stored and kept; " if count else ""
    return (
        f"interrupted; {kept}run the same command again to resume (it fetches only what is missing)"
    )


def interrupt_classes() -> tuple[type[BaseException], ...]:
    """What an interrupted command raises: KeyboardInterrupt, or Prefect's TerminationSignal when
    a flow runs under a Prefect API (its engine turns SIGTERM into that while a run is active)."""
    if "prefect" not in sys.modules:  # not loaded: no Prefect run can have been interrupted
        return (KeyboardInterrupt,)
    from prefect.exceptions import TerminationSignal

    return (KeyboardInterrupt, TerminationSignal)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def install() -> None:
    """SIGTERM (and SIGBREAK where it exists) raise KeyboardInterrupt in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be set from the main thread
    for name in ("SIGTERM", "SIGBREAK"):
        number = getattr(signal, name, None)
        if number is not None:
            # Not settable on this platform: the default stays.
            with contextlib.suppress(OSError, ValueError):
                signal.signal(number, _raise_interrupt)


def get(items: queue.SimpleQueue[T]) -> T:
    """`items.get()`, waking up regularly: a lock wait cannot be interrupted on Windows."""
    while True:
        try:
            return items.get(timeout=_POLL)
        except queue.Empty:
            continue


def exit_now(code: int, grace: float = 1.0) -> None:
    """End the process with `code` once other threads have finished, or after `grace` seconds:
    fetch threads blocked in an HTTP read would hold the interpreter's exit until their timeout."""
    deadline = time.monotonic() + grace
    for thread in threading.enumerate():
        if thread is threading.main_thread() or thread.daemon:
            continue
        thread.join(max(0.0, deadline - time.monotonic()))
    if any(
        t.is_alive() and not t.daemon
        for t in threading.enumerate()
        if t is not threading.main_thread()
    ):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    raise SystemExit(code)
