"""Running a flow from the CLI: quiet Prefect logs, a rich progress bar, the summary table; and the
one-line error output (`fail`) the CLI's exit table (pipelines/cli.py) prints with."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pipelines import progress
from pipelines.summary import RunSummary

T = TypeVar("T")
console = Console(stderr=False)
err_console = Console(stderr=True)


class RichReporter:
    """progress.Reporter drawing one bar per flow stage; `keep_done=False` removes a stage's bar
    when it ends (a long sequence of stages keeps a one-line live display)."""

    def __init__(self, bars: Progress, *, keep_done: bool = True) -> None:
        self.bars = bars
        self.keep_done = keep_done
        self.task: Any = None

    def start(self, label: str, total: int) -> None:
        self.task = self.bars.add_task(label, total=max(total, 1) if total else 1)
        if not total:
            self.bars.update(self.task, completed=1)

    def advance(self, n: int = 1) -> None:
        if self.task is not None:
            self.bars.advance(self.task, n)

    def done(self) -> None:
        if self.task is not None and not self.keep_done:
            self.bars.remove_task(self.task)
        self.task = None


def quiet_prefect(verbose: bool) -> None:
    """Without -v the terminal shows progress, the summary and one error line; Prefect's own
    console lines (and tracebacks) are dropped. Its API log handler is untouched: the runs' logs
    still reach the Prefect UI/server."""
    from prefect.logging.handlers import PrefectConsoleHandler

    if verbose:
        return
    for logger in (logging.getLogger(), logging.getLogger("prefect")):
        for handler in logger.handlers:
            if isinstance(handler, PrefectConsoleHandler) and _drop_prefect not in handler.filters:
                handler.addFilter(_drop_prefect)


@cache
def _prefect_dir() -> str:
    import prefect

    return str(Path(prefect.__file__).parent)


def _drop_prefect(record: logging.LogRecord) -> bool:
    """Keep our records; drop Prefect's, including those of loggers not named "prefect…" such as
    its services' ("EventsWorker - Still processing items" while it drains at exit)."""
    return not (record.name.startswith("prefect") or record.pathname.startswith(_prefect_dir()))


@contextmanager
def fast_flows(under_prefect: bool = True) -> Iterator[None]:
    """Sync flows wait ~1 s at exit for the heartbeat thread; a CLI run does not need it."""
    if not under_prefect:  # a local run has no heartbeat (and need not import Prefect)
        yield
        return
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


@contextmanager
def flow_console(verbose: bool) -> Iterator[None]:
    """The terminal while flows run: under Prefect (an API configured, pipelines/engine.py) its
    console lines dropped without -v and no heartbeat wait; a local run's own log lines with -v.
    Prefect is imported only when flows run under it."""
    from pipelines.config import prefect_env_defaults
    from pipelines.engine import use_prefect

    prefect_env_defaults()
    under_prefect = use_prefect()
    if under_prefect:
        quiet_prefect(verbose)
    elif verbose:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with fast_flows(under_prefect):
        yield


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print `error: message` on one line of stderr; return the exit to raise (1 failure, 2 usage)."""
    err_console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())


def run_flow(
    fn: Callable[..., T], *, verbose: bool = False, show_summary: bool = True, **kwargs: Any
) -> T:
    """Call a flow in-process with a progress bar; print its summary. Errors propagate to the
    CLI's exit table. The flow reports to Prefect when an API is configured, else runs locally
    (pipelines/engine.py): no temporary Prefect server is started either way."""

    bars = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
        disable=not err_console.is_terminal,
    )
    with flow_console(verbose), bars, progress.reporting(RichReporter(bars)):
        result = fn(**kwargs)
    if show_summary and isinstance(result, RunSummary):
        console.print(result.table())
    return result
