"""Scenarios played on the simulator's clock: the real flows and `check`, with the market clock
pinned and moved forward between steps (the runtime's clock is the in-process simulator's)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest

from pipelines.bars import ingest_period_bars
from pipelines.corporate_actions import stale_reason
from pipelines.universe import resolve_symbols
from pipelines.update import update
from schemas import CORPORATE_ACTIONS, SECURITIES
from simulator.server import RunningSimulator
from warehouse.checks import run_checks
from warehouse.lake import Lake
from warehouse.planning import Anchor

# Several full updates each: slow on a loaded machine.
pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.timeout(600)]

DAY = datetime(2026, 11, 24)  # a Tuesday
SYMBOLS = ["005930"]
PARTS = ["holidays", "bars", "index-bars", "minute-bars", "index-minute-bars"]


def _point_at(monkeypatch: pytest.MonkeyPatch, sim: RunningSimulator, home: Path) -> None:
    monkeypatch.setenv("KIS_ENV", "sim")
    monkeypatch.setenv("KIS_BASE_URL", sim.base_url)
    monkeypatch.setenv("KIS_WS_URL", sim.ws_url)
    monkeypatch.setenv("KISDB_HOME", str(home))
    for name in ("KIS_APP_KEY", "KIS_APP_SECRET", "KIS_ACCOUNT"):
        monkeypatch.delenv(name, raising=False)


def _move_to(sim: RunningSimulator, moment: datetime) -> None:
    """Move the pinned market clock forward to `moment` (it only moves forward)."""
    sim.clock.advance(max((moment - sim.clock.now()).total_seconds(), 0.0))


def _update() -> None:
    update(symbols=SYMBOLS, start="2026-11-10", minutes_start="2026-11-23", parts=PARTS)


@contextmanager
def _warnings(logger: str) -> Iterator[list[str]]:
    """The warnings `logger` emits inside the block. caplog misses a flow's records: Prefect's
    logging setup replaces the root handlers when a flow starts."""
    messages: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    handler = Collect(logging.WARNING)
    logging.getLogger(logger).addHandler(handler)
    try:
        yield messages
    finally:
        logging.getLogger(logger).removeHandler(handler)


def _check_clean(home: Path) -> None:
    with Lake.open(home, source="sim") as lake:
        report = run_checks(lake)
    errors = [f for f in report.findings if f.severity == "error"]
    assert report.ok, errors


def _provisional(home: Path) -> dict[str, int]:
    with Lake.open(home, source="sim", read_only=True) as lake:
        return {
            view: lake.con.execute(f"SELECT count(*) FROM {view} WHERE final = false").fetchone()[0]
            for view in ("bars_daily", "bars_weekly", "minutes", "index_daily", "index_minutes")
        } | {
            f"{view}_live": lake.con.execute(
                f"SELECT count(*) FROM {view}_live WHERE final = false"
            ).fetchone()[0]
            for view in ("bars_daily", "minutes")
        }


def _day_bars(home: Path) -> pl.DataFrame:
    with Lake.open(home, source="sim", read_only=True) as lake:
        return lake.con.execute(
            "SELECT * FROM lake.main.period_bars WHERE date = ? ORDER BY ALL", [DAY.date()]
        ).pl()


def test_a_day_in_the_life(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    make_sim: Callable[..., RunningSimulator],
) -> None:
    sim = make_sim(now=DAY.replace(hour=8), rate_limit=0)
    home = tmp_path / "home"
    _point_at(monkeypatch, sim, home)

    _update()  # before the open: yesterday is the last closed session
    _check_clean(home)
    assert _day_bars(home).height == 0

    _move_to(sim, DAY.replace(hour=10, minute=30))
    _update()  # mid-session: today's bars are provisional
    _check_clean(home)
    counts = _provisional(home)
    assert {k: v for k, v in counts.items() if not k.endswith("_live")} == dict.fromkeys(
        ("bars_daily", "bars_weekly", "minutes", "index_daily", "index_minutes"), 0
    )
    assert counts["bars_daily_live"] == 1 and counts["minutes_live"] >= 1
    assert not _day_bars(home)["final"].any()

    _move_to(sim, DAY.replace(hour=16))
    _update()  # after the close: the day is final, as a fresh fetch has it
    _check_clean(home)
    day = _day_bars(home)
    assert day.height and day["final"].all()
    after = _provisional(home)
    assert after["bars_daily_live"] == 0 and after["minutes_live"] == 0

    fresh_home = tmp_path / "fresh"
    _point_at(monkeypatch, make_sim(now=DAY.replace(hour=16), rate_limit=0), fresh_home)
    _update()
    assert day.equals(_day_bars(fresh_home))


def test_a_past_range_takes_the_earliest_snapshot_and_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    snapshots = pl.DataFrame(
        {
            "snapshot_date": [date(2026, 11, 20)] * 2 + [date(2026, 11, 24)],
            "symbol": ["005930", "000660", "005930"],
            "name": ["a", "b", "a"],
            "market": ["KOSPI", "KOSPI", "KOSPI"],
        }
    )
    with Lake.open(tmp_path / "home", source="sim") as lake:
        lake.upsert(SECURITIES, snapshots)
        with caplog.at_level(logging.WARNING, logger="pipelines.universe"):
            assert resolve_symbols(lake=lake, on=date(2026, 11, 21)) == ["000660", "005930"]
            assert not caplog.records
            assert resolve_symbols(lake=lake, on=date(2018, 1, 31)) == ["000660", "005930"]
        assert "survivorship" in caplog.text and "2026-11-20" in caplog.text
        assert resolve_symbols(lake=lake) == ["005930"]


SPLIT_SYMBOL = "086520"  # 1:5 on 2024-04-16 in the synthetic universe
BEFORE_SPLIT = datetime(2024, 4, 10, 16)
AFTER_SPLIT = datetime(2024, 4, 22, 16)
SPLIT_PARTS = ["holidays", "corporate-actions", "bars"]
MERGED = date(2024, 1, 12)  # 셀트리온헬스케어 into 셀트리온: the KSD merger schedule's listing day


def _bars(home: Path, adjusted: bool, snapshot: int | None = None) -> pl.DataFrame:
    with Lake.open(home, source="sim", read_only=True, snapshot=snapshot) as lake:
        return lake.con.execute(
            "SELECT * EXCLUDE (final) FROM lake.main.period_bars "
            "WHERE symbol = ? AND period = 'D' AND adjusted = ? ORDER BY date",
            [SPLIT_SYMBOL, adjusted],
        ).pl()


def _split_update() -> None:
    update(symbols=[SPLIT_SYMBOL], start="2024-01-02", parts=SPLIT_PARTS)


def test_a_split_crossing_restates_the_adjusted_history(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    make_sim: Callable[..., RunningSimulator],
) -> None:
    sim = make_sim(now=BEFORE_SPLIT, rate_limit=0)
    home = tmp_path / "home"
    _point_at(monkeypatch, sim, home)
    _split_update()
    adjusted_before, raw_before = _bars(home, True), _bars(home, False)
    with Lake.open(home, source="sim", read_only=True) as lake:
        snapshot_before = lake.current_snapshot()

    _move_to(sim, AFTER_SPLIT)
    _split_update()

    fresh_home = tmp_path / "fresh"
    _point_at(monkeypatch, make_sim(now=AFTER_SPLIT, rate_limit=0), fresh_home)
    _split_update()
    adjusted_after = _bars(home, True)
    assert adjusted_after.equals(_bars(fresh_home, True))  # row for row
    raw_after = _bars(home, False)
    assert raw_after.filter(pl.col("date") <= BEFORE_SPLIT.date()).equals(raw_before)
    with Lake.open(home, source="sim", read_only=True) as lake:
        actions = lake.table(CORPORATE_ACTIONS)
    assert {
        (r["symbol"], r["date"], r["kind"])
        for r in actions.iter_rows(named=True)
        if r["source"].startswith("ksdinfo")
    } == {(SPLIT_SYMBOL, date(2024, 4, 16), "par_value_change"), ("091990", MERGED, "merger")}
    assert _bars(home, True, snapshot=snapshot_before).equals(adjusted_before)

    old = adjusted_before.filter(pl.col("date") <= BEFORE_SPLIT.date())["close"]
    new = adjusted_after.filter(pl.col("date") <= BEFORE_SPLIT.date())["close"]
    # The pre-event adjusted history was on the old basis and is restated by the 1:5 ratio.
    assert (old / new).round(1).unique().to_list() == [5.0]


def _adjusted(days: list[date], closes: list[int], **events: list[object]) -> pl.DataFrame:
    n = len(days)
    return pl.DataFrame(
        {
            "symbol": [SPLIT_SYMBOL] * n,
            "period": ["D"] * n,
            "date": days,
            "close": closes,
            "ex_right_code": events.get("ex_right_code", ["00"] * n),
            "split_ratio": events.get("split_ratio", [0.0] * n),
            "revaluation_reason": events.get("revaluation_reason", ["00"] * n),
        },
        schema_overrides={"split_ratio": pl.Float64},
    )


def test_stale_reason_sees_the_overlap_the_chart_and_the_schedule() -> None:
    d1, d2, d3 = date(2024, 4, 15), date(2024, 4, 16), date(2024, 4, 17)
    anchor = Anchor(first=date(2024, 1, 2), newest=d1, close=100_000)
    assert stale_reason(_adjusted([d1, d2, d3], [100_000, 20_500, 21_000]), anchor, []) is None
    moved = stale_reason(_adjusted([d1, d2], [20_000, 20_500]), anchor, [])
    assert moved is not None and "was 100000, now 20000" in moved
    marked = _adjusted([d1, d2], [100_000, 20_500], split_ratio=[0.0, 0.2])
    assert stale_reason(marked, anchor, []) == "split on 2024-04-16 (chart)"
    ex = _adjusted([d1, d2], [100_000, 99_000], ex_right_code=["00", "01"])
    assert stale_reason(ex, anchor, []) == "ex_rights on 2024-04-16 (chart)"
    scheduled = stale_reason(_adjusted([d1, d2], [100_000, 20_500]), anchor, [d2])
    assert scheduled == "corporate action on 2024-04-16 (KSD schedule)"
    # An event the stored history already reflects is no reason.
    assert stale_reason(_adjusted([d1, d2], [100_000, 20_500]), anchor, [d1]) is None


def test_a_first_update_without_symbols_takes_the_largest_names_and_keeps_them(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    make_sim: Callable[..., RunningSimulator],
) -> None:
    sim = make_sim(now=DAY.replace(hour=16), rate_limit=0)
    home = tmp_path / "home"
    _point_at(monkeypatch, sim, home)
    update(start="2026-11-23", parts=["bars"])
    with Lake.open(home, source="sim", read_only=True) as lake:
        first = lake.con.execute("SELECT DISTINCT symbol FROM bars_daily ORDER BY 1").pl()
    assert 30 <= first.height <= 60  # the top 30 by market cap of KOSPI and of KOSDAQ
    sim.stats.by_path.clear()
    update(start="2026-11-23", parts=["bars"])
    assert not any(p.endswith("market-cap") for p in sim.stats.by_path)  # the stored symbols


DIVIDEND_SYMBOL = "005930"  # pays a year-end dividend; 2023's ex-dividend day is 2023-12-27


def test_a_dividend_is_recorded_and_restates_nothing(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    make_sim: Callable[..., RunningSimulator],
) -> None:
    sim = make_sim(now=datetime(2023, 12, 20, 16), rate_limit=0)
    home = tmp_path / "home"
    _point_at(monkeypatch, sim, home)

    def run() -> pl.DataFrame:
        update(symbols=[DIVIDEND_SYMBOL], start="2023-12-01", parts=SPLIT_PARTS)
        with Lake.open(home, source="sim", read_only=True) as lake:
            return lake.con.execute(
                "SELECT date, close FROM bars_daily WHERE symbol = ? ORDER BY date",
                [DIVIDEND_SYMBOL],
            ).pl()

    before = run()
    _move_to(sim, datetime(2024, 1, 5, 16))
    with _warnings("pipelines.corporate_actions") as warned:
        after = run()
    assert not warned
    assert after.filter(pl.col("date") <= before["date"].max()).equals(before)
    with Lake.open(home, source="sim", read_only=True) as lake:
        actions = lake.con.execute(
            "SELECT date, kind, amount, source FROM corporate_actions WHERE symbol = ? "
            "ORDER BY date, source",
            [DIVIDEND_SYMBOL],
        ).fetchall()
    assert actions == [
        (date(2023, 12, 27), "ex_dividend", None, "chart"),
        (date(2023, 12, 28), "cash_dividend", 1444, "ksdinfo:dividend"),
    ]


DELISTED = "117930"  # 한진해운: delisted on 2017-03-07, last trading day 2017-03-06


def test_a_delisted_symbol_stays_with_its_last_trading_day(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    make_sim: Callable[..., RunningSimulator],
) -> None:
    sim = make_sim(now=datetime(2017, 3, 6, 16), rate_limit=0)  # its last day, after the close
    home = tmp_path / "home"
    _point_at(monkeypatch, sim, home)
    parts = ["holidays", "securities", "bars", "stock-info"]
    symbols = [DELISTED, "005930"]
    update(symbols=symbols, start="2017-02-01", parts=parts)
    _move_to(sim, datetime(2017, 3, 20, 16))
    # KIS refuses a delisted code's chart (MCA05918): its bars stay as stored; its listing info
    # (search-stock-info) still answers, with the delisting date.
    update(symbols=["005930"], start="2017-02-01", parts=parts)
    update(symbols=[DELISTED], parts=["stock-info"])
    _check_clean(home)
    with Lake.open(home, source="sim", read_only=True) as lake:
        listings = lake.con.execute(
            "SELECT symbol, first_trading_day, last_trading_day, delisting_date, delisted "
            "FROM listings WHERE list_contains(?, symbol) ORDER BY symbol",
            [symbols],
        ).fetchall()
        kept = lake.con.execute(
            "SELECT count(*) FROM bars_daily WHERE symbol = ?", [DELISTED]
        ).fetchone()
    first = date(2017, 2, 1)
    assert listings == [
        ("005930", first, date(2017, 3, 20), None, False),
        (DELISTED, first, date(2017, 3, 6), date(2017, 3, 7), True),
    ]
    assert kept is not None and kept[0] == 23  # every trading day 2017-02-01..03-06
    # Without symbols, an update takes the stored ones but the delisted: it does not fail on
    # KIS's refusal of a delisted code.
    update(start="2017-02-01", parts=["bars"])


CSAT = datetime(2026, 11, 19)  # 수능: KRX opens at 10:00 and closes at 16:30
HOLIDAY = datetime(2026, 12, 25)
FIRST_DAY = datetime(2027, 1, 4)  # the year's first trading day opens at 10:00


def _today_rows(home: Path, day: date) -> dict[str, int]:
    """Rows dated `day` in the default daily and minute views and in their live versions."""
    with Lake.open(home, source="sim", read_only=True) as lake:
        return {
            view: lake.con.execute(
                f"SELECT count(*) FROM {view} WHERE CAST(date AS DATE) = ?", [day]
            ).fetchone()[0]
            for view in ("bars_daily", "bars_daily_live", "index_daily", "index_daily_live")
        }


def test_check_passes_on_late_opens_and_holidays(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    make_sim: Callable[..., RunningSimulator],
) -> None:
    """The clock at moments a plain 09:00-15:30 rule gets wrong: before a late open, between the
    usual close and the CSAT close, on a holiday, before the first session of the year."""
    sim = make_sim(now=CSAT.replace(hour=9, minute=30), rate_limit=0)
    home = tmp_path / "home"
    _point_at(monkeypatch, sim, home)
    none = dict.fromkeys(("bars_daily", "bars_daily_live", "index_daily", "index_daily_live"), 0)
    # (moment, the day's rows expected in each view after an update then)
    steps = [
        (CSAT.replace(hour=9, minute=30), none),  # not open yet
        (CSAT.replace(hour=16), none | {"bars_daily_live": 1, "index_daily_live": 1}),
        (HOLIDAY.replace(hour=11), none),
        (FIRST_DAY.replace(hour=9, minute=30), none),
    ]
    for moment, expected in steps:
        _move_to(sim, moment)
        update(
            symbols=SYMBOLS,
            indices=["0001"],
            start="2026-11-10",
            minutes_start=str(moment.date()),
            parts=PARTS,
        )
        _check_clean(home)
        assert _today_rows(home, moment.date()) == expected, moment
    # After the close of the CSAT day, stored on the holiday: final and a fresh fetch's equal.
    with Lake.open(home, source="sim", read_only=True) as lake:
        final = lake.con.execute(
            "SELECT bool_and(final) FROM lake.main.period_bars WHERE date = ?", [CSAT.date()]
        ).fetchone()
    assert final == (True,)


def test_a_backfill_older_than_every_snapshot_uses_the_earliest_and_warns(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    make_sim: Callable[..., RunningSimulator],
) -> None:
    """`kisdb ingest bars --universe all --end 2018-01-05` on a lake whose only securities
    snapshot is of 2026: it runs on that snapshot and says so, instead of failing."""
    sim = make_sim(now=DAY.replace(hour=16), rate_limit=0)
    home = tmp_path / "home"
    _point_at(monkeypatch, sim, home)
    update(parts=["securities"])
    with _warnings("pipelines.universe") as warned:
        ingest_period_bars(
            universe="all", start="2018-01-02", end="2018-01-05", periods=["D"], adjusted=[False]
        )
    assert "survivorship: no securities snapshot on or before 2018-01-05" in "\n".join(warned)
    with Lake.open(home, source="sim", read_only=True) as lake:
        days = lake.con.execute(
            "SELECT count(DISTINCT symbol), min(date), max(date) FROM bars_daily_raw"
        ).fetchone()
    assert days is not None and days[0] >= 30
    assert (days[1], days[2]) == (date(2018, 1, 2), date(2018, 1, 5))
