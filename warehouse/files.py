"""Owner-only folders and files under a home (0700 / 0600 on POSIX; Windows ignores modes).

Kept apart from lake.py so the composition root can make a home private without loading DuckDB.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def private_dirs(path: Path) -> None:
    """Create `path` and its missing parents readable by the owner only (0700 on POSIX; Windows
    ignores the mode). Existing directories keep their mode: the user may have chosen it."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it meanwhile
            folder.mkdir(mode=0o700)


def private_file(path: Path) -> None:
    """The catalog holds account-derived rows (order_log): owner-only, whatever the umask.
    Best effort: a catalog shared on purpose (another owner, group-writable) still opens."""
    if os.name == "posix" and path.exists() and path.stat().st_mode & 0o077:
        with contextlib.suppress(OSError):
            path.chmod(0o600)
