"""Set-based writes for large imports: ids allocated up front, rows streamed in bulk.

PostgreSQL gets ``COPY ... FROM STDIN`` (psycopg 3); SQLite a plain ``executemany`` inside the
write transaction the caller already holds (``BEGIN IMMEDIATE``, so no other writer can take the
ids we allocate). Values are written exactly as the ORM types would store them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import Any, cast

import psycopg
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

import recon.models  # noqa: F401 - every table registered on Base.metadata
from recon.db import Base

SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's storage format for SQLite DATETIME


def _known(table: str, columns: Sequence[str] = ()) -> None:
    """Table and column names come from our own code; refuse anything else outright."""
    known = Base.metadata.tables.get(table)
    if known is None or any(c not in known.columns for c in columns):
        raise ValueError(f"not a known table/columns: {table} {list(columns)}")


def _psycopg(session: Session) -> psycopg.Connection[Any]:
    """The psycopg connection under the session's current transaction."""
    raw = session.connection().connection.dbapi_connection
    assert raw is not None
    return cast("psycopg.Connection[Any]", raw)


def allocate_ids(session: Session, table: str, n: int) -> list[int]:
    if n <= 0:
        return []
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        with _psycopg(session).cursor() as cursor:
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) "
                           "FROM generate_series(1, %s)", (table, n))
            return [r[0] for r in cursor.fetchall()]
    _known(table)
    sql = f"SELECT COALESCE(MAX(id), 0) FROM {table}"  # noqa: S608 - a known table name
    start = int(session.execute(text(sql)).scalar_one())
    return list(range(start + 1, start + n + 1))


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return sqlite_datetime(value)
    return value


def sqlite_datetime(value: datetime) -> str:
    return value.astimezone(UTC).strftime(SQLITE_DATETIME)


def insert_rows(session: Session, table: str, columns: Sequence[str],
                rows: Iterable[Sequence[Any]]) -> int:
    """Insert ``rows`` (tuples in ``columns`` order) into ``table``; returns how many."""
    connection = session.connection()
    _known(table, columns)
    cols = ", ".join(columns)
    count = 0
    if connection.dialect.name == "postgresql":
        statement = f"COPY {table} ({cols}) FROM STDIN"
        with _psycopg(session).cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        return count
    placeholders = ", ".join("?" for _ in columns)
    materialised = [row if not any(isinstance(v, datetime) for v in row)
                    else tuple(_sqlite_value(v) for v in row) for row in rows]
    sql = f"INSERT INTO {table} ({cols}) VALUES ({placeholders})"  # noqa: S608 - checked
    connection.exec_driver_sql(sql, materialised)
    return len(materialised)


#: the setting under which PostgreSQL's fee-line insert trigger leaves ``dossiers.fee_total``
#: alone (migration 0039): the writer has written each new dossier's total with the dossier
FEE_TOTAL_BY_WRITER = "recon.fee_total_by_writer"  # a PostgreSQL setting, not an audit action


@contextmanager
def fee_totals_written(session: Session) -> Iterator[bool]:
    """Fee lines inserted inside, for dossiers inserted just before with their ``fee_total``
    already their lines' sum, leave the total alone. Yields whether the writer must write
    the totals: on PostgreSQL yes (the trigger's update would rewrite every new dossier row
    once, after a ``COPY`` a second version of each, none of them a HOT update: +27 % on a
    bulk import, and the dossiers' heap left out of id order); on SQLite no (its per-row
    triggers update the row in place: the writer writes 0 and the triggers add the lines).
    Only for new dossiers: a line inserted for a dossier with lines already would leave its
    total short. The setting is local to the transaction and reset on the way out."""
    if session.get_bind().dialect.name != "postgresql":
        yield False
        return
    connection = session.connection()
    if not _trigger_stands_aside(session):  # a schema before 0039: the trigger adds them
        yield False
        return
    connection.exec_driver_sql(f"SET LOCAL {FEE_TOTAL_BY_WRITER} = 'on'")
    try:
        yield True
    finally:
        # (after a database error the transaction is aborted, which drops the setting with
        # it: the reset then fails quietly, and the error that aborted it is the one raised)
        with suppress(SQLAlchemyError):
            connection.exec_driver_sql(f"SET LOCAL {FEE_TOTAL_BY_WRITER} = 'off'")


def _trigger_stands_aside(session: Session) -> bool:
    """Whether the fee lines' insert trigger honours :data:`FEE_TOTAL_BY_WRITER` (0039): code
    ahead of its schema must not write the totals the trigger adds too."""
    source = session.connection().exec_driver_sql(
        "SELECT prosrc FROM pg_proc WHERE proname = 'recon_fee_lines_total_insert'").scalar()
    return source is not None and FEE_TOTAL_BY_WRITER in str(source)
