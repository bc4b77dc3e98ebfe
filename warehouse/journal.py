"""The tick journal: append-only text files, one line per websocket event, rotated per KST day.

Line format (UTF-8), one event per line:

    <ts_recv_ns> TAB <kind> TAB <n> TAB <payload> LF

- `ts_recv_ns`: receive time, integer nanoseconds since the Unix epoch (UTC).
- `kind`: `D` a websocket message as received (data frames, acks, PINGPONG; encrypted data frames
  are stored decrypted, their `1|` flag kept to say so); `E` an encrypted frame we could not
  decrypt (stored as received); `C` a control event written by the recorder (JSON object: start,
  connect, disconnect, subscribe, ack, error, stale, overflow, stop). A `j` suffix (`Dj`, `Ej`)
  means the payload held a CR or LF and is stored as a JSON string literal instead.
- `n`: the payload's length in UTF-8 bytes. A line whose payload does not have exactly `n` bytes
  is torn (a crash mid-write) or corrupt and is skipped by readers; a last chunk without LF is
  an incomplete line still being written (or torn) and is never read.

Files: `<home>/journal/YYYYMMDD.journal` (KST day of the receive time), mode 0600. Reopening a
file whose last line is torn first writes a LF, so the fragment stays one rejected line and new
lines start clean; line numbers never change once written, which makes (file, line) a stable key.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

KST_OFFSET_NS = 9 * 3600 * 1_000_000_000  # Korea has no DST: a fixed offset is exact
DAY_NS = 86_400 * 1_000_000_000
SUFFIX = ".journal"
KINDS = frozenset({"D", "E", "C", "Dj", "Ej"})
_EPOCH = date(1970, 1, 1)


def kst_day(ts_ns: int) -> date:
    return _EPOCH + timedelta(days=(ts_ns + KST_OFFSET_NS) // DAY_NS)


def journal_dir(home: Path) -> Path:
    return Path(home) / "journal"


def journal_path(home: Path, day: date) -> Path:
    return journal_dir(home) / f"{day:%Y%m%d}{SUFFIX}"


def journal_days(home: Path) -> list[date]:
    """Days that have a journal file, oldest first."""
    days = []
    for path in sorted(journal_dir(home).glob(f"*{SUFFIX}")):
        stem = path.stem
        if len(stem) == 8 and stem.isdigit():
            days.append(date(int(stem[:4]), int(stem[4:6]), int(stem[6:])))
    return days


def encode_line(ts_ns: int, kind: str, payload: str) -> bytes:
    if "\n" in payload or "\r" in payload:
        kind, payload = kind + "j", json.dumps(payload, ensure_ascii=False)
    data = payload.encode("utf-8", errors="surrogateescape")
    return b"%d\t%s\t%d\t%s\n" % (ts_ns, kind.encode(), len(data), data)


def control_payload(event: str, **fields: Any) -> str:
    return json.dumps({"event": event, **fields}, ensure_ascii=False, separators=(",", ":"))


def _open_for_append(path: Path) -> tuple[int, bool]:
    """Open (creating 0600) for appending; seal a torn last line. Returns (fd, sealed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags, 0o600)
    with contextlib.suppress(OSError):  # Windows only honours the read-only bit: best effort
        os.chmod(path, 0o600)
    sealed = False
    size = os.fstat(fd).st_size
    if size:
        with open(path, "rb") as f:
            f.seek(size - 1)
            if f.read(1) != b"\n":
                os.write(fd, b"\n")
                sealed = True
    return fd, sealed


class JournalWriter:
    """Buffers encoded lines and writes them to the day's file; not thread-safe (one owner).

    `append` only buffers; `write` hands the buffer to the OS (after which a process crash loses
    nothing) and `sync` fsyncs (after which a power loss loses nothing). Rotation follows the KST
    day of each line's receive time.
    """

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self._buffer: list[bytes] = []
        self._day: date | None = None
        self._day_bounds = (0, -1)  # [start_ns, end_ns) of the open day
        self._fd: int | None = None
        self.path: Path | None = None
        self.paths: list[Path] = []  # every file opened, in order
        self.sealed_torn_tail: list[Path] = []  # files whose torn last line we sealed on open
        self.lines_written = 0

    def append(self, ts_ns: int, kind: str, payload: str) -> None:
        if not self._day_bounds[0] <= ts_ns < self._day_bounds[1]:
            self._rotate(ts_ns)
        self._buffer.append(encode_line(ts_ns, kind, payload))

    def control(self, ts_ns: int, event: str, **fields: Any) -> None:
        self.append(ts_ns, "C", control_payload(event, **fields))

    def _rotate(self, ts_ns: int) -> None:
        self.write()
        self.sync()
        if self._fd is not None:
            os.close(self._fd)
        day = kst_day(ts_ns)
        start = (day - _EPOCH).days * DAY_NS - KST_OFFSET_NS
        self._day, self._day_bounds = day, (start, start + DAY_NS)
        self.path = journal_path(self.home, day)
        self.paths.append(self.path)
        self._fd, sealed = _open_for_append(self.path)
        if sealed:
            self.sealed_torn_tail.append(self.path)

    def write(self) -> int:
        """Hand buffered lines to the OS; returns the bytes written."""
        if not self._buffer or self._fd is None:
            return 0
        data = b"".join(self._buffer)
        view = memoryview(data)
        while view:  # os.write may write less than asked
            view = view[os.write(self._fd, view) :]
        self.lines_written += len(self._buffer)
        self._buffer.clear()
        return len(data)

    def sync(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)

    def close(self) -> None:
        self.write()
        if self._fd is not None:
            self.sync()
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> JournalWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JournalLine:
    line: int  # 1-based
    ts_ns: int
    kind: str  # D, E or C (a `j` suffix is decoded away)
    payload: str


