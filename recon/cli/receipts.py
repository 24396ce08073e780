"""`recon receipts verify FILE|DIR`: every receipt's signature, and each series' numbering;
`recon receipts export --month YYYY-MM --output FILE`: a month's signed receipts as a ZIP;
`recon receipts issue-missing`: the receipts that issuing at payment could not issue;
`recon receipts correct|approve-correction|reject-correction|corrections`: replace or adjust
an issued receipt (two people); `recon receipts summary`: the same-day summary table for the
tax authority; `recon receipts certificates`: the signing certificate to register."""

from __future__ import annotations

import zipfile
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click

from recon.cli.common import database_app

if TYPE_CHECKING:
    from recon.cli.common import AppContext
    from recon.receipts.signing import Signer

FINANCE_ROLES = ("finance", "admin")


@click.group("receipts")
def receipts() -> None:
    """E-receipts (biên lai điện tử): see docs/receipts.md."""


@receipts.command("verify")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
def verify_folder(source: Path) -> None:
    """Verify the receipts of SOURCE, a folder of *.xml files or a ZIP made by `recon receipts
    export`: signatures, numbers missing (gaps) and numbers used twice."""
    from recon.cli.common import fail  # noqa: PLC0415 - fast --help
    from recon.cli.progress import ProgressLine  # noqa: PLC0415
    from recon.receipts.checking import check_path, count_files, ranges  # noqa: PLC0415

    try:
        total = count_files(source) if source.is_dir() or zipfile.is_zipfile(source) else 0
        with ProgressLine("Verifying receipts", total=total, unit="files") as line:
            report = check_path(source,
                                progress=line.advance)
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        fail(f"{exc}. Give a folder of receipt XML files or the ZIP of `recon receipts "
             "export --month YYYY-MM --output FILE`.")
    for series in report.series.values():
        click.echo(f"{series.label}: {len(series.files)} numbers, "
                   f"first {series.first}, last {series.last}"
                   + (f", spoiled {ranges(sorted(series.spoiled))}" if series.spoiled else ""))
        if series.missing:
            click.echo(f"  {series.missing_vi()} (missing: {ranges(series.missing)})")
        for number, names in series.duplicates.items():
            whose = f" của đơn vị MST {series.tax_code}" if series.tax_code else ""
            click.echo(f"  số {number:08d} của mẫu {series.form_code} ký hiệu {series.series}"
                       f"{whose} dùng {len(names)} lần (number {number} used twice or more): "
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
@click.option("--agency", default=None, metavar="CODE",
              help="Only the receipts numbered under this agency's own MST (it needs one: "
                   "`recon agencies tax-code`).")
@click.pass_context
def export_command(ctx: click.Context, month: str, output: Path, agency: str | None) -> None:
    """Export the receipts of one month: a ZIP of the signed XML files with a manifest (file,
    number, series, sha256, MST) and the receipts register as XLSX."""
    from sqlalchemy import func, select  # noqa: PLC0415

    from recon.cli.common import database_app, fail  # noqa: PLC0415
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
        issuer = None
        if agency is not None:
            from recon.models import Agency  # noqa: PLC0415

            found = session.scalars(select(Agency).where(Agency.code == agency)).first()
            if found is None:
                fail(f"unknown agency {agency!r}; `recon agencies list` shows the codes")
            if not found.tax_code:
                fail(f"the agency {agency} has no MST of its own: its receipts are numbered "
                     "with the other agencies under RECON_RECEIPT_TAX_CODE, so export them "
                     "together (leave --agency out), or set its MST with `recon agencies "
                     "tax-code`")
            issuer = found.tax_code
        scoped = [] if issuer is None else [Receipt.issuer_tax_code == issuer]
        total = int(session.scalar(select(func.count()).select_from(Receipt).where(
            Receipt.issued_on >= first, Receipt.issued_on < following, *scoped)) or 0)
        try:
            with ProgressLine("Exporting receipts", total=total, unit="numbers") as line:
                summary = export_month(session, month, output, issuer=issuer,
                                       progress=line.advance)
        except ValueError as exc:
            fail(str(exc))
    for tax_code, form_code, series, low, high in summary.series:
        own = f"MST {tax_code} " if tax_code else ""
        click.echo(f"{own}{form_code} {series}: numbers {low} to {high}")
    click.echo(f"{output}: {summary.issued} receipt(s), {summary.spoiled} spoiled number(s)"
               + (f", {summary.reserved} reserved (not signed: in the register only)"
                  if summary.reserved else "")
               + f". Check it with `recon receipts verify {output}`.")


@receipts.command("issue-missing")
@click.pass_context
def issue_missing_command(ctx: click.Context) -> None:
    """Issue the receipts of succeeded payments that have none (their issuing failed)."""
    from recon.cli.common import fail  # noqa: PLC0415
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
                                progress=line.advance)
    click.echo(f"{summary.payments} payment(s) without a receipt: {summary.issued} receipt(s) "
               f"issued, {summary.left} payment(s) still without one"
               + (" (the log says why)" if summary.left else "") + ".")
    if summary.left:
        raise SystemExit(1)


