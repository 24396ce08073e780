"""PostgreSQL connections: pinged before use only when idle a while or after a disconnect, and
statements sent straight to psycopg (recon.driver) fail the way SQLAlchemy's would.

The pool used to ping every connection at every checkout: a round trip per request. Now a
connection that came back moments ago goes out unpinged; one idle longer than
``RECON_DB_PING_AFTER_SECONDS``, or any after a dead connection was seen, is pinged, and a dead
one is replaced without the caller noticing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from recon import db as recon_db
from recon import driver
from recon.db import Database, classify_fault

pytestmark = pytest.mark.postgres


class Pings:
    def __init__(self) -> None:
        self.count = 0


@pytest.fixture
def pings(monkeypatch: pytest.MonkeyPatch) -> Pings:
    """Counts the pings of every engine's dialect."""
    seen = Pings()
    from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

    real = PGDialect_psycopg.do_ping

    def counted(self: Any, dbapi_connection: Any) -> bool:
        seen.count += 1
        return bool(real(self, dbapi_connection))  # type: ignore[no-untyped-call]

    monkeypatch.setattr(PGDialect_psycopg, "do_ping", counted)
    return seen


@pytest.fixture(autouse=True)
def _no_disconnect_seen(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts as if this process had never seen a dead connection."""
    monkeypatch.setattr(recon_db._Disconnects, "last", float("-inf"))


@pytest.fixture
def database(pg_url: str) -> Iterator[Database]:
    database = Database(pg_url, ping_after_seconds=1, pool_size=2, max_overflow=0)
    yield database
    database.dispose()


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(pg_url: str, pid: int) -> None:
    other = Database(pg_url, ping_after_seconds=0)
    try:
        with other.engine.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
    finally:
        other.dispose()


def _age_pool(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Make every pooled connection look idle for ``seconds`` longer (no sleeping)."""
    real = time.monotonic
    monkeypatch.setattr(time, "monotonic", lambda: real() + seconds)


def test_a_connection_used_moments_ago_is_not_pinged(database: Database, pings: Pings) -> None:
    first = _backend_pid(database.engine)  # a new connection: not pinged either
    for _ in range(20):
        assert _backend_pid(database.engine) == first  # the same connection, reused
    assert pings.count == 0


def test_an_idle_connection_is_pinged_and_a_dead_one_replaced(
        database: Database, pings: Pings, pg_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    first = _backend_pid(database.engine)
    _terminate(pg_url, first)  # e.g. an idle-session timeout, a restart, a network cut
    _age_pool(monkeypatch, 5)
    second = _backend_pid(database.engine)  # no error: the ping failed, the pool reconnected
    assert second != first
    assert pings.count >= 1


def test_after_a_disconnect_every_pooled_connection_is_pinged(
        database: Database, pings: Pings, pg_url: str) -> None:
    """A restart kills every connection; once one is found dead (here by a statement sent
    straight to psycopg, which SQLAlchemy's pool never hears of), the others are not trusted on
    their recent use: the next checkout pings, and reconnects."""
    with database.engine.connect() as a, database.engine.connect() as b:
        pid_a = int(a.execute(text("SELECT pg_backend_pid()")).scalar_one())
        pid_b = int(b.execute(text("SELECT pg_backend_pid()")).scalar_one())
    _terminate(pg_url, pid_a)
    _terminate(pg_url, pid_b)
    with database.engine.connect() as conn:  # the pool hands out one of them, unpinged...
        assert pings.count == 0
        with pytest.raises(OperationalError) as raised, driver.autocommit(conn):
            driver.one(conn, "SELECT 1", {})
        assert raised.value.connection_invalidated
    with database.engine.connect() as conn:  # ...but the next checkout pings the other
        assert conn.execute(text("SELECT 1")).scalar() == 1
    assert pings.count == 1
    assert _backend_pid(database.engine) not in (pid_a, pid_b)


def test_ping_at_every_checkout_when_set_to_zero(pg_url: str, pings: Pings) -> None:
    database = Database(pg_url, ping_after_seconds=0)
    try:
        for _ in range(4):
            _backend_pid(database.engine)
        assert pings.count == 3  # every checkout but the first, which made the connection
    finally:
        database.dispose()


def test_the_setting_reaches_the_engine(monkeypatch: pytest.MonkeyPatch, pg_url: str) -> None:
    from recon import create_app
    from recon.config import load_settings

    settings = load_settings({"RECON_ENV": "test", "RECON_DATABASE_URL": pg_url,
                              "RECON_DB_PING_AFTER_SECONDS": "0"})
    app = create_app(settings)
    engine = app.extensions["recon.db"].engine
    try:
        assert engine.pool._pre_ping  # 0: SQLAlchemy's own ping at every checkout
    finally:
        engine.dispose()
    with pytest.raises(ValueError, match="RECON_DB_PING_AFTER_SECONDS"):
        load_settings({"RECON_ENV": "test", "RECON_DB_PING_AFTER_SECONDS": "-1"})


# --------------------------------------------------------------------------------------------
# recon.driver: straight to psycopg, errors as SQLAlchemy raises them


def test_driver_statements_autocommit_and_return_rows(database: Database) -> None:
    with database.engine.connect() as conn:
        conn.exec_driver_sql("CREATE TEMP TABLE driver_probe (k int PRIMARY KEY)")
        conn.commit()
        with driver.autocommit(conn):
            assert driver.one(conn, "INSERT INTO driver_probe VALUES (%(k)s) RETURNING k",
                              {"k": 7}) == (7,)
        assert not conn.connection.dbapi_connection.autocommit  # type: ignore[union-attr]
        conn.rollback()  # a transaction of SQLAlchemy's: the autocommitted row stays
        assert conn.exec_driver_sql("SELECT count(*) FROM driver_probe").scalar() == 1


def test_driver_errors_are_wrapped_like_sqlalchemy_wraps_them(database: Database) -> None:
    with database.engine.connect() as conn:
        conn.exec_driver_sql("CREATE TEMP TABLE driver_probe (k int PRIMARY KEY)")
        conn.commit()
        with driver.autocommit(conn):
            driver.one(conn, "INSERT INTO driver_probe VALUES (1) RETURNING k", {})
            with pytest.raises(IntegrityError) as raised:
                driver.one(conn, "INSERT INTO driver_probe VALUES (1) RETURNING k", {})
        assert "driver_probe" in str(raised.value)
        assert not raised.value.connection_invalidated
        assert classify_fault(raised.value) is None  # a constraint: not the database's health
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1  # the connection is fine
        with pytest.raises(RuntimeError, match="no row"):
            driver.one(conn, "SELECT 1 WHERE false", {})


def test_driver_on_a_dead_connection_invalidates_it(database: Database, pg_url: str) -> None:
    with database.engine.connect() as conn:
        pid = int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
        conn.commit()
        _terminate(pg_url, pid)
        with pytest.raises(DBAPIError) as raised, driver.autocommit(conn):
            driver.one(conn, "SELECT 1", {})
        assert isinstance(raised.value, OperationalError)
        assert raised.value.connection_invalidated
        fault = classify_fault(raised.value)
        assert fault is not None and fault.kind == "unreachable"
    assert _backend_pid(database.engine) != pid  # the pool connected afresh
