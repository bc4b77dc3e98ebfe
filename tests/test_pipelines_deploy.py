"""prefect.yaml: every deployment's entrypoint imports to a flow, its parameters fit the flow's
signature, and its cron schedules parse in Asia/Seoul."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml
from prefect import Flow
from prefect.client.schemas.schedules import CronSchedule

ROOT = Path(__file__).resolve().parents[1]
SPEC = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
DEPLOYMENTS = SPEC["deployments"]


def _load_flow(entrypoint: str) -> Flow:  # type: ignore[type-arg]
    path, name = entrypoint.split(":")
    module_name = path.removesuffix(".py").replace("/", ".")
    assert (ROOT / path).is_file(), f"{path} does not exist"
    module = importlib.import_module(module_name)
    flow = getattr(module, name)
    assert isinstance(flow, Flow), f"{entrypoint} is not a Prefect flow"
    return flow


def test_every_scheduled_job_has_a_deployment() -> None:
    names = {d["name"] for d in DEPLOYMENTS}
    assert {"holidays", "daily-bars", "minute-bars", "rankings", "record", "compact", "rebalance"} <= names
    assert len(names) == len(DEPLOYMENTS)


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=lambda d: d["name"])
def test_deployment_entrypoint_parameters_and_schedules(deployment: dict) -> None:
    flow = _load_flow(deployment["entrypoint"])
    flow.validate_parameters(deployment.get("parameters") or {})
    schedules = deployment.get("schedules") or []
    triggers = deployment.get("triggers") or []
    assert schedules or triggers, "every deployment here runs on a clock or after another one"
    names = {d["name"] for d in DEPLOYMENTS}
    for trigger in triggers:  # "after ingestion": the deployment it follows must exist
        assert trigger["match_related"]["prefect.resource.name"] in names
    for schedule in schedules:
        assert schedule["timezone"] == "Asia/Seoul"
        CronSchedule(cron=schedule["cron"], timezone=schedule["timezone"])
    assert deployment["work_pool"]["name"] == "kisdb"


def test_a_bad_cron_would_be_caught() -> None:
    with pytest.raises(ValueError):
        CronSchedule(cron="61 25 * * *", timezone="Asia/Seoul")
