"""The realtime recorder: websocket -> bounded queue -> writer thread -> the day's journal.

    receive loop (asyncio)  --put_nowait-->  queue.Queue(maxsize)  --get-->  writer thread
        stamps ts_recv_ns                     never blocks the socket:        writes each batch to
        decrypts notices                      when full, frames are           the OS at once and
        answers PINGPONG                      dropped, counted and a          fsyncs every
                                              warning + C line mark it        `flush_interval`

What a crash can lose: a killed process (kill -9, OOM) loses only what is still in the queue —
normally a few milliseconds of frames, since the writer hands each batch to the OS as soon as it
has it. A machine crash or power cut also loses what the OS had not written to disk yet: at most
`flush_interval` seconds (default 1 s) of lines, plus a possibly torn last line, which readers
detect and skip. Restarting appends to the same day's journal.

One recorder per KISDB_HOME: `record` holds `journal/recorder.lock` (an OS file lock, released
when the process ends however it ends) while it writes; a second recorder on the same home stops
at once with `RecorderBusy` naming the lock file, as two writers would interleave one journal.

Also here: live stats (frames/s per TR ID, reconnects, last frame age, queue depth) as log lines
and, on a terminal, a rich table; a stale stream (no data frame for `stale_after` s) is reported
once per episode. Prefect flows `record_flow` and `compact_flow` wrap `record` and compaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import signal
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from connectors.kis.api import AsyncKisClient
from connectors.kis.errors import KisConfigError
from connectors.kis.filelock import FileLock, write_private
from connectors.kis.settings import Settings
from connectors.kis.ws_client import RealtimeClient, ReconnectPolicy
from connectors.kis.ws_protocol import Subscription, notice_tr_id, validate_subscriptions
from schemas.realtime import TR_QUOTES, TR_TRADES
from warehouse.compaction import CompactionResult
from warehouse.journal import JournalWriter, control_payload, journal_dir

log = logging.getLogger("kisdb.recorder")

_STOP = object()
LOCK_NAME = "recorder.lock"
OWNER_NAME = "recorder.owner"  # who holds the lock (a note beside it: a locked file may be unreadable on Windows)


class RecorderBusy(RuntimeError):
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


@dataclass(frozen=True)
class RecorderConfig:
    symbols: tuple[str, ...]
    quotes: bool = False
    notices: bool = False
    until: datetime | None = None  # timezone-aware wall-clock end
    duration: float | None = None  # seconds; whichever of until/duration comes first
    flush_interval: float = 1.0  # fsync period: what a power cut may lose
    queue_size: int = 100_000  # frames between receive and write (~100 MB worst case at 1 KB)
    stale_after: float = 30.0  # no data frame for this long while connected -> reported
    stats_interval: float = 5.0
    subscribe_pause: float = 0.05
    policy: ReconnectPolicy = field(default_factory=ReconnectPolicy)


def subscriptions_for(config: RecorderConfig, settings: Settings) -> list[Subscription]:
    """Trades for every symbol, quotes if asked, notices (keyed by the HTS ID) if asked.

    Refuses clearly (SubscriptionLimitError) past the 41 registrations of one session."""
    subs = [Subscription(TR_TRADES, s) for s in config.symbols]
    if config.quotes:
        subs += [Subscription(TR_QUOTES, s) for s in config.symbols]
    if config.notices:
        if not settings.hts_id:
            raise KisConfigError("execution notices need KIS_HTS_ID (the HTS login id)")
        subs.append(Subscription(notice_tr_id(settings.tr_env), settings.hts_id))
    return validate_subscriptions(subs)


@dataclass
class RecorderStats:
    frames: Counter[str] = field(default_factory=Counter)  # data frames per TR ID
    messages: int = 0
    dropped: int = 0
    reconnects: int = 0
    connected: bool = False
    started_ns: int = field(default_factory=time.time_ns)
    last_frame_ns: int = 0
    lines_written: int = 0
    latencies_ns: deque[int] = field(default_factory=lambda: deque(maxlen=200_000))

    def p99_latency_ms(self) -> float | None:
        if not self.latencies_ns:
            return None
        ordered = sorted(self.latencies_ns)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] / 1e6

    def last_frame_age(self, now_ns: int | None = None) -> float | None:
        if not self.last_frame_ns:
            return None
        return ((now_ns or time.time_ns()) - self.last_frame_ns) / 1e9


class JournalSink:
    """The websocket client's sink: count, stamp, enqueue — never wait."""

    def __init__(self, q: queue.Queue[Any], stats: RecorderStats) -> None:
        self.queue = q
        self.stats = stats
        self._dropped_since_report = 0
        self._last_warning = 0.0

    def on_message(self, ts_ns: int, kind: str, text: str) -> None:
        stats = self.stats
        stats.messages += 1
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
                if item is _STOP:
                    done = True
                    continue
                writer.append(*item)
            writer.write()
            now_ns = time.time_ns()
            for item in batch:
                if item is not _STOP and item[1] == "D":
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


