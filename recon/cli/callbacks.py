"""Webhook calls: ``recon callbacks spool-import`` loads the calls kept in the spool while the
database could not store them into the ``callbacks`` archive (:mod:`recon.payments.spool`);
``recon callbacks sweep`` deletes refused calls past their retention
(:mod:`recon.payments.refused`)."""

from __future__ import annotations

from pathlib import Path

import click

from recon.cli.common import app_context, fail
from recon.cli.progress import ProgressLine
from recon.config import Settings
from recon.errors import ReconError
from recon.payments.refused import RefusalPolicy, sweep
from recon.payments.spool import (
    IMPORTED,
    IMPORTING,
    REJECTED,
    SpoolImportStopped,
    import_spool,
    pending_lines,
)
from recon.web.errors import ADMIN_HINTS


@click.group("callbacks")
def callbacks_group() -> None:
    """Webhook calls (the archive of raw provider callbacks)."""


@callbacks_group.command("spool-import")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="The spool directory (default: RECON_SPOOL_DIR, else <instance>/spool).")
@click.pass_context
def spool_import(ctx: click.Context, directory: Path | None) -> None:
    """Archive the webhook calls spooled while the database could not store them (outcome
    `spooled`), each once: running it again imports nothing twice. Records no payment: the
    providers were told to retry, and their retries do that."""
    # the database is checked only when there is something to import, by the import itself:
    # a database that cannot store the calls gets the spool's own refusal (what to fix, then
    # run this again), and the spool is left as it was
    app = app_context(ctx)
    settings: Settings = app.app.extensions["recon.settings"]
    spool = directory or settings.spool_path
    try:
        waiting = pending_lines(spool)
    except OSError as exc:
        fail(f"cannot read the spool directory {spool}: {exc.strerror or exc}. Check the path "
             "(--dir, RECON_SPOOL_DIR) and that this user may read it (run as the service's "
             "user, e.g. `sudo -u recon`).")
    if waiting == 0:
        click.echo(f"Nothing to import: no spooled webhook calls in {spool}.")
        return
    click.echo(f"{waiting:,} spooled lines waiting in {spool}.", err=True)
    try:
        with ProgressLine("Importing spooled callbacks", total=waiting, unit="lines") as line:
            summary = import_spool(app.unchecked_db, app.app.extensions["recon.clock"], spool,
                                   progress=line.advance)
    except SpoolImportStopped as exc:
        hint = exc.hint if exc.fault is None else (
            f"{ADMIN_HINTS[exc.fault.kind]} Then run `recon callbacks spool-import` again: "
            "nothing is imported twice.")
        fail(ReconError(exc.message, hint=hint))
    except ReconError as exc:
        fail(exc)
    click.echo(f"Imported {summary.imported:,} spooled webhook calls into the archive "
               f"(outcome `spooled`); {summary.already:,} were there already; "
               f"{summary.rejected:,} unreadable. Files moved to {spool / IMPORTED}: "
               f"{summary.files:,}.")
    if summary.rejected:
        for problem in summary.problems:
            click.echo(f"  - {problem}", err=True)
        click.echo(f"What to do: read them by hand; they are kept verbatim in "
                   f"{spool / REJECTED} (and in the original files under imported/). A line "
                   "cut short is usually a disk that filled up while it was written. Each "
                   "call was answered with its provider's retry code, so the provider's retry "
                   "normally recorded the payment.", err=True)
    leftover = spool / IMPORTING
    if leftover.is_dir() and any(leftover.iterdir()):  # pragma: no cover - a race with a writer
        click.echo(f"Some files are still in {leftover}; run the command again.", err=True)


COMMANDS: list[click.Command] = [callbacks_group]


@callbacks_group.command("sweep")
@click.option("--days", type=click.IntRange(min=1),
              help="Keep refused calls this many days (default: RECON_REFUSED_CALLBACK_DAYS, "
                   "else 30).")
@click.pass_context
def sweep_refused(ctx: click.Context, days: int | None) -> None:
    """Delete refused webhook calls (bad signature, replay, unconfigured provider, malformed,
    too large; never a verified call) older than the retention period. The scheduler does the
    same every 6 hours."""
    app = app_context(ctx)
    settings: Settings = app.app.extensions["recon.settings"]
    try:
        policy = RefusalPolicy.from_settings(settings)
    except ValueError as exc:
        fail(f"{exc}.")
    if days is not None:
        policy = RefusalPolicy(policy.body_bytes, days, policy.limit, policy.window_seconds)
    deleted = sweep(app.db, app.app.extensions["recon.clock"], policy)
    click.echo(f"Deleted {deleted:,} refused webhook calls older than {policy.days} days.")
