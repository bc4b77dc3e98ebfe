"""Recorder benchmark: journaling throughput vs a naive baseline, compaction rows/s, latency.

    python bench/bench_recorder.py [--frames 200000]

1. Hot path, one core, no socket: our receive path (stamp, count, enqueue; a writer thread
   appends length-prefixed lines and writes batches) vs the naive path of the official samples
   (split every frame into records and fields in Python and print them, one line per field).
2. Compaction: the resulting journal parsed vectorised into typed `ticks` rows (polars).
3. Receive -> journal latency (p50/p99) through a real websocket on loopback: a local server
   sends frames at a fixed rate to `RealtimeClient` + the recorder's sink and writer.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import queue
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from connectors.kis.ws_client import RealtimeClient, ReconnectPolicy  # noqa: E402
from connectors.kis.ws_protocol import Subscription  # noqa: E402
from pipelines.recorder.stats import RecorderStats  # noqa: E402
from pipelines.recorder.writer import STOP, JournalSink, WriterThread  # noqa: E402
from schemas.realtime import H0STCNT0_FIELDS  # noqa: E402
from warehouse.compaction import parse_journal  # noqa: E402
from warehouse.journal import JournalWriter  # noqa: E402

SAMPLE = (
    "005930^093354^71900^5^-100^-0.14^72023.83^72100^72400^71700^71900^71800^1^3052507^"
    "219853241700^5105^6937^1832^84.90^1366314^1159996^1^0.39^20.28^090020^5^-200^090820^5^"
    "-500^092619^2^200^20231124^20^N^65945^216924^1118750^2199206^0.05^2424142^125.92^0^^72100"
)


def make_frames(n: int) -> list[str]:
    """Realistic H0STCNT0 frames: 20 symbols, 1-3 records each, prices moving."""
    frames = []
    for i in range(n):
        count = 1 + i % 3
        records = []
        for r in range(count):
            fields = SAMPLE.split("^")
            fields[0] = f"{(i + r) % 20:06d}"
            fields[1] = f"{9 + (i // 3600) % 6:02d}{(i // 60) % 60:02d}{i % 60:02d}"
            fields[2] = str(71900 + (i * 7 + r) % 500)
            fields[12] = str(1 + (i + r) % 50)
            records.append("^".join(fields))
        frames.append(f"0|H0STCNT0|{count:03d}|" + "^".join(records))
    return frames


def naive(frames: list[str], out: io.TextIOBase) -> float:
    """The official sample's way: split, chunk, print every field with its name."""
    width = len(H0STCNT0_FIELDS)
    start = time.perf_counter()
    for text in frames:
        if text[0] in "01":
            parts = text.split("|")
            count = int(parts[2])
            values = parts[3].split("^")
            for r in range(count):
                for j, name in enumerate(H0STCNT0_FIELDS):
                    print(f"{name}: {values[r * width + j]}", file=out)
    return time.perf_counter() - start


def ours(frames: list[str], home: Path) -> tuple[float, RecorderStats]:
    stats = RecorderStats()
    # Room for every frame: this measures what the writer sustains, not how much a burst drops.
    q: queue.Queue[Any] = queue.Queue(maxsize=len(frames) + 1)
    sink = JournalSink(q, stats)
    thread = WriterThread(q, JournalWriter(home), stats, flush_interval=1.0)
    thread.start()
    start = time.perf_counter()
    for text in frames:
        sink.on_message(time.time_ns(), "D", text)
    q.put(STOP)
    thread.join()
    return time.perf_counter() - start, stats


class _Blaster:
    """A websocket server that answers the first message with `n` frames at `rate`/s."""

    def __init__(self, frames: list[str], rate: float) -> None:
        self.frames, self.rate = frames, rate

    async def handler(self, ws: Any) -> None:
        await ws.recv()  # the subscribe message
        interval, start = 1.0 / self.rate, time.perf_counter()
        for i, frame in enumerate(self.frames):
            delay = start + i * interval - time.perf_counter()
            if delay > 0.0005:
                await asyncio.sleep(delay)
            await ws.send(frame)
        await asyncio.sleep(0.5)
        await ws.close()


async def latency(frames: list[str], rate: float, home: Path) -> RecorderStats:
    from websockets.asyncio.server import serve

    blaster = _Blaster(frames, rate)
    stats = RecorderStats()
    q: queue.Queue[Any] = queue.Queue(maxsize=100_000)
    thread = WriterThread(q, JournalWriter(home), stats, flush_interval=1.0)
    thread.start()
    sink = JournalSink(q, stats)

    async def key(renew: bool) -> str:
        return "bench"

    async with serve(blaster.handler, "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        client = RealtimeClient(
            f"ws://127.0.0.1:{port}",
            approval_key=key,
            subscriptions=[Subscription("H0STCNT0", "005930")],
            sink=sink,
            policy=ReconnectPolicy(base=10),
            subscribe_pause=0,
        )
        stop = asyncio.Event()
        task = asyncio.create_task(client.run(stop))
        deadline = time.monotonic() + len(frames) / rate + 10
        while sum(stats.frames.values()) < len(frames) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 5)
    q.put(STOP)
    thread.join()
    return stats


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200_000)
    parser.add_argument("--rate", type=float, default=5_000.0, help="frames/s for the latency run")
    args = parser.parse_args(argv)
    frames = make_frames(args.frames)
    records = sum(int(f.split("|", 3)[2]) for f in frames)

    with tempfile.TemporaryDirectory() as tmp:
        naive_seconds = naive(frames, open(Path(tmp) / "naive.txt", "w", encoding="utf-8"))  # noqa: SIM115
        ours_seconds, stats = ours(frames, Path(tmp) / "ours")
        assert stats.lines_written == len(frames) and stats.dropped == 0
        naive_fps, ours_fps = len(frames) / naive_seconds, len(frames) / ours_seconds
        print(f"frames: {len(frames)} ({records} records)")
        print(f"naive split+print : {naive_fps:12,.0f} frames/s")
        print(f"ours  stamp+journal: {ours_fps:12,.0f} frames/s")
        print(f"ratio ours/naive  : {ours_fps / naive_fps:12.1f}x")

        journal = next((Path(tmp) / "ours" / "journal").glob("*.journal"))
        start = time.perf_counter()
        parsed = parse_journal(journal)
        seconds = time.perf_counter() - start
        assert parsed.ticks.height == records and parsed.rejects.is_empty()
        print(
            f"compaction        : {parsed.ticks.height / seconds:12,.0f} rows/s "
            f"({parsed.ticks.height} typed tick rows in {seconds:.2f} s)"
        )

        n = min(len(frames), int(args.rate * 4))
        live = asyncio.run(latency(frames[:n], args.rate, Path(tmp) / "live"))
        lat = sorted(live.latencies_ns)
        p50 = statistics.median(lat) / 1e6
        p99 = lat[int(len(lat) * 0.99) - 1] / 1e6
        print(
            f"receive->journal  : p50 {p50:.3f} ms, p99 {p99:.3f} ms "
            f"({len(lat)} frames over a websocket at {args.rate:,.0f} frames/s)"
        )


if __name__ == "__main__":
    main()