@dataclass
class RecordResult:
    stats: RecorderStats
    journals: list[Path]
    reason: str  # why it stopped: until / duration / signal / error


def _deadline(config: RecorderConfig) -> tuple[float | None, str]:
    """Seconds from now until the recorder should stop, and why."""
    ends: list[tuple[float, str]] = []
    if config.duration is not None:
        ends.append((config.duration, "duration"))
    if config.until is not None:
        ends.append(
            (max(0.0, (config.until - datetime.now(config.until.tzinfo)).total_seconds()), "until")
        )
    return min(ends) if ends else (None, "")


def _stats_line(stats: RecorderStats, rates: dict[str, float], q: queue.Queue[Any]) -> str:
    per_tr = " ".join(f"{tr}={rate:.1f}/s" for tr, rate in sorted(rates.items())) or "no frames"
    age = stats.last_frame_age()
    age_text = "-" if age is None else f"{age:.1f}s"
    return (
        f"{per_tr} | total {sum(stats.frames.values())} | reconnects {stats.reconnects} | "
        f"last frame {age_text} ago | queue {q.qsize()} | dropped {stats.dropped}"
    )


async def _report(
    stats: RecorderStats, q: queue.Queue[Any], sink: JournalSink, config: RecorderConfig, live: Any
) -> None:
    """Every stats_interval: frames/s per TR, reconnects, last frame age; flag a stale stream."""
    previous = Counter(stats.frames)
    last = time.monotonic()
    stale = False
    while True:
        await asyncio.sleep(min(config.stats_interval, config.stale_after / 2))
        now = time.monotonic()
        if now - last >= config.stats_interval:
            rates = {tr: (n - previous[tr]) / (now - last) for tr, n in stats.frames.items()}
            previous, last = Counter(stats.frames), now
            line = _stats_line(stats, rates, q)
            log.info("stats: %s", line)
            if live is not None:
                live.update(_stats_table(stats, rates, q))
        age = stats.last_frame_age()
        if age is None:
            age = (time.time_ns() - stats.started_ns) / 1e9
        if stats.connected and age > config.stale_after and not stale:
            stale = True
            sink.on_control(time.time_ns(), "stale", {"seconds_without_frames": round(age, 1)})
            log.warning("stale stream: no data frame for %.0f s", age)
        elif stale and age <= config.stale_after:
            stale = False
            sink.on_control(time.time_ns(), "fresh", {})


def _stats_table(stats: RecorderStats, rates: dict[str, float], q: queue.Queue[Any]) -> Any:
    from rich.table import Table

    table = Table(title="kisdb record", show_edge=False)
    table.add_column("TR ID")
    table.add_column("frames", justify="right")
    table.add_column("frames/s", justify="right")
    for tr in sorted(stats.frames):
        table.add_row(tr, str(stats.frames[tr]), f"{rates.get(tr, 0.0):.1f}")
    age = stats.last_frame_age()
    table.caption = (
        f"reconnects {stats.reconnects} · last frame "
        f"{'-' if age is None else f'{age:.1f}s'} ago · queue {q.qsize()} · "
        f"dropped {stats.dropped} · {'connected' if stats.connected else 'DISCONNECTED'}"
    )
    return table


