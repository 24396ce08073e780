"""`recon receipts verify DIR`: every receipt's signature, and each series' numbering;
`recon receipts issue-missing`: the receipts that issuing at payment could not issue."""

from __future__ import annotations

from pathlib import Path

import click


@click.group("receipts")
def receipts() -> None:
    """E-receipts (biên lai điện tử): see docs/receipts.md."""


@receipts.command("verify")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
def verify_folder(folder: Path) -> None:
    """Verify every *.xml receipt below FOLDER: signatures, numbers used twice, gaps."""
    from recon.cli.common import progress_enabled  # noqa: PLC0415 - fast --help
    from recon.cli.progress import ProgressLine  # noqa: PLC0415
    from recon.receipts.checking import check_directory, ranges  # noqa: PLC0415

    total = sum(1 for _ in folder.rglob("*.xml"))
    with ProgressLine("Verifying receipts", total=total, unit="files") as line:
        report = check_directory(folder, progress=line.advance if progress_enabled() else None)
    for series in report.series.values():
        click.echo(f"{series.form_code} {series.series}: {len(series.files)} numbers, "
                   f"last {series.last}")
        if series.missing:
            click.echo(f"  missing (find them in the register: spoiled, or lost): "
                       f"{ranges(series.missing)}")
        for number, names in series.duplicates.items():
            click.echo(f"  number {number} used twice or more: {', '.join(names)}")
    for name, problem in report.bad:
        click.echo(f"{name}: {problem}")
    if report.ok:
        click.echo(f"{report.checked} receipts checked: every signature verifies, "
                   "no number missing or used twice.")
        return
    click.echo(f"{report.checked} receipts checked: {len(report.bad)} bad file(s); see above.",
               err=True)
    raise SystemExit(1)


@receipts.command("issue-missing")
@click.pass_context
def issue_missing_command(ctx: click.Context) -> None:
    """Issue the receipts of succeeded payments that have none (their issuing failed)."""
    from recon.cli.common import database_app, fail, progress_enabled  # noqa: PLC0415
    from recon.cli.progress import ProgressLine  # noqa: PLC0415
    from recon.errors import ReconError  # noqa: PLC0415
    from recon.receipts.issuing import issue_missing, missing, receipting  # noqa: PLC0415

    app = database_app(ctx)
    settings = app.app.extensions["recon.settings"]
    try:
        receipts = receipting(settings.env)
    except ReconError as exc:
        fail(exc)
    if receipts is None:
        fail("receipts are off (RECON_RECEIPTS=off): nothing is issued. Set RECON_RECEIPTS=on "
             "with the signing key (docs/receipts.md) first.")
    if receipts.signer() is None:
        fail("the signing key cannot be loaded (see the log line above); fix "
             "RECON_RECEIPT_P12_FILE / RECON_RECEIPT_P12_PASSWORD and run this again.")
    db = app.db
    with db.read() as session:
        total = len(missing(session))
    with ProgressLine("Issuing missing receipts", total=total, unit="payments") as line:
        summary = issue_missing(db, app.app.extensions["recon.clock"], receipts,
                                actor="cli:receipts issue-missing",
                                progress=line.advance if progress_enabled() else None)
    click.echo(f"{summary.payments} payment(s) without a receipt: {summary.issued} receipt(s) "
               f"issued, {summary.left} payment(s) still without one"
               + (" (the log says why)" if summary.left else "") + ".")
    if summary.left:
        raise SystemExit(1)


COMMANDS = [receipts]
