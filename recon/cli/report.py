"""`recon report quarterly`: the figures the centre publishes, as the finance page shows them."""

from __future__ import annotations

import json

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


COMMANDS: list[click.Command] = [report_group]
