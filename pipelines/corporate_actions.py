"""Corporate actions: the KSD schedules into `corporate_actions`, and adjusted histories kept true.

An adjusted price series is restated whenever a split, bonus issue, rights issue or merger
changes the basis: every stored adjusted bar before the event is stale. Two signals catch it:

* the events: the KSD schedules (stored by `ingest_corporate_actions`: par value changes, bonus
  and rights issues, mergers and splits, capital reductions, dividends) and the daily chart's own
  fields (`flng_cls_code` ex-right kind, `prtt_rate`, `revl_issu_reas`), and
* an overlap check: each incremental fetch of an adjusted series also asks for its newest stored
  final day; a different close there means the history was restated, even for an event neither
  signal showed.

A stale series is re-fetched whole and upserted in one transaction (the same store as any fetch),
so the previous version stays readable at the earlier DuckLake snapshot. Raw (unadjusted) bars are
never re-fetched once final. Cash dividends (PRICE_NEUTRAL_ACTIONS) are recorded but restate
nothing: KRX does not adjust the base price for them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta

import polars as pl

from connectors.kis.market_data.ksdinfo import SCHEDULES, Schedule
from pipelines.engine import flow
from pipelines.jobs import FetchJob, run_jobs
from pipelines.ranges import parse_date
from pipelines.runs import flow_run
from pipelines.summary import RunSummary
from schemas import CORPORATE_ACTIONS, PRICE_NEUTRAL_ACTIONS
from warehouse.planning import Anchor

log = logging.getLogger(__name__)

# Schedules are announced ahead: fetch this far past today.
AHEAD_DAYS = 90

EX_RIGHT_KINDS: Mapping[str, str] = {
    "01": "ex_rights",
    "02": "ex_dividend",
    "03": "ex_distribution",
    "04": "ex_rights_dividend",
    "05": "ex_interim_dividend",
    "06": "ex_rights_interim_dividend",
    "07": "ex_rights_quarter_dividend",
}
REVALUATION_KINDS: Mapping[str, str] = {
    "01": "company_split",
    "02": "capital_reduction",
    "03": "long_suspension",
    "04": "excess_distribution",
    "05": "large_dividend",
    "06": "split_merger",
    "07": "etn_consolidation",
    "08": "new_security_adjustment",
    "99": "other",
}

Fetch = Callable[[date, date], pl.DataFrame]


@flow("corporate-actions")
def ingest_corporate_actions(start: str | None = None, home: str | None = None) -> RunSummary:
    """The KSD schedules (ksdinfo.SCHEDULES: par value changes, bonus and rights issues,
    dividends, mergers and splits, capital reductions) from `start` (default 1 year back) to
    AHEAD_DAYS past today, one call each. Real accounts and the simulator only: KIS does not serve
    the KSD schedules to paper accounts, so there the chart fields and the overlap check stand
    alone.
    """
    with flow_run("corporate-actions", home) as run:
        if run.rt.settings.env == "paper":
            log.info("corporate actions: KSD schedules are not served to paper accounts; skipped")
            return run.summary
        first = parse_date(start or "1y", name="start", today=run.today)
        assert first is not None
        last = run.today + timedelta(days=AHEAD_DAYS)
        jobs = [_schedule_job(run.rt.client.ksd_schedule, s, first, last) for s in SCHEDULES]
        run_jobs(run.rt, jobs, run.summary, label="corporate actions", settled=date.min)
        return run.summary


def _schedule_job(
    call: Callable[[Schedule, date, date], pl.DataFrame],
    schedule: Schedule,
    first: date,
    last: date,
) -> FetchJob:
    return FetchJob(
        CORPORATE_ACTIONS,
        {"schedule": schedule.endpoint.name},
        first,
        last,
        lambda: call(schedule, first, last),
        schedule.what,
    )


def chart_events(bars: pl.DataFrame) -> pl.DataFrame:
    """CORPORATE_ACTIONS rows for the events the daily chart marks (pure): an ex-right code, a
    revaluation reason, or a split ratio (`prtt_rate`, base price over the previous close)."""
    code = pl.col("ex_right_code").fill_null("00")
    reason = pl.col("revaluation_reason").fill_null("00").str.strip_chars()
    ratio = pl.col("split_ratio").fill_null(0.0)
    kind = (
        pl.when(code != "00")
        .then(code.replace_strict(EX_RIGHT_KINDS, default="ex_right_" + code))
        .when(reason.is_in(["", "00"]).not_())
        .then(reason.replace_strict(REVALUATION_KINDS, default="revaluation_" + reason))
        .when(ratio != 0)
        .then(pl.lit("split"))
    )
    daily = bars.filter(pl.col("period") == "D")
    events = daily.with_columns(kind=kind).filter(pl.col("kind").is_not_null())
    return CORPORATE_ACTIONS.conform(
        events.select(
            "symbol",
            "date",
            "kind",
            ratio=pl.col("split_ratio"),
            source=pl.lit("chart"),
            detail=pl.format("flng_cls_code {} revl_issu_reas {}", code, reason),
        ).unique(["symbol", "date", "kind"], maintain_order=True)
    )


def stale_reason(fresh: pl.DataFrame, anchor: Anchor, known: Sequence[date]) -> str | None:
    """Why the stored adjusted series behind `anchor` no longer matches `fresh` (pure), or None.

    `fresh` is a new answer that includes the anchor's newest stored day; `known` are the
    effective dates of stored corporate actions of the symbol.
    """
    same_day = fresh.filter(pl.col("date") == anchor.newest)
    if same_day.height and same_day["close"][0] != anchor.close:
        return f"adjusted close on {anchor.newest} was {anchor.close}, now {same_day['close'][0]}"
    newer = chart_events(fresh.filter(pl.col("date") > anchor.newest)).filter(
        pl.col("kind").is_in(PRICE_NEUTRAL_ACTIONS).not_()
    )
    if newer.height:
        return f"{newer['kind'][0]} on {newer['date'][0]} (chart)"
    after = [d for d in known if anchor.newest < d <= fresh["date"].max()] if fresh.height else []
    if after:
        return f"corporate action on {after[0]} (KSD schedule)"
    return None


class AdjustedGuard:
    """Wraps the fetch of each adjusted series: asks for the newest stored day too, and when the
    answer says the stored history is stale, returns the whole history instead (one upsert, one
    transaction). Collects the chart's events for `corporate_actions`."""

    def __init__(
        self, anchors: Mapping[tuple[str, str], Anchor], actions: Mapping[str, list[date]]
    ) -> None:
        self._anchors = anchors
        self._actions = actions
        self._lock = threading.Lock()
        self.restated: dict[str, str] = {}  # "symbol period" -> reason
        self.events: list[pl.DataFrame] = []

    def fetch(self, fetch: Fetch, symbol: str, period: str, start: date, end: date) -> pl.DataFrame:
        anchor = self._anchors.get((symbol, period))
        if anchor is None or anchor.newest >= start:
            frame = fetch(start, end)
            self._note(frame)
            return frame
        fresh = fetch(anchor.newest, end)
        self._note(fresh)
        reason = stale_reason(fresh, anchor, self._actions.get(symbol, []))
        if reason is None:
            return fresh.filter(pl.col("date") >= start)
        log.warning("restating %s %s adjusted since %s: %s", symbol, period, anchor.first, reason)
        with self._lock:
            self.restated[f"{symbol} {period}"] = reason
        return fetch(anchor.first, end)

    def _note(self, frame: pl.DataFrame) -> None:
        found = chart_events(frame)
        if found.height:
            with self._lock:
                self.events.append(found)
