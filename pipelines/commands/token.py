"""`kisdb token [--revoke]`: make sure an access token is cached (or revoke it). Never prints it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipelines.console import console


def token(
    revoke: Annotated[
        bool, typer.Option("--revoke", help="revoke the cached token at KIS")
    ] = False,
    home: Annotated[Path | None, typer.Option("--home", help="KISDB_HOME override")] = None,
) -> None:
    """Issue (or reuse) the access token for this app key; --revoke gives it back."""
    from pipelines.config import load_config
    from pipelines.runtime import client_for

    nothing = "was not cached: nothing to revoke"
    config = load_config(home)
    if revoke and not (config.home / "tokens").is_dir():
        # No cache folder, no token: answer without creating the home (or starting a client).
        console.print(f"token for {config.kis.env} {nothing}")
        return
    with client_for(config) as client:
        env, tokens = client.settings.env, client.settings.home / "tokens"
        if revoke:
            revoked = client.revoke_token()
            console.print(f"token for {env} {'revoked' if revoked else nothing} (cache {tokens})")
            return
        value = client.token()
        key = client.settings.app_key.masked() if client.settings.app_key else "?"
        console.print(
            f"access token ready for {env} (app key {key}, {len(value)} chars, cached under {tokens})"
        )


def register(app: typer.Typer) -> None:
    app.command("token")(token)
