"""What a command says when the database cannot serve it: one line, what is wrong and what to
do, never a traceback (issue 13).

:func:`check_database` runs before a command's first database work: the SQLite file must exist
(a command that reads never creates it, nor its folder) and hold recon's schema, PostgreSQL must
answer and hold it too. :func:`database_error_line` turns a database error raised later (the
server went away, the disk filled up) into the same kind of line, and :func:`unexpected_line`
any other error (a bug of ours): its traceback only with ``RECON_TRACEBACK=1``.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from urllib.parse import quote

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from recon.db import (
    MIGRATION_TABLE,
    Database,
    DatabaseFault,
    classify_fault,
    database_location,
    migrations_dir,
    revision_status,
    sqlite_file,
)

#: set to 1 to see the traceback of an unexpected error (a bug: report it with the traceback)
TRACEBACK_ENV = "RECON_TRACEBACK"

_KIND_SUMMARY = {
    "read_only": ("is read-only", "check default_transaction_read_only or the standby "
                  "(PostgreSQL), the permissions of the file and its folder (SQLite)"),
    "disk_full": ("cannot write: its disk is full", "free space on the database's disk, "
                  "then run the command again"),
    "overloaded": ("is overloaded (too many connections or out of memory)",
                   "check max_connections and the processes using the database, then run "
                   "the command again"),
    "busy": ("is busy (a long transaction or a migration holds its locks)",
             "run the command again in a moment"),
    "conflict": ("aborted the work because of a concurrent change",
                 "run the command again"),
}


class DatabaseNotReady(Exception):
    """The database cannot serve a command; ``line`` says what is wrong and what to do."""

    def __init__(self, line: str) -> None:
        super().__init__(line)
        self.line = line


def _one_line(text: str, limit: int = 300) -> str:
    return " ".join(str(text).split())[:limit]


def connect_reason(detail: str) -> str:
    """The driver's reason for a failed connection, short: "connection refused", "password
    authentication failed for user "recon"", "database "x" does not exist"."""
    text = _one_line(detail)
    text = text.split(" Is the server running", 1)[0]
    if "failed: " in text:
        text = text.rsplit("failed: ", 1)[1]
    text = re.sub(r"^(FATAL|ERROR):\s*", "", text).strip().rstrip(".")
    return (text[:1].lower() + text[1:]) if text else "no answer"


def fault_line(fault: DatabaseFault, url: str) -> str:
    """One line for ``fault`` of the database at ``url``: what is wrong, what to do."""
    where = database_location(url)
    if fault.kind == "unreachable":
        if sqlite_file(url) is not None:
            return (f"cannot open the {where}: {_one_line(fault.detail)}. Check the file, its "
                    "folder and their permissions, or RECON_DATABASE_URL.")
        reason = connect_reason(fault.detail)
        if reason.startswith("database ") and reason.endswith("does not exist"):
            return (f"cannot connect to {where}: {reason}. Create it (createdb), then run "
                    "`recon db upgrade`; or correct RECON_DATABASE_URL.")
        return (f"cannot connect to {where}: {reason}. Check that the server is running and "
                "that RECON_DATABASE_URL names it.")
    if fault.kind == "not_migrated":
        return f"the database ({where}) has no schema: run `recon db upgrade`."
    summary, todo = _KIND_SUMMARY.get(fault.kind, ("failed", "run the command again"))
    return f"the database ({where}) {summary} ({_one_line(fault.detail, 200)}): {todo}."


def database_error_line(exc: BaseException, url: str | None) -> str | None:
    """The line for a database error raised while a command ran, or None when ``exc`` is
    not one of the database's availability (a bug: see :func:`unexpected_line`)."""
    if not isinstance(exc, DBAPIError | PoolTimeout):
        return None
    fault = classify_fault(exc)
    if fault is None or url is None:
        return None
    return fault_line(fault, url)


def _sqlite_revision(path: Path) -> tuple[bool, str | None]:
    """(is it readable here, its alembic revision), reading the file without writing to it:
    a command that fails must leave no journal behind."""
    try:
        conn = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True)
    except sqlite3.Error:
        return False, None
    try:
        if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                        (MIGRATION_TABLE,)).fetchone() is None:
            return True, None
        row = conn.execute(f"SELECT version_num FROM {MIGRATION_TABLE}").fetchone()  # noqa: S608
        return True, (str(row[0]) if row and row[0] is not None else None)
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc):
            raise DatabaseNotReady(
                f"{path} is not a SQLite database: set RECON_DATABASE_URL to recon's database, "
                "or move that file away and run `recon db upgrade`.") from None
        return False, None  # e.g. a WAL file that a read-only connection may not open
    finally:
        conn.close()


def check_database(db: Database) -> None:
    """Raise :class:`DatabaseNotReady` unless ``db`` exists, answers and holds this code's
    schema (or a newer one). Creates nothing: a missing SQLite file is reported, not made."""
    where = database_location(db.url)
    path = sqlite_file(db.url)
    if path is not None:
        if not path.exists():
            raise DatabaseNotReady(
                f"there is no database at {path}: run `recon db upgrade` to create it there, "
                "or set RECON_DATABASE_URL to the database to use.")
        readable, revision = _sqlite_revision(path)
    else:
        readable, revision = False, None
    if readable:
        status = revision_status(revision)
    else:
        try:
            status = db.schema_status()
        except (DBAPIError, PoolTimeout) as exc:
            fault = classify_fault(exc)
            if fault is None:
                raise
            raise DatabaseNotReady(fault_line(fault, db.url)) from None
    if status == "missing":
        raise DatabaseNotReady(f"the database ({where}) has no schema: run `recon db upgrade`.")
    if status == "behind":
        raise DatabaseNotReady(f"the database ({where}) is at an older schema than this recon: "
                               "run `recon db upgrade`.")


def migrations_problem() -> str | None:
    """What is wrong with the migrations this code would run, or None."""
    folder = migrations_dir()
    if not (folder / "env.py").is_file():
        return (f"recon's migrations are missing (looked in {folder}): reinstall recon from a "
                "complete checkout or wheel (README, Deployment).")
    return None


def unexpected_line(exc: BaseException) -> str:
    """One line for an error nobody foresaw (a bug of ours)."""
    return (f"unexpected error: {type(exc).__name__}: {_one_line(str(exc), 200)}. This is a "
            f"bug in recon: run the command again with {TRACEBACK_ENV}=1 to see where it "
            "happened, and report it with that output.")
