"""Payment intents: the expiry sweep by hand (the scheduler runs it every minute or so)."""

from __future__ import annotations

import click

from recon.cli.common import database_app
from recon.payments.intents import EXPIRY_BATCH, sweep_expired


@click.group("intents")
def intents_group() -> None:
    """Payment intents (QR codes, gateway orders)."""


@intents_group.command("expire")
@click.option("--batch", default=EXPIRY_BATCH, show_default=True, type=click.IntRange(min=1),
              help="Intents expired per transaction.")
@click.pass_context
def intents_expire(ctx: click.Context, batch: int) -> None:
    """Mark every issued intent whose time is up as expired (audited), batch after batch until
    none is left. Paid and cancelled intents are never touched. Safe while the service runs."""
    app = database_app(ctx)
    expired = sweep_expired(app.db, app.app.extensions["recon.clock"], batch=batch)
    click.echo(f"{expired} payment intent{'' if expired == 1 else 's'} expired.")


COMMANDS: list[click.Command] = [intents_group]
