"""Raw archive: every REST response page of a run kept as gzip-compressed JSON lines.

File: home/raw/<YYYY-MM-DD>/<run_name>.jsonl.gz (0600). One line per page: when, endpoint, tr_id,
path, request params (the account number masked), tr_cont, HTTP status and the body as received.
Each open appends a new gzip member, which gzip readers treat as one continuous stream.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Request keys whose values identify the account; masked so the archive can be shared.
SENSITIVE_KEYS = frozenset({"CANO", "cano"})
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def archive_path(home: Path, run_name: str, day: str | None = None) -> Path:
    safe = _SAFE_NAME.sub("_", run_name).strip("._") or "run"
    day = day or datetime.now(UTC).astimezone().date().isoformat()
    return Path(home) / "raw" / day / f"{safe}.jsonl.gz"


def mask_params(params: Mapping[str, str]) -> dict[str, str]:
    return {k: ("****" if k in SENSITIVE_KEYS else v) for k, v in params.items()}


class ArchiveWriter:
    """Appends pages to one archive file; thread-safe; close() flushes the gzip member."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._raw = os.fdopen(fd, "ab")
        self._gz = gzip.GzipFile(fileobj=self._raw, mode="ab")
        self._lock = threading.Lock()
        self.pages = 0

    def write(
        self,
        *,
        endpoint: str,
        tr_id: str,
        path: str,
        params: Mapping[str, str],
        tr_cont: str,
        status: int,
        body: Any,
    ) -> None:
        record = {
            "at": datetime.now(UTC).isoformat(timespec="microseconds"),
            "endpoint": endpoint,
            "tr_id": tr_id,
            "path": path,
            "params": mask_params(params),
            "tr_cont": tr_cont,
            "status": status,
            "body": body,
        }
        line = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        with self._lock:
            self._gz.write(line)
            self.pages += 1

    def close(self) -> None:
        with self._lock:
            self._gz.close()
            self._raw.close()


def read_archive(path: Path) -> Iterator[dict[str, Any]]:
    """The pages of an archive file, in order."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)
