"""Socket to disk: the sink enqueues without ever waiting, one thread writes the journal.

receive loop (asyncio)  --put_nowait-->  queue.Queue(maxsize)  --get-->  writer thread
    stamps ts_recv_ns                     never blocks the socket:        writes each batch to
    decrypts notices                      when full, frames are           the OS at once and
    answers PINGPONG                      dropped, counted and a          fsyncs every
                                          warning + C line mark it        `flush_interval`
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from typing import Any

from pipelines.recorder.stats import RecorderStats
from warehouse.journal import JournalWriter, control_payload

log = logging.getLogger("kisdb.recorder")

STOP = object()  # put on the queue last: the writer drains what is before it and ends


class JournalSink:
    """The websocket client's sink: count, stamp, enqueue — never wait."""

    def __init__(self, q: queue.Queue[Any], stats: RecorderStats) -> None:
        self.queue = q
        self.stats = stats
        self._dropped_since_report = 0
        self._last_warning = 0.0

    def on_message(self, ts_ns: int, kind: str, text: str) -> None:
        stats = self.stats
        if text[:1] in ("0", "1"):
            stats.frames[text[2 : text.find("|", 2)]] += 1
            stats.last_frame_ns = ts_ns
        self._put((ts_ns, kind, text))

    def on_control(self, ts_ns: int, event: str, fields: dict[str, Any]) -> None:
        if event == "connect":
            self.stats.connected = True
        elif event == "disconnect":
            self.stats.connected = False
        elif event == "backoff":
            self.stats.reconnects += 1
        problem = event in ("error", "stale") or (
            event == "disconnect" and fields.get("reason") != "stopped"
        )
        level = logging.WARNING if problem else logging.INFO
        if event != "subscribe":  # one line per symbol would drown the log
            log.log(level, "%s %s", event, fields)
        self._put((ts_ns, "C", control_payload(event, **fields)))

    def _put(self, item: tuple[int, str, str]) -> None:
        if self._dropped_since_report:
            # Say where the hole is before anything after it.
            try:
                self.queue.put_nowait(
                    (
                        time.time_ns(),
                        "C",
                        control_payload(
                            "overflow",
                            dropped=self._dropped_since_report,
                            total_dropped=self.stats.dropped,
                        ),
                    )
                )
                self._dropped_since_report = 0
            except queue.Full:
                pass
        try:
            self.queue.put_nowait(item)
        except queue.Full:
            self.stats.dropped += 1
            self._dropped_since_report += 1
            now = time.monotonic()
            if now - self._last_warning > 5.0:
                self._last_warning = now
                log.warning(
                    "journal queue full (%d slots): dropping frames (%d so far); the disk "
                    "cannot keep up",
                    self.queue.maxsize,
                    self.stats.dropped,
                )


class WriterThread(threading.Thread):
    """Drains the queue into the journal; the only code that touches the disk."""

    def __init__(
        self,
        q: queue.Queue[Any],
        writer: JournalWriter,
        stats: RecorderStats,
        flush_interval: float,
    ) -> None:
        super().__init__(name="journal-writer", daemon=True)
        self.queue = q
        self.writer = writer
        self.stats = stats
        self.flush_interval = flush_interval
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # surfaced by the recorder, never silently lost
            self.error = exc
            log.exception("journal writer failed")
        finally:
            with contextlib.suppress(OSError):
                self.writer.close()

    def _loop(self) -> None:
        q, writer, latencies = self.queue, self.writer, self.stats.latencies_ns
        last_sync = time.monotonic()
        done = False
        while not done:
            try:
                batch = [q.get(timeout=self.flush_interval)]
            except queue.Empty:
                batch = []
            while len(batch) < 10_000:
                try:
                    batch.append(q.get_nowait())
                except queue.Empty:
                    break
            for item in batch:
                if item is STOP:
                    done = True
                    continue
                writer.append(*item)
            writer.write()
            now_ns = time.time_ns()
            for item in batch:
                if item is not STOP and item[1] == "D":
                    latencies.append(now_ns - item[0])
            self.stats.lines_written = writer.lines_written
            if writer.sealed_torn_tail:
                for path in writer.sealed_torn_tail:
                    log.warning(
                        "%s ended in a torn line (a crash?); sealed it, readers skip it", path.name
                    )
                    writer.control(time.time_ns(), "torn_tail_sealed", journal=path.name)
                writer.sealed_torn_tail.clear()
                writer.write()
            if time.monotonic() - last_sync >= self.flush_interval:
                writer.sync()
                last_sync = time.monotonic()
