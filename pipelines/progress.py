"""Progress reporting from flows to whoever shows it (the CLI's rich progress bar), or nobody.

Flow parameters must stay plain values, so the reporter is installed around the call instead:

    with reporting(RichReporter(progress)):
        ingest_period_bars(symbols=...)
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol


class Reporter(Protocol):
    def start(self, label: str, total: int) -> None: ...
    def advance(self, n: int = 1) -> None: ...
    def done(self) -> None: ...


class _Silent:
    def start(self, label: str, total: int) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def done(self) -> None:
        pass


_reporter: Reporter = _Silent()
_lock = threading.Lock()


def current() -> Reporter:
    return _reporter


@contextmanager
def reporting(reporter: Reporter) -> Iterator[Reporter]:
    global _reporter
    with _lock:
        previous, _reporter = _reporter, reporter
    try:
        yield reporter
    finally:
        with _lock:
            _reporter = previous