def _signer(app: AppContext) -> Signer:
    """The signing key, or the command stops saying what to fix."""
    from recon.cli.common import fail  # noqa: PLC0415
    from recon.errors import ReconError  # noqa: PLC0415
    from recon.receipts.issuing import receipting  # noqa: PLC0415

    try:
        receipts_on = receipting(app.app.extensions["recon.settings"].env)
    except ReconError as exc:
        fail(exc)
    if receipts_on is None:
        fail("receipts are off (RECON_RECEIPTS=off): set RECON_RECEIPTS=on with the signing "
             "key (docs/receipts.md) first.")
    signer = receipts_on.signer()
    if signer is None:
        fail("the signing key cannot be loaded (see the log line above); fix "
             "RECON_RECEIPT_P12_FILE / RECON_RECEIPT_P12_PASSWORD and run this again.")
    return signer


@receipts.command("correct")
@click.argument("receipt_id", type=int)
@click.option("--kind", type=click.Choice(["replacement", "adjustment"]), required=True,
              help="replacement: a new receipt replacing this one; adjustment: a receipt "
                   "carrying the difference (negative for a decrease; a refund adjusts).")
@click.option("--reason", required=True, help="What was wrong (the error notice carries it).")
@click.option("--line", "lines", multiple=True, metavar="KIND:NAME:AMOUNT",
              help="A fee line of the new receipt (replacement: the right amounts, default the "
                   "original's; adjustment: the differences), e.g. 'phí:Phí thẩm định:-5000'.")
@click.option("--payer", default=None, help="A replacement's corrected payer name.")
@click.option("--by", "username", required=True, help="Your finance account (the proposer).")
@click.pass_context
def correct_cmd(ctx: click.Context, receipt_id: int, kind: str, reason: str,
                lines: tuple[str, ...], payer: str | None, username: str) -> None:
    """Propose replacing or adjusting an issued receipt; another person approves it."""
    from recon.cli.periods import _actor  # noqa: PLC0415
    from recon.receipts import corrections  # noqa: PLC0415

    app = database_app(ctx)
    clock = app.app.extensions["recon.clock"]
    items = [corrections.parse_line(text) for text in lines]
    with app.db.transaction() as s:
        actor, _ = _actor(s, username, FINANCE_ROLES)
        proposal = corrections.propose(s, clock, receipt_id, kind=kind, reason=reason,
                                       lines=items or None, payer_name=payer, actor=actor)
        out = (f"proposed {kind} of receipt {receipt_id} (correction {proposal.id}); another "
               f"finance user approves it: recon receipts approve-correction {proposal.id} "
               "--by USER")
    click.echo(out)


@receipts.command("approve-correction")
@click.argument("correction_id", type=int)
@click.option("--by", "username", required=True, help="Your finance account (not the "
              "proposer's).")
@click.option("--note", default=None, help="A comment kept with the approval.")
@click.pass_context
def approve_correction_cmd(ctx: click.Context, correction_id: int, username: str,
                           note: str | None) -> None:
    """Approve a proposed correction: the new receipt is numbered and signed."""
    from recon.cli.periods import _actor  # noqa: PLC0415
    from recon.receipts import corrections  # noqa: PLC0415
    from recon.receipts.issuing import receipting  # noqa: PLC0415

    app = database_app(ctx)
    clock = app.app.extensions["recon.clock"]
    with app.db.read() as s:  # who, before the key: a stranger learns nothing of the key
        _actor(s, username, FINANCE_ROLES)
    _signer(app)  # the default key loads, or this says what to fix
    settings = receipting(app.app.extensions["recon.settings"].env)
    assert settings is not None
    with app.db.transaction() as s:
        actor, _ = _actor(s, username, FINANCE_ROLES)
        new = corrections.approve(s, clock, correction_id, actor=actor,
                                  settings=settings.settings, signer=settings.signer_for,
                                  note=note)
        out = (f"issued {new.kind} receipt {new.form_code} {new.series} {new.number:08d} "
               f"({new.amount} VND) for receipt {new.corrects_id}")
    click.echo(out)


