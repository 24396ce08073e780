"""`recon receipts verify FILE|DIR`: every receipt's signature, and each series' numbering;
`recon receipts export --month YYYY-MM --output FILE`: a month's signed receipts as a ZIP;
`recon receipts issue-missing`: the receipts that issuing at payment could not issue."""

from __future__ import annotations

import zipfile
from pathlib import Path

import click


@click.group("receipts")
def receipts() -> None:
    """E-receipts (biên lai điện tử): see docs/receipts.md."""


@receipts.command("verify")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
def verify_folder(source: Path) -> None:
    """Verify the receipts of SOURCE, a folder of *.xml files or a ZIP made by `recon receipts
    export`: signatures, numbers missing (gaps) and numbers used twice."""
    from recon.cli.common import fail, progress_enabled  # noqa: PLC0415 - fast --help
    from recon.cli.progress import ProgressLine  # noqa: PLC0415
    from recon.receipts.checking import check_path, count_files, ranges  # noqa: PLC0415

    try:
        total = count_files(source) if source.is_dir() or zipfile.is_zipfile(source) else 0
        with ProgressLine("Verifying receipts", total=total, unit="files") as line:
            report = check_path(source,
                                progress=line.advance if progress_enabled() else None)
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        fail(f"{exc}. Give a folder of receipt XML files or the ZIP of `recon receipts "
             "export --month YYYY-MM --output FILE`.")
    for series in report.series.values():
        click.echo(f"{series.form_code} {series.series}: {len(series.files)} numbers, "
                   f"first {series.first}, last {series.last}"
                   + (f", spoiled {ranges(sorted(series.spoiled))}" if series.spoiled else ""))
        if series.missing:
            click.echo(f"  {series.missing_vi()} (missing: {ranges(series.missing)})")
        for number, names in series.duplicates.items():
            click.echo(f"  số {number:08d} của mẫu {series.form_code} ký hiệu {series.series} "
                       f"dùng {len(names)} lần (number {number} used twice or more): "
                       f"{', '.join(names)}")
    for name, problem in report.bad:
        click.echo(f"{name}: {problem}")
    if report.ok:
        click.echo(f"{report.checked} receipts checked: every signature verifies, "
                   "no number missing or used twice.")
        return
    gaps = sum(len(s.missing) for s in report.series.values())
    twice = sum(len(s.duplicates) for s in report.series.values())
    click.echo(f"{report.checked} receipts checked: {len(report.bad)} bad file(s), {gaps} "
               f"number(s) missing, {twice} used twice; see above.", err=True)
    click.echo("What to do: look each missing number up in the register (register.xlsx of "
               "`recon receipts export`, or the finance pages): a number spoiled before signing "
               "is kept there with its reason; a number issued whose file is missing or bad "
               "must be exported again from recon; two receipts with one number are a fake "
               "document in law (ND 254 Art. 3.6): report them.", err=True)
    raise SystemExit(1)


@receipts.command("export")
@click.option("--month", required=True, metavar="YYYY-MM",
              help="The month of issue (Vietnam time), e.g. 2021-03.")
@click.option("--output", "-o", required=True,
              type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="The ZIP to write (signed XML, manifest.csv, register.xlsx).")
@click.pass_context
def export_command(ctx: click.Context, month: str, output: Path) -> None:
    """Export the receipts of one month: a ZIP of the signed XML files with a manifest (file,
    number, series, sha256) and the receipts register as XLSX."""
    from sqlalchemy import func, select  # noqa: PLC0415

    from recon.cli.common import database_app, fail, progress_enabled  # noqa: PLC0415
    from recon.cli.progress import ProgressLine  # noqa: PLC0415
    from recon.models.receipts import Receipt  # noqa: PLC0415
    from recon.receipts.export import export_month, month_bounds  # noqa: PLC0415

    try:
        first, following = month_bounds(month)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--month") from None
    if not output.parent.is_dir():
        fail(f"the folder of --output {output} does not exist; create it or name another file")
    app = database_app(ctx)
    with app.db.read() as session:
        total = int(session.scalar(select(func.count()).select_from(Receipt).where(
            Receipt.issued_on >= first, Receipt.issued_on < following)) or 0)
        try:
            with ProgressLine("Exporting receipts", total=total, unit="numbers") as line:
                summary = export_month(session, month, output,
                                       progress=line.advance if progress_enabled() else None)
        except ValueError as exc:
            fail(str(exc))
    for form_code, series, low, high in summary.series:
        click.echo(f"{form_code} {series}: numbers {low} to {high}")
    click.echo(f"{output}: {summary.issued} receipt(s), {summary.spoiled} spoiled number(s)"
               + (f", {summary.reserved} reserved (not signed: in the register only)"
                  if summary.reserved else "")
               + f". Check it with `recon receipts verify {output}`.")


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
