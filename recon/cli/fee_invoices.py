"""`recon fee-invoices import|record|list`: the providers' fee invoices (issue 17 §1–§2,
docs/reconciliation.md#fee-invoices)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from adapters import PROVIDERS
from recon.cli.common import database_app, fail, print_validation
from recon.cli.progress import ProgressLine
from recon.errors import ReconError, ValidationError


@click.group("fee-invoices")
def fee_invoices_group() -> None:
    """The providers' fee invoices (hóa đơn phí): import, record, list."""


@fee_invoices_group.command("import")
@click.option("--provider", default=None, type=click.Choice(PROVIDERS),
              help="Whose invoices these are (then the file may have no provider column).")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def import_command(ctx: click.Context, provider: str | None, file: Path) -> None:
    """Import a CSV or XLSX FILE of invoices, one a row, header
    provider,number,issued_on,period,amount,vat_amount,charged_as,note (and optionally
    replaces: the number of the invoice a row corrects). All or nothing; the same
    file or an invoice already recorded is refused. Prints a JSON summary."""
    from recon.settlements.fee_invoices import import_invoices  # noqa: PLC0415

    app = database_app(ctx)
    click.echo(f"Reading {file.name} ({file.stat().st_size:,} bytes)…", err=True)
    reading = ProgressLine("Checking", unit="rows")
    writing = ProgressLine("Writing ", unit="invoices")
    try:
        try:
            result = import_invoices(app.db, app.app.extensions["recon.clock"],
                                     file.read_bytes(), file.name, provider=provider,
                                     actor="cli", progress=reading.advance,
                                     write_progress=writing.advance)
        finally:
            reading.finish()
            if writing.done:
                writing.finish()
    except ValidationError as exc:
        print_validation(exc, file.name, "nothing was imported")
        raise SystemExit(1) from None
    except ReconError as exc:
        fail(exc)
    click.echo(f"Imported {result.invoices} invoice(s) ({result.deducted} deducted from "
               "payouts).", err=True)
    click.echo(json.dumps(result.as_dict(), ensure_ascii=False))


@fee_invoices_group.command("record")
@click.option("--provider", required=True, type=click.Choice(PROVIDERS), help="Who billed.")
@click.option("--number", required=True, help="The invoice's number.")
@click.option("--date", "day", required=True, metavar="YYYY-MM-DD", help="Its issue date.")
@click.option("--month", required=True, metavar="YYYY-MM", help="The month it bills.")
@click.option("--amount", required=True, metavar="VND",
              help="What it asks, VAT included: a whole number of VND (180000 or 180.000).")
@click.option("--how", "charged_as", required=True, type=click.Choice(["deducted", "billed"]),
              help="deducted: the provider takes it off a payout; billed: paid apart.")
@click.option("--vat", default=None, metavar="VND", help="The VAT it states (optional).")
@click.option("--note", default=None, help="Free text kept with the invoice.")
@click.option("--replaces", default=None, metavar="NUMBER",
              help="The number of the provider's invoice this one corrects (same month).")
@click.pass_context
def record_command(ctx: click.Context, provider: str, number: str, day: str, month: str,
                   amount: str, charged_as: str, vat: str | None, note: str | None,
                   replaces: str | None) -> None:
    """Record one invoice entered by hand (audited)."""
    from recon.contracts.invoices import (  # noqa: PLC0415
        InvoiceIn,
        parse_amount,
        parse_day,
        parse_month,
    )
    from recon.settlements.fee_invoices import record_invoice  # noqa: PLC0415

    try:
        on = parse_day(day)
    except ValueError as exc:
        fail(f"--date {exc}")
    try:
        period = parse_month(month)
    except ValueError as exc:
        fail(f"--month {exc}")
    try:
        total = parse_amount(amount)
        tax = parse_amount(vat) if vat is not None else None
    except ValueError as exc:
        fail(f"--amount/--vat {exc}")
    app = database_app(ctx)
    invoice = InvoiceIn(provider, number.strip(), on, period, total, charged_as, tax, note,
                        replaces.strip() if replaces is not None else None)
    try:
        new_id = record_invoice(app.db, app.app.extensions["recon.clock"], invoice,
                                actor="cli")
    except ValidationError as exc:
        print_validation(exc, "the invoice", "nothing was changed")
        raise SystemExit(1) from None
    click.echo(json.dumps({"id": new_id, "provider": provider, "number": invoice.number,
                           "amount": total, "charged_as": charged_as}, ensure_ascii=False))


@fee_invoices_group.command("list")
@click.option("--month", default=None, metavar="YYYY-MM", help="Only this billed month.")
@click.pass_context
def list_command(ctx: click.Context, month: str | None) -> None:
    """The invoices recorded, by billed month and provider."""
    from recon.contracts.invoices import parse_month  # noqa: PLC0415
    from recon.money import format_vnd  # noqa: PLC0415
    from recon.settlements.fee_invoices import list_invoices  # noqa: PLC0415

    chosen = None
    if month is not None:
        try:
            chosen = parse_month(month)
        except ValueError as exc:
            fail(f"--month {exc}")
    app = database_app(ctx)
    with app.db.read() as session:
        views = list_invoices(session, month=chosen)
    if not views:
        click.echo("No fee invoice recorded.")
    for v in views:
        vat = f" (VAT {format_vnd(v.vat_amount)})" if v.vat_amount is not None else ""
        click.echo(f"{v.period:%m/%Y}  {v.provider:<8} {v.number:<24} {v.issued_on:%d/%m/%Y}  "
                   f"{format_vnd(v.amount)}{vat}  {v.charged_as}"
                   + (f"  replaces {v.replaces}" if v.replaces else ""))


COMMANDS: list[click.Command] = [fee_invoices_group]
