"""The KRX calendar (chk-holiday): every calendar day with its open/closed flags.

KIS asks callers to keep chk-holiday to about one call a day, so the flow fetches only days not
stored yet, plus the days from today on (new holidays get announced: an election day, a
substitute holiday). The first run covers today .. +N days unless a start is given.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import partial

from pipelines.engine import flow
from pipelines.jobs import FetchJob, run_jobs
from pipelines.ranges import check_range, parse_date
from pipelines.runs import flow_run
from pipelines.summary import RunSummary
from schemas import HOLIDAYS
from warehouse.ledger import merge_ranges
from warehouse.planning import stored_dates

AHEAD_DAYS = 30


def missing_days(
    first: date, last: date, stored: set[date], refresh_from: date
) -> list[tuple[date, date]]:
    """Calendar-day ranges in [first, last] not stored, plus [refresh_from, last] always (pure)."""
    ranges = []
    d = first
    while d <= last:
        if d not in stored or d >= refresh_from:
            ranges.append((d, d))
        d += timedelta(days=1)
    return merge_ranges(ranges)


@flow("holidays")
def ingest_holidays(
    start: str | None = None,
    end: str | None = None,
    ahead: int = AHEAD_DAYS,
    home: str | None = None,
) -> RunSummary:
    """Holidays from `start` (default: today, or the day after the last stored) to today + ahead."""
    with flow_run("holidays", home) as run:
        today = run.today
        first = parse_date(start, name="start", today=today) or today
        last = parse_date(end, name="end", today=today) or today + timedelta(days=ahead)
        check_range(first, last)
        stored = stored_dates(run.rt.lake, HOLIDAYS, first, last)
        spans = missing_days(first, last, stored, refresh_from=today)
        client = run.rt.client
        jobs = [
            FetchJob(HOLIDAYS, {}, lo, hi, partial(client.holidays, lo, hi), f"holidays {lo}..{hi}")
            for lo, hi in spans
        ]
        # Calendar facts are final once published: the whole range counts as settled.
        run_jobs(run.rt, jobs, run.summary, label="holidays", settled=last, run_id=run.run_id)
        return run.summary
