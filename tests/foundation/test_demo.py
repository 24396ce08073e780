from __future__ import annotations

import json
import re
from typing import Any

from click.testing import CliRunner, Result
from sqlalchemy import func, select

from recon.cli import cli
from recon.db import Database
from recon.demo import catalog
from recon.demo.seed import DEMO_USERS
from recon.demo.transfers import DEPARTMENTS
from recon.models import Agency, Dossier, FeeLine, Procedure, User


def _counts(db: Database) -> dict[str, int]:
    with db.read() as s:
        return {m.__name__: int(s.scalar(select(func.count()).select_from(m)) or 0)
                for m in (Agency, Procedure, Dossier, FeeLine, User)}


def _demo(*args: str) -> tuple[Result, dict[str, Any]]:
    """Run `recon demo`; it must succeed and end with its JSON summary."""
    result = CliRunner().invoke(cli, ["demo", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return result, summary


def test_demo_is_idempotent_and_prints_passwords(env: dict[str, str], db: Database) -> None:
    first, summary = _demo("--dossiers", "400")
    for username, role, _display, password in DEMO_USERS:
        assert re.search(rf"^\s+{username}\s+{role}\s+password: {password}$", first.stdout,
                         re.MULTILINE), first.stdout
    assert summary["quarter_dossiers_created"] == 400
    assert summary["agencies_created"] == len(catalog.AGENCIES)
    assert summary["procedures_created"] == len(catalog.PROCEDURES)
    assert sorted(summary["users_created"]) == sorted(u[0] for u in DEMO_USERS)
    assert summary["today_dossiers_created"] > 0
    assert summary["receipts_issued"] > 0  # the quarter's e-receipts, with the demo's own key
    counts = _counts(db)
    # the catalogue's agencies and the departments the onward transfers go to
    assert counts["Agency"] == len(catalog.AGENCIES) + len(DEPARTMENTS) > len(catalog.AGENCIES)
    assert counts["Procedure"] == len(catalog.PROCEDURES) >= 15
    assert counts["Dossier"] == 400 + summary["today_dossiers_created"]
    assert counts["User"] == len(DEMO_USERS) == 8  # 4 of the province, 2 of each of 2 agencies
    _second, again = _demo("--dossiers", "400")
    assert again == {"agencies_created": 0, "procedures_created": 0, "users_created": [],
                     "quarter_dossiers_created": 0, "quarter_dossiers_already_there": 400,
                     "today_dossiers_created": 0, "receipts_issued": 0}
    assert _counts(db) == counts


def test_demo_centre_collects_into_vietinbank(env: dict[str, str], db: Database) -> None:
    _result, summary = _demo("--dossiers", "50")
    assert summary["agencies_created"] == len(catalog.AGENCIES)
    with db.read() as s:
        bins = set(s.scalars(select(Agency.bank_bin)))
        fields = set(s.scalars(select(Procedure.field)))
    assert "970415" in bins
    assert len(fields) >= 5


def test_demo_users_can_log_in(env: dict[str, str], db: Database, client) -> None:  # type: ignore[no-untyped-def]
    result, summary = _demo("--dossiers", "10")
    assert "thungan" in summary["users_created"]
    # the password the command printed is the one that works
    [password] = re.findall(r"^\s+thungan\s+\w+\s+password: (\S+)$", result.stdout, re.MULTILINE)
    client.get("/login")
    with client.session_transaction() as sess:
        csrf = sess["csrf"]
    response = client.post("/login", data={"username": "thungan", "password": password,
                                           "csrf_token": csrf})
    assert response.status_code == 302
    assert client.get("/cashier").status_code == 200  # signed in as the demo's cashier
