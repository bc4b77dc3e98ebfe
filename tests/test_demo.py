"""The demo's realtime and order steps against the embedded simulator: a short recording lands
ticks and quotes in the lake (the market clock runs fast while recording), a paper buy fills and
shows in the balance, the executions and `order_log`; and the sim clock's speed change is smooth."""

from __future__ import annotations

import io
import re
import time
from datetime import datetime
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console

from pipelines import demo, progress
from pipelines.embedded import simulator_at
from simulator.calendar import KrxCalendar
from simulator.clock import SimClock


def test_set_speed_keeps_the_time_and_changes_the_rate() -> None:
    clock = SimClock(KrxCalendar(), pinned=datetime(2026, 11, 24, 10, 0))
    clock.set_speed(600.0)
    before = clock.now()
    time.sleep(0.1)  # the wall time the clock's rate is measured over (the thing under test)
    ran = (clock.now() - before).total_seconds()
    assert 40 <= ran <= 120, ran  # ~60 sim seconds in 0.1 s
    clock.set_speed(1.0)
    at = clock.now()
    assert 0 <= (clock.now() - at).total_seconds() < 1  # no jump back to the old rate's time
    assert at >= before
    with pytest.raises(ValueError):
        clock.set_speed(0)


def _bar(ctx: demo.DemoContext) -> None:
    """A step with a progress bar, as the ingest steps have."""
    reporter = progress.current()
    reporter.start("warming up", 3)
    for _ in range(3):
        time.sleep(0.2)  # long enough for the live display to refresh once
        reporter.advance()
    reporter.done()


def test_demo_records_ticks_and_quotes_and_places_a_paper_order(tmp_path: Path) -> None:
    # An 80-column terminal: the live bar shares the console, so each table is printed once.
    out = io.StringIO()
    terminal = Console(file=out, width=80, force_terminal=True, color_system=None)
    steps = [step for step in demo.STEPS if step[0] in ("ticks and quotes", "paper order")]
    ctx = demo.run_demo(
        tmp_path / "demo", record_seconds=2.0, steps=[*steps, ("a bar", _bar)], console=terminal
    )
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())
    sim = simulator_at(ctx.rt.settings)
    assert sim is not None and sim.clock.speed == 1.0, "the market is back to real time"

    from warehouse import connect

    con = connect(tmp_path / "demo")
    try:
        [(ticks, symbols, quotes)] = con.sql(
            "SELECT (SELECT count(*) FROM ticks), (SELECT count(DISTINCT symbol) FROM ticks), "
            "(SELECT count(*) FROM quotes)"
        ).fetchall()
        log = con.sql("SELECT symbol, qty, status FROM order_log").fetchall()
    finally:
        con.close()
    # 2 s at x60 is 2 minutes of trading for 5 symbols: dozens of prints (speed 1 gave ~1).
    assert ticks >= 20 and symbols >= 3, (ticks, symbols)
    assert quotes >= 10
    assert log == [(demo.DEMO_ORDER_SYMBOL, demo.DEMO_ORDER_QTY, "accepted")]
    titles = (
        "market clock x60",
        "Last 5 ticks",
        "Ticks per symbol",
        "paper order: buy",
        "holdings",
        "cash (KRW)",
        "executions today",
    )
    at = [text.find(title) for title in titles]
    assert all(text.count(title) == 1 for title in titles), [text.count(t) for t in titles]
    assert -1 not in at and at == sorted(at), "every table once, in order"
    assert max(cell_len(line.rstrip()) for line in text.splitlines()) <= 80
    assert "warming up" in text  # the live bar drew on the results' console
    assert ctx.summary.datasets["ticks"].inserted == ticks
    assert any(n.startswith("paper order accepted") for n in ctx.notes)
    assert "삼성전자" in text  # the holding shows up in the balance
