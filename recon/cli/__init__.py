"""The ``recon`` command. Each feature adds its group from its own module."""

from __future__ import annotations

import sys

import click

from recon.cli.common import AppContext, fail
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


_register()


def main() -> None:
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


__all__ = ["cli", "main"]
