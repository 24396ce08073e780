"""What a database error is said to be (:func:`recon.db.classify_fault`), and a health check
that never hangs behind a writer.

``unreachable`` only when the connection was really lost or never made; ``not_migrated`` only
when the migrations say the schema is missing or behind. Anything else — a psycopg error without
a SQLSTATE on a live connection (more than 65,535 parameters), a typo'd table in a current
schema — is a bug of ours: a 500 with a logged traceback, never a 503 that sends the
administrator to a healthy database. ``/healthz`` waits at most ``RECON_HEALTH_TIMEOUT_SECONDS``
for a lock and then says ``busy``.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import bindparam, create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from recon import create_app
from recon.accounts.auth import Principal
from recon.clock import SystemClock
from recon.config import load_settings
from recon.db import Database, DatabaseFault, classify_fault, revision_status
from tests.conftest import TEST_SECRET
from tests.webhooks.whkit import wait_for_lock_waiter


def _raised(db: Database, sql: str, params: dict[str, object] | None = None) -> DBAPIError:
    with db.engine.connect() as conn, pytest.raises(DBAPIError) as raised:
        conn.execute(text(sql), params or {})
    return raised.value


def _too_many_parameters(db: Database) -> DBAPIError:
    statement = text("SELECT 1 WHERE 1 IN :xs").bindparams(bindparam("xs", expanding=True))
    with db.engine.connect() as conn, pytest.raises(DBAPIError) as raised:
        conn.execute(statement, {"xs": list(range(70_000))})
    return raised.value


@pytest.fixture
def revision_set(db: Database) -> Iterator[Callable[[str], None]]:
    """Set ``alembic_version`` to another revision for the test; put back afterwards."""
    with db.read() as s:
        original = s.execute(text("SELECT version_num FROM alembic_version")).scalar_one()

    def _set(revision: str) -> None:
        with db.transaction() as s:
            s.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})

    yield _set
    _set(original)


# --------------------------------------------------------------------------------------------
# classify_fault, both databases


def test_a_typo_in_a_table_name_is_a_bug_not_a_missing_migration(db: Database) -> None:
    exc = _raised(db, "SELECT * FROM api_tokenz")
    assert classify_fault(exc, db) is None
    assert classify_fault(exc) is None  # nothing to check against: not blamed on the schema
    assert classify_fault(_raised(db, "SELECT no_such_column FROM api_tokens"), db) is None


def test_a_schema_behind_the_code_is_not_migrated(db: Database,
                                                  revision_set: Callable[[str], None]) -> None:
    revision_set("0004")  # an older revision of ours: `recon db upgrade` was not run
    assert db.schema_status() == "behind"
    fault = classify_fault(_raised(db, "SELECT * FROM a_table_of_0005"), db)
    assert fault is not None and fault.kind == "not_migrated"
    assert "schema behind" in fault.detail
    revision_set("ffff_from_newer_code")  # migrated by newer code: a missing table is no gap
    assert db.schema_status() == "ahead"
    assert classify_fault(_raised(db, "SELECT * FROM a_table_of_0005"), db) is None


def test_a_missing_migration_table_is_not_migrated(db: Database) -> None:
    fault = classify_fault(_raised(db, "SELECT * FROM alembic_versions_typo"), db)
    assert fault is None
    with db.transaction() as s:
        s.execute(text("ALTER TABLE alembic_version RENAME TO alembic_version_away"))
    try:
        assert db.schema_status() == "missing"
        fault = classify_fault(_raised(db, "SELECT * FROM api_tokenz"), db)
        assert fault is not None and fault.kind == "not_migrated"
        fault = classify_fault(_raised(db, "SELECT * FROM alembic_version"))  # no db needed
        assert fault is not None and fault.kind == "not_migrated"
    finally:
        with db.transaction() as s:
            s.execute(text("ALTER TABLE alembic_version_away RENAME TO alembic_version"))


def test_revision_status() -> None:
    from recon.db import _migration_revisions

    heads, known = _migration_revisions()
    assert revision_status(next(iter(heads))) == "current"
    assert revision_status("0001") == "behind"
    assert revision_status(None) == "missing"
    assert revision_status("9999") == "ahead"
    assert "0001" in known


def test_an_empty_database_is_not_migrated(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        fault = classify_fault(_raised(db, "SELECT * FROM api_tokens"), db)
        assert fault == DatabaseFault("not_migrated", "no such table: api_tokens (schema "
                                                      "missing)")
    finally:
        db.dispose()


# --------------------------------------------------------------------------------------------
# PostgreSQL: errors without a SQLSTATE, lost and refused connections


@pytest.mark.postgres
def test_pg_too_many_parameters_is_a_bug_not_unreachable(pg_url: str) -> None:
    db = Database(pg_url)
    try:
        exc = _too_many_parameters(db)
        assert "65535" in str(exc.orig) and getattr(exc.orig, "sqlstate", None) is None
        assert not exc.connection_invalidated
        assert classify_fault(exc, db) is None
    finally:
        db.dispose()


@pytest.mark.postgres
def test_pg_lost_and_refused_connections_are_unreachable(pg_url: str) -> None:
    refused = Database(pg_url.replace("@127.0.0.1/", "@127.0.0.1:1/"))
    try:
        with pytest.raises(DBAPIError) as raised:
            refused.engine.connect()
        fault = classify_fault(raised.value, refused)
        assert fault is not None and fault.kind == "unreachable"
        assert "Connection refused" in fault.detail
    finally:
        refused.dispose()

    db = Database(pg_url)
    killer = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        with db.engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
            with killer.connect() as k:
                k.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            with pytest.raises(DBAPIError) as raised:
                conn.execute(text("SELECT 1"))
        fault = classify_fault(raised.value, db)
        assert fault is not None and fault.kind == "unreachable"
    finally:
        killer.dispose()
        db.dispose()


@pytest.mark.postgres
def test_pg_without_schema_is_not_migrated(pg_url: str) -> None:
    """A database (here: an empty schema first on the search path) with no migration table."""
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE SCHEMA IF NOT EXISTS nothing_here"))
    db = Database(pg_url, connect_args={"options": "-c search_path=nothing_here"})
    try:
        assert db.schema_status() == "missing"
        fault = classify_fault(_raised(db, "SELECT * FROM api_tokens"), db)
        assert fault is not None and fault.kind == "not_migrated"
    finally:
        db.dispose()
        with admin.connect() as conn:
            conn.execute(text("DROP SCHEMA nothing_here"))
        admin.dispose()


# --------------------------------------------------------------------------------------------
# Through the app: a bug is a 500 with a traceback, not a 503


def _break_token_lookup(monkeypatch: pytest.MonkeyPatch, sql_or_call: object) -> None:
    def broken(session: Session, token: str) -> Principal | None:
        if callable(sql_or_call):
            sql_or_call(session)
        else:
            session.execute(text(str(sql_or_call)))
        return None

    monkeypatch.setattr("recon.web.security.token_principal", broken)


def test_a_bug_in_a_query_is_a_500_with_a_traceback(
        client: FlaskClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        db: Database) -> None:
    _break_token_lookup(monkeypatch, "SELECT * FROM api_tokenz")
    with caplog.at_level(logging.ERROR, logger="recon.web"):
        response = client.get("/api/v1/agencies", headers={"Authorization": "Bearer rcn_x"})
    assert response.status_code == 500
    assert response.json["error"] == "internal_error"
    assert "Retry-After" not in response.headers
    assert any(r.exc_info and "api_tokenz" in str(r.exc_info[1]) for r in caplog.records)
    if db.dialect == "postgresql":
        statement = text("SELECT 1 WHERE 1 IN :xs").bindparams(
            bindparam("xs", expanding=True))
        _break_token_lookup(monkeypatch, lambda s: s.execute(statement,
                                                             {"xs": list(range(70_000))}))
        response = client.get("/api/v1/agencies", headers={"Authorization": "Bearer rcn_x"})
        assert response.status_code == 500, response.json
        assert response.json["error"] == "internal_error"


# --------------------------------------------------------------------------------------------
# /healthz behind a long writer


def _app(url: str, tmp_path: Path, **env: str) -> Flask:
    app = create_app(load_settings({
        "RECON_DATABASE_URL": url, "RECON_ENV": "test", "RECON_SECRET_KEY": TEST_SECRET,
        "RECON_INSTANCE_PATH": str(tmp_path / "instance"), **env}), clock=SystemClock())
    app.config["TESTING"] = True
    return app


def test_healthz_behind_a_long_sqlite_writer_says_busy(tmp_path: Path,
                                                       sqlite_template: Path) -> None:
    path = tmp_path / "recon.db"
    shutil.copyfile(sqlite_template, path)
    app = _app(f"sqlite:///{path}", tmp_path, RECON_HEALTH_TIMEOUT_SECONDS="1")
    client = app.test_client()
    assert client.get("/healthz").status_code == 200  # WAL mode from here on
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE alembic_version SET version_num = version_num")
    try:
        started = time.monotonic()
        response = client.get("/healthz")
        elapsed = time.monotonic() - started
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert response.status_code == 503
    database = response.json["database"]
    assert database["problem"] == "busy" and database["writable"] is False
    assert "revision" not in database and "detail" not in database  # public: no driver text
    assert "bận" in database["message_vi"] and "busy" in database["message"]
    assert response.headers["Retry-After"] == "5"
    assert 0.9 <= elapsed < 4, elapsed
    # the pooled connection got its 30 s busy timeout back
    db: Database = app.extensions["recon.db"]
    with db.engine.connect() as conn:
        assert conn.connection.driver_connection.execute(  # type: ignore[union-attr]
            "PRAGMA busy_timeout").fetchone() == (30_000,)
    assert client.get("/healthz").status_code == 200
    app.extensions["recon.db"].dispose()


@pytest.mark.postgres
def test_healthz_behind_a_long_pg_writer_says_busy(empty_pg: str, tmp_path: Path) -> None:
    app = _app(empty_pg, tmp_path, RECON_HEALTH_TIMEOUT_SECONDS="1")
    client = app.test_client()
    holder = create_engine(empty_pg)
    hold = holder.connect()
    hold.begin()
    hold.execute(text("UPDATE alembic_version SET version_num = version_num"))
    answers: list[tuple[int, dict[str, object], str | None, float]] = []

    def check() -> None:
        started = time.monotonic()
        response = client.get("/healthz")
        answers.append((response.status_code, response.json["database"],
                        response.headers.get("Retry-After"), time.monotonic() - started))

    try:
        thread = threading.Thread(target=check)
        thread.start()
        assert wait_for_lock_waiter(empty_pg, timeout=5)
        thread.join(10)
    finally:
        hold.rollback()
        hold.close()
        holder.dispose()
    status, database, retry_after, elapsed = answers[0]
    assert (status, database["problem"], retry_after) == (503, "busy", "5"), database
    assert "detail" not in database  # the driver's text goes to the log, not to the public
    assert 0.9 <= elapsed < 4, elapsed
    assert client.get("/healthz").status_code == 200
    app.extensions["recon.db"].dispose()


def test_healthz_says_not_migrated_for_a_schema_behind_the_code(
        client: FlaskClient, revision_set: Callable[[str], None]) -> None:
    revision_set("0004")
    response = client.get("/healthz")
    assert response.status_code == 503
    database = response.json["database"]
    assert database["problem"] == "not_migrated" and "revision" not in database
    assert "recon db upgrade" in database["hint"]
    assert response.headers["Retry-After"] == "60"


def test_health_timeout_setting() -> None:
    base = {"RECON_ENV": "test"}
    assert load_settings(base).health_timeout_seconds == 2.0
    assert load_settings({**base, "RECON_HEALTH_TIMEOUT_SECONDS": "0.5"}
                         ).health_timeout_seconds == 0.5
    for bad in ("0", "-1", "soon", "120"):
        with pytest.raises(ValueError, match="RECON_HEALTH_TIMEOUT_SECONDS"):
            load_settings({**base, "RECON_HEALTH_TIMEOUT_SECONDS": bad})


# --------------------------------------------------------------------------------------------
# Every pooled connection in use: overloaded (503), not a bug (500)


def test_an_exhausted_pool_is_overloaded_for_pages_and_webhooks(database_url: str,
                                                                tmp_path: Path) -> None:
    """A worker whose pool has no connection free within its timeout answers 503 with
    Retry-After (the reader is told to try again), not a 500; a webhook is told to retry and
    its call is spooled, the reason saying why."""
    db = Database(database_url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    app = create_app(load_settings({
        "RECON_DATABASE_URL": database_url, "RECON_ENV": "test", "RECON_SECRET_KEY": TEST_SECRET,
        "RECON_INSTANCE_PATH": str(tmp_path / "instance"), "RECON_POS_SECRET": "pos-secret"}),
        clock=SystemClock(), database=db)
    app.config["TESTING"] = True
    client = app.test_client()
    from adapters.pos import POSAdapter

    raw = POSAdapter(secrets=("pos-secret",), max_age_seconds=0).build_callback(
        amount=180_000, reference="HS7K3M9QX2RP", provider_txn_id="000000000042")
    held = db.engine.connect()  # the pool's only connection
    try:
        page = client.get("/api/v1/agencies", headers={"Authorization": "Bearer rcn_x"})
        hook = client.post(raw.path, data=raw.body, headers=dict(raw.headers))
    finally:
        held.close()
    assert page.status_code == 503, page.get_data(as_text=True)
    assert page.json["problem"] == "overloaded"
    assert page.headers["Retry-After"] == "10"
    # the public answer is the state word and what to do; the pool's words go to the log only
    assert "quá tải" in page.json["message_vi"] and "pool" not in page.get_data(as_text=True)
    assert hook.status_code == 503 and hook.json["status"] == "retry"
    spooled = [line for path in (tmp_path / "instance" / "spool").glob("callbacks-*.jsonl")
               for line in path.read_text().splitlines()]
    assert len(spooled) == 1 and "database overloaded" in spooled[0]
    assert client.get("/api/v1/agencies",  # a connection is free again: an ordinary 401
                      headers={"Authorization": "Bearer rcn_x"}).status_code == 401
    db.dispose()
