"""Shared fixtures. The schema always comes from the real migrations.

Database tests run on SQLite, and also on PostgreSQL when ``RECON_TEST_DATABASE_URL`` names
one (``.ci/run`` and ``make test`` do). The suite creates its own throw-away PostgreSQL database
(``<name>_t<pid>``) so parallel runs never collide, and drops it at the end. Tests that need
PostgreSQL itself use ``pg_url`` and fail (never skip) without it.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from recon import create_app
from recon.accounts.auth import create_token, create_user
from recon.cli.admin import upgrade_database
from recon.clock import FixedClock
from recon.config import load_settings
from recon.db import Base, Database

PG_ENV = "RECON_TEST_DATABASE_URL"
T0 = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)  # 10:00 in Huế
TEST_SECRET = "test-secret-key-0123456789abcdef"


def _pg_requested() -> str | None:
    return os.environ.get(PG_ENV) or None


def backends() -> list[str]:
    return ["sqlite", "postgresql"] if _pg_requested() else ["sqlite"]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "recon.db"
    upgrade_database(f"sqlite:///{path}")
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    return path


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A freshly migrated PostgreSQL database for this test session."""
    base = _pg_requested()
    if not base:
        pytest.fail(f"this test needs PostgreSQL: set {PG_ENV}, e.g. "
                    "postgresql+psycopg://postgres@127.0.0.1/test (make test does)")
    url = make_url(base)
    name = f"{url.database}_t{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    test_url = url.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade_database(test_url)
        yield test_url
    finally:
        with admin.connect() as conn:
            conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
            ), {"n": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def _truncate_pg(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER USER"))
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def empty_pg(pg_url: str) -> Iterator[str]:
    """The suite's PostgreSQL database, emptied before and after the test (its URL)."""
    _truncate_pg(pg_url)
    yield pg_url
    _truncate_pg(pg_url)


@pytest.fixture(params=backends())
def database_url(request: pytest.FixtureRequest, tmp_path: Path,
                 sqlite_template: Path) -> Iterator[str]:
    if request.param == "sqlite":
        target = tmp_path / "recon.db"
        shutil.copyfile(sqlite_template, target)
        yield f"sqlite:///{target}"
        return
    url: str = request.getfixturevalue("pg_url")
    _truncate_pg(url)
    yield url
    _truncate_pg(url)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment a CLI process would see, also applied to this process."""
    values = {
        "RECON_DATABASE_URL": database_url,
        "RECON_INSTANCE_PATH": str(tmp_path / "instance"),
        "RECON_ENV": "test",
        "RECON_SECRET_KEY": TEST_SECRET,
    }
    for key in list(os.environ):
        if key.startswith("RECON_") and key != PG_ENV:
            monkeypatch.delenv(key)
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


@pytest.fixture
def app(env: dict[str, str], db: Database, clock: FixedClock) -> Flask:
    application = create_app(load_settings(env), clock=clock, database=db)
    application.config["TESTING"] = True
    return application


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def make_token(db: Database, clock: FixedClock):  # type: ignore[no-untyped-def]
    def _make(role: str = "intake", name: str | None = None, user: str | None = None) -> str:
        """A token of ``role``; ``user`` names its owner (an existing user), else nobody."""
        with db.transaction() as s:
            _, token = create_token(s, clock, name=name or f"{role}-client", role=role,
                                    user=user)
        return token
    return _make


@pytest.fixture
def make_user(db: Database, clock: FixedClock):  # type: ignore[no-untyped-def]
    def _make(username: str, role: str, password: str = "correct-horse-battery") -> str:
        with db.transaction() as s:
            create_user(s, clock, username=username, role=role, password=password)
        return password
    return _make


@pytest.fixture
def login(client: FlaskClient, make_user):  # type: ignore[no-untyped-def]
    """Log the test client in as a new user of ``role``; returns the page's CSRF token."""
    def _login(role: str, username: str | None = None) -> str:
        name = username or f"{role}1"
        password = make_user(name, role)
        client.get("/login")
        with client.session_transaction() as sess:
            token = sess["csrf"]
        response = client.post("/login", data={"username": name, "password": password,
                                               "csrf_token": token})
        assert response.status_code == 302, response.data
        with client.session_transaction() as sess:
            return str(sess["csrf"])
    return _login
