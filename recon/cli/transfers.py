"""`recon transfers`: onward transfers to collecting organisations and into the state budget
(issue 18 §2, docs/transfers.md): record one by hand, import a statement's debits, list them,
set a collector's account."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.group("transfers")
def transfers_group() -> None:
    """Onward transfers: money passed on to collecting organisations or the budget."""


@transfers_group.command("record")
@click.option("--agency", required=True, metavar="CODE",
              help="The receiving agency whose account the money left.")
@click.option("--to", "to", required=True, metavar="COLLECTOR_CODE|budget",
              help="The collecting organisation's agency code, or 'budget' (lệ phí paid into "
                   "the state budget).")
@click.option("--amount", required=True, metavar="VND", help="Whole VND, e.g. 180000.")
@click.option("--at", "at", required=True, metavar="DATETIME",
              help="When it left the account: YYYY-MM-DDTHH:MM (Vietnam time) or with an "
                   "offset.")
@click.option("--reference", required=True, metavar="BANKREF",
              help="The bank's reference of the transfer (unique per agency).")
@click.option("--note", default=None, help="A note kept with it.")
@click.option("--fee-account", is_flag=True, default=False,
              help="Into the collector's fee account awaiting budget remittance (a deposit); "
                   "--to may then be the agency itself.")
@click.pass_context
def record_command(ctx: click.Context, agency: str, to: str, amount: str, at: str,
                   reference: str, note: str | None, fee_account: bool) -> None:
    """Record one onward transfer (audited). Prints it as JSON."""
    from recon.cli.common import database_app, fail  # noqa: PLC0415 - fast --help
    from recon.errors import ReconError  # noqa: PLC0415
    from recon.settlements.transfers import parse_moment, record_transfer  # noqa: PLC0415

    app = database_app(ctx)
    try:
        out = record_transfer(app.db, app.app.extensions["recon.clock"], agency=agency, to=to,
                              amount=amount, at=parse_moment(at), reference=reference,
                              note=note, actor="cli", into_fee_account=fee_account)
    except ReconError as exc:
        fail(exc)
    click.echo(json.dumps(out, ensure_ascii=False))


@transfers_group.command("import")
@click.option("--agency", required=True, metavar="CODE",
              help="The agency whose account statement it is.")
@click.option("--profile", default="vietinbank_debits", show_default=True,
              help="Column profile of the statement's debits (built in: vietinbank_debits; "
                   "yours in the RECON_SETTLEMENT_PROFILES file).")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def import_command(ctx: click.Context, agency: str, profile: str, file: Path) -> None:
    """Read the onward transfers from FILE, a bank statement's debits. All or nothing; the
    file is kept. Prints a JSON summary on its last line."""
    from recon.cli.common import database_app, fail  # noqa: PLC0415 - fast --help
    from recon.errors import ReconError  # noqa: PLC0415
    from recon.settlements.importer import debit_profiles  # noqa: PLC0415
    from recon.settlements.transfers import budget_accounts, import_debits  # noqa: PLC0415

    app = database_app(ctx)
    settings = app.app.config["RECON_SETTINGS"]
    click.echo(f"Reading {file.name} ({file.stat().st_size:,} bytes)…", err=True)
    try:
        budget = budget_accounts(settings.env)
    except ValueError as exc:
        fail(str(exc))
    try:
        summary = import_debits(app.db, app.app.extensions["recon.clock"], agency=agency,
                                path=file, actor="cli", profile=profile,
                                profiles=debit_profiles(settings.get("SETTLEMENT_PROFILES")),
                                budget=budget)
    except ReconError as exc:
        fail(exc)
    click.echo(json.dumps(summary.as_dict(), ensure_ascii=False))


@transfers_group.command("list")
@click.option("--agency", default=None, metavar="CODE", help="Only this agency's transfers.")
@click.pass_context
def list_command(ctx: click.Context, agency: str | None) -> None:
    """The latest 500 transfers, newest first, one JSON line each."""
    from sqlalchemy import select  # noqa: PLC0415 - fast --help

    from recon.cli.common import database_app, fail  # noqa: PLC0415
    from recon.models import Agency  # noqa: PLC0415
    from recon.settlements.transfers import list_transfers  # noqa: PLC0415

    app = database_app(ctx)
    with app.db.read() as session:
        ids = None
        if agency is not None:
            found = session.scalar(select(Agency.id).where(Agency.code == agency))
            if found is None:
                fail(f"unknown agency {agency!r}; `recon agencies list` shows the codes")
            ids = [found]
        for row in list_transfers(session, agencies=ids):
            click.echo(json.dumps(row, ensure_ascii=False))


@transfers_group.command("account")
@click.option("--agency", required=True, metavar="CODE", help="The collecting organisation.")
@click.option("--account", default=None, metavar="NUMBER",
              help="Its account for onward transfers (dedicated or Treasury account); omit "
                   "to clear it.")
@click.pass_context
def account_command(ctx: click.Context, agency: str, account: str | None) -> None:
    """Set the account a collector receives onward transfers into (statement debits to it are
    read as transfers to that collector). Audited."""
    from recon.cli.common import database_app, fail  # noqa: PLC0415 - fast --help
    from recon.errors import ReconError  # noqa: PLC0415
    from recon.settlements.transfers import set_transfer_account  # noqa: PLC0415

    app = database_app(ctx)
    try:
        out = set_transfer_account(app.db, app.app.extensions["recon.clock"], agency=agency,
                                   account=account, actor="cli")
    except ReconError as exc:
        fail(exc)
    click.echo(json.dumps(out, ensure_ascii=False))


@transfers_group.command("fee-account")
@click.option("--agency", required=True, metavar="CODE", help="The collecting organisation.")
@click.option("--account", default=None, metavar="NUMBER",
              help="Its fee account awaiting budget remittance (tài khoản phí chờ nộp ngân "
                   "sách) at the State Treasury; omit to clear it.")
@click.pass_context
def fee_account_command(ctx: click.Context, agency: str, account: str | None) -> None:
    """Set the Treasury account a collector deposits its phí into (statement debits to it are
    read as deposits). Without one, its deposits are not judged. Audited."""
    from recon.cli.common import database_app, fail  # noqa: PLC0415 - fast --help
    from recon.errors import ReconError  # noqa: PLC0415
    from recon.settlements.transfers import set_transfer_account  # noqa: PLC0415

    app = database_app(ctx)
    try:
        out = set_transfer_account(app.db, app.app.extensions["recon.clock"], agency=agency,
                                   account=account, actor="cli", column="fee_pending_account")
    except ReconError as exc:
        fail(exc)
    click.echo(json.dumps(out, ensure_ascii=False))


COMMANDS = [transfers_group]
