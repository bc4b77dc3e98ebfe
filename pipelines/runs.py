"""One flow run's context: the runtime, the summary, the market clock, the raw archive.

    with flow_run("bars", home) as run:
        ... run.rt.client / run.rt.lake / run.summary / run.settled ...

Nested flows (update -> bars) share the outer run's client and lake; each keeps its own summary,
which the outer flow merges. In a Prefect run the summary is published as an artifact at the
end (a local run, pipelines/engine.py, has no UI to show it in).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from pathlib import Path

from pipelines.engine import prefect_run_active
from pipelines.runtime import Runtime, use_runtime
from pipelines.summary import RunSummary
from schemas.sessions import Finality, TradingDay, closed_through, next_open
from warehouse.planning import trading_day_lookup

log = logging.getLogger(__name__)


@dataclass
class Run:
    rt: Runtime
    summary: RunSummary
    now: datetime
    run_id: str

    @property
    def today(self) -> date:
        return self.now.date()

    @cached_property
    def is_trading_day(self) -> TradingDay:
        """KRX trading days: the lake's holidays table, weekdays where it has no row."""
        return trading_day_lookup(self.rt.lake)

    @property
    def settled(self) -> date:
        """The last day whose KRX session has closed (today after the close or on a closed day,
        else yesterday): bars up to it are final, the ledger may call them complete."""
        return closed_through(self.now, self.is_trading_day)

    @property
    def finality(self) -> Finality:
        """Which KRX bars are final: those before the first session still to close."""
        return Finality(next_open(self.settled, self.is_trading_day), self.now)


def _flow_run_ids() -> tuple[str, str]:
    """The Prefect flow run's id and name; a local run (no Prefect) gets an id of its own, so
    the ledger still tells runs apart."""
    if not prefect_run_active():
        return str(uuid.uuid4()), "local"
    from prefect.runtime import flow_run

    return str(flow_run.id), str(flow_run.name or "run")


@contextmanager
def flow_run(name: str, home: str | Path | None = None) -> Iterator[Run]:
    run_id, run_name = _flow_run_ids()
    with ExitStack() as stack:
        rt = stack.enter_context(use_runtime(home))
        stack.enter_context(rt.client.archive(f"{name}-{run_name}"))
        calls_before = rt.client.calls
        summary = RunSummary(flow=name, context=rt.config.describe())
        run = Run(rt=rt, summary=summary, now=rt.clock.now(), run_id=run_id)
        try:
            yield run
        finally:
            run.summary.finish(rt.client.calls - calls_before)
            _publish(run.summary)


def _publish(summary: RunSummary) -> None:
    log.info("%s", summary.footer())
    if not prefect_run_active():  # a local run has no Prefect UI to show it in
        return
    try:
        summary.publish()
    except Exception as exc:  # noqa: BLE001 - a missing artifact must not fail the ingest
        log.warning("could not publish the run summary artifact: %s", exc)
