"""Who has a local lake open: every `Lake` on a local SQLite catalog holds a shared OS lock on
`lake/users.lock` while it is open (notebook readers, `kisdb sql`, ingests alike).

Nobody waits on it: shared locks never exclude each other. Compaction only *tries* the exclusive
lock (`UsersLock.alone`): when it gets it, no other process can be reading a file or be half-way
through a write, so files replaced by the merge and files a crashed writer left go at once;
otherwise they go on a later compaction, once old enough (Lake.compact).

POSIX `flock` only. Windows' msvcrt has no shared locks, so there `alone()` always answers no:
the conservative answer (files are deleted after the grace period instead of at once).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

LOCK_NAME = "users.lock"


class UsersLock:
    """A shared lock on `path`, held from construction until `close()`."""

    def __init__(self, path: Path, *, timeout: float) -> None:
        """Take the shared lock, waiting at most `timeout` seconds (only a compaction's brief
        exclusive moment can be in the way); TimeoutError after that."""
        self.path = path
        self._fd: int | None = None
        if sys.platform == "win32":
            return
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return  # a home we may not write (a read-only mount): read without the lock
        deadline = time.monotonic() + timeout
        while not _flock(fd, shared=True, blocking=False):
            if time.monotonic() >= deadline:
                os.close(fd)
                raise TimeoutError(f"{path} stayed locked for {timeout:.0f} s")
            time.sleep(0.01)
        self._fd = fd

    @contextlib.contextmanager
    def alone(self) -> Iterator[bool]:
        """Whether this is the lake's only user: the exclusive lock, tried without waiting and
        held for the block (others opening the lake meanwhile wait for it), then shared again."""
        fd = self._fd
        if fd is None:
            yield False
            return
        if not _flock(fd, shared=False, blocking=False):
            # flock converts by unlocking first: a failed attempt may have lost the shared lock
            _flock(fd, shared=True, blocking=True)
            yield False
            return
        try:
            yield True
        finally:
            _flock(fd, shared=True, blocking=True)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the lock
            self._fd = None


def _flock(fd: int, *, shared: bool, blocking: bool) -> bool:
    import fcntl  # POSIX only; never reached on Windows

    mode = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | (0 if blocking else fcntl.LOCK_NB)
    try:
        fcntl.flock(fd, mode)
    except BlockingIOError:
        return False
    return True
