"""The `securities` table: one dated snapshot a day of the KOSPI/KOSDAQ stock master files.

Master files describe today only, so history is built by keeping every day's snapshot: a name
delisted next year stays in this year's snapshots (no survivorship bias in universes drawn from
the table as of a past date).
"""

from __future__ import annotations

from functools import partial

from connectors.kis.master import securities_snapshot
from pipelines.engine import flow
from pipelines.errors import InputError
from pipelines.jobs import FetchJob, run_jobs
from pipelines.runs import flow_run
from pipelines.summary import RunSummary
from schemas import SECURITIES

MARKETS = ("KOSPI", "KOSDAQ")


@flow("securities")
def ingest_securities(
    markets: list[str] | None = None, force: bool = False, home: str | None = None
) -> RunSummary:
    """Download today's master files into the securities table (once a day unless `force`)."""
    chosen = [m.upper() for m in (markets or MARKETS)]
    bad = [m for m in chosen if m not in MARKETS]
    if bad:
        raise InputError(f"unknown market {', '.join(bad)}: choose KOSPI and/or KOSDAQ")
    with flow_run("securities", home) as run:
        today = run.today
        stored = run.rt.lake.latest(SECURITIES, "snapshot_date")
        if stored == today and not force:
            run.summary.skipped += 1
            return run.summary
        call = partial(securities_snapshot, run.rt.master_url, today, chosen)
        job = FetchJob(SECURITIES, {}, today, today, call, f"securities {today}")
        run_jobs(run.rt, [job], run.summary, label="securities", settled=today, run_id=run.run_id)
        return run.summary
