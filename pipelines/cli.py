"""The `kisdb` command line (typer). Commands live in pipelines/commands/*.py, each module exposing
`register(app)`; this module holds the app, the `sim` command, `main()` and the one table turning
an error into an exit code and a line (`exit_for`): commands raise, they do not format exits.

Exit codes (DESIGN.md): 0 success, 2 bad usage (nothing was done), 1 failure with a one-line
reason, 130 interrupted (Ctrl-C, SIGTERM: pipelines/interrupts.py); -v/--verbose adds the
traceback. Without -v no error shows a traceback, an unexpected one (a bug) included.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import pkgutil
import sys
import traceback
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any

import click
import typer
from typer.core import TyperGroup

from pipelines.console import fail, one_line
from pipelines.interrupts import INTERRUPTED, exit_now, install, interrupt_classes, resume_line


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _duckdb_line(exc: BaseException) -> str:
    """DuckDB's first line and its hint, if any ("Did you mean "bars_daily"?", "Candidate
    bindings: ..."), on one line."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    hints = [line for line in lines[1:] if line.startswith(("Did you mean", "Candidate"))]
    return " ".join([_first_line(exc), *hints])


def _exit_table() -> list[tuple[type[BaseException], int, Callable[[BaseException], str]]]:
    """(exception class, exit code, its line), most specific first: the first match wins."""
    import duckdb

    from connectors.kis.errors import KisError, KisRequestError, OrderBlocked
    from pipelines.errors import InputError, RunFailed
    from warehouse.confine import QueryRefused
    from warehouse.lake import LakeError

    def confined(exc: BaseException) -> str:
        return "confined to the lake: " + _first_line(exc).removeprefix("Permission Error: ")

    return [
        (InputError, 2, one_line),
        (QueryRefused, 2, one_line),
        (duckdb.ParserException, 2, _first_line),
        (duckdb.PermissionException, 2, confined),
        (OrderBlocked, 1, lambda e: f"{one_line(e)} (nothing was sent)"),
        (KisRequestError, 2, lambda e: f"{one_line(e)} (nothing was sent)"),
        (KisError, 1, one_line),
        (LakeError, 1, _first_line),
        (duckdb.Error, 1, _duckdb_line),
        (RunFailed, 1, one_line),  # JobsFailed, UpdateFailed, RecorderBusy
        *((cls, INTERRUPTED, lambda e: resume_line()) for cls in interrupt_classes()),
    ]


def exit_for(exc: BaseException) -> tuple[int, str] | None:
    """The exit code and one-line message for `exc`, or None when no entry covers it (a bug:
    it keeps its traceback)."""
    for cls, code, line in _exit_table():
        if isinstance(exc, cls):
            return code, line(exc)
    return None


class _KisdbGroup(TyperGroup):
    """The root command: every error a command raises goes through `exit_for` (whether run by
    `main()` or by a test's CliRunner), Ctrl-C and SIGTERM included."""

    argv: list[str] = []  # the command line of the current run (for -v)

    def main(self, args: Sequence[str] | None = None, *rest: Any, **kwargs: Any) -> Any:
        argv = self.argv = list(sys.argv[1:] if args is None else args)
        try:
            return super().main(argv, *rest, **kwargs)
        except Exception as exc:
            raise SystemExit(_exit(exc, argv)) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BaseException as exc:  # click would turn Ctrl-C into a silent exit 130
            if not isinstance(exc, interrupt_classes()):
                raise
            raise typer.Exit(_exit(exc, self.argv)) from None


def _exit(exc: BaseException, argv: Sequence[str]) -> int:
    """Print `exc` as one line (and its traceback with -v); return the exit code. An exception
    no entry covers is a bug: one line asking for -v, or with -v re-raised with its traceback."""
    verbose = bool({"-v", "--verbose"} & set(argv))
    mapped = exit_for(exc)
    if mapped is None:
        if verbose:
            raise exc
        mapped = (
            1,
            f"unexpected {type(exc).__name__}: {one_line(exc)} (a bug: run the command again with -v for the traceback, and report it)",
        )
    elif verbose:
        traceback.print_exception(exc, file=sys.stderr)
    code, message = mapped
    return fail(message, code).exit_code


def _flags_take_no_value() -> None:
    """typer 0.29 writes the type `<bool>` beside every flag in --help (--help itself included),
    as if `--verbose` wanted a value: a flag shows no type."""
    from typer.core import TyperOption

    typed = TyperOption.display_type_rich

    def display_type_rich(self: TyperOption, ctx: Any) -> str | None:
        return None if self.is_flag and not self.count else typed(self, ctx)

    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_flags_take_no_value()

app = typer.Typer(
    name="kisdb",
    cls=_KisdbGroup,
    no_args_is_help=True,
    # --install-completion / --show-completion (bash, zsh, fish, PowerShell): typer's own.
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},  # inherited by every command
    help="KIS Open Trading API -> local market database, with a built-in KIS simulator.",
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"kisdb {version('kisdb')}")
        except PackageNotFoundError:  # run from a source tree that was never installed
            typer.echo("kisdb (not installed)")
        raise typer.Exit()


