"""kill -9 the recorder (a subprocess), tear its last line, restart: compaction is still exact."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from pipelines.config import Config
from pipelines.recorder.flows import compact
from tests.helpers import (
    SYMBOLS,
    assert_ticks_are_market_runs,
    control_events,
    journal_records,
    sim_settings,
    start_sim,
    tables,
    wait_until,
)
from warehouse.journal import JournalLine, journal_days, journal_gaps, read_journal

ROOT = Path(__file__).resolve().parents[1]


def recorder(sim_env: dict[str, str], seconds: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipelines.recorder",
            "--symbols",
            ",".join(SYMBOLS),
            "--for",
            seconds,
            "--stats-interval",
            "0.5",
        ],
        cwd=ROOT,
        env=sim_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def data_lines(home: Path) -> int:
    days = journal_days(home)
    if not days:
        return 0
    return sum(
        1
        for e in read_journal(home / "journal" / f"{days[0]:%Y%m%d}.journal")
        if isinstance(e, JournalLine) and e.payload.startswith("0|")
    )


@pytest.mark.slow  # as the fault suite kills the recorder under faults: make test-scale
def test_kill_9_then_restart_keeps_the_journal_exact(tmp_path: Path) -> None:
    sim = start_sim(ws_ping_interval=0)
    home = tmp_path / "home"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("KIS", "PREFECT"))},
        "KIS_ENV": "sim",
        "KIS_BASE_URL": sim.base_url,
        "KIS_WS_URL": sim.ws_url,
        "KIS_APP_KEY": sim.app_key,
        "KIS_APP_SECRET": sim.app_secret,
        "KISDB_HOME": str(home),
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "DO_NOT_TRACK": "1",
    }
    try:
        first = recorder(env, "60s")
        wait_until(
            lambda: data_lines(home) >= 5 or first.poll() is not None,
            timeout=30,
            what="five data lines in the journal",
        )
        assert first.poll() is None, first.stderr.read().decode() if first.stderr else ""
        first.kill()  # SIGKILL: no stop line, no final flush
        first.wait(10)
        journal = home / "journal" / f"{journal_days(home)[0]:%Y%m%d}.journal"
        # A crash in the middle of a write: tear the last line.
        size = journal.stat().st_size
        with journal.open("r+b") as f:
            f.truncate(size - 7)
        lines_before = sum(1 for _ in read_journal(journal))

        second = recorder(env, "2s")
        _, err = second.communicate(timeout=60)
        assert second.returncode == 0, err.decode()[-2000:]

        settings = sim_settings(sim, home)
        compact(Config.of(settings))
        out = tables(home)
        compact(Config.of(settings))
        again = tables(home)
    finally:
        sim.stop()

    gaps = journal_gaps(journal)
    assert [g.reason for g in gaps] == ["recorder restarted without a clean stop (crash?)"]
    events = control_events(home)
    assert events.count("start") == 2 and events.count("stop") == 1  # the killed run never stopped
    assert events.count("torn_tail_sealed") == 1
    rejects = out["journal_rejects"]
    assert rejects.height == 1 and rejects["reason"].item().startswith("torn or corrupt line")
    assert rejects["line"].item() == lines_before + 1  # the sealed fragment keeps its own line
    assert out["ticks"].height == journal_records(home)
    # Two runs -> at most two stretches of tape per symbol, plus the one torn frame's hole.
    assert_ticks_are_market_runs(sim, out["ticks"], runs=3)
    assert out["ticks"].filter(pl.col("line") > lines_before + 1).height > 0  # the restart recorded
    for name, frame in out.items():
        assert again[name].equals(frame), name
