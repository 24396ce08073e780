"""Issue 16 item 10: ``/healthz`` is public, so it must not show the driver's error text (host,
port, user) nor versions; the whole answer is on ``/admin/health`` for administrators only."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from recon import create_app
from recon.clock import SystemClock
from recon.config import load_settings
from recon.db import Database
from tests.conftest import TEST_SECRET

SECRET_TEXT = ("connection to server at \"db.internal.example\" (10.1.2.3), port 5433 failed: "
               "FATAL: password authentication failed for user \"recon_owner\"")


def test_public_healthz_hides_the_driver_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              caplog: pytest.LogCaptureFixture) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError(SECRET_TEXT)

    monkeypatch.setattr(db, "ping", broken)
    app = create_app(load_settings({"RECON_ENV": "test", "RECON_SECRET_KEY": TEST_SECRET,
                                    "RECON_INSTANCE_PATH": str(tmp_path)}),
                     clock=SystemClock(), database=db)
    try:
        with caplog.at_level(logging.WARNING):
            response = app.test_client().get("/healthz")
        assert response.status_code == 503
        text = response.get_data(as_text=True)
        for leak in ("db.internal.example", "10.1.2.3", "5433", "recon_owner", "RuntimeError"):
            assert leak not in text, text
        assert response.json["status"] == "unavailable"
        assert response.json["database"]["ok"] is False
        assert response.json["database"]["problem"] == "unreachable"
        assert "version" not in response.json
        assert "db.internal.example" in caplog.text  # the administrator finds it in the log
    finally:
        db.dispose()


def test_admin_health_needs_an_admin(client: Any, make_token: Any) -> None:
    assert client.get("/admin/health").status_code in (401, 302)
    finance = client.get("/admin/health",
                         headers={"Authorization": f"Bearer {make_token('finance')}"})
    assert finance.status_code == 403
    admin = client.get("/admin/health",
                       headers={"Authorization": f"Bearer {make_token('admin')}"})
    assert admin.status_code == 200
    assert admin.json["database"]["revision"] and admin.json["version"]
    public = client.get("/healthz").json
    assert public["status"] == "ok" and "revision" not in public["database"]
