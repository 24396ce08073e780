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


@report_group.command("daily")
@click.option("--date", "day", required=True, metavar="YYYY-MM-DD",
              help="The Vietnam calendar day, e.g. 2026-12-05.")
@click.option("--agency", metavar="CODE", help="Only this agency; default: every one.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv", "xlsx"]),
              default="text", show_default=True,
              help="A table to read, one JSON object (summary and detail), the detail as CSV, "
                   "or a workbook (a summary sheet and a detail sheet).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True),
              help="Write to this file (required for xlsx).")
@click.pass_context
def daily(ctx: click.Context, day: str, agency: str | None, fmt: str,
          output: str | None) -> None:
    """The daily reconciliation report of Decision 31/2021/QĐ-TTg, Art. 36: the day's payments
    by agency, provider, transaction type, status and processing result (count, VND), each
    transaction in detail, and the time of the reconciliation run that covered them."""
    from datetime import date  # noqa: PLC0415

    from sqlalchemy import select  # noqa: PLC0415 - fast --help

    from recon.models import Agency  # noqa: PLC0415
    from recon.review import reports  # noqa: PLC0415

    try:
        when = date.fromisoformat(day)
    except ValueError:
        raise click.BadParameter(f"{day!r} is not a date; write it as YYYY-MM-DD",
                                 param_hint="--date") from None
    if fmt == "xlsx" and not output:
        raise click.UsageError("--format xlsx writes a workbook: name it with --output FILE.")
    app = database_app(ctx)
    agency_id = None
    with app.db.read() as session:
        if agency is not None:
            agency_id = session.scalar(select(Agency.id).where(Agency.code == agency))
            if agency_id is None:
                raise click.BadParameter(f"unknown agency {agency}; list them with "
                                         "`recon agencies list`", param_hint="--agency")
        report = reports.art36_report(session, when, agency_id=agency_id, agency=agency)
    lines = reports.art36_all_detail(app.db.read, when, agency_id=agency_id, run=report.run)
    if fmt == "json":
        text = json.dumps(report.as_dict(list(lines)), ensure_ascii=False, indent=2) + "\n"
        _emit(text.encode("utf-8"), output)
    elif fmt in ("csv", "xlsx"):
        from recon.review import workbench  # noqa: PLC0415
        from recon.web.i18n import VI, art36_label  # noqa: PLC0415 - Vietnamese first

        detail_header = [VI.get(k, k) for k in reports.ART36_DETAIL_HEADER]
        detail = (reports.art36_detail_cells(d, art36_label) for d in lines)
        if fmt == "csv":
            chunks = workbench.csv_chunks(detail_header, detail)
        else:
            summary = [reports.art36_summary_cells(r, art36_label) for r in report.summary]
            from recon.review import portal_report  # noqa: PLC0415
            from recon.web.i18n import portal_agreement_vi  # noqa: PLC0415

            portal = [portal_report.portal_cells(p, portal_agreement_vi) for p in report.portal]
            chunks = workbench.xlsx_sheets_chunks([
                (VI["Summary"], [VI.get(k, k) for k in reports.ART36_SUMMARY_HEADER],
                 summary, reports.ART36_SUMMARY_AMOUNTS),
                (VI["Detail"], detail_header, detail, reports.ART36_DETAIL_AMOUNTS),
                (VI["Portal"], [VI.get(k, k) for k in portal_report.PORTAL_HEADER], portal,
                 portal_report.PORTAL_AMOUNTS)])
        if output:
            with open(output, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
            click.echo(f"{output}: {report.count} transaction(s), {report.amount} VND",
                       err=True)
        else:
            for chunk in chunks:
                click.echo(chunk, nl=False)
    else:
        _emit(_daily_text(report, list(lines)).encode("utf-8"), output)


def _daily_text(report: Any, lines: list[Any]) -> str:
    from recon.clock import VN_TZ  # noqa: PLC0415
    from recon.money import format_vnd  # noqa: PLC0415

    def ict(at: Any) -> str:
        return at.astimezone(VN_TZ).strftime("%Y-%m-%d %H:%M:%S") if at else "-"

    run = report.run
    head = [f"Daily reconciliation {report.day.isoformat()} (Decision 31/2021/QĐ-TTg, Art. 36)"
            + (f", agency {report.agency}" if report.agency else "")]
    if run is None:
        head.append("no reconciliation run has succeeded yet: run `recon reconcile`")
    else:
        head.append(f"latest reconciliation run #{run.id}: data up to {ict(run.as_of)}, "
                    f"finished {ict(run.finished_at)} (Vietnam time)"
                    + ("" if run.covers_day else " (does not cover the whole day yet)"))
    out = [*head, "", f"  {'agency':<14} {'provider':<9} {'type':<8} {'status':<10} "
                      f"{'result':<32} {'count':>7} {'amount':>16} reconciled at"]
    for r in report.summary:
        kinds = f" [{', '.join(r.kinds)}]" if r.kinds else ""
        out.append(f"  {r.agency_code or '(unmatched)':<14} {r.provider:<9} {r.txn_type:<8} "
                   f"{r.status:<10} {r.result + kinds:<32} {r.count:>7,} "
                   f"{format_vnd(r.amount):>16} "
                   f"{ict(r.reconciled_at) if r.reconciled_at else 'not yet'}")
    out.append(f"  {'total':<77} {report.count:>7,} {format_vnd(report.amount):>16}")
    from recon.review.portal_report import portal_text  # noqa: PLC0415

    out += portal_text(report.portal)
    out += ["", f"Detail: {len(lines)} transaction(s)"]
    for d in lines:
        kinds = f" [{', '.join(d.kinds)}]" if d.kinds else ""
        out.append(f"  {d.agency_code or '(unmatched)':<14} {d.dossier_code or '-':<26} "
                   f"{d.provider:<9} {d.provider_txn_id:<24} {d.txn_type:<8} {d.status:<10} "
                   f"{format_vnd(d.amount):>14} {ict(d.paid_at)} {d.result}{kinds}")
    return "\n".join(out) + "\n"


def _emit(data: bytes, output: str | None) -> None:
    if output:
        with open(output, "wb") as out:
            out.write(data)
    else:
        click.echo(data.decode("utf-8"), nl=False)


def _declaration_text(report: Any, decls: Any) -> str:
    from recon.money import format_vnd  # noqa: PLC0415

    head = " + ".join(report.forms)
    remitted_from = ("declared: what the months' 01/PH declared to remit" if report.annual
                     else "remitted: the C1-02/NS vouchers allocated to each collector, month "
                     "and sub-item" if report.remittances_recorded
                     else "remitted = 0: no remittance recorded yet")
    lines = [f"{head} {report.period} ({decls.REGIME}); {remitted_from}",
             f"  {'form':<6} {'code':<5} {'fee':<33} {'collected':>16} {'kept%':>6} "
             f"{'kept':>14} {'to remit':>16} {'declared' if report.annual else 'remitted':>16} "
             f"{'difference':>16}"]
    last_who = None
    for row in decls.table_rows(report):
        who, form, fee, code, collected, rate, kept, remit, remitted, diff = row
        if fee == "Σ":
            lines.append(f"  {'total':<46} {format_vnd(collected):>16} {'':>6} "
                         f"{format_vnd(kept):>14} {format_vnd(remit):>16} "
                         f"{format_vnd(remitted):>16} {format_vnd(diff):>16}")
            continue
        if who != last_who:
            lines.append(who)
            last_who = who
        lines.append(f"  {form:<6} {code:<5} {fee[:33]:<33} {format_vnd(collected):>16} "
                     f"{rate + '%':>6} {format_vnd(kept):>14} {format_vnd(remit):>16} "
                     f"{format_vnd(remitted):>16} {format_vnd(diff):>16}")
    lines.append(f"payments {format_vnd(report.payments_total)}, declared as collected "
                 f"{format_vnd(report.collected)}, unallocated {format_vnd(report.unallocated)}")
    return "\n".join(lines) + "\n"


COMMANDS: list[click.Command] = [report_group]
