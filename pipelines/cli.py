"""The `kisdb` command line (typer). Commands live in pipelines/commands/*.py, each module exposing
`register(app)`; this module holds the app, the `sim` command and `main()`.

Exit codes (DESIGN.md): 0 success, 2 bad usage, 1 failure with a one-line reason (-v for details).
"""

from __future__ import annotations

import atexit
import gc
import importlib
import pkgutil
from datetime import datetime
from typing import Annotated

import typer

app = typer.Typer(
    name="kisdb",
    no_args_is_help=True,
    add_completion=False,
    help="KIS Open Trading API -> local market database, with a built-in KIS simulator.",
)


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
    speed: Annotated[float, typer.Option(min=0.001, help="sim seconds per wall second")] = 1.0,
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
) -> None:
    """Run the KIS-compatible simulator (REST + websocket) until Ctrl-C."""
    from simulator.faults import FaultSpecError, parse_faults
    from simulator.server import SimConfig, serve

    if env not in {"real", "paper"}:
        raise typer.BadParameter("must be 'real' or 'paper'", param_hint="--env")
    try:
        parse_faults(faults)
    except FaultSpecError as exc:
        raise typer.BadParameter(str(exc), param_hint="--faults") from None
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
    """Run the CLI; errors no command handled become one line and an exit code (1 failure, 2 usage)."""
    from connectors.kis.errors import KisError
    from pipelines.errors import InputError

    try:
        app()
    except InputError as exc:
        typer.echo(f"error: {' '.join(str(exc).split())}", err=True)
        raise SystemExit(2) from None
    except KisError as exc:
        typer.echo(f"error: {' '.join(str(exc).split())}", err=True)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