async def record(
    settings: Settings,
    config: RecorderConfig,
    *,
    stop: asyncio.Event | None = None,
    live: Any = None,
) -> RecordResult:
    """Record until `until`/`duration`, a signal, or `stop` is set. `settings` must be resolved."""
    if settings.ws_url is None:
        raise KisConfigError("no websocket URL: resolve the settings first (Settings.resolved())")
    subs = subscriptions_for(config, settings)
    with journal_lock(settings.home):
        return await _record(settings, config, subs, stop, live)


async def _record(
    settings: Settings,
    config: RecorderConfig,
    subs: list[Subscription],
    stop: asyncio.Event | None,
    live: Any,
) -> RecordResult:
    assert settings.ws_url is not None
    stats = RecorderStats()
    q: queue.Queue[Any] = queue.Queue(maxsize=config.queue_size)
    writer = JournalWriter(settings.home)
    thread = WriterThread(q, writer, stats, config.flush_interval)
    sink = JournalSink(q, stats)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    reason = ["stopped"]

    def on_signal() -> None:
        reason[0] = "signal"
        stop.set()

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(
            NotImplementedError, RuntimeError, ValueError
        ):  # Windows / threads
            loop.add_signal_handler(sig, on_signal)
            installed.append(sig)

    thread.start()
    sink.on_control(
        time.time_ns(),
        "start",
        {
            "pid": os.getpid(),
            "symbols": list(config.symbols),
            "quotes": config.quotes,
            "notices": config.notices,
            "env": settings.env,
            "flush_interval": config.flush_interval,
        },
    )
    async with AsyncKisClient(settings) as kis:
        client = RealtimeClient(
            settings.ws_url,
            approval_key=lambda renew: kis.approval_key(renew=renew),
            subscriptions=subs,
            sink=sink,
            policy=config.policy,
            subscribe_pause=config.subscribe_pause,
        )
        deadline, why = _deadline(config)

        async def timer() -> None:
            if deadline is not None:
                await asyncio.sleep(deadline)
                reason[0] = why
                stop.set()

        helpers = [
            asyncio.create_task(timer()),
            asyncio.create_task(_report(stats, q, sink, config, live)),
        ]
        try:
            await client.run(stop)
        except BaseException as exc:
            reason[0] = f"error: {type(exc).__name__}"
            raise
        finally:
            for task in helpers:
                task.cancel()
            for task in helpers:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            for sig in installed:
                loop.remove_signal_handler(sig)
            sink.on_control(
                time.time_ns(),
                "stop",
                {
                    "reason": reason[0],
                    "frames": dict(stats.frames),
                    "dropped": stats.dropped,
                    "reconnects": stats.reconnects,
                },
            )
            q.put(_STOP)
            await asyncio.to_thread(thread.join)
    if thread.error is not None:
        raise RuntimeError(f"journal writer failed: {thread.error}") from thread.error
    journals = list(dict.fromkeys(writer.paths))
    return RecordResult(stats=stats, journals=journals, reason=reason[0])


def parse_until(text: str, now: datetime) -> datetime:
    """`HH:MM` today in `now`'s zone; refuses a time already past (the run would end at once)."""
    try:
        hour, minute = (int(part) for part in text.split(":"))
        end = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    except ValueError:
        raise ValueError(f"--until wants HH:MM (KST), got {text!r}") from None
    if end <= now:
        raise ValueError(f"--until {text} is already past ({now:%H:%M} KST now)")
    return end


def parse_duration(text: str) -> float:
    """`30s`, `5m`, `2h` or plain seconds."""
    units = {"s": 1.0, "m": 60.0, "h": 3600.0}
    text = text.strip().lower()
    try:
        value = float(text[:-1]) * units[text[-1]] if text[-1:] in units else float(text)
    except (ValueError, KeyError):
        raise ValueError(f"--for wants a duration like 30s, 5m or 2h, got {text!r}") from None
    if value <= 0:
        raise ValueError("--for must be positive")
    return value


# --- replay ----------------------------------------------------------------------------------


