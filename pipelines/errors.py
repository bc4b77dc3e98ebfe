"""Errors of the pipelines layer that are the user's to fix (the CLI exits 2 on them).

Connector failures stay `KisError` (the CLI exits 1 with their one-line message); these are
refusals before any work starts: a malformed symbol, a date range backwards, an unknown option.
`UpdateFailed` (exit 1) lives here too, so the CLI catches it without loading every flow.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad user input: a symbol, date, period or option we cannot act on. Says what to write instead."""


class UpdateFailed(Exception):
    """Some parts of the update failed (the others ran). Text only, so it pickles."""

    def __init__(self, message: str, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []

    @classmethod
    def of(cls, failures: list[tuple[str, BaseException]]) -> UpdateFailed:
        part, first = failures[0]
        more = f" (and {len(failures) - 1} more parts)" if len(failures) > 1 else ""
        return cls(f"update: {part} failed: {first}{more}", [f"{p}: {e}" for p, e in failures])
