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


class UpdateFailed(RunFailed):
    """Some parts of the update failed (the others ran). Text only, so it pickles."""

    def __init__(self, message: str, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []

    @classmethod
    def of(cls, failures: list[tuple[str, BaseException]]) -> UpdateFailed:
        part, first = failures[0]
        more = f" (and {len(failures) - 1} more parts)" if len(failures) > 1 else ""
        return cls(f"update: {part} failed: {first}{more}", [f"{p}: {e}" for p, e in failures])
