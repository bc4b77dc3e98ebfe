"""The recorder against the real simulator on loopback: record, drop, malformed frames, notices."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from connectors.kis.api import AsyncKisClient, KisClient
from connectors.kis.orders.wire import ORDER_BUY
from connectors.kis.settings import Settings
from connectors.kis.ws_client import RealtimeClient, ReconnectPolicy
from connectors.kis.ws_protocol import Subscription, SubscriptionLimitError
from pipelines.config import Config
from pipelines.recorder import RecorderConfig, record
from pipelines.recorder.flows import compact, replay
from schemas.clock import KST
from simulator.server import RunningSimulator
from tests.helpers import (
    SYMBOLS,
    assert_ticks_are_market_runs,
    await_until,
    control_events,
    counter_reaches,
    journal_entries,
    journal_records,
    sim_settings,
    start_sim,
    tables,
    wait_until,
)
from warehouse.journal import journal_days, journal_gaps

FAST = ReconnectPolicy(base=0.05, cap=0.5, jitter=0.0, healthy_after=0.5)


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    running = start_sim(ws_ping_interval=0.3)
    yield running
    running.stop()


def run_recorder(
    settings: Settings,
    seconds: float,
    *,
    until: Callable[[], bool] | None = None,
    grace: float = 0.0,
    timeout: float = 30.0,
    **kwargs: Any,
) -> Any:
    """Record for `seconds`; with `until`, keep going (up to `timeout`) until it holds, then
    `grace` more seconds, so tests that need some traffic do not depend on this machine's speed."""
    config = RecorderConfig(
        symbols=kwargs.pop("symbols", SYMBOLS),
        duration=seconds if until is None else timeout,
        subscribe_pause=0.0,
        stats_interval=0.5,
        policy=FAST,
        **kwargs,
    )

    async def main() -> Any:
        stop = asyncio.Event()

        async def watch() -> None:
            await asyncio.sleep(seconds)
            while until is not None and not until():
                await asyncio.sleep(0.05)
            await asyncio.sleep(grace)
            stop.set()

        watcher = asyncio.create_task(watch()) if until is not None else None
        try:
            return await record(settings, config, stop=stop)
        finally:
            if watcher is not None:
                watcher.cancel()

    return asyncio.run(main())


