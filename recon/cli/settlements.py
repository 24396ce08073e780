"""`recon settlements import | fetch | profiles`."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import click

from adapters import PROVIDERS
from recon.cli.common import app_context, database_app, fail, print_validation
from recon.cli.progress import ProgressLine
from recon.config import Settings
from recon.errors import ReconError, ValidationError
from recon.settlements.fetch import fetch
from recon.settlements.importer import import_settlement, profiles_from_settings


@click.group("settlements")
def settlements_group() -> None:
    """Settlement reports and bank statements: import files, pull from provider APIs."""


@settlements_group.command("import")
@click.option("--provider", required=True, type=click.Choice(PROVIDERS),
              help="Whose settlement this is.")
@click.option("--profile", default=None,
              help="Column profile (see `recon settlements profiles`); default: picked from "
                   "the file's header among canonical and the provider's profiles.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def settlements_import(ctx: click.Context, provider: str, profile: str | None,
                       file: Path) -> None:
    """Import a CSV or XLSX settlement FILE. All or nothing; the same file twice is refused.

    Prints a JSON summary on its last line."""
    app = database_app(ctx)
    settings: Settings = app.app.config["RECON_SETTINGS"]
    click.echo(f"Reading {file.name} ({file.stat().st_size:,} bytes)…", err=True)
    reading = ProgressLine("Checking", unit="rows")
    writing = ProgressLine("Writing ", unit="lines")
    try:
        try:
            profiles = profiles_from_settings(settings)
            summary = import_settlement(
                app.db, app.app.extensions["recon.clock"], provider, file, file.name,
                profile=profile, profiles=profiles, actor="cli", progress=reading.advance,
                write_progress=writing.advance)
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


@settlements_group.command("fetch")
@click.option("--provider", required=True, type=click.Choice(PROVIDERS),
              help="sepay: the bank statement; payos/vnpay/zalopay/momo: confirm payments "
                   "still waiting for their callback (casso and pos have no pull API).")
@click.option("--date", "day", default=None, metavar="YYYY-MM-DD",
              help="Vietnam date: the statement day (sepay; default yesterday) or the day the "
                   "waiting intents were created (default: the last 48 hours).")
@click.pass_context
def settlements_fetch(ctx: click.Context, provider: str, day: str | None) -> None:
    """Pull from the provider's API; prints a JSON summary on its last line."""
    the_day: date | None = None
    if day:
        try:
            the_day = date.fromisoformat(day)
        except ValueError:
            fail(f"--date must be YYYY-MM-DD, got {day!r}")
    app = database_app(ctx)
    settings: Settings = app.app.config["RECON_SETTINGS"]
    checking = ProgressLine("Querying", unit="intents")
    try:
        try:
            result = fetch(app.db, app.app.extensions["recon.clock"], settings, provider,
                           day=the_day, progress=checking.advance)
        finally:
            if checking.done:
                checking.finish()
    except ValidationError as exc:
        print_validation(exc, f"{provider}'s answer")
        raise SystemExit(1) from None
    except ReconError as exc:
        fail(exc)
    errors = result.get("errors") or []
    for item in errors:
        click.secho(f"Error: {item['reference']}: {item['error']}", fg="red", err=True)
    click.echo(json.dumps(result, ensure_ascii=False))
    if errors:
        click.echo(f"What to do: {len(errors)} answer(s) could not be trusted or read; nothing "
                   "was recorded for them. Check the keys named, then run the fetch again.",
                   err=True)
        raise SystemExit(1)


@settlements_group.command("profiles")
@click.option("--json", "as_json", is_flag=True, help="Every setting of every profile, as JSON.")
@click.pass_context
def settlements_profiles(ctx: click.Context, as_json: bool) -> None:
    """List the column profiles (built-in and from RECON_SETTLEMENT_PROFILES)."""
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
    width = max(len(name) for name in profiles)
    for profile in profiles.values():
        providers = ",".join(profile.providers) or "-"
        kinds = ""
        if "kind" in profile.columns:  # the transaction types it reads as refunds
            kinds = "  [refunds: " + ", ".join(profile.kind_values.get("refund", ())) + "]"
        click.echo(f"{profile.name:<{width}}  {providers:<38}  {profile.description}{kinds}"
                   + ("" if profile.origin == "built-in" else f"  [{profile.origin}]"))


COMMANDS: list[click.Command] = [settlements_group]
