"""What every command shares: the lazily built app, error printing, progress."""

from __future__ import annotations

import sys
from typing import NoReturn

import click
from flask import Flask

from recon.db import Database
from recon.errors import ReconError, ValidationError


class AppContext:
    """Builds the Flask app (settings, database) only when a command needs it."""

    def __init__(self) -> None:
        self._app: Flask | None = None

    @property
    def app(self) -> Flask:
        if self._app is None:
            from recon import create_app  # noqa: PLC0415 - commands like `vietqr` need no app

            self._app = create_app()
        return self._app

    @property
    def db(self) -> Database:
        db: Database = self.app.extensions["recon.db"]
        return db


def fail(exc: ReconError | str, *, code: int = 1) -> NoReturn:
    """Print an error (every field for a validation error) and what to do next; exit."""
    if isinstance(exc, str):
        click.secho(f"Error: {exc}", fg="red", err=True)
        sys.exit(code)
    click.secho(f"Error: {exc.message}", fg="red", err=True)
    if isinstance(exc, ValidationError) and len(exc.errors) > 1:
        for item in exc.errors:
            click.echo(f"  - {item}", err=True)
    if exc.hint:
        click.echo(f"What to do: {exc.hint}", err=True)
    sys.exit(code)


def app_context(ctx: click.Context) -> AppContext:
    obj = ctx.find_object(AppContext)
    if obj is None:  # pragma: no cover - cli() always sets it
        obj = AppContext()
        ctx.obj = obj
    return obj


def progress_enabled() -> bool:
    return sys.stderr.isatty()
