"""PostgreSQL's hot path: statements handed straight to psycopg on a pooled connection.

SQLAlchemy's ``exec_driver_sql`` already skips statement compilation, but still builds an
execution context and a result object per call, and switching a connection to autocommit and
back through ``execution_options`` walks its characteristics machinery: together about a third
of a webhook's CPU in the web process. The few statements a webhook's first delivery runs (the
archive, the match, the recording) go through :func:`one` instead, inside :func:`autocommit`.

What SQLAlchemy would have done on an error is kept: the driver's exception is wrapped in the
matching :class:`sqlalchemy.exc.DBAPIError` subclass (so :func:`recon.db.retrying` and
:func:`recon.db.classify_fault` see what they always see), and a connection found dead is
invalidated, so the pool never hands it out again, and every other pooled connection is pinged
before its next use (:func:`recon.db.note_disconnect`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import psycopg
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from recon.db import note_disconnect


def _driver(conn: Connection) -> psycopg.Connection[Any]:
    return conn.connection.driver_connection  # type: ignore[return-value]


@contextmanager
def autocommit(conn: Connection) -> Iterator[None]:
    """Every statement run by :func:`one` inside this block is its own transaction, committed
    synchronously by itself: one round trip each, no BEGIN and no COMMIT. ``conn`` must not be
    inside a transaction of its own; it is back in its normal mode afterwards."""
    driver = _driver(conn)
    driver.autocommit = True
    try:
        yield
    finally:
        if not driver.closed:
            driver.autocommit = False


def one(conn: Connection, statement: str, params: Mapping[str, Any]) -> tuple[Any, ...]:
    """Run ``statement`` (psycopg's ``%(name)s`` style) and return its first row, which it
    must have. psycopg prepares a statement on the server once it has run it a few times."""
    driver = _driver(conn)
    try:
        row = driver.execute(statement, params).fetchone()
    except psycopg.Error as exc:
        lost = driver.broken or driver.closed
        if lost:
            note_disconnect()
            conn.invalidate(exc)
        raise DBAPIError.instance(statement, dict(params), exc, psycopg.Error,
                                  connection_invalidated=lost,
                                  dialect=conn.dialect) from exc
    if row is None:
        raise RuntimeError(f"no row from {statement[:60]!r}")
    return tuple(row)
