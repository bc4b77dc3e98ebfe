"""The market database: DuckLake catalog + partitioned Parquet, upserts, cursors, checks, views.

Never imports connectors or pipelines: frames come in shaped by schemas.
"""

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
