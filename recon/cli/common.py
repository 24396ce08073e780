"""What every command shares: the lazily built app, error printing, progress."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from contextlib import suppress
from typing import NoReturn

import click
from flask import Flask

from recon.db import Database
from recon.errors import ReconError, ValidationError


class AppContext:
    """Builds the Flask app (settings, database) only when a command needs it.

    :attr:`db` is the database checked ready (it exists, answers, holds the schema: see
    :func:`recon.cli.faults.check_database`), else the command stops with one line saying
    what to do; :attr:`unchecked_db` is for the commands that make the schema."""

    #: the database URL of the last app built (for the error line of :func:`recon.cli.main`)
    last_url: str | None = None

    def __init__(self) -> None:
        self._app: Flask | None = None
        self._checked = False

    @property
    def app(self) -> Flask:
        if self._app is None:
            from recon import create_app  # noqa: PLC0415 - commands like `vietqr` need no app
            from recon.config import load_settings  # noqa: PLC0415

            try:
                self._app = create_app(load_settings())
            except ValueError as exc:  # a setting of the environment (RECON_*) is wrong
                fail(f"{' '.join(str(exc).split())} (the environment's RECON_* settings; "
                     "README, Configuration)")
            AppContext.last_url = self._app.extensions["recon.db"].url
        return self._app

    @property
    def unchecked_db(self) -> Database:
        """The database as configured, whatever state it is in (`recon db upgrade`)."""
        db: Database = self.app.extensions["recon.db"]
        return db

    @property
    def db(self) -> Database:
        """The database, once checked ready; a command stops (exit 1, one line) otherwise."""
        from recon.cli.faults import DatabaseNotReady, check_database  # noqa: PLC0415

        db = self.unchecked_db
        if not self._checked:
            try:
                check_database(db)
            except DatabaseNotReady as exc:
                fail(exc.line)
            self._checked = True
        return db


#: the most problems a refused file prints, one a line (the count of the rest follows)
MAX_PRINTED_ERRORS = 10_000


def print_validation(exc: ValidationError, what: str, done: str = "nothing was imported"
                     ) -> None:
    """Every problem of a refused file or record, one a line, then what to do."""
    click.secho(f"Error: {len(exc.errors)} problem(s) in {what}; {done}.", fg="red", err=True)
    for item in exc.errors[:MAX_PRINTED_ERRORS]:
        click.echo(f"  {item}", err=True)
    if len(exc.errors) > MAX_PRINTED_ERRORS:
        click.echo(f"  … and {len(exc.errors) - MAX_PRINTED_ERRORS} more", err=True)
    click.echo(f"What to do: {exc.hint}", err=True)


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


def database_app(ctx: click.Context) -> AppContext:
    """The command's app, its database checked ready first (:attr:`AppContext.db`): a
    command that needs the database stops here, with one line, when it cannot have it."""
    obj = app_context(ctx)
    obj.db  # noqa: B018 - the check is the point
    return obj


def progress_enabled() -> bool:
    return sys.stderr.isatty()


class _Ending:
    """How the process ends once its command is done (see :func:`end_without_freeing`)."""

    #: set by :func:`recon.cli.main`: the command is the process (not a test's runner)
    process = False
    kept: list[object] = []  # noqa: RUF012 - one per process, on purpose
    closers: list[Callable[[], None]] = []  # noqa: RUF012


def run_as_process() -> None:
    _Ending.process = True


def is_the_process() -> bool:
    """Whether the command is the process itself (:func:`recon.cli.main`), not run under a
    test's runner: only then may it end without freeing (:func:`end_without_freeing`)."""
    return _Ending.process


def end_without_freeing(keep: object, close: Callable[[], None]) -> None:
    """The process ends as soon as the command returns, without freeing ``keep`` (a full run's
    millions of rows: about half a second of the interpreter at a million dossiers, after the
    run committed and said so) nor tearing the interpreter down: :func:`finish` calls
    ``close`` (the database pool's connections closed as they should be), flushes the output
    and exits. Only when :func:`is_the_process`; otherwise ``keep`` is freed as usual."""
    if _Ending.process:
        _Ending.kept.append(keep)
        _Ending.closers.append(close)


def finish() -> None:
    """End the process now if a command asked to (:func:`end_without_freeing`)."""
    if not _Ending.kept:
        return
    # the command has done its work and said so: nothing here may turn that into a failure
    for close in _Ending.closers:
        with suppress(Exception):
            close()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):  # a reader gone (a closed pipe), a closed file
            stream.flush()
    os._exit(0)
