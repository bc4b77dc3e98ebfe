"""Errors of the pipelines layer that are the user's to fix (the CLI exits 2 on them).

Connector failures stay `KisError` (the CLI exits 1 with their one-line message); these are
refusals before any work starts: a malformed symbol, a date range backwards, an unknown option.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad user input: a symbol, date, period or option we cannot act on. Says what to write instead."""
