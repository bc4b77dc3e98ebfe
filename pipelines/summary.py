"""What a run did: rows inserted/updated/unchanged per dataset, calls made, time taken.

A `RunSummary` is filled by a flow as it stores frames, then published as a Prefect markdown
artifact (visible in the UI for deployment runs) and rendered as a rich table by the CLI.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from rich.table import Table


class UpsertCounts(Protocol):
    """The part of warehouse.lake.UpsertResult a summary reads."""

    inserted: int
    updated: int
    unchanged: int


@dataclass
class DatasetTally:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    keys: int = 0  # symbols / index codes / rankings written


@dataclass
class RunSummary:
    flow: str
    context: str = ""  # which env and home the run used ("env sim, home /x")
    started: float = field(default_factory=time.monotonic)
    calls: int = 0
    duration: float | None = None
    datasets: dict[str, DatasetTally] = field(default_factory=dict)
    skipped: int = 0  # keys with nothing missing: no call made
    errors: list[str] = field(default_factory=list)

    def add(self, dataset: str, result: UpsertCounts, *, keys: int = 1) -> None:
        tally = self.datasets.setdefault(dataset, DatasetTally())
        tally.inserted += result.inserted
        tally.updated += result.updated
        tally.unchanged += result.unchanged
        tally.keys += keys

    def merge(self, other: RunSummary) -> None:
        """Fold a subflow's summary into this one (calls are counted by the caller)."""
        for name, t in other.datasets.items():
            mine = self.datasets.setdefault(name, DatasetTally())
            mine.inserted += t.inserted
            mine.updated += t.updated
            mine.unchanged += t.unchanged
            mine.keys += t.keys
        self.skipped += other.skipped
        self.errors.extend(other.errors)

    def finish(self, calls: int) -> RunSummary:
        self.calls = calls
        self.duration = time.monotonic() - self.started
        return self

    @property
    def rows_written(self) -> int:
        return sum(t.inserted + t.updated for t in self.datasets.values())

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "dataset": name,
                "keys": t.keys,
                "inserted": t.inserted,
                "updated": t.updated,
                "unchanged": t.unchanged,
            }
            for name, t in sorted(self.datasets.items())
        ]

    def footer(self) -> str:
        took = f"{self.duration:.1f} s" if self.duration is not None else "running"
        text = f"{self.calls} KIS calls, {took}"
        if self.skipped:
            text += f", {self.skipped} up to date (no call)"
        if self.errors:
            text += f", {len(self.errors)} failed"
        if self.context:
            text += f"; {self.context}"
        return text

    def table(self) -> Table:
        title = f"{self.flow}: {self.footer()}"
        # As wide as its title (up to the terminal), so the title stays on one line.
        table = Table(title=title, title_justify="left", min_width=len(title))
        for col in ("dataset", "keys", "inserted", "updated", "unchanged"):
            table.add_column(col, justify="left" if col == "dataset" else "right")
        for row in self.rows():
            table.add_row(*(str(v) for v in row.values()))
        return table

    def markdown(self) -> str:
        lines = [
            f"### {self.flow}",
            "",
            self.footer(),
            "",
            "| dataset | keys | inserted | updated | unchanged |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        lines += [
            f"| {r['dataset']} | {r['keys']} | {r['inserted']} | {r['updated']} | {r['unchanged']} |"
            for r in self.rows()
        ]
        if self.errors:
            lines += ["", "Failures:", *(f"- {e}" for e in self.errors)]
        return "\n".join(lines)

    def publish(self) -> None:
        """Attach the summary to the current flow run as a markdown artifact."""
        from prefect.artifacts import create_markdown_artifact

        create_markdown_artifact(
            markdown=self.markdown(),
            key=artifact_key(self.flow),
            description=f"{self.flow}: rows written, calls made, duration",
        )


def artifact_key(flow: str) -> str:
    """Artifact keys allow lowercase letters, digits and dashes only."""
    return re.sub(r"[^a-z0-9-]+", "-", f"{flow}-summary".lower()).strip("-")
