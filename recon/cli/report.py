"""`recon report quarterly` and `recon report declaration`: the figures the centre publishes
and declares, as the finance pages show them."""

from __future__ import annotations

import json
from typing import Any

import click

from recon.cli.common import database_app


@click.group("report")
def report_group() -> None:
    """Reports for finance (the same figures as the /finance pages)."""


@report_group.command("quarterly")
@click.option("--year", type=click.IntRange(2000, 2100), required=True, metavar="YYYY",
              help="The calendar year, e.g. 2026.")
@click.option("--quarter", type=click.IntRange(1, 4), required=True, metavar="1-4",
              help="The quarter of that year: 1 = January–March, 2 = April–June, "
                   "3 = July–September, 4 = October–December (Vietnam time).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="A table to read, or one JSON object.")
@click.pass_context
def quarterly(ctx: click.Context, year: int, quarter: int, fmt: str) -> None:
    """Dossiers received (and online), paid, paid cashless (count, VND, share of paid), by
    channel and by procedure field, for one calendar quarter in Vietnam time."""
    from recon.review.reports import quarterly_report, quarterly_text  # noqa: PLC0415 - fast --help

    app = database_app(ctx)
    with app.db.read() as session:
        report = quarterly_report(session, year, quarter)
    if fmt == "json":
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(quarterly_text(report), nl=False)


@report_group.command("declaration")
@click.option("--month", metavar="YYYY-MM", help="The month of 01/PH and 01/LP, e.g. 2021-03.")
@click.option("--year", type=click.IntRange(2000, 2100), metavar="YYYY",
              help="The year of the annual 02/PH (phí only) instead of a month.")
@click.option("--agency", "agencies", multiple=True, metavar="CODE",
              help="Only this collecting organisation (repeatable); default: every one.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "xlsx"]), default="text",
              show_default=True, help="A table to read, one JSON object, or a workbook.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True),
              help="Write to this file (required for xlsx).")
@click.pass_context
def declaration(ctx: click.Context, month: str | None, year: int | None,
                agencies: tuple[str, ...], fmt: str, output: str | None) -> None:
    """The fee declarations: per collecting organisation and fee (tiểu mục), collected, the
    retention rate and share kept, to remit, remitted (0 until remittances are recorded) and
    the difference: 01/PH and 01/LP for a month, 02/PH for a year (docs/treasury.md)."""
    from sqlalchemy import select  # noqa: PLC0415 - fast --help

    from recon.models import Agency  # noqa: PLC0415
    from recon.review import declarations as decls  # noqa: PLC0415

    if (month is None) == (year is None):
        raise click.UsageError("Give either --month YYYY-MM or --year YYYY.")
    if fmt == "xlsx" and not output:
        raise click.UsageError("--format xlsx writes a workbook: name it with --output FILE.")
    first = None
    if month is not None:
        try:
            first = decls.parse_month(month)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--month") from None
    app = database_app(ctx)
    with app.db.read() as session:
        known = set(session.scalars(select(Agency.code)))
        unknown = [a for a in agencies if a not in known]
        if unknown:
            raise click.BadParameter(f"unknown agency {', '.join(unknown)}; list them with "
                                     "`recon agencies list`", param_hint="--agency")
        wanted = list(agencies) or None
        report = (decls.monthly(session, first, collectors=wanted) if first is not None
                  else decls.annual(session, year or 0, collectors=wanted))
    if fmt == "json":
        text = json.dumps(report.as_dict(), ensure_ascii=False, indent=2) + "\n"
        _emit(text.encode("utf-8"), output)
    elif fmt == "xlsx":
        from recon.review.exports import write_table_xlsx  # noqa: PLC0415
        from recon.web.i18n import VI  # noqa: PLC0415 - the one catalogue: Vietnamese first

        header = [VI.get(k, k) for k in (decls.ANNUAL_HEADER if report.annual
                                         else decls.MONTHLY_HEADER)]
        with open(output or "", "wb") as out:
            write_table_xlsx(out, f"{'/'.join(report.forms)} {report.period}".replace("/", "-"),
                             header, decls.table_rows(report), decls.AMOUNT_COLUMNS)
        click.echo(f"{output}: {len(report.collectors)} collecting organisation(s), "
                   f"{report.collected} VND collected", err=True)
    else:
        _emit(_declaration_text(report, decls).encode("utf-8"), output)


def _emit(data: bytes, output: str | None) -> None:
    if output:
        with open(output, "wb") as out:
            out.write(data)
    else:
        click.echo(data.decode("utf-8"), nl=False)


def _declaration_text(report: Any, decls: Any) -> str:
    from recon.money import format_vnd  # noqa: PLC0415

    head = " + ".join(report.forms)
    lines = [f"{head} {report.period} ({decls.REGIME}); remitted = 0: no remittance recorded yet"]
    last_who = None
    for row in decls.table_rows(report):
        who, form, fee, code, collected, rate, kept, remit, _last, diff = row
        if fee == "Σ":
            lines.append(f"  {'total':<46} {format_vnd(collected):>16} {'':>6} "
                         f"{format_vnd(kept):>14} {format_vnd(remit):>16} {format_vnd(diff):>16}")
            continue
        if who != last_who:
            lines.append(who)
            last_who = who
        lines.append(f"  {form:<6} {code:<5} {fee[:33]:<33} {format_vnd(collected):>16} "
                     f"{rate + '%':>6} {format_vnd(kept):>14} {format_vnd(remit):>16} "
                     f"{format_vnd(diff):>16}")
    lines.append(f"payments {format_vnd(report.payments_total)}, declared as collected "
                 f"{format_vnd(report.collected)}, unallocated {format_vnd(report.unallocated)}")
    return "\n".join(lines) + "\n"


COMMANDS: list[click.Command] = [report_group]
