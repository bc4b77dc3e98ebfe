"""The market database: DuckLake catalog + partitioned Parquet, upserts, cursors, checks, views.

Never imports connectors or pipelines: frames come in shaped by schemas.

The names below are imported on first use (PEP 562), so a submodule such as
warehouse.confine loads without Polars or PyArrow (`kisdb sql` and `kisdb --help` start faster).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from warehouse.checks import CheckReport, Finding, run_checks
    from warehouse.cursors import gaps, latest, missing_ranges
    from warehouse.extensions import ExtensionUnavailable, load_extension
    from warehouse.lake import (
        FileMergeResult,
        Lake,
        LakeBusy,
        LakeError,
        LakeNotFound,
        LakeSourceMismatch,
        UpsertResult,
        connect,
    )
    from warehouse.ledger import fetch_history, ledger_key, record_fetch, record_fetches
    from warehouse.views import VIEWS

# name -> the module defining it, imported on first use
_EXPORTS = {
    "CheckReport": "warehouse.checks",
    "Finding": "warehouse.checks",
    "run_checks": "warehouse.checks",
    "gaps": "warehouse.cursors",
    "latest": "warehouse.cursors",
    "missing_ranges": "warehouse.cursors",
    "ExtensionUnavailable": "warehouse.extensions",
    "load_extension": "warehouse.extensions",
    "FileMergeResult": "warehouse.lake",
    "Lake": "warehouse.lake",
    "LakeBusy": "warehouse.lake",
    "LakeError": "warehouse.lake",
    "LakeNotFound": "warehouse.lake",
    "LakeSourceMismatch": "warehouse.lake",
    "UpsertResult": "warehouse.lake",
    "connect": "warehouse.lake",
    "fetch_history": "warehouse.ledger",
    "ledger_key": "warehouse.ledger",
    "record_fetch": "warehouse.ledger",
    "record_fetches": "warehouse.ledger",
    "VIEWS": "warehouse.views",
}

__all__ = [
    "VIEWS",
    "CheckReport",
    "FileMergeResult",
    "ExtensionUnavailable",
    "Finding",
    "Lake",
    "LakeBusy",
    "LakeError",
    "LakeNotFound",
    "LakeSourceMismatch",
    "UpsertResult",
    "connect",
    "fetch_history",
    "gaps",
    "latest",
    "ledger_key",
    "load_extension",
    "missing_ranges",
    "record_fetch",
    "record_fetches",
    "run_checks",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
