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
    """Import FILE: a JSON array, JSON Lines or CSV (one row per fee line). All or nothing:
    every problem is listed with its line number and nothing is imported until there is none.
    The same file twice is refused.

    \b
    CSV columns (a header row, UTF-8; names as written):
      code              the dossier's code, e.g. 000.00.21.H57-210401-0001
      agency_code       an agency that exists (recon agencies create)
      procedure_code    e.g. 1.001612
      procedure_name    the procedure's name
      applicant_name    who applied
      received_at       ISO 8601, e.g. 2021-04-01T08:30:00+07:00 (no offset: Vietnam)
      fee_kind          phi or le_phi
      fee_name          the fee's name
      fee_amount        whole VND, digits only (180000)
      received_channel  optional: counter (the default), online or postal
      procedure_field   optional: the procedure's field, for the quarterly report

    Rows with the same code form one dossier; a dossier without fees has one row with the
    three fee columns empty. JSON records carry the same fields, with "fees": [{"kind",
    "name", "amount"}] (amount a JSON integer).
    """
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
        click.echo(f"What to do: {exc.hint or 'fix every line listed and import the file again.'}",
                   err=True)
        raise SystemExit(1) from None
    except ReconError as exc:
        fail(exc)
    click.echo(json.dumps(summary.as_dict(), ensure_ascii=False))


COMMANDS: list[click.Command] = [dossiers_group]