@receipts.command("reject-correction")
@click.argument("correction_id", type=int)
@click.option("--by", "username", required=True, help="Your finance account.")
@click.option("--note", default=None, help="Why (kept with the decision).")
@click.pass_context
def reject_correction_cmd(ctx: click.Context, correction_id: int, username: str,
                          note: str | None) -> None:
    """Reject (or, as its proposer, withdraw) a proposed correction: nothing is issued."""
    from recon.cli.periods import _actor  # noqa: PLC0415
    from recon.receipts import corrections  # noqa: PLC0415

    app = database_app(ctx)
    clock = app.app.extensions["recon.clock"]
    with app.db.transaction() as s:
        actor, _ = _actor(s, username, FINANCE_ROLES)
        corrections.reject(s, clock, correction_id, actor=actor, note=note)
    click.echo(f"correction {correction_id} rejected; nothing was issued")


@receipts.command("corrections")
@click.option("--status", type=click.Choice(["proposed", "approved", "rejected"]),
              default=None, help="Only these (default: all).")
@click.pass_context
def corrections_cmd(ctx: click.Context, status: str | None) -> None:
    """List the proposed, approved and rejected corrections, newest first."""
    from recon.receipts import corrections  # noqa: PLC0415

    app = database_app(ctx)
    with app.db.read() as s:
        rows = corrections.corrections(s, status=status)
        lines = [f"{c.id}\t{c.status}\t{c.kind}\treceipt {c.receipt_id}\tby {c.proposed_by}"
                 f"\t{c.reason}" + (f"\tnew receipt {c.new_receipt_id}"
                                     if c.new_receipt_id else "") for c in rows]
    for line in lines:
        click.echo(line)
    if not lines:
        click.echo("no corrections")


def _day(value: str) -> date:
    from recon.errors import FieldError, ValidationError  # noqa: PLC0415

    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError(FieldError("date", f"{value!r} is not a date YYYY-MM-DD"),
                              hint="Give the day as --date 2026-12-06.") from None


@receipts.command("summary")
@click.option("--date", "day", required=True, metavar="YYYY-MM-DD",
              help="The day (Vietnam time) whose receipts the table sums up.")
@click.option("--agency", default=None, help="One organisation's code (default: each one "
              "that issued receipts that day, one file each).")
@click.option("--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The file: .xml (our documented shape) or .xlsx.")
@click.pass_context
def summary_cmd(ctx: click.Context, day: str, agency: str | None, output: Path) -> None:
    """Write the same-day summary table of receipts (bảng tổng hợp dữ liệu biên lai)."""
    from recon.cli.common import fail  # noqa: PLC0415
    from recon.receipts import summary as tables  # noqa: PLC0415
    from recon.receipts.settings import ReceiptSettings  # noqa: PLC0415
    from recon.review.exports import receipt_summary_xlsx  # noqa: PLC0415

    when = _day(day)
    app = database_app(ctx)
    suffix = output.suffix.lower()
    if suffix not in (".xml", ".xlsx"):
        fail(f"--output {output} must end in .xml or .xlsx (the file's format)")
    clock = app.app.extensions["recon.clock"]
    settings = ReceiptSettings.from_env(app.app.extensions["recon.settings"].env)
    with app.db.transaction() as s:
        found = tables.summaries(s, when, agency_code=agency, tax_code=settings.tax_code)
        if not found:
            fail(f"no organisation issued a receipt on {when}; name one with --agency to write "
                 "an empty table")
        written = []
        for one in found:
            path = output if len(found) == 1 else output.with_name(
                f"{output.stem}-{one.agency.code}{output.suffix}")
            content = (tables.summary_xml(one, clock.now()) if suffix == ".xml"
                       else receipt_summary_xlsx(one))
            path.write_bytes(content)
            tables.record_prepared(s, clock, one, actor="cli:receipts summary")
            written.append(f"{path}: {one.agency.code}, {len(one.rows)} receipt(s), "
                           f"{one.total} VND")
    for line in written:
        click.echo(line)
    click.echo("Send it to the tax authority today, then mark it sent on the finance page "
               "(Biên lai điện tử).")


@receipts.command("certificates")
@click.pass_context
def certificates_cmd(ctx: click.Context) -> None:
    """The signing certificate in use (subject, serial, validity), to declare on the
    organisation's registration (01/ĐKTĐ-CTĐT)."""
    from recon.cli.common import app_context  # noqa: PLC0415
    from recon.receipts.signing import certificate_facts  # noqa: PLC0415

    signer = _signer(app_context(ctx))
    facts = certificate_facts(signer.certificate)
    for name, value in facts.items():
        click.echo(f"{name}: {value}")


COMMANDS = [receipts]
