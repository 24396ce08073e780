"""`recon serve` and `recon demo`."""

from __future__ import annotations

import json

import click
from werkzeug.serving import WSGIRequestHandler

from recon.cli.common import database_app, fail
from recon.cli.progress import ProgressLine
from recon.errors import ReconError


class QuietRequestHandler(WSGIRequestHandler):
    """The development server's handler without werkzeug's own line per request.

    ``recon.access`` already logs each request once (method, path without its query string,
    status, duration, request id); werkzeug's line would log it a second time *with* the query
    string, which can carry a provider's signature. Its start-up lines and its errors
    (``log_error``: a malformed request, a broken connection) are kept.
    """

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-scheduler", is_flag=True, help="Do not run reconciliation in the background.")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, no_scheduler: bool) -> None:
    """Run the web app (development server; use gunicorn in production)."""
    app = database_app(ctx).app
    scheduler_start = None if no_scheduler else app.extensions.get("recon.start_scheduler")
    if scheduler_start is not None:
        scheduler_start(app)
    click.echo(f"recon is serving on http://{host}:{port}/ (Ctrl+C to stop)", err=True)
    try:
        app.run(host=host, port=port, threaded=True, debug=False, use_reloader=False,
                request_handler=QuietRequestHandler)
    finally:
        scheduler_stop = app.extensions.get("recon.stop_scheduler")
        if scheduler_start is not None and scheduler_stop is not None:
            click.echo("stopping the scheduler (a reconciliation under way finishes first)",
                       err=True)
            scheduler_stop(app)


@click.command("demo")
@click.option("--dossiers", default=28_300, show_default=True,
              help="How many dossiers the demo quarter holds.")
@click.option("--seed", default=2021, show_default=True)
@click.pass_context
def demo(ctx: click.Context, dossiers: int, seed: int) -> None:
    """Seed the Huế centre, its procedures, a quarter of dossiers and demo users (idempotent)."""
    from recon.demo.seed import seed_demo  # noqa: PLC0415 - only this command needs the catalogue

    app = database_app(ctx)
    settings = app.app.extensions["recon.settings"]
    try:
        with ProgressLine("Seeding demo dossiers", total=dossiers) as bar:
            report = seed_demo(app.db, app.app.extensions["recon.clock"], dossiers=dossiers,
                               seed=seed, progress=bar.advance,
                               receipts=(settings.env, settings.instance_path))
    except ReconError as exc:
        fail(exc)
    for line in report.lines():
        click.echo(line)
    click.echo(json.dumps(report.summary(), ensure_ascii=False))


COMMANDS: list[click.Command] = [serve, demo]
