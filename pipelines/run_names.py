"""Meaningful names for Prefect flow runs: `update 2026-12-02`, `bars 005930..(+49) D 2026-12-02`
instead of Prefect's random adjective-animal names, so the UI's run list says what each run did."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from schemas.clock import KST

# Parameters that say which series a run covers, in the order they appear in a name.
_SERIES = ("symbols", "codes", "markets", "indices", "rankings")
_KINDS = ("periods",)


def _items(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return []


def run_name(flow: str, parameters: Mapping[str, Any], today: date) -> str:
    """`flow`, the series it covers (the first and how many more), its periods, and the day."""
    parts = [flow]
    for name in _SERIES:
        items = _items(parameters.get(name))
        if items:
            parts.append(items[0] if len(items) == 1 else f"{items[0]}..(+{len(items) - 1})")
            break
    for name in _KINDS:
        items = _items(parameters.get(name))
        if items:
            parts.append(",".join(items))
    parts.append(today.isoformat())
    return " ".join(parts)


def current_run_name(flow: str) -> str:
    """The name of the Prefect flow run starting now (Prefect calls this as `flow_run_name`)."""
    from prefect.runtime import flow_run

    return run_name(flow, flow_run.parameters or {}, datetime.now(KST).date())
