"""Prefect flow runs are named after what they do (pipelines/run_names.py)."""

from __future__ import annotations

from datetime import date

from pipelines.engine import flow
from pipelines.run_names import current_run_name, run_name

DAY = date(2026, 12, 2)


def test_run_names_say_what_the_run_covers() -> None:
    fifty = [f"{n:06d}" for n in range(5930, 5980)]
    assert run_name("update", {}, DAY) == "update 2026-12-02"
    assert run_name("bars", {"symbols": fifty, "periods": ["D"]}, DAY) == (
        "bars 005930..(+49) D 2026-12-02"
    )
    assert run_name("index-bars", {"codes": ["0001"], "symbols": None}, DAY) == (
        "index-bars 0001 2026-12-02"
    )


def test_prefect_flows_get_the_name_unless_they_set_their_own() -> None:
    named = flow("bars")(lambda: None).prefect
    assert named.flow_run_name.func is current_run_name and named.flow_run_name.args == ("bars",)
    own = flow("x", flow_run_name="mine")(lambda: None).prefect
    assert own.flow_run_name == "mine"
