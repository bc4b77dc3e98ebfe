"""Live recorder stats: counters the sink and writer update, a periodic log line (and, on a
terminal, a rich table), and the stale-stream report (once per episode)."""

from __future__ import annotations

import asyncio
import logging
import queue
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger("kisdb.recorder")


@dataclass
class RecorderStats:
    frames: Counter[str] = field(default_factory=Counter)  # data frames per TR ID
    dropped: int = 0
    reconnects: int = 0
    connected: bool = False
    started_ns: int = field(default_factory=time.time_ns)
    last_frame_ns: int = 0
    lines_written: int = 0
    # receive -> handed to the OS, per data frame (the latest ones; bench/bench_recorder.py)
    latencies_ns: deque[int] = field(default_factory=lambda: deque(maxlen=200_000))

    def last_frame_age(self, now_ns: int | None = None) -> float | None:
        if not self.last_frame_ns:
            return None
        return ((now_ns or time.time_ns()) - self.last_frame_ns) / 1e9


class Live(Protocol):
    """What `rich.live.Live` offers the reporter."""

    def update(self, renderable: Any) -> None: ...


ControlSink = Callable[[int, str, dict[str, Any]], None]


def stats_line(stats: RecorderStats, rates: dict[str, float], q: queue.Queue[Any]) -> str:
    per_tr = " ".join(f"{tr}={rate:.1f}/s" for tr, rate in sorted(rates.items())) or "no frames"
    age = stats.last_frame_age()
    age_text = "-" if age is None else f"{age:.1f}s"
    return (
        f"{per_tr} | total {sum(stats.frames.values())} | reconnects {stats.reconnects} | "
        f"last frame {age_text} ago | queue {q.qsize()} | dropped {stats.dropped}"
    )


def stats_table(stats: RecorderStats, rates: dict[str, float], q: queue.Queue[Any]) -> Any:
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


async def report(
    stats: RecorderStats,
    q: queue.Queue[Any],
    on_control: ControlSink,
    *,
    interval: float,
    stale_after: float,
    live: Live | None = None,
) -> None:
    """Every `interval`: frames/s per TR, reconnects, last frame age; flag a stale stream (no
    data frame for `stale_after` s while connected) through `on_control`, once per episode."""
    previous = Counter(stats.frames)
    last = time.monotonic()
    stale = False
    while True:
        await asyncio.sleep(min(interval, stale_after / 2))
        now = time.monotonic()
        if now - last >= interval:
            rates = {tr: (n - previous[tr]) / (now - last) for tr, n in stats.frames.items()}
            previous, last = Counter(stats.frames), now
            log.info("stats: %s", stats_line(stats, rates, q))
            if live is not None:
                live.update(stats_table(stats, rates, q))
        age = stats.last_frame_age()
        if age is None:
            age = (time.time_ns() - stats.started_ns) / 1e9
        if stats.connected and age > stale_after and not stale:
            stale = True
            on_control(time.time_ns(), "stale", {"seconds_without_frames": round(age, 1)})
            log.warning("stale stream: no data frame for %.0f s", age)
        elif stale and age <= stale_after:
            stale = False
            on_control(time.time_ns(), "fresh", {})
