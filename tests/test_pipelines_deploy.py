"""prefect.yaml: every deployment's entrypoint imports to a flow, its parameters fit the flow's
signature, and its cron schedules parse in Asia/Seoul."""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import pkgutil
import subprocess
import sys
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect import Flow
from prefect.client.schemas.schedules import CronSchedule
from prefect.server.schemas.schedules import CronSchedule as ServerCronSchedule

from schemas.clock import KST

ROOT = Path(__file__).resolve().parents[1]
SPEC = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
DEPLOYMENTS = SPEC["deployments"]


def _load_flow(entrypoint: str) -> Flow[..., Any]:
    path, name = entrypoint.split(":")
    module_name = path.removesuffix(".py").replace("/", ".")
    assert (ROOT / path).is_file(), f"{path} does not exist"
    module = importlib.import_module(module_name)
    flow = getattr(module, name)
    assert isinstance(flow, Flow), f"{entrypoint} is not a Prefect flow"
    return flow


def test_every_scheduled_job_has_a_deployment() -> None:
    names = {d["name"] for d in DEPLOYMENTS}
    assert {
        "holidays",
        "daily-bars",
        "minute-bars",
        "index-minute-bars",
        "overseas-minute-bars",
        "rankings",
        "record",
        "compact",
        "rebalance",
    } <= names
    assert len(names) == len(DEPLOYMENTS)


def _by_name(name: str) -> dict:
    return next(d for d in DEPLOYMENTS if d["name"] == name)


def _fires(deployment: dict, day: datetime) -> list[datetime]:
    """When the deployment's schedules fire on `day` (KST), in order, as Prefect computes them."""
    times: list[datetime] = []
    for schedule in deployment["schedules"]:
        cron = ServerCronSchedule(cron=schedule["cron"], timezone=schedule["timezone"])
        dates = asyncio.run(
            cron.get_dates(start=day, end=day + timedelta(days=1) - timedelta(seconds=1))
        )
        times.extend(datetime.fromisoformat(d.isoformat()).astimezone(KST) for d in dates)
    return sorted(times)


def test_the_recorder_spans_the_session_and_compaction_follows_it() -> None:
    monday = datetime(2026, 11, 23, tzinfo=KST)
    record, compact = _by_name("record"), _by_name("compact")
    assert record["entrypoint"].endswith(":record_flow")
    assert compact["entrypoint"].endswith(":compact_flow")
    (start,) = _fires(record, monday)
    until = datetime.combine(monday.date(), time.fromisoformat(record["parameters"]["until"]), KST)
    assert start < monday.replace(hour=9) and until > monday.replace(hour=15, minute=30)
    (compaction,) = _fires(compact, monday)
    assert compaction > until
    assert not _fires(record, monday + timedelta(days=5)), "no recording on Saturdays"


def test_index_minute_snapshots_leave_no_hole_in_the_session() -> None:
    """Each run brings the latest 102 bars: consecutive runs (and the open) must be closer."""
    monday = datetime(2026, 11, 23, tzinfo=KST)
    runs = [monday.replace(hour=9)] + _fires(_by_name("index-minute-bars"), monday)
    assert runs[-1] > monday.replace(hour=15, minute=30)
    for before, after in itertools.pairwise(runs):
        assert after - before <= timedelta(minutes=102)


# Started by a person (or backfill): a large backfill and its chunks have no clock.
ON_DEMAND = {"scale", "backfill"}


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=lambda d: d["name"])
def test_deployment_entrypoint_parameters_and_schedules(deployment: dict) -> None:
    flow = _load_flow(deployment["entrypoint"])
    flow.validate_parameters(deployment.get("parameters") or {})
    schedules = deployment.get("schedules") or []
    triggers = deployment.get("triggers") or []
    if deployment["name"] in ON_DEMAND:
        assert not schedules and not triggers, "scale-out deployments are started by hand"
    else:
        assert schedules or triggers, "every deployment here runs on a clock or after another one"
    names = {d["name"] for d in DEPLOYMENTS}
    for trigger in triggers:  # "after ingestion": the deployment it follows must exist
        assert trigger["match_related"]["prefect.resource.name"] in names
    for schedule in schedules:
        assert schedule["timezone"] == "Asia/Seoul"
        CronSchedule(cron=schedule["cron"], timezone=schedule["timezone"])
    assert deployment["work_pool"]["name"] == (
        "kisdb-scale" if deployment["name"] == "scale" else "kisdb"
    )


# Run in a fresh interpreter, as a worker does: Prefect loads the entrypoint by file path with its
# folder first on sys.path (and leaves it there), then the flow runs, in sim mode building the
# simulator's calendars from the `holidays` package.
_LOAD_LIKE_PREFECT = """
import sys
from prefect.flows import Flow, load_flow_from_entrypoint
for entrypoint in sys.argv[1:]:
    flow = load_flow_from_entrypoint(entrypoint)
    assert isinstance(flow, Flow), entrypoint
from simulator.calendar import KrxCalendar, UsCalendar
KrxCalendar(), UsCalendar()
"""


def test_entrypoints_load_the_way_prefect_loads_them() -> None:
    entrypoints = sorted({d["entrypoint"] for d in DEPLOYMENTS})
    done = subprocess.run(
        [sys.executable, "-c", _LOAD_LIKE_PREFECT, *entrypoints],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]


def _installed_top_level_names() -> set[str]:
    """Top-level names importable from outside our code: site-packages, the standard library
    (sys.path without the repository root and anything under pipelines/, e.g. left by Prefect)."""

    def ours(path: Path) -> bool:
        return path == ROOT or path == ROOT / "pipelines" or ROOT / "pipelines" in path.parents

    outside = [p for p in sys.path if p and not ours(Path(p).resolve())]
    return {m.name for m in pkgutil.iter_modules(outside)} | set(sys.stdlib_module_names)


def test_no_entrypoint_folder_module_hides_an_installed_module() -> None:
    installed = _installed_top_level_names()
    assert {"holidays", "prefect", "polars", "calendar"} <= installed  # the check can see them
    folders = {(ROOT / d["entrypoint"].split(":")[0]).parent for d in DEPLOYMENTS}
    clashes = {
        f"{folder.relative_to(ROOT)}/{m.name}"
        for folder in folders
        for m in pkgutil.iter_modules([str(folder)])
        if m.name in installed
    }
    assert not clashes, f"rename these: Prefect puts their folder first on sys.path: {clashes}"


def test_a_bad_cron_would_be_caught() -> None:
    with pytest.raises(ValueError):
        CronSchedule(cron="61 25 * * *", timezone="Asia/Seoul")
