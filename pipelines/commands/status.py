"""`kisdb status [--format json]`: env, home, the lake (where, how big, which stamp), per dataset
rows / symbols / first and last date / last update / provisional rows, the recorder and the
schedules. Read-only; fits 80 columns."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.console import RenderableType

    from pipelines.status import Status


class StatusFormat(StrEnum):
    table = "table"
    json = "json"


def status(
    format: Annotated[
        StatusFormat, typer.Option("--format", "-f", help="table | json")
    ] = StatusFormat.table,
    home: Annotated[
        Path | None, typer.Option(help="KISDB_HOME (default from the environment)")
    ] = None,
) -> None:
    """What this installation holds and runs: lake, datasets, recorder, schedules."""
    import json
    import sys

    from pipelines.config import load_config
    from pipelines.status import gather

    result = gather(load_config(home))
    if format is StatusFormat.json:
        sys.stdout.write(json.dumps(result.as_json(), ensure_ascii=False, indent=2) + "\n")
        return
    from rich.console import Console

    console = Console()
    for part in render_status(result):
        console.print(part, highlight=False)


def size_text(size: int | None) -> str:
    if size is None:
        return "size unknown"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def render_status(result: Status) -> list[RenderableType]:
    """The table form: a few labelled lines around one dataset table (79 cells at most)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    lake = result.lake
    lines: list[RenderableType] = [f"[bold]env[/bold]       {result.env}   home {result.home}"]
    if not lake.exists:
        lines.append(f"[bold]lake[/bold]      none yet at {lake.catalog} (run kisdb update)")
    else:
        facts = [size_text(lake.size_bytes)]
        if lake.source:
            facts.append(f"stamp {lake.source}")
        if lake.created_at:
            facts.append(f"created {lake.created_at[:16].replace('T', ' ')} KST")
        if lake.snapshot is not None:
            facts.append(f"snapshot {lake.snapshot}")
        lines.append(f"[bold]lake[/bold]      {lake.catalog}")
        lines.append(f"[bold]data[/bold]      {lake.data_path}")
        lines.append(f"          {', '.join(facts)}")
    if lake.error:
        lines.append(f"[red]lake unreadable:[/red] {lake.error}")
    filled = [d for d in result.datasets if d.rows]
    empty = [d.name for d in result.datasets if not d.rows]
    if filled:
        table = Table(box=box.SIMPLE_HEAD, padding=0, show_edge=False, title_justify="left")
        for name, justify in (
            ("dataset", "left"),
            ("rows", "right"),
            ("symbols", "right"),
            ("first", "left"),
            ("last", "left"),
            ("updated KST", "left"),
            ("prov.", "right"),
        ):
            table.add_column(name, justify=justify, no_wrap=True, overflow="ellipsis")  # type: ignore[arg-type]
        for d in filled:
            table.add_row(
                d.name,
                f"{d.rows:,}",
                _blank(d.symbols),
                _blank(d.first),
                _blank(d.last),
                d.last_update.strftime("%m-%d %H:%M") if d.last_update else "",
                _blank(d.provisional or None),
            )
        lines.append(table)
        if empty:
            lines.append(Text(f"empty: {', '.join(empty)}", style="dim"))
    elif lake.exists and not lake.error:
        lines.append("no datasets yet (run kisdb update)")
    lines.append(_recorder_line(result.recorder))
    lines.extend(_schedule_lines(result.schedules))
    return lines


def _blank(value: Any) -> str:
    return "" if value is None else str(value)


def _recorder_line(recorder: dict[str, Any]) -> str:
    state = "[green]recording[/green]" if recorder.get("running") else "not running"
    if recorder.get("owner"):
        state += f" ({recorder['owner']})"
    if recorder.get("latest_journal"):
        state += (
            f"; {recorder['journals']} journal(s), latest {recorder['latest_journal']} "
            f"({size_text(recorder['latest_journal_bytes'])})"
        )
    return f"[bold]recorder[/bold]  {state}"


def _schedule_lines(schedules: dict[str, Any]) -> list[RenderableType]:
    if "deployments" not in schedules:
        return [f"[bold]schedules[/bold] {schedules.get('message', '')}"]
    deployments = schedules["deployments"]
    lines: list[RenderableType] = [
        f"[bold]schedules[/bold] {len(deployments)} deployment(s) on {schedules['prefect_api']}"
    ]
    for d in deployments:
        when = ", ".join(d["schedules"]) or "no schedule"
        paused = " [yellow](paused)[/yellow]" if d["paused"] else ""
        lines.append(f"  {d['name']}: {when}{paused}")
    return lines


def register(app: typer.Typer) -> None:
    app.command("status")(status)