@app.callback()
def root(
    _version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """KIS Open Trading API -> local market database, with a built-in KIS simulator."""


@app.command("sim")
def sim(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="REST port (0: any free port)")] = 0,
    ws_port: Annotated[
        int, typer.Option("--ws-port", help="websocket port (0: any free port)")
    ] = 0,
    app_key: Annotated[
        str | None,
        typer.Option(
            "--app-key", help="app key clients must send (default: the documented fake key)"
        ),
    ] = None,
    app_secret: Annotated[
        str | None,
        typer.Option("--app-secret", help="app secret (default: the documented fake secret)"),
    ] = None,
    seed: Annotated[int, typer.Option(help="seed of the synthetic market")] = 20261124,
    now: Annotated[
        str | None, typer.Option(help="pin the sim clock start, KST, e.g. 2026-11-24T10:30:00")
    ] = None,
    speed: Annotated[
        float,
        typer.Option(
            min=0.001,
            help="sim seconds per wall second: 0.001 and up, no upper bound (1 = real time; "
            "60 = a minute a second; ~23,000 = a session a second)",
        ),
    ] = 1.0,
    rate_limit: Annotated[
        float | None,
        typer.Option(
            "--rate-limit", min=0, help="requests/s per app key (default: env budget; 0: unlimited)"
        ),
    ] = None,
    faults: Annotated[
        str, typer.Option(help="fault spec, e.g. 'http5xx=0.05,latency=20ms' (see README)")
    ] = "",
    env: Annotated[str, typer.Option(help="real or paper")] = "real",
    token_ttl: Annotated[
        int, typer.Option("--token-ttl", min=1, help="access token lifetime, seconds")
    ] = 86400,
    generated_symbols: Annotated[
        int, typer.Option("--generated-symbols", min=0, help="extra synthetic symbols")
    ] = 0,
    account: Annotated[
        str | None,
        typer.Option(help="the simulated account, NNNNNNNN-NN (default: 50000000-01)"),
    ] = None,
    hts_id: Annotated[
        str | None,
        typer.Option(
            "--hts-id", help="HTS ID keying the execution-notice streams (default: simuser)"
        ),
    ] = None,
) -> None:
    """Run the KIS-compatible simulator (REST + websocket) until Ctrl-C."""
    import re

    from simulator.faults import FaultSpecError, parse_faults
    from simulator.server import SimConfig, serve

    if env not in {"real", "paper"}:
        raise typer.BadParameter("must be 'real' or 'paper'", param_hint="--env")
    try:
        parse_faults(faults)
    except FaultSpecError as exc:
        raise typer.BadParameter(str(exc), param_hint="--faults") from None
    if account is not None and not re.fullmatch(r"\d{8}-\d{2}", account):
        raise typer.BadParameter("expected NNNNNNNN-NN, e.g. 12345678-01", param_hint="--account")
    if hts_id is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,16}", hts_id):
        raise typer.BadParameter(
            "1-16 letters, digits, '_' or '-' (it is a websocket tr_key)", param_hint="--hts-id"
        )
    pinned = None
    if now:
        try:
            pinned = datetime.fromisoformat(now)
        except ValueError:
            raise typer.BadParameter(
                "expected YYYY-MM-DDTHH:MM[:SS] (KST)", param_hint="--now"
            ) from None
    config = SimConfig(
        host=host,
        port=port,
        ws_port=ws_port,
        seed=seed,
        now=pinned,
        speed=speed,
        rate_limit=rate_limit,
        faults=faults,
        env=env,
        token_ttl=token_ttl,  # type: ignore[arg-type]
        generated_symbols=generated_symbols,
        **({"app_key": app_key} if app_key else {}),
        **({"app_secret": app_secret} if app_secret else {}),
        **({"account": account} if account else {}),
        **({"hts_id": hts_id} if hts_id else {}),
    )
    try:
        serve(config, announce=typer.echo)
    except (OSError, RuntimeError) as exc:
        typer.echo(f"kisdb sim: {exc}", err=True)
        raise typer.Exit(1) from None


def _register_commands() -> None:
    """Every pipelines/commands module with a `register(app)` adds its commands."""
    import pipelines.commands as commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"pipelines.commands.{info.name}")
        register = getattr(module, "register", None)
        if callable(register):
            register(app)


_register_commands()
# Registered first, so it runs last at exit (after the embedded simulator stops): the interpreter's
# final collection then skips the millions of objects DuckDB, Polars and NumPy leave (~1 s of a
# command's wall time on a busy 2-core box, for nothing: the process is ending).
atexit.register(gc.freeze)


def main() -> None:
    """Run the CLI (errors become one line and an exit code: see `exit_for`); SIGTERM interrupts
    like Ctrl-C, and an interrupted command ends without waiting for its fetch threads."""
    # No command uses pandas, but DuckDB imports it when installed (the notebook extra) to
    # convert the first bound parameter: ~0.4 s on every command. Marking it absent is what
    # DuckDB and plotly do without it. Only here, the process's entry point: notebooks and
    # tests importing kisdb keep pandas.
    sys.modules.setdefault("pandas", None)  # type: ignore[assignment]
    install()
    try:
        app()
    except SystemExit as done:
        if done.code == INTERRUPTED:
            exit_now(INTERRUPTED)
        raise


if __name__ == "__main__":
    main()
