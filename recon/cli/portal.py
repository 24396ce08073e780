"""`recon portal import | profiles`: the National Public Service Portal's daily lists."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import click

from recon.cli.common import app_context, database_app, fail, print_validation
from recon.cli.progress import ProgressLine
from recon.config import Settings
from recon.errors import ReconError, ValidationError
from recon.portal.importer import import_portal_list, profiles_from_settings


@click.group("portal")
def portal_group() -> None:
    """The National Public Service Portal's daily transaction lists (Art. 36)."""


@portal_group.command("import")
@click.option("--agency", required=True, metavar="CODE", help="The agency whose list it is.")
@click.option("--profile", default=None,
              help="Column profile (see `recon portal profiles`); default dvcqg_daily, an "
                   "unverified guess at the portal's layout.")
@click.option("--date", "day", default=None, metavar="YYYY-MM-DD",
              help="The Vietnam day the list covers (needed for a list with no transaction; "
                   "every row must then be on it). Default: the days of its rows.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def portal_import(ctx: click.Context, agency: str, profile: str | None, day: str | None,
                  file: Path) -> None:
    """Import a CSV or XLSX daily list FILE of the portal. All or nothing; the same file twice
    is refused. Prints a JSON summary on its last line."""
    the_day: date | None = None
    if day:
        try:
            the_day = date.fromisoformat(day)
        except ValueError:
            fail(f"--date must be YYYY-MM-DD, got {day!r}")
    app = database_app(ctx)
    settings: Settings = app.app.config["RECON_SETTINGS"]
    click.echo(f"Reading {file.name} ({file.stat().st_size:,} bytes)…", err=True)
    reading = ProgressLine("Checking", unit="rows")
    writing = ProgressLine("Writing ", unit="lines")
    try:
        try:
            summary = import_portal_list(
                app.db, app.app.extensions["recon.clock"], file, file.name, agency=agency,
                profile=profile, profiles=profiles_from_settings(settings), day=the_day,
                actor="cli", progress=reading.advance, write_progress=writing.advance)
        finally:
            reading.finish()
            if writing.done:
                writing.finish()
    except ValidationError as exc:
        print_validation(exc, file.name)
        raise SystemExit(1) from None
    except ReconError as exc:
        fail(exc)
    click.echo(json.dumps(summary.as_dict(), ensure_ascii=False))


@portal_group.command("profiles")
@click.option("--json", "as_json", is_flag=True, help="Every setting of every profile, as JSON.")
@click.pass_context
def portal_profiles(ctx: click.Context, as_json: bool) -> None:
    """List the portal list's column profiles (built-in and from RECON_PORTAL_PROFILES)."""
    app = app_context(ctx)
    settings: Settings = app.app.config["RECON_SETTINGS"]
    try:
        profiles = profiles_from_settings(settings)
    except ReconError as exc:
        fail(exc)
    if as_json:
        click.echo(json.dumps([p.as_dict() for p in profiles.values()], ensure_ascii=False,
                              indent=1))
        return
    for p in profiles.values():
        click.echo(f"{p.name}  {p.description}"
                   + ("" if p.origin == "built-in" else f"  [{p.origin}]"))


COMMANDS: list[click.Command] = [portal_group]
