"""Errors of the pipelines layer: `InputError` is the user's to fix (the CLI exits 2: a malformed
symbol, a date range backwards, an unknown option, refused before any work starts); `RunFailed`
is work that failed (exit 1 with its one line). Connector failures stay `KisError`.

Both live here, apart from the flows, so the CLI's exit table can name them without importing
Prefect on an error path.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad user input: a symbol, date, period or option we cannot act on. Says what to write instead."""


class RunFailed(Exception):
    """Work that ran and failed: jobs or update parts, a recorder that could not start."""
