"""One recorder per KISDB_HOME: `journal/recorder.lock`, an OS file lock held while recording.

The lock goes with the process however it ends; a second recorder on the same home stops at once
with `RecorderBusy` naming the lock file, as two writers would interleave one journal.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from connectors.kis.filelock import FileLock, write_private
from pipelines.errors import RunFailed
from warehouse.journal import journal_dir

LOCK_NAME = "recorder.lock"
OWNER_NAME = "recorder.owner"  # who holds the lock (a note beside it: a locked file may be unreadable on Windows)


class RecorderBusy(RunFailed, RuntimeError):
    """Another recorder holds this home's journal lock."""


@contextmanager
def journal_lock(home: Path) -> Iterator[Path]:
    """Hold `home`'s recorder lock for the block, or raise RecorderBusy at once (never wait: a
    scheduled recorder that queued behind a running one would record nothing useful)."""
    folder = journal_dir(home)
    path = folder / LOCK_NAME
    lock = FileLock(path)
    if not lock.acquire(timeout=0):
        raise RecorderBusy(
            f"another recorder is writing the journal of {home} ({_owner(folder)}holds {path}); "
            "run one recorder per KISDB_HOME: stop the other one, or record into another --home"
        )
    owner = folder / OWNER_NAME
    try:
        # The process's start on this machine's wall clock (local zone), for whoever finds it.
        since = datetime.now().astimezone()
        write_private(owner, f"pid {os.getpid()} since {since:%Y-%m-%d %H:%M:%S %z}\n".encode())
        yield path
    finally:
        with contextlib.suppress(OSError):
            owner.unlink()
        lock.release()


def _owner(folder: Path) -> str:
    try:
        text = (folder / OWNER_NAME).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return f"{text} " if text else ""
