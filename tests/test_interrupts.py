"""Ctrl-C and SIGTERM stop a command within 2 s with exit code 130 and how to resume, keep what
was stored, and a re-run completes (pipelines/interrupts.py); the exit-code table."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from connectors.kis.errors import KisUnreachable, OrderBlocked
from pipelines.cli import _exit, exit_for
from pipelines.errors import InputError, UpdateFailed
from schemas import FETCH_LEDGER, PERIOD_BARS
from simulator.server import RunningSimulator
from warehouse.lake import Lake

AFTER_CLOSE = datetime(2026, 11, 24, 16, 0)
SYMBOLS = "005930,000660,035420,035720,051910,005380"
ARGS = ["ingest", "bars", "--symbols", SYMBOLS, "--start", "2019-01-01"]
CHART = "FHKST03010100"  # the period chart: what the ingest fetches


def test_one_exit_code_table() -> None:
    assert exit_for(InputError("bad symbol")) == (2, "bad symbol")
    assert exit_for(OrderBlocked("kill switch", guard="kill"))[0] == 1  # type: ignore[index]
    assert exit_for(UpdateFailed("update: bars failed"))[0] == 1  # type: ignore[index]
    code, line = exit_for(KisUnreachable("cannot reach h:1: connection refused")) or (0, "")
    assert code == 1 and "cannot reach h:1" in line and "Check KIS_BASE_URL" in line
    code, line = exit_for(KeyboardInterrupt()) or (0, "")
    assert code == 130 and "run the same command again" in line
    assert exit_for(RuntimeError("a bug")) is None  # a bug: see the next test


def test_a_bug_is_one_line_without_verbose_and_its_traceback_with(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _exit(RuntimeError("boom"), ["ingest", "bars"]) == 1
    err = capsys.readouterr().err
    assert "unexpected RuntimeError: boom" in err and "-v" in err and "Traceback" not in err
    with pytest.raises(RuntimeError, match="boom"):
        _exit(RuntimeError("boom"), ["ingest", "bars", "-v"])
    assert _exit(InputError("bad"), ["-v"]) == 2
    assert "pipelines.errors.InputError: bad" in capsys.readouterr().err  # print_exception


def _kisdb(sim: RunningSimulator, home: Path, cwd: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "KIS_"))}
    env |= {"KIS_ENV": "sim", "KIS_BASE_URL": sim.base_url, "KISDB_HOME": str(home)}
    env["PREFECT_HOME"] = str(cwd / "prefect-home")
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", *ARGS],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _interrupt(
    proc: subprocess.Popen[str], sig: signal.Signals, ready: Callable[[], bool]
) -> tuple[float, str]:
    """Send `sig` once `ready()`; seconds until the process ended, and its stderr."""
    deadline = time.monotonic() + 120
    while not ready():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "the command never got going"
        time.sleep(0.05)
    sent = time.monotonic()
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    return time.monotonic() - sent, err


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_mid_ingest_stops_it_keeps_what_was_stored_and_a_rerun_completes(
    make_sim: Callable[..., RunningSimulator], tmp_path: Path
) -> None:
    """SIGTERM mid-ingest: tests/test_startup.py (the same exit; the lake compared with a clean
    run); SIGTERM during retries: below."""
    sig = signal.SIGINT
    sim = make_sim(now=AFTER_CLOSE, rate_limit=40, token_issue_interval=0)
    home = tmp_path / "home"
    calls = sim.stats.requests
    took, err = _interrupt(
        _kisdb(sim, home, tmp_path), sig, lambda: sim.stats.requests > calls + 60
    )
    assert took <= 2.0, f"{sig.name} took {took:.1f} s to end the ingest"
    assert "Traceback" not in err, err
    (line,) = [line for line in err.splitlines() if line.strip()]
    assert "interrupted" in line and "run the same command again to resume" in line

    with Lake.open(home, source="sim") as lake:
        bars, ledger = lake.table(PERIOD_BARS), lake.table(FETCH_LEDGER)
    # Stores are whole series: the ledger's complete ranges are exactly the series in the lake.
    stored = {
        f"{s}:{p}:{str(a).lower()}"
        for s, p, a in bars.select("symbol", "period", "adjusted").unique().iter_rows()
    }
    assert set(ledger.filter(ledger["complete"])["key"]) == stored

    rerun = _kisdb(sim, home, tmp_path)
    assert rerun.wait(timeout=300) == 0, rerun.communicate()[1]
    before = sim.stats.by_tr_id[CHART]
    again = _kisdb(sim, home, tmp_path)
    assert again.wait(timeout=300) == 0, again.communicate()[1]
    assert sim.stats.by_tr_id[CHART] == before, "the re-run left something to fetch"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_during_retries_ends_the_command_at_once(
    make_sim: Callable[..., RunningSimulator], tmp_path: Path
) -> None:
    sim = make_sim(now=AFTER_CLOSE, rate_limit=0, token_issue_interval=0)
    sim.set_faults("http5xx=1")  # every answer a 5xx: the client sleeps between retries
    took, err = _interrupt(
        _kisdb(sim, tmp_path / "home", tmp_path),
        signal.SIGTERM,
        lambda: sim.stats.injected_5xx >= 2,
    )
    assert took <= 2.0, f"SIGTERM took {took:.1f} s during retries"
    assert "interrupted" in err and "Traceback" not in err, err
