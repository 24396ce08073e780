"""The ``recon`` command. Each feature adds its group from its own module."""

from __future__ import annotations

import os
import sys

import click

from recon.cli.common import AppContext, fail, finish, run_as_process
from recon.cli.faults import TRACEBACK_ENV, database_error_line, unexpected_line
from recon.errors import ReconError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def cli(ctx: click.Context) -> None:
    """recon: payment reconciliation for public administrative service centres."""
    ctx.obj = AppContext()


def _register() -> None:
    from recon.cli import (  # noqa: PLC0415 - avoid import cycles
        admin,
        callbacks,
        dossiers,
        intents,
        reconcile,
        serve,
        settlements,
        simulate,
        vietqr,
    )

    for module in (admin, dossiers, intents, serve, vietqr, settlements, reconcile,
                   simulate, callbacks):
        for command in module.COMMANDS:
            cli.add_command(command)
    from recon.cli import report  # noqa: PLC0415 - issue 6: recon report quarterly

    for command in report.COMMANDS:
        cli.add_command(command)
    from recon.cli import periods  # noqa: PLC0415 - issue 15: closed months

    for command in periods.COMMANDS:
        cli.add_command(command)
    from recon.cli import calendar, contracts, receipts  # noqa: PLC0415 - issues 17 and 19

    for command in (*calendar.COMMANDS, *contracts.COMMANDS, *receipts.COMMANDS):
        cli.add_command(command)
    from recon.cli import portal, remittances, transfers  # noqa: PLC0415 - issue 18 §2, §3, §5

    for command in (*portal.COMMANDS, *remittances.COMMANDS, *transfers.COMMANDS):
        cli.add_command(command)
    from recon.cli import fee_invoices  # noqa: PLC0415 - issue 17 §1–§2: fee invoices

    for command in fee_invoices.COMMANDS:
        cli.add_command(command)


_register()


def main() -> None:
    """Run the command. Whatever goes wrong ends in one line on stderr saying what to do and a
    non-zero exit, never a traceback (``RECON_TRACEBACK=1`` shows one for a bug)."""
    run_as_process()
    try:
        cli.main(prog_name="recon", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ReconError as exc:
        fail(exc)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except Exception as exc:
        line = database_error_line(exc, AppContext.last_url)
        if line is not None:
            fail(line)
        if os.environ.get(TRACEBACK_ENV) == "1":
            raise
        fail(unexpected_line(exc), code=2)
    finish()


__all__ = ["cli", "main"]
