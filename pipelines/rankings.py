"""Ranking snapshots (volume, fluctuation, market cap): 30 rows each, stamped when taken."""

from __future__ import annotations

from datetime import date
from functools import partial

from pipelines.bars import WORKERS
from pipelines.engine import flow
from pipelines.errors import InputError
from pipelines.jobs import FetchJob, run_jobs
from pipelines.runs import flow_run
from pipelines.summary import RunSummary
from pipelines.universe import split_list
from schemas import RANKINGS

RANKING_METHODS = {
    "volume": "volume_rank",
    "fluctuation": "fluctuation_rank",
    "market_cap": "market_cap_rank",
}
# FID_INPUT_ISCD scopes: all, KOSPI, KOSDAQ, KOSPI200.
MARKETS = ("0000", "0001", "1001", "2001")


@flow("rankings", workers=WORKERS)
def ingest_rankings(
    rankings: list[str] | None = None, markets: list[str] | None = None, home: str | None = None
) -> RunSummary:
    """One snapshot of each ranking for each market scope (default: all three, market 0000)."""
    names = [r.lower() for r in split_list(rankings)] or list(RANKING_METHODS)
    bad = [r for r in names if r not in RANKING_METHODS]
    if bad:
        raise InputError(
            f"unknown ranking {', '.join(bad)}: choose from {', '.join(RANKING_METHODS)}"
        )
    scopes = split_list(markets) or ["0000"]
    bad = [m for m in scopes if m not in MARKETS]
    if bad:
        raise InputError(f"unknown market scope {', '.join(bad)}: choose from {', '.join(MARKETS)}")
    with flow_run("rankings", home) as run:
        client = run.rt.client
        today = run.today
        jobs = [
            FetchJob(
                RANKINGS,
                {"ranking": name, "market": scope},
                today,
                today,
                partial(getattr(client, RANKING_METHODS[name]), scope),
                f"{name} ranking {scope}",
            )
            for name in names
            for scope in scopes
        ]
        # A snapshot is never "complete" for a day (there is another one later): no ledger range.
        run_jobs(run.rt, jobs, run.summary, label="rankings", settled=date.min, run_id=run.run_id)
        return run.summary
