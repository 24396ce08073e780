"""``api_tokens.last_used_at``: written when a bearer token authenticates a call, at most once a
minute per token, best effort (a database that cannot write it never fails the call), and
without a write transaction for the calls in between."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import create_engine, event, select, text
from sqlalchemy.exc import OperationalError

from recon.accounts.auth import note_token_use, token_principal
from recon.cli import cli
from recon.clock import FixedClock
from recon.db import Database
from recon.models import ApiToken


def _last_used(db: Database, name: str = "mot-cua") -> Any:
    with db.read() as s:
        return s.scalars(select(ApiToken.last_used_at).where(ApiToken.name == name)).one()


@pytest.fixture
def statements(db: Database) -> Iterator[list[str]]:
    """Every statement sent to the database while the test runs."""
    seen: list[str] = []

    def _record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", _record)
    yield seen
    event.remove(db.engine, "before_cursor_execute", _record)


def _get(client: FlaskClient, token: str) -> int:
    return client.get("/api/v1/agencies", headers={"Authorization": f"Bearer {token}"}
                      ).status_code


def _writes(seen: list[str]) -> list[str]:
    return [s for s in seen if s.startswith(("UPDATE", "BEGIN IMMEDIATE", "INSERT"))]


def test_written_at_most_once_a_minute(client: FlaskClient, db: Database, clock: FixedClock,
                                       make_token: Any, statements: list[str]) -> None:
    token = make_token("intake", "mot-cua")
    assert _last_used(db) is None
    statements.clear()
    assert _get(client, token) == 200
    assert _last_used(db) == clock.now()
    assert len([s for s in statements if s.startswith("UPDATE api_tokens")]) == 1

    first = clock.now()
    for seconds in (1, 30, 59):  # within the minute: decided from the row read, nothing written
        clock.advance(timedelta(seconds=seconds) - (clock.now() - first))
        statements.clear()
        assert _get(client, token) == 200
        assert _writes(statements) == [], statements  # no write lock taken (SQLite)
    assert _last_used(db) == first

    clock.advance(timedelta(seconds=61) - (clock.now() - first))
    assert _get(client, token) == 200
    assert _last_used(db) == first + timedelta(seconds=61)


def test_the_update_is_conditional(db: Database, clock: FixedClock, make_token: Any) -> None:
    """Two calls that both read the token before either wrote: the second UPDATE matches no
    row (the condition is checked again in the database), so it never moves it twice."""
    token = make_token("intake", "mot-cua")
    with db.read() as s:
        stale = token_principal(s, token)
    assert stale is not None and stale.last_used_at is None
    assert note_token_use(db, clock, stale) is True
    clock.advance(timedelta(seconds=5))
    assert note_token_use(db, clock, stale) is False
    assert _last_used(db) == clock.now() - timedelta(seconds=5)


def test_revoked_tokens_and_sessions_write_nothing(client: FlaskClient, db: Database,
                                                   make_token: Any, login: Any,
                                                   statements: list[str]) -> None:
    token = make_token("intake", "mot-cua")
    with db.transaction() as s:
        s.execute(text("UPDATE api_tokens SET revoked_at = created_at"))
    assert _get(client, token) == 401
    assert _last_used(db) is None
    login("finance")
    statements.clear()
    assert client.get("/finance").status_code == 200
    assert not [s for s in statements if "api_tokens" in s]


def test_a_failure_to_write_it_never_fails_the_call(
        client: FlaskClient, db: Database, make_token: Any, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    token = make_token("intake", "mot-cua")

    def broken(self: Database, seconds: float) -> Any:
        raise OperationalError("UPDATE api_tokens", {}, sqlite3.OperationalError("boom"))

    monkeypatch.setattr(Database, "bounded_transaction", broken)
    with caplog.at_level(logging.WARNING, logger="recon.auth"):
        assert _get(client, token) == 200
    assert _last_used(db) is None
    assert any("could not note the use of API token" in r.getMessage() for r in caplog.records)


def test_a_busy_database_delays_the_call_by_a_moment_at_most(
        client: FlaskClient, db: Database, make_token: Any, database_url: str,
        caplog: pytest.LogCaptureFixture) -> None:
    token = make_token("intake", "mot-cua")
    holder = create_engine(database_url)
    conn = holder.connect()
    try:
        if db.dialect == "sqlite":
            raw = conn.connection.driver_connection
            assert raw is not None
            raw.isolation_level = None
            raw.execute("BEGIN IMMEDIATE")  # another process's long write transaction
        else:
            conn.begin()
            conn.execute(text("SELECT id FROM api_tokens FOR UPDATE"))
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="recon.auth"):
            assert _get(client, token) == 200
        assert time.monotonic() - started < 2
    finally:
        if db.dialect == "sqlite":
            raw.execute("ROLLBACK")
        else:
            conn.rollback()
        conn.close()
        holder.dispose()
    assert _last_used(db) is None
    assert any("(busy:" in r.getMessage() for r in caplog.records), caplog.text
    assert _get(client, token) == 200  # and the next call writes it
    assert _last_used(db) is not None


def test_tokens_list_shows_it(client: FlaskClient, db: Database, clock: FixedClock,
                              env: dict[str, str], make_token: Any) -> None:
    token = make_token("intake", "mot-cua")
    make_token("intake", "chua-dung")
    assert _get(client, token) == 200
    runner = CliRunner()
    listed = {t["name"]: t for t in json.loads(
        runner.invoke(cli, ["tokens", "list", "--json"], catch_exceptions=False).stdout)}
    assert listed["mot-cua"]["last_used_at"] == clock.now().isoformat()
    assert listed["chua-dung"]["last_used_at"] is None
    table = runner.invoke(cli, ["tokens", "list"], catch_exceptions=False).stdout.splitlines()
    assert "last used (VN)" in table[0]
    assert "2026-11-26 10:00  2026-11-26 10:00" in table[1]  # created and used, Vietnam time
    assert "2026-11-26 10:00  -" in table[2]
