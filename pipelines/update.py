"""`update`: the incremental job the schedules run. Every part fetches only what is missing.

Order matters: the calendar first (trading days drive every plan), then the stock master (the
default universe), then bars, minute bars and a rankings snapshot. A failing part does not stop
the others; the first failure is raised once all have run.
"""

from __future__ import annotations

from collections.abc import Callable

from pipelines.bars import (
    DEFAULT_INDICES,
    ingest_index_bars,
    ingest_overseas_bars,
    ingest_period_bars,
)
from pipelines.engine import flow
from pipelines.errors import InputError, UpdateFailed
from pipelines.holidays_flow import ingest_holidays
from pipelines.minutes import (
    ingest_index_minute_bars,
    ingest_minute_bars,
    ingest_overseas_minute_bars,
)
from pipelines.rankings import ingest_rankings
from pipelines.runs import flow_run
from pipelines.securities import ingest_securities
from pipelines.summary import RunSummary

PARTS = ("holidays", "securities", "bars", "index-bars", "overseas-bars", "minute-bars", "rankings")
# Opt-in parts (name them in `parts`): snapshots of the latest bars, worth running intraday or
# after a session rather than in the weekly catch-up (index-minute-bars: one call per index;
# overseas-minute-bars: the `overseas` symbols, from their last stored bar).
EXTRA_PARTS = ("index-minute-bars", "overseas-minute-bars")


@flow("update")
def update(
    symbols: list[str] | None = None,
    universe: str | None = None,
    indices: list[str] | None = None,
    overseas: list[str] | None = None,
    minute_symbols: list[str] | None = None,
    start: str | None = None,
    minutes_start: str | None = None,
    rankings: bool = True,
    parts: list[str] | None = None,
    home: str | None = None,
) -> RunSummary:
    """Bring every dataset up to date. Symbols: parameters, a universe file, or the securities
    table; minute bars for `minute_symbols` (default: the same symbols). `parts` picks parts by
    name (default PARTS; EXTRA_PARTS only when named)."""
    wanted = set(parts or PARTS)
    unknown = sorted(wanted - set(PARTS) - set(EXTRA_PARTS))
    if unknown:
        raise InputError(
            f"unknown part {', '.join(unknown)}: choose from {', '.join(PARTS + EXTRA_PARTS)}"
        )
    steps: list[tuple[str, Callable[[], RunSummary]]] = [
        ("holidays", lambda: ingest_holidays(start=start, home=home)),
        ("securities", lambda: ingest_securities(home=home)),
        (
            "bars",
            lambda: ingest_period_bars(symbols=symbols, universe=universe, start=start, home=home),
        ),
        (
            "index-bars",
            lambda: ingest_index_bars(
                codes=indices or list(DEFAULT_INDICES), start=start, home=home
            ),
        ),
        (
            "minute-bars",
            lambda: ingest_minute_bars(
                symbols=minute_symbols or symbols,
                universe=None if minute_symbols else universe,
                start=minutes_start,
                home=home,
            ),
        ),
    ]
    if overseas:
        steps.insert(
            4,
            (
                "overseas-bars",
                lambda: ingest_overseas_bars(symbols=overseas, start=start, home=home),
            ),
        )
    if rankings:
        steps.append(("rankings", lambda: ingest_rankings(home=home)))
    steps.append(
        (
            "index-minute-bars",
            lambda: ingest_index_minute_bars(codes=indices or list(DEFAULT_INDICES), home=home),
        )
    )
    if overseas:
        steps.append(
            (
                "overseas-minute-bars",
                lambda: ingest_overseas_minute_bars(
                    symbols=overseas, start=minutes_start, home=home
                ),
            )
        )
    failures: list[tuple[str, BaseException]] = []
    with flow_run("update", home) as run:
        for name, step in steps:
            if name not in wanted:
                continue
            try:
                run.summary.merge(step())
            except Exception as exc:  # noqa: BLE001 - the other parts still run
                failures.append((name, exc))
                run.summary.errors.append(f"{name}: {exc}")
    if failures:
        raise UpdateFailed.of(failures)
    return run.summary