def replay(home: Path, day: date) -> Iterator[tuple[int, int, Any]]:
    """(line, ts_recv_ns, typed record) for every data record of a day's journal, in order.

    Control lines, acks and malformed lines are skipped (compaction keeps the latter as rejects)."""
    from connectors.kis.ws_protocol import DataMessage, FrameError, parse_frame, to_records
    from warehouse.journal import JournalLine, journal_path, kst_day, read_journal

    for entry in read_journal(journal_path(home, day)):
        if not isinstance(entry, JournalLine) or entry.kind != "D":
            continue
        try:
            frame = parse_frame(entry.payload)
            if not isinstance(frame, DataMessage):
                continue
            records = to_records(frame, kst_day(entry.ts_ns))
        except FrameError:
            continue
        for record in records:
            yield entry.line, entry.ts_ns, record


# --- compaction ------------------------------------------------------------------------------


def compact(settings: Settings, days: list[date] | None = None) -> list[CompactionResult]:
    """Compact the given KST days' journals (default: every journal day) into the lake, then
    merge the lake's small files."""
    from pipelines.runtime import lake_source
    from warehouse.compaction import compact_day
    from warehouse.journal import journal_days
    from warehouse.lake import Lake

    wanted = days if days is not None else journal_days(settings.home)
    results: list[CompactionResult] = []
    with Lake.open(settings.home, source=lake_source(settings)) as lake:  # type: ignore[arg-type]
        for day in wanted:
            result = compact_day(lake, settings.home, day)
            if result is None:
                log.warning("no journal for %s", day)
                continue
            log.info(
                "compacted %s: %s rows, %d rejects %s",
                result.journal,
                result.rows,
                result.rejects,
                result.reject_reasons or "",
            )
            results.append(result)
        # Daily runs add small Parquet files to every table; merging them here (the after-close
        # job) keeps the lake at a few files per partition. Snapshots stay readable.
        merged = lake.compact()
        log.info("lake files merged: %d -> %d", merged.files_before, merged.files_after)
    return results


# --- Prefect flows ---------------------------------------------------------------------------

from prefect import flow  # noqa: E402  (flows last: the recorder itself does not need Prefect)


@flow(name="record", log_prints=True)
async def record_flow(
    symbols: list[str],
    quotes: bool = False,
    notices: bool = False,
    until: str = "15:40",
    flush_interval: float = 1.0,
    home: str | None = None,
) -> dict[str, Any]:
    """Scheduled at the open (prefect.yaml); records until `until` (HH:MM KST, after the close)."""
    from zoneinfo import ZoneInfo

    settings = Settings.from_env(**({"home": home} if home else {}))
    settings = await asyncio.to_thread(settings.resolved)
    config = RecorderConfig(
        symbols=tuple(symbols),
        quotes=quotes,
        notices=notices,
        until=parse_until(until, datetime.now(ZoneInfo("Asia/Seoul"))),
        flush_interval=flush_interval,
    )
    result = await record(settings, config)
    return {
        "frames": dict(result.stats.frames),
        "dropped": result.stats.dropped,
        "reconnects": result.stats.reconnects,
        "journals": [str(p) for p in result.journals],
        "reason": result.reason,
    }


@flow(name="compact", log_prints=True)
def compact_flow(date_text: str | None = None, home: str | None = None) -> list[dict[str, Any]]:
    """After the close: journal -> ticks / quotes / execution_notices (default: today, KST)."""
    from zoneinfo import ZoneInfo

    settings = Settings.from_env(**({"home": home} if home else {}))
    day = (
        date.fromisoformat(date_text) if date_text else datetime.now(ZoneInfo("Asia/Seoul")).date()
    )
    return [
        {
            "journal": r.journal,
            "lines": r.lines,
            "rows": r.rows,
            "rejects": r.rejects,
            "reject_reasons": r.reject_reasons,
        }
        for r in compact(settings, [day])
    ]


if __name__ == "__main__":  # `python -m pipelines.recorder --symbols ... --for 30s`
    import typer

    from pipelines.commands.record import record as _record_command

    typer.run(_record_command)
