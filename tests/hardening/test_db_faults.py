"""In-process: a read-only SQLite database (opened read-only, as on a read-only mount: file
permissions would not stop the root user CI runs as) and a database with no schema. Each is
named by ``/healthz`` and answered 503 with what to do; webhooks are told to retry."""

from __future__ import annotations

import logging
import shutil
import sqlite3
from pathlib import Path

import pytest
from flask import Flask

from bench.soak import PROVIDER_ENV, is_retry_answer, seed_intents, signed
from recon import create_app
from recon.accounts.auth import create_token
from recon.clock import SystemClock
from recon.config import load_settings
from recon.db import Database
from tests.conftest import TEST_SECRET
from tests.foundation.helpers import dossier_body


def _app(db: Database, tmp_path: Path) -> Flask:
    app = create_app(load_settings({
        **PROVIDER_ENV, "RECON_DATABASE_URL": db.url, "RECON_ENV": "test",
        "RECON_SECRET_KEY": TEST_SECRET, "RECON_INSTANCE_PATH": str(tmp_path / "instance")}),
        clock=SystemClock(), database=db)
    app.config["TESTING"] = True
    return app


def test_read_only_sqlite(tmp_path: Path, sqlite_template: Path) -> None:
    path = tmp_path / "recon.db"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    intent = seed_intents(url, 1)[0]  # (its writes leave the file in WAL mode)
    writable = Database(url)
    with writable.transaction() as s:
        _, token = create_token(s, SystemClock(), name="ro", role="admin", user=None)
    writable.dispose()
    db = Database(url, creator=lambda: sqlite3.connect(f"file:{path}?mode=ro", uri=True,
                                                      check_same_thread=False))
    try:
        client = _app(db, tmp_path).test_client()
        health = client.get("/healthz")
        assert health.status_code == 503
        assert health.json["database"]["problem"] == "read_only"
        assert health.json["database"]["writable"] is False

        raw = signed(intent.provider, "930000001", intent)
        answer = client.open(raw.path + (f"?{raw.query_string}" if raw.query_string else ""),
                             method=raw.method, headers=dict(raw.headers), data=raw.body or None)
        assert is_retry_answer(intent.provider, answer.status_code, answer.get_data())

        auth = {"Authorization": f"Bearer {token}"}
        response = client.post("/api/v1/dossiers", headers=auth,
                               json=dossier_body("000.00.21.H57-RO-0002", agency_code="SOAK"))
        assert response.status_code == 503
        assert response.json["problem"] == "read_only"
        assert "chỉ đọc" in response.json["message_vi"]
        assert client.get("/api/v1/agencies", headers=auth).status_code == 200
    finally:
        db.dispose()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM callbacks").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM dossiers").fetchone() == (1,)


def test_database_without_schema(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        client = _app(db, tmp_path).test_client()
        health = client.get("/healthz")
        assert health.status_code == 503
        assert health.json["database"]["problem"] == "not_migrated"
        assert "recon db upgrade" in health.json["database"]["hint"]
        response = client.get("/api/v1/agencies", headers={"Authorization": "Bearer rcn_x"})
        assert response.status_code == 503
        assert response.json["problem"] == "not_migrated"
        assert "Retry-After" in response.json["hint"]  # the administrator's hint is logged
    finally:
        db.dispose()


def test_503_tells_the_caller_the_state_word_only(tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    """A caller without credentials (the principal cannot even be loaded) learns what state the
    database is in and what to do; the driver's words and the administrator's hint go to the
    log only."""
    db = Database(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        client = _app(db, tmp_path).test_client()
        with caplog.at_level(logging.ERROR, logger="recon.web"):
            response = client.get("/api/v1/agencies", headers={"Authorization": "Bearer rcn_x"})
        assert response.status_code == 503
        assert set(response.json) == {"error", "problem", "message", "message_vi", "hint"}
        assert response.json["problem"] == "not_migrated"
        text = response.get_data(as_text=True)
        for private in ("no such table", "sqlite", "recon db upgrade", "RECON_"):
            assert private.lower() not in text.lower(), private
        logged = " ".join(r.getMessage() for r in caplog.records)
        assert "no such table" in logged and "recon db upgrade" in logged
    finally:
        db.dispose()
