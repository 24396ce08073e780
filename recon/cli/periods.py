"""`recon periods list|close|approve|reopen`: closing a month's books (khóa sổ).

A close is proposed by one finance user and approved by another (``--by`` names the user; it
must be an active finance or admin account, and the two must differ); an admin reopens a
closed month with a reason. Every step is audited (see :mod:`recon.review.periods`).
"""

from __future__ import annotations

import json
from datetime import date
from typing import TYPE_CHECKING, Any

import click

from recon.cli.common import database_app

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def _actor(session: Session, username: str, roles: tuple[str, ...]) -> tuple[str, str]:
    from sqlalchemy import select  # noqa: PLC0415 - fast --help

    from recon.errors import Forbidden  # noqa: PLC0415
    from recon.models import User  # noqa: PLC0415

    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None or not user.active or user.role not in roles:
        raise Forbidden(f"{username} is not an active {' or '.join(roles)} user",
                        hint="Name your own account with --by (recon users list shows them).")
    return f"user:{user.username}", user.role


def _month(value: str) -> date:
    from recon.errors import FieldError, ValidationError  # noqa: PLC0415
    from recon.periods import parse_month  # noqa: PLC0415

    try:
        return parse_month(value)
    except ValueError as exc:  # after the database's checks, so their message comes first
        raise ValidationError(FieldError("month", str(exc))) from None


@click.group("periods")
def periods_group() -> None:
    """Closed months (khóa sổ): list, propose a close, approve it, reopen."""


@periods_group.command("list")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.pass_context
def list_cmd(ctx: click.Context, fmt: str) -> None:
    """Every month with a close proposed, made or undone, newest first."""
    from recon.review import periods  # noqa: PLC0415

    app = database_app(ctx)
    with app.db.read() as s:
        rows: list[dict[str, Any]] = [
                {"id": p.id, "month": f"{p.month:%Y-%m}", "agency_id": p.agency_id,
                 "status": p.status, "proposed_by": p.proposed_by,
                 "approved_by": p.approved_by, "reopened_by": p.reopened_by,
                 "sha256": p.snapshot_sha256, "snapshots": len(periods.snapshots(s, p.id))}
                for p in periods.list_periods(s)]
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("No month has been closed or proposed yet.")
    for r in rows:
        click.echo(f"{r['id']:>4}  {r['month']}  agency={r['agency_id'] or 'all':<5} "
                   f"{r['status']:<9} proposed_by={r['proposed_by'] or '-'} "
                   f"approved_by={r['approved_by'] or '-'} snapshots={r['snapshots']} "
                   f"{(r['sha256'] or '')[:16]}")


@periods_group.command("close")
@click.argument("month")
@click.option("--agency", default=None, help="One agency's code (default: every agency).")
@click.option("--by", "username", required=True, help="Your finance account (the proposer).")
@click.option("--note", default=None, help="Why the month can be closed.")
@click.option("--carry-forward", "carry", multiple=True, metavar="ID=NOTE",
              help="Carry an open discrepancy forward to a later month, with a note "
                   "(repeat for each).")
@click.pass_context
def close_cmd(ctx: click.Context, month: str, agency: str | None, username: str,
              note: str | None, carry: tuple[str, ...]) -> None:
    """Propose closing MONTH (YYYY-MM); another finance user approves it."""
    from recon.review import periods  # noqa: PLC0415

    app = database_app(ctx)
    when = _month(month)
    carried: dict[int, str] = {}
    for item in carry:
        ident, sep, text = item.partition("=")
        if not sep or not ident.strip().isdigit():
            raise click.BadParameter(f"{item!r}: write ID=NOTE, e.g. 42='bank owes'",
                                     param_hint="--carry-forward")
        carried[int(ident)] = text
    clock = app.app.extensions["recon.clock"]
    with app.db.transaction() as s:
        actor, _ = _actor(s, username, periods.CLOSE_ROLES)
        p = periods.propose(s, clock, actor=actor, month=when, agency_code=agency,
                            note=note, carry_forward=carried)
        pid = p.id
    click.echo(f"proposed closing {month} (period {pid}); another finance user approves it: "
               f"recon periods approve {pid} --by USERNAME")


@periods_group.command("approve")
@click.argument("period_id", type=int)
@click.option("--by", "username", required=True, help="Your finance account (not the "
              "proposer's).")
@click.pass_context
def approve_cmd(ctx: click.Context, period_id: int, username: str) -> None:
    """Approve a proposed close: the month is closed and its snapshot stored."""
    from recon.review import periods  # noqa: PLC0415

    app = database_app(ctx)
    clock = app.app.extensions["recon.clock"]
    with app.db.transaction() as s:
        actor, _ = _actor(s, username, periods.CLOSE_ROLES)
        p = periods.approve(s, clock, period_id, actor=actor)
        out = f"closed {p.month:%Y-%m} (period {p.id}); snapshot sha256 {p.snapshot_sha256}"
    click.echo(out)


@periods_group.command("reopen")
@click.argument("period_id", type=int)
@click.option("--by", "username", required=True, help="Your admin account.")
@click.option("--reason", required=True, help="Why the month must be reopened (audited).")
@click.pass_context
def reopen_cmd(ctx: click.Context, period_id: int, username: str, reason: str) -> None:
    """Reopen a closed month (admin only); its snapshots are kept."""
    from recon.review import periods  # noqa: PLC0415

    app = database_app(ctx)
    clock = app.app.extensions["recon.clock"]
    with app.db.transaction() as s:
        actor, role = _actor(s, username, periods.REOPEN_ROLES)
        p = periods.reopen(s, clock, period_id, actor=actor, role=role, reason=reason)
        out = f"reopened {p.month:%Y-%m} (period {p.id}); the next close takes a new snapshot"
    click.echo(out)


COMMANDS: list[click.Command] = [periods_group]
