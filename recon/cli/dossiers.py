"""`recon dossiers import FILE`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from recon.cli.common import database_app, fail
from recon.cli.progress import ProgressLine
from recon.errors import ReconError, ValidationError
from recon.intake.importer import import_file


@click.group("dossiers")
def dossiers_group() -> None:
    """Dossiers and their assessed fees."""


@dossiers_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def dossiers_import(ctx: click.Context, file: Path) -> None:
    """Import a JSON array, JSON Lines or CSV file (one row per fee line). All or nothing."""
    app = database_app(ctx)
    size = file.stat().st_size
    click.echo(f"Reading {file.name} ({size:,} bytes)…", err=True)
    reading = ProgressLine("Validating")
    writing = ProgressLine("Writing   ")

    def start_writing(total: int) -> None:
        reading.finish()
        writing.total = total

    try:
        try:
            summary = import_file(app.db, app.app.extensions["recon.clock"], file, actor="cli",
                                  progress=reading.advance, on_validated=start_writing,
                                  write_progress=writing.advance)
        finally:
            reading.finish()
            if writing.total is not None:
                writing.finish()
    except ValidationError as exc:
        click.secho(f"Error: {len(exc.errors)} problem(s) in {file.name}; nothing was "
                    "imported.", fg="red", err=True)
        for item in exc.errors[:1000]:
            click.echo(f"  {item}", err=True)
        if len(exc.errors) > 1000:
            click.echo(f"  … and {len(exc.errors) - 1000} more", err=True)
        click.echo("What to do: fix every line listed and import the file again.", err=True)
        raise SystemExit(1) from None
    except ReconError as exc:
        fail(exc)
    click.echo(json.dumps(summary.as_dict(), ensure_ascii=False))


COMMANDS: list[click.Command] = [dossiers_group]
