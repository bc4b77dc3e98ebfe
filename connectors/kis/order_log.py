"""The write-ahead order log: every order attempt is recorded durably before it is sent.

Connectors may not import the warehouse, so the orders module talks to an `OrderLogSink`. The
default sink, `JsonlOrderLog`, appends one JSON object per line to files under
`KISDB_HOME/orders/order_log-YYYYMMDD.jsonl` (0600, fsync'd before `write` returns). A line is the
full state of one attempt at one moment; the latest line per `client_order_id` is its current
state, so the file is append-only and a crash can never lose a state that was reported as written.

Line format (the contract `warehouse/order_log.py` reads; keys = `schemas.datasets.ORDER_LOG`
columns): client_order_id, created_at, updated_at (ISO 8601 UTC), env, action (buy | sell |
modify | cancel), symbol, qty, price, order_division, orig_order_no, status (pending | accepted |
rejected | uncertain | failed), order_no, org_no, msg_cd, message, source. Account numbers and
credentials are never part of an entry.
"""

from __future__ import annotations

import dataclasses
import json
import os
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from connectors.kis.filelock import FileLock, append_private
from schemas.clock import KST

OrderAction = Literal["buy", "sell", "modify", "cancel"]
Status = Literal["pending", "accepted", "rejected", "uncertain", "failed"]
STATUSES: frozenset[str] = frozenset({"pending", "accepted", "rejected", "uncertain", "failed"})
FILE_PREFIX = "order_log-"


def new_client_order_id() -> str:
    """A unique id for one attempt: sortable by time (UTC stamp) and collision-free (uuid4)."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class OrderLogEntry:
    """The state of one order attempt. Immutable: `with_outcome` returns the next state."""

    client_order_id: str
    created_at: datetime
    updated_at: datetime
    env: str
    action: OrderAction
    status: Status = "pending"
    symbol: str | None = None
    qty: int | None = None
    price: int | None = None
    order_division: str | None = None
    orig_order_no: str | None = None
    order_no: str | None = None
    org_no: str | None = None
    msg_cd: str | None = None
    message: str | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"order status must be one of {sorted(STATUSES)}, got {self.status!r}")

    def with_outcome(self, status: Status, **changes: Any) -> OrderLogEntry:
        return dataclasses.replace(self, status=status, updated_at=datetime.now(UTC), **changes)

    def to_json(self) -> str:
        record = dataclasses.asdict(self)
        record["created_at"] = self.created_at.isoformat()
        record["updated_at"] = self.updated_at.isoformat()
        return json.dumps(record, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> OrderLogEntry:
        record = json.loads(line)
        record["created_at"] = datetime.fromisoformat(record["created_at"])
        record["updated_at"] = datetime.fromisoformat(record["updated_at"])
        return cls(**record)


class OrderLogSink(Protocol):
    """Where order attempts are recorded. `write` must be durable when it returns (or raise):
    the orders module sends nothing whose pending entry was not written."""

    def write(self, entry: OrderLogEntry) -> None: ...

    def latest(self) -> Mapping[str, OrderLogEntry]:
        """The current state of every attempt, by client_order_id."""
        ...


class JsonlOrderLog:
    """Append-only JSONL files, one per KST day of the attempt's creation, fsync'd per line."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._lock = FileLock(self.directory / ".order_log.lock")

    def path_for(self, entry: OrderLogEntry) -> Path:
        day = entry.created_at.astimezone(KST)
        return self.directory / f"{FILE_PREFIX}{day:%Y%m%d}.jsonl"

    def write(self, entry: OrderLogEntry) -> None:
        line = (entry.to_json() + "\n").encode("utf-8")
        path = self.path_for(entry)
        ensure_directory(self.directory)
        # The lock keeps lines whole across processes on platforms without atomic O_APPEND.
        with self._lock:
            new_file = not path.exists()
            append_private(path, line, fsync=True)
            if new_file:
                _fsync_directory(self.directory)

    def files(self) -> list[Path]:
        return sorted(self.directory.glob(f"{FILE_PREFIX}*.jsonl"))

    def entries(self) -> Iterator[OrderLogEntry]:
        """Every recorded state in write order; a torn last line (crash mid-write) is skipped."""
        for path in self.files():
            for line in read_lines(path):
                yield OrderLogEntry.from_json(line)

    def latest(self) -> dict[str, OrderLogEntry]:
        result: dict[str, OrderLogEntry] = {}
        for entry in self.entries():
            result[entry.client_order_id] = entry
        return result


def read_lines(path: Path) -> Iterator[str]:
    """Complete JSON lines of one log file (a last line without its newline is torn: skipped)."""
    data = path.read_bytes()
    for raw in data.split(b"\n")[:-1]:
        if raw.strip():
            yield raw.decode("utf-8")


def _fsync_directory(directory: Path) -> None:
    """Make a new file's directory entry durable (POSIX); Windows cannot open directories."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_directory(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    if os.name == "posix":
        os.chmod(directory, 0o700)
    return directory
