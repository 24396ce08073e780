"""`recon reconcile`, `recon discrepancies export` and `recon scheduler`."""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import IO, cast

import click

from recon.cli.common import database_app, end_without_freeing, fail, is_the_process
from recon.clock import as_utc
from recon.errors import ReconError


def parse_as_of(value: str | None) -> datetime | None:
    """ISO 8601; a time without an offset is Vietnam time (as the one-stop sends them)."""
    if value is None:
        return None
    raw = value.strip()
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 time, e.g. 2026-11-30T10:00:00+07:00",
            param_hint="--as-of") from None
    return as_utc(parsed)


@click.command("reconcile")
@click.option("--as-of", "as_of", metavar="ISO8601",
              help="Judge settlement deadlines as of this moment (default: now). A time "
                   "without an offset is Vietnam time.")
@click.option("--dry-run", is_flag=True,
              help="Compute and report, write nothing (no run row, no discrepancy).")
@click.option("--full", "mode", flag_value="full", help="Read everything (the nightly run).")
@click.option("--incremental", "mode", flag_value="incremental",
              help="Read only what changed since the last successful run (the default; "
                   "full when there is none).")
@click.pass_context
def reconcile_command(ctx: click.Context, as_of: str | None, dry_run: bool,
                      mode: str | None) -> None:
    """Reconcile assessed, paid and settled; print a JSON summary on the last line.

    Exits 0 without doing anything (and says so) when another run holds the lock.
    """
    from recon.audit.chain import record_on  # noqa: PLC0415 - keep `recon --help` fast
    from recon.calendar.source import load_package  # noqa: PLC0415
    from recon.engine.runner import (  # noqa: PLC0415
        Mode,
        RunInProgress,
        overlap_from_env,
        run_reconciliation,
    )

    # the holidays package with the rest of the run's code, not in the run (every run counts
    # a banking deadline; a scheduler process pays this once)
    load_package()

    at = parse_as_of(as_of)
    app = database_app(ctx)
    settings = app.app.extensions["recon.settings"]
    started = time.monotonic()

    def progress(message: str) -> None:
        click.echo(f"[{time.monotonic() - started:6.2f}s] {message}", err=True)

    # as the process itself, the run's rows are kept to its end rather than freed
    kept: list[object] | None = [] if is_the_process() else None
    try:
        from recon.review.remittances import with_remittance_pass  # noqa: PLC0415
        from recon.settlements.payouts import engine_config  # noqa: PLC0415

        # with the payout pass (batches and credits) and the remittance pass (C1-02/NS)
        config = with_remittance_pass(engine_config(settings.env), settings.env)
        summary = run_reconciliation(
            app.db, clock=app.app.extensions["recon.clock"], audit=record_on, config=config,
            as_of=at, mode=cast(Mode, mode or "auto"), dry_run=dry_run,
            triggered_by=f"cli:{_who()}",
            overlap=overlap_from_env(settings.env), progress=progress, retain=kept)
    except RunInProgress as exc:
        click.echo(f"{exc.message} {exc.hint}", err=True)
        click.echo(json.dumps({"status": "skipped", "reason": "another run is in progress",
                               "run_id": None}))
        return
    except (ReconError, ValueError) as exc:
        fail(exc if isinstance(exc, ReconError) else str(exc))
    out = summary.as_dict()
    out["seconds"] = round(time.monotonic() - started, 3)
    click.echo(json.dumps(out, ensure_ascii=False))
    if kept is not None:  # the run has committed and said so: nothing left to free
        end_without_freeing(kept, app.db.dispose)


def _who() -> str:
    import getpass  # noqa: PLC0415
    import os  # noqa: PLC0415
    import socket  # noqa: PLC0415

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}:{os.getpid()}"


@click.group("discrepancies")
def discrepancies_group() -> None:
    """Discrepancies found by reconciliation."""


@discrepancies_group.command("export")
@click.option("--format", "fmt", type=click.Choice(["json", "csv", "xlsx"]), default="json",
              show_default=True)
@click.option("--status", type=click.Choice(["open", "all", "resolved", "auto_resolved"]),
              default="open", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write here (default: standard output).")
@click.pass_context
def discrepancies_export(ctx: click.Context, fmt: str, status: str,
                         output: Path | None) -> None:
    """Export discrepancies as JSON (a list of objects), CSV (UTF-8 with BOM) or XLSX."""
    from recon.review.exports import Format, export  # noqa: PLC0415

    app = database_app(ctx)
    if output is None and fmt == "xlsx" and sys.stdout.isatty():
        fail("an XLSX workbook is binary: give --output FILE (or redirect standard output)")
    target: IO[bytes]
    try:
        if output is not None:
            tmp = output.with_name(output.name + ".part")
            with tmp.open("wb") as target:
                n = export(app.db, cast(Format, fmt), target, status=status)
            tmp.replace(output)
            click.echo(f"Wrote {n:,} discrepancies to {output}", err=True)
        else:
            target = sys.stdout.buffer
            n = export(app.db, cast(Format, fmt), target, status=status)
            target.flush()
            click.echo(f"Exported {n:,} discrepancies", err=True)
    except ReconError as exc:
        fail(exc)


@click.command("scheduler")
@click.pass_context
def scheduler_command(ctx: click.Context) -> None:
    """Run reconciliation on a schedule (incremental every few minutes, full nightly).

    RECON_RECONCILE_INTERVAL_MINUTES (default 5) and RECON_FULL_RECONCILE_CRON (default
    "30 1 * * *", Asia/Ho_Chi_Minh). Any number may run: one reconciliation at a time.
    """
    from recon.scheduler import run_blocking  # noqa: PLC0415 - APScheduler only here

    app = database_app(ctx).app
    run_blocking(app)


COMMANDS: list[click.Command] = [reconcile_command, discrepancies_group, scheduler_command]
