from __future__ import annotations

import json

from click.testing import CliRunner
from sqlalchemy import func, select

from recon.cli import cli
from recon.db import Database
from recon.models import Agency, Dossier, FeeLine, Procedure, User


def _counts(db: Database) -> dict[str, int]:
    with db.read() as s:
        return {m.__name__: int(s.scalar(select(func.count()).select_from(m)) or 0)
                for m in (Agency, Procedure, Dossier, FeeLine, User)}


def test_demo_is_idempotent_and_prints_passwords(env: dict[str, str], db: Database) -> None:
    first = CliRunner().invoke(cli, ["demo", "--dossiers", "400"], catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert "thungan" in first.output and "password:" in first.output
    summary = json.loads(first.stdout.strip().splitlines()[-1])
    assert summary["quarter_dossiers_created"] == 400
    counts = _counts(db)
    assert counts["Agency"] >= 1
    assert counts["Procedure"] >= 15
    assert counts["Dossier"] == 400 + summary["today_dossiers_created"]
    assert counts["User"] == 4
    second = CliRunner().invoke(cli, ["demo", "--dossiers", "400"], catch_exceptions=False)
    assert second.exit_code == 0
    assert json.loads(second.stdout.strip().splitlines()[-1])["quarter_dossiers_created"] == 0
    assert _counts(db) == counts


def test_demo_centre_collects_into_vietinbank(env: dict[str, str], db: Database) -> None:
    CliRunner().invoke(cli, ["demo", "--dossiers", "50"], catch_exceptions=False)
    with db.read() as s:
        bins = set(s.scalars(select(Agency.bank_bin)))
        fields = set(s.scalars(select(Procedure.field)))
    assert "970415" in bins
    assert len(fields) >= 5


def test_demo_users_can_log_in(env: dict[str, str], db: Database, client) -> None:  # type: ignore[no-untyped-def]
    CliRunner().invoke(cli, ["demo", "--dossiers", "10"], catch_exceptions=False)
    client.get("/login")
    with client.session_transaction() as sess:
        csrf = sess["csrf"]
    response = client.post("/login", data={"username": "thungan",
                                           "password": "thungan-demo-2021", "csrf_token": csrf})
    assert response.status_code == 302
