"""`recon remittances import|record|list`: payment-to-budget vouchers (C1-02/NS) from the
State Treasury (issue 18 §3, docs/remittances.md)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import click

from recon.cli.common import database_app, fail
from recon.errors import ReconError, ValidationError


@click.group("remittances")
def remittances_group() -> None:
    """Remittances to the state budget (giấy nộp tiền vào NSNN, C1-02/NS)."""


@remittances_group.command("import")
@click.option("--profile", default="canonical", show_default=True,
              help="Column profile: canonical (recon's CSV/XLSX) or kbnn (Vietnamese titles, "
                   "dd/mm/yyyy, '.' thousands).")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def import_command(ctx: click.Context, profile: str, file: Path) -> None:
    """Import a CSV or XLSX statement of C1-02/NS vouchers, one row per voucher line. All or
    nothing; the same file or a voucher already recorded is refused. Prints a JSON summary."""
    from recon.settlements.remittances import import_statement  # noqa: PLC0415

    app = database_app(ctx)
    click.echo(f"Reading {file.name} ({file.stat().st_size:,} bytes)…", err=True)
    try:
        result = import_statement(app.db, app.app.extensions["recon.clock"],
                                  file.read_bytes(), file.name, profile=profile, actor="cli")
    except ReconError as exc:
        fail(exc)
    click.echo(f"Imported {len(result.vouchers)} voucher(s), {result.lines} line(s).",
               err=True)
    click.echo(json.dumps(result.as_dict(), ensure_ascii=False))


@remittances_group.command("record")
@click.option("--voucher-no", required=True, help="The voucher's number (Số).")
@click.option("--date", "day", required=True, metavar="YYYY-MM-DD",
              help="The voucher's date.")
@click.option("--remitter", required=True,
              help="The collecting organisation's agency code (who remitted).")
@click.option("--line", "lines", multiple=True, required=True,
              metavar="CHAPTER:SUBITEM:AREA:AMOUNT[:DOSSIER[:YYYY-MM]]",
              help="One voucher line (repeat): mã chương, tiểu mục, mã ĐBHC, amount in VND, "
                   "and optionally the dossier code and the period (kỳ thuế).")
@click.option("--note", default=None, help="Free text kept with the voucher.")
@click.option("--bank-reference", default=None,
              help="The bank reference of the payment the voucher records; a voucher for a "
                   "receiving centre's budget transfer with that reference is the same money "
                   "(counted once).")
@click.pass_context
def record_command(ctx: click.Context, voucher_no: str, day: str, remitter: str,
                   lines: tuple[str, ...], note: str | None,
                   bank_reference: str | None) -> None:
    """Record one voucher entered by hand (audited)."""
    from recon.settlements.remittances import (  # noqa: PLC0415
        VoucherIn,
        parse_line,
        record_voucher,
    )

    try:
        on = date.fromisoformat(day.strip())
    except ValueError:
        fail(f"--date {day!r} is not a date: write YYYY-MM-DD, e.g. 2021-04-15")
    try:
        parsed = tuple(parse_line(text) for text in lines)
    except ValueError as exc:
        fail(f"--line {exc}")
    app = database_app(ctx)
    try:
        new_id = record_voucher(app.db, app.app.extensions["recon.clock"],
                                VoucherIn(voucher_no, on, remitter.strip(), parsed, note,
                                          bank_reference),
                                actor="cli")
    except ValidationError as exc:
        fail(exc)
    total = sum(ln.amount for ln in parsed)
    click.echo(json.dumps({"id": new_id, "voucher_no": voucher_no, "lines": len(parsed),
                           "total": total}, ensure_ascii=False))


@remittances_group.command("list")
@click.option("--agency", default=None, help="Only this collecting organisation's vouchers.")
@click.pass_context
def list_command(ctx: click.Context, agency: str | None) -> None:
    """The vouchers recorded, newest first, with where each line was allocated."""
    from recon.money import format_vnd  # noqa: PLC0415
    from recon.review.remittances import due_day_of, voucher_page  # noqa: PLC0415

    app = database_app(ctx)
    env = app.app.extensions["recon.settings"].env
    with app.db.read() as session:
        views = voucher_page(session, collectors=[agency] if agency else None,
                             due_day=due_day_of(env))
    if not views:
        click.echo("No voucher recorded.")
    for v in views:
        click.echo(f"{v.voucher_no}  {v.voucher_date:%d/%m/%Y}  {v.remitter}  "
                   f"{format_vnd(v.total)}  ({v.source})")
        for ln in v.lines:
            where = ", ".join(f"{a['month']} {format_vnd(a['amount'])}"
                              for a in ln["allocated"]) or "—"
            click.echo(f"    {ln['chapter']} {ln['budget_code']} {ln['area_code']} "
                       f"{format_vnd(ln['amount'])} -> {where}")


COMMANDS: list[click.Command] = [remittances_group]
