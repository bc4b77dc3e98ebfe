"""One recorder per KISDB_HOME: a second one (another process or the same) is refused at once,
with an error naming the lock file, and writes nothing; the lock is free again afterwards."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from pipelines.recorder import (
    LOCK_NAME,
    RecorderBusy,
    RecorderConfig,
    RecordResult,
    journal_lock,
    record,
)
from simulator.server import RunningSimulator
from tests.helpers import await_until, sim_settings
from warehouse.journal import journal_dir

ROOT = Path(__file__).resolve().parents[1]


def config(seconds: float) -> RecorderConfig:
    return RecorderConfig(
        symbols=("005930",), duration=seconds, subscribe_pause=0.0, stats_interval=0.5
    )


def test_a_recorder_in_another_process_blocks_the_second(
    make_sim: Callable[..., RunningSimulator],
    tmp_path: Path,
) -> None:
    sim = make_sim(now=datetime(2026, 11, 24, 10, 0), speed=30.0)
    settings = sim_settings(sim, tmp_path)
    lock_path = journal_dir(tmp_path) / LOCK_NAME
    # The other process holds the same OS lock the recorder takes (the connector's FileLock).
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import sys
            from pathlib import Path
            from connectors.kis.filelock import FileLock
            lock = FileLock(Path({str(lock_path)!r}))
            lock.acquire()
            print("held", flush=True)
            sys.stdin.read()
        """),
        ],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(RecorderBusy) as refused:
            asyncio.run(record(settings, config(5.0)))
        assert str(lock_path) in str(refused.value)
        assert not list(journal_dir(tmp_path).glob("*.journal")), (
            "the refused recorder wrote nothing"
        )
    finally:
        holder.communicate("", timeout=10)  # EOF on stdin: the holder exits, the OS drops its lock
    result = asyncio.run(record(settings, config(0.5)))  # free again
    assert result.reason == "duration"


def test_two_recorders_in_one_process_and_the_lock_is_released(
    make_sim: Callable[..., RunningSimulator],
    tmp_path: Path,
) -> None:
    sim = make_sim(now=datetime(2026, 11, 24, 10, 0), speed=30.0)
    settings = sim_settings(sim, tmp_path)

    async def both() -> tuple[RecordResult, BaseException | None]:
        stop = asyncio.Event()
        first = asyncio.create_task(record(settings, config(30.0), stop=stop))
        owner = journal_dir(tmp_path) / "recorder.owner"
        # The first one holds the lock once it wrote its owner note.
        await await_until(owner.exists, what="the first recorder's owner note")
        try:
            await record(settings, config(1.0))
            second_error = None
        except RecorderBusy as exc:
            second_error = exc
        stop.set()
        return await first, second_error

    first, error = asyncio.run(both())
    assert isinstance(error, RecorderBusy)
    assert LOCK_NAME in str(error) and "pid " in str(error)  # says which process holds it
    assert first.reason == "stopped"
    with journal_lock(tmp_path) as path:  # released by the first one
        assert path.name == LOCK_NAME
