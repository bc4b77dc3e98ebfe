"""One recording session: subscribe, receive, journal, until a deadline, a signal or `stop`.

What a crash can lose: a killed process (kill -9, OOM) loses only what is still in the queue —
normally a few milliseconds of frames, since the writer hands each batch to the OS as soon as it
has it. A machine crash or power cut also loses what the OS had not written to disk yet: at most
`flush_interval` seconds (default 1 s) of lines, plus a possibly torn last line, which readers
detect and skip. Restarting appends to the same day's journal.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import signal
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from connectors.kis.api import AsyncKisClient
from connectors.kis.errors import KisConfigError
from connectors.kis.settings import Settings
from connectors.kis.ws_client import RealtimeClient, ReconnectPolicy
from connectors.kis.ws_protocol import Subscription, notice_tr_id, validate_subscriptions
from pipelines.recorder.lock import journal_lock
from pipelines.recorder.stats import Live, RecorderStats, report
from pipelines.recorder.writer import STOP, JournalSink, WriterThread
from schemas.clock import SYSTEM_CLOCK, Clock
from schemas.realtime import TR_QUOTES, TR_TRADES
from warehouse.journal import JournalWriter


@dataclass(frozen=True)
class RecorderConfig:
    symbols: tuple[str, ...]
    quotes: bool = False
    notices: bool = False
    until: datetime | None = None  # timezone-aware end, on the clock `record` is given
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
class RecordResult:
    stats: RecorderStats
    journals: list[Path]
    reason: str  # why it stopped: until / duration / signal / error
    refused: list[str] = field(default_factory=list)  # registrations the server refused


# How often the timer re-reads the clock: `until` is on the clock `record` is given, which may run
# faster than the wall (the simulator's market clock) or jump (a test's).
CLOCK_POLL = 0.25


def deadline(config: RecorderConfig, now: datetime, elapsed: float) -> tuple[float | None, str]:
    """Seconds left until the recorder should stop, and why (pure): `now` on the clock `until` is
    on, `elapsed` wall seconds since the recording started (`duration` counts those)."""
    ends: list[tuple[float, str]] = []
    if config.duration is not None:
        ends.append((max(0.0, config.duration - elapsed), "duration"))
    if config.until is not None:
        ends.append((max(0.0, (config.until - now).total_seconds()), "until"))
    return min(ends) if ends else (None, "")


async def record(
    settings: Settings,
    config: RecorderConfig,
    *,
    clock: Clock = SYSTEM_CLOCK,
    stop: asyncio.Event | None = None,
    live: Live | None = None,
) -> RecordResult:
    """Record until `config.until` (on `clock`) / `duration`, a signal, or `stop` is set.

    `settings` must be resolved."""
    if settings.ws_url is None:
        raise KisConfigError("no websocket URL: resolve the settings first (Settings.resolved())")
    subs = subscriptions_for(config, settings)
    with journal_lock(settings.home):
        return await _record(settings, config, subs, clock, stop, live)


async def _record(
    settings: Settings,
    config: RecorderConfig,
    subs: list[Subscription],
    clock: Clock,
    stop: asyncio.Event | None,
    live: Live | None,
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
        started = time.monotonic()

        async def timer() -> None:
            while True:
                left, why = deadline(config, clock.now(), time.monotonic() - started)
                if left is None:
                    return
                if left <= 0:
                    reason[0] = why
                    stop.set()
                    return
                await asyncio.sleep(min(left, CLOCK_POLL) if config.until is not None else left)

        helpers = [
            asyncio.create_task(timer()),
            asyncio.create_task(
                report(
                    stats,
                    q,
                    sink.on_control,
                    interval=config.stats_interval,
                    stale_after=config.stale_after,
                    live=live,
                )
            ),
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
            q.put(STOP)
            await asyncio.to_thread(thread.join)
    if thread.error is not None:
        raise RuntimeError(f"journal writer failed: {thread.error}") from thread.error
    journals = list(dict.fromkeys(writer.paths))
    return RecordResult(stats=stats, journals=journals, reason=reason[0], refused=client.refusals())


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
    """`30s`, `5m` or `2h`, or plain seconds."""
    units = {"s": 1.0, "m": 60.0, "h": 3600.0}
    text = text.strip().lower()
    try:
        value = float(text[:-1]) * units[text[-1]] if text[-1:] in units else float(text)
    except (ValueError, KeyError):
        raise ValueError(f"--for wants a duration like 30s, 5m or 2h, got {text!r}") from None
    if value <= 0:
        raise ValueError("--for must be positive")
    return value