@dataclass(frozen=True, slots=True)
class BadLine:
    line: int
    reason: str
    raw: str


def complete_lines(data: bytes) -> list[bytes]:
    """Split file content into complete lines; a trailing chunk without LF is left out."""
    end = data.rfind(b"\n")
    return data[:end].split(b"\n") if end >= 0 else []


def parse_line(number: int, raw: bytes) -> JournalLine | BadLine:
    text = raw.decode("utf-8", errors="replace")
    parts = raw.split(b"\t", 3)
    if len(parts) != 4:
        return BadLine(number, "torn or corrupt line (fewer than 4 fields)", text)
    ts, kind, size, payload = parts
    if not ts.isdigit() or not size.isdigit():
        return BadLine(number, "torn or corrupt line (bad timestamp or length)", text)
    if int(size) != len(payload):
        return BadLine(number, "torn or corrupt line (length mismatch)", text)
    kind_text = kind.decode("ascii", errors="replace")
    if kind_text not in KINDS:
        return BadLine(number, f"unknown line kind {kind_text!r}", text)
    try:
        body = payload.decode("utf-8")
        if kind_text.endswith("j"):
            body, kind_text = json.loads(body), kind_text[0]
    except ValueError:
        return BadLine(number, "payload is not valid UTF-8/JSON", text)
    return JournalLine(number, int(ts), kind_text, body)


def read_journal(path: Path) -> Iterator[JournalLine | BadLine]:
    """Every complete line of one journal file, in order."""
    for number, raw in enumerate(complete_lines(Path(path).read_bytes()), start=1):
        yield parse_line(number, raw)


@dataclass(frozen=True, slots=True)
class Gap:
    """An interval the journal has no data for: from its control lines (journal_gaps), or a line
    compaction rejected (compaction.reject_gaps)."""

    start_ns: int
    end_ns: int | None  # None: still open at the end of the file
    reason: str


def journal_gaps(path: Path) -> list[Gap]:
    """Disconnect -> reconnect intervals, recorder crashes (a start without a stop before it),
    stale stretches and queue overflows, in file order."""
    gaps: list[Gap] = []
    open_gap: tuple[int, str] | None = None
    last_ts: int | None = None
    stopped = True  # nothing ran before the first start
    for entry in read_journal(path):
        if not isinstance(entry, JournalLine):
            continue
        if entry.kind == "C":
            try:
                event = json.loads(entry.payload)
            except ValueError:
                event = {}
            name = event.get("event")
            if name == "start":
                if not stopped and last_ts is not None:
                    gaps.append(
                        Gap(
                            last_ts, entry.ts_ns, "recorder restarted without a clean stop (crash?)"
                        )
                    )
                open_gap, stopped = None, False
            elif name == "stop":
                stopped = True
                open_gap = None
            elif (
                name in ("disconnect", "stale")
                and event.get("reason") != "stopped"
                and open_gap is None
            ):
                open_gap = (entry.ts_ns, f"{name}: {event.get('reason', '')}".rstrip(": "))
            elif name in ("connect", "fresh") and open_gap is not None:
                gaps.append(Gap(open_gap[0], entry.ts_ns, open_gap[1]))
                open_gap = None
            elif name == "overflow":
                gaps.append(
                    Gap(
                        entry.ts_ns,
                        entry.ts_ns,
                        f"queue overflow: {event.get('dropped')} frames dropped",
                    )
                )
        last_ts = entry.ts_ns
    if open_gap is not None:
        gaps.append(Gap(open_gap[0], None, open_gap[1]))
    return gaps