def test_record_compact_matches_what_the_simulator_sent(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    settings = sim_settings(sim, tmp_path)

    def notices_subscribed() -> bool:
        return any(
            e.kind == "D" and "H0STCNI0" in e.payload and "OPSP0000" in e.payload
            for e in journal_entries(tmp_path)
        )

    def buy_market() -> None:  # a fill while recording -> encrypted notices
        wait_until(notices_subscribed, what="the notice subscription's ack in the journal")
        with KisClient(settings) as kis:
            kis.call(
                ORDER_BUY,
                body={
                    "CANO": settings.cano,
                    "ACNT_PRDT_CD": settings.product_code,
                    "PDNO": "005930",
                    "ORD_DVSN": "01",
                    "ORD_QTY": "3",
                    "ORD_UNPR": "0",
                    "EXCG_ID_DVSN_CD": "KRX",
                },
                lane="order",
            )

    buyer = threading.Thread(target=buy_market)
    buyer.start()
    result = run_recorder(settings, 3.0, quotes=True, notices=True)
    buyer.join()
    assert result.reason == "duration" and result.stats.dropped == 0
    assert result.stats.frames["H0STCNT0"] > 0 and result.stats.frames["H0STASP0"] > 0

    compact(Config.of(settings))
    out = tables(tmp_path)
    sent = sim.stats.snapshot()
    received = out["ticks"].height + out["quotes"].height + out["execution_notices"].height
    assert received == sent["ws_records_sent"] == journal_records(tmp_path)
    assert out["journal_rejects"].is_empty()
    assert_ticks_are_market_runs(sim, out["ticks"])
    assert set(out["ticks"]["symbol"]) == set(SYMBOLS) == set(out["quotes"]["symbol"])
    assert (out["quotes"]["ask_px_1"] > out["quotes"]["bid_px_1"]).all()

    notices = out["execution_notices"].sort("line")
    assert notices.height >= 2, "expected the order acknowledgement and its fill"
    ack, fill = notices.row(0, named=True), notices.filter(pl.col("is_fill")).row(0, named=True)
    assert not ack["is_fill"] and ack["order_qty"] == 3 and ack["symbol"] == "005930"
    assert fill["fill_qty"] == 3 and fill["fill_price"] > 0 and fill["order_no"] == ack["order_no"]
    assert fill["account"] == "**" + sim.account_number[-2:]
    assert fill["ts_recv"].tzinfo is not None

    # Replay yields the stored rows straight from the journal, in journal order.
    day = journal_days(tmp_path)[0]
    replayed = list(replay(tmp_path, day))
    assert len(replayed) == received
    order = [(row["line"], row["record"]) for _, row in replayed]
    assert order == sorted(order)
    for name in ("ticks", "quotes", "execution_notices"):
        rows = pl.DataFrame([row for table, row in replayed if table == name])
        keys = ["line", "record", "symbol", "ts_event"]
        assert rows.select(keys).sort(keys).equals(out[name].select(keys).sort(keys)), name

    # Compacting again changes nothing.
    compact(Config.of(settings))
    again = tables(tmp_path)
    for name, frame in out.items():
        assert again[name].equals(frame), name


def test_dropped_connection_reconnects_resubscribes_and_marks_the_gap(tmp_path: Path) -> None:
    sim = start_sim(faults="ws_drop_after=0.8s", ws_ping_interval=0)
    try:
        settings = sim_settings(sim, tmp_path)
        result = run_recorder(
            settings, 2.0, until=counter_reaches(sim, "ws_connections", 3), grace=0.3
        )
        compact(Config.of(settings))
        out = tables(tmp_path)
        sent = sim.stats.snapshot()["ws_records_sent"]
    finally:
        sim.stop()
    connects = result.stats.reconnects + 1
    assert result.stats.reconnects >= 2
    events = control_events(tmp_path)
    assert events.count("connect") == connects
    assert events.count("disconnect") == connects  # every drop and the final stop are marked
    assert events.count("subscribe") == connects * len(SYMBOLS)  # resubscribed each time
    assert out["ticks"].height == sent == journal_records(tmp_path)
    assert_ticks_are_market_runs(sim, out["ticks"], runs=connects)
    gaps = journal_gaps(tmp_path / "journal" / f"{journal_days(tmp_path)[0]:%Y%m%d}.journal")
    assert len(gaps) == result.stats.reconnects
    assert all(g.end_ns is not None and g.end_ns > g.start_ns for g in gaps)
    assert all(g.reason.startswith("disconnect: connection") for g in gaps)


def test_malformed_and_refused_frames_are_kept_aside(tmp_path: Path) -> None:
    sim = start_sim(faults="malformed=0.3", ws_ping_interval=0)
    try:
        settings = sim_settings(sim, tmp_path)
        run_recorder(settings, 1.0, until=counter_reaches(sim, "ws_frames_sent", 40))
        results = compact(Config.of(settings))
        out = tables(tmp_path)
        sent_frames = sim.stats.snapshot()["ws_frames_sent"]
    finally:
        sim.stop()
    rejects = out["journal_rejects"]
    assert rejects.height > 0 and out["ticks"].height > 0
    assert (
        out["ticks"]["line"].n_unique() + rejects.height == sent_frames
    )  # every frame accounted for
    # What was kept is exact; each rejected frame is one hole in the tape, nothing more.
    assert_ticks_are_market_runs(sim, out["ticks"], runs=1 + rejects.height)
    assert rejects["reason"].str.contains("fields for|header|not a data frame").all()
    # Each hole is listed with the gaps, at the time the bad frame came in.
    holes = [gap for result in results for gap in result.gaps if "rejected" in gap.reason]
    assert len(holes) == rejects.height
    assert sorted(gap.start_ns for gap in holes) == sorted(
        rejects["ts_recv"].dt.epoch("ns").to_list()
    )


def test_unknown_tr_and_bad_symbol_are_refused_but_the_stream_goes_on(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    frames: list[str] = []

    class Sink:
        def on_message(self, ts_ns: int, kind: str, text: str) -> None:
            frames.append(text)

        def on_control(self, ts_ns: int, event: str, fields: dict[str, Any]) -> None:
            events.append((event, fields))

    async def main() -> RealtimeClient:
        async with AsyncKisClient(sim_settings(sim, tmp_path)) as kis:
            client = RealtimeClient(
                sim.ws_url,
                approval_key=lambda renew: kis.approval_key(renew=renew),
                subscriptions=[
                    Subscription("H0STXXX0", "005930"),
                    Subscription("H0STCNT0", "999999"),
                    Subscription("H0STCNT0", "005930"),
                ],
                sink=Sink(),
                policy=FAST,
                subscribe_pause=0.0,
            )
            stop = asyncio.Event()
            asyncio.get_running_loop().call_later(1.5, stop.set)
            await client.run(stop)
            return client

    client = asyncio.run(main())
    actions = {(f["tr_id"], f["tr_key"], f["action"]) for e, f in events if e == "ack"}
    assert ("H0STXXX0", "005930", "drop") in actions and ("H0STCNT0", "999999", "drop") in actions
    assert ("H0STCNT0", "005930", "subscribed") in actions
    assert any(
        f.startswith("0|H0STCNT0|001|005930^") or f.startswith("0|H0STCNT0|") for f in frames
    )
    assert any('"PINGPONG"' in f for f in frames)  # heartbeats arrive and the session stays up
    assert client.stats.connects == 1


def test_too_many_symbols_are_refused_before_connecting(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    symbols = tuple(f"{i:06d}" for i in range(21))
    with pytest.raises(SubscriptionLimitError, match="42 websocket registrations"):
        run_recorder(sim_settings(sim, tmp_path), 1.0, symbols=symbols, quotes=True)
    assert sim.stats.snapshot()["ws_frames_sent"] == 0


def test_a_silent_stream_is_reported_stale(tmp_path: Path) -> None:
    quiet = start_sim(now=datetime(2026, 11, 24, 20, 0, tzinfo=KST), speed=1.0, ws_ping_interval=0)
    try:
        result = run_recorder(sim_settings(quiet, tmp_path), 1.5, stale_after=0.4)
    finally:
        quiet.stop()
    assert sum(result.stats.frames.values()) == 0
    assert control_events(tmp_path).count("stale") == 1  # once per episode, not every check


def test_a_full_queue_drops_counts_and_marks_the_hole() -> None:
    import queue

    from pipelines.recorder.stats import RecorderStats
    from pipelines.recorder.writer import JournalSink

    q: queue.Queue[Any] = queue.Queue(maxsize=2)
    stats = RecorderStats()
    sink = JournalSink(q, stats)
    for i in range(5):
        sink.on_message(i, "D", f"0|H0STCNT0|001|{i}")
    assert stats.dropped == 3 and stats.frames["H0STCNT0"] == 5
    q.get_nowait(), q.get_nowait()  # the writer catches up
    sink.on_message(9, "D", "0|H0STCNT0|001|9")
    overflow, frame = q.get_nowait(), q.get_nowait()
    assert overflow[1] == "C" and '"overflow"' in overflow[2] and '"dropped":3' in overflow[2]
    assert frame == (9, "D", "0|H0STCNT0|001|9")


def test_compact_flow_function_reports_per_journal(sim: RunningSimulator, tmp_path: Path) -> None:
    from pipelines.recorder.flows import compact_flow

    settings = sim_settings(sim, tmp_path)
    run_recorder(settings, 1.0)
    day = journal_days(tmp_path)[0]
    (report,) = compact_flow.fn(date_text=day.isoformat(), home=str(tmp_path))
    assert report["rows"]["ticks"] == journal_records(tmp_path) and report["rejects"] == 0


def test_kisdb_replay_prints_the_rows_compaction_stores(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    import json

    from typer.testing import CliRunner

    from pipelines.cli import app

    run_recorder(sim_settings(sim, tmp_path), 0.5, until=counter_reaches(sim, "ws_records_sent", 2))
    day = journal_days(tmp_path)[0]
    args = ["replay", "--date", day.isoformat(), "--limit", "2", "--home", str(tmp_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert len(rows) == 2 and {r["table"] for r in rows} == {"ticks"}
    assert rows[0]["symbol"] in SYMBOLS and rows[0]["price"] > 0
    assert (rows[0]["line"], rows[0]["record"]) < (rows[1]["line"], rows[1]["record"])


def test_the_deadline_counts_until_on_the_clock_and_duration_on_the_wall() -> None:
    from pipelines.recorder.session import deadline

    now = datetime(2026, 11, 24, 15, 0, tzinfo=KST)
    until = RecorderConfig(symbols=SYMBOLS, until=now + timedelta(minutes=40))
    assert deadline(until, now, elapsed=100.0) == (2400.0, "until")
    assert deadline(until, now + timedelta(hours=1), elapsed=0.0) == (0.0, "until")  # past: stop
    both = RecorderConfig(symbols=SYMBOLS, until=until.until, duration=60.0)
    assert deadline(both, now, elapsed=15.0) == (45.0, "duration")
    assert deadline(RecorderConfig(symbols=SYMBOLS), now, elapsed=5.0) == (None, "")


def test_until_is_read_on_the_clock_the_recorder_is_given(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    """A stepped clock: `until` is an hour ahead on it; the recorder stops when the clock is moved
    past it (a wall-clock deadline would run into the safety `duration` instead)."""
    from schemas.clock import FuncClock

    moment = [datetime.now(KST)]
    clock = FuncClock(lambda: moment[0], name="stepped")
    config = RecorderConfig(
        symbols=SYMBOLS,
        until=moment[0] + timedelta(hours=1),
        duration=20.0,
        subscribe_pause=0.0,
        policy=FAST,
    )

    async def main() -> Any:
        async def step() -> None:
            await await_until(counter_reaches(sim, "ws_connections", 1), what="a connection")
            moment[0] += timedelta(hours=2)

        stepper = asyncio.create_task(step())
        try:
            return await record(sim_settings(sim, tmp_path), config, clock=clock)
        finally:
            await stepper

    started = time.monotonic()
    result = asyncio.run(main())
    assert result.reason == "until"
    assert time.monotonic() - started < 15.0
