"""`python -m pipelines.recorder --symbols ... --for 30s`: `kisdb record` without the CLI."""

import typer

from pipelines.commands.record import record

typer.run(record)
