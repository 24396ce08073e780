"""The `recon` command as an operator uses it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text

from recon.accounts.auth import hash_token
from recon.cli import cli
from recon.db import Database
from recon.models import ApiToken, AuditEvent, Dossier, DossierImport, FeeLine, User
from tests.foundation.helpers import AGENCY, dossier_body


def run(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


@pytest.fixture
def agency(env: dict[str, str]) -> str:
    result = run("agencies", "create", AGENCY, "--name", "Trung tâm Phục vụ HCC Huế",
                 "--bin", "970415", "--account", "113000000000",
                 "--account-name", "Trung tam Phuc vu HCC")
    assert result.exit_code == 0, result.output
    return AGENCY


def test_agency_needs_a_known_bin(env: dict[str, str], db: Database) -> None:
    result = run("agencies", "create", "X", "--name", "X", "--bin", "999999",
                 "--account", "1", "--account-name", "X")
    assert result.exit_code == 1
    assert "not a known bank BIN" in result.output
    assert "recon vietqr banks" in result.output
    with db.read() as s:
        assert s.scalar(text("SELECT count(*) FROM agencies")) == 0


def test_agency_created_and_audited(agency: str, db: Database) -> None:
    with db.read() as s:
        row = s.execute(text("SELECT account_name FROM agencies")).one()
        assert row[0] == "TRUNG TAM PHUC VU HCC"
        assert s.scalar(select(AuditEvent.action)) == "agency.created"


def test_agencies_list_names_the_codes_the_hints_point_to(env: dict[str, str],
                                                         db: Database) -> None:
    empty = run("agencies", "list")
    assert empty.exit_code == 0 and "recon agencies create" in empty.output
    run("agencies", "create", AGENCY, "--name", "Trung tâm Phục vụ HCC Huế", "--bin", "970415",
        "--account", "113000000000", "--account-name", "Trung tam Phuc vu HCC",
        "--tax-code", "3300101234")
    listed = run("agencies", "list")
    assert listed.exit_code == 0
    assert AGENCY in listed.output and "Trung tâm Phục vụ HCC Huế" in listed.output
    assert "MST 3300101234" in listed.output
    (record,) = [json.loads(line) for line in run("agencies", "list", "--json").output.splitlines()]
    assert (record["code"], record["tax_code"], record["account_number"]) == (
        AGENCY, "3300101234", "113000000000")


def test_user_password_from_stdin(env: dict[str, str], db: Database) -> None:
    result = run("users", "create", "lan", "--role", "finance", "--all-agencies",
                 input="a-long-password\n")
    assert result.exit_code == 0, result.output
    with db.read() as s:
        user = s.scalars(select(User)).one()
    assert user.role == "finance"
    assert "a-long-password" not in user.password_hash
    short = run("users", "create", "minh", "--role", "cashier", "--all-agencies", input="short\n")
    assert short.exit_code == 1
    assert "at least 10" in short.output


def test_token_printed_last_and_only_hash_stored(env: dict[str, str], db: Database) -> None:
    assert run("users", "create", "hoa", "--role", "admin",
               input="a-long-password\n").exit_code == 0
    # a token belongs to a person: --user is required, and must name an active user
    missing = run("tokens", "create", "mot-cua", "--role", "intake", "--all-agencies")
    assert missing.exit_code != 0 and "--user" in missing.output
    unknown = run("tokens", "create", "mot-cua", "--role", "intake", "--user", "nobody",
                  "--all-agencies")
    assert unknown.exit_code == 1 and "no active user" in unknown.output
    result = run("tokens", "create", "mot-cua", "--role", "intake", "--user", "hoa",
                 "--all-agencies")
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("rcn_")
    with db.read() as s:
        row = s.scalars(select(ApiToken)).one()
        owner = s.scalars(select(User).where(User.id == row.user_id)).one()
    assert owner.username == "hoa"
    assert row.token_hash == hash_token(token)
    assert token not in row.token_hash


def _write_jsonl(path: Path, bodies: list[dict[str, Any]]) -> Path:
    path.write_text("\n".join(json.dumps(b, ensure_ascii=False) for b in bodies) + "\n",
                    encoding="utf-8")
    return path


def _count(db: Database, model: Any) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_import_jsonl(agency: str, tmp_path: Path, db: Database) -> None:
    bodies = [dossier_body(code=f"D-{i}") for i in range(5)]
    result = run("dossiers", "import", str(_write_jsonl(tmp_path / "d.jsonl", bodies)))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["created"] == 5
    assert summary["fee_lines"] == 10
    assert summary["total_assessed"] == 5 * 180000
    assert _count(db, Dossier) == 5
    assert _count(db, FeeLine) == 10
    with db.read() as s:
        kept = s.scalars(select(DossierImport)).one()
    assert kept.content == (tmp_path / "d.jsonl").read_bytes()


def test_import_same_file_twice_refused(agency: str, tmp_path: Path, db: Database) -> None:
    path = _write_jsonl(tmp_path / "d.jsonl", [dossier_body(code="D-1")])
    assert run("dossiers", "import", str(path)).exit_code == 0
    events = _count(db, AuditEvent)
    again = run("dossiers", "import", str(path))
    assert again.exit_code == 1
    assert "already imported" in again.output
    assert _count(db, AuditEvent) == events


def test_import_with_bad_rows_imports_nothing(agency: str, tmp_path: Path,
                                              db: Database) -> None:
    bodies = [dossier_body(code="D-1"), dossier_body(code="D-2"),
              dossier_body(code="D-3", received_at="yesterday"), dossier_body(code="D-1")]
    text_ = "\n".join(json.dumps(b) for b in bodies)
    text_ = text_.replace('"amount": 80000', '"amount": 80000.5', 1)
    path = tmp_path / "bad.jsonl"
    path.write_text(text_ + "\n{broken\n", encoding="utf-8")
    result = run("dossiers", "import", str(path))
    assert result.exit_code == 1
    out = result.output
    assert "line 1: fees[1].amount" in out
    assert "line 3: received_at" in out
    assert "line 4: code: dossier D-1 appears twice" in out
    assert "line 5: record: not valid JSON" in out
    assert "nothing was imported" in out
    assert _count(db, Dossier) == 0


def test_import_json_array_reports_lines(agency: str, tmp_path: Path, db: Database) -> None:
    good = dossier_body(code="A-1")
    bad = dossier_body(code="A-2", agency_code="NOWHERE")
    path = tmp_path / "d.json"
    path.write_text(json.dumps([good, bad], indent=2, ensure_ascii=False), encoding="utf-8")
    result = run("dossiers", "import", str(path))
    assert result.exit_code == 1
    assert "unknown agency 'NOWHERE'" in result.output
    path.write_text(json.dumps([good, dossier_body(code="A-2")], indent=2), encoding="utf-8")
    ok = run("dossiers", "import", str(path))
    assert ok.exit_code == 0, ok.output
    assert _count(db, Dossier) == 2
    broken = tmp_path / "broken.json"
    broken.write_text('[\n  {"code": "B-1",\n  "x": }\n]', encoding="utf-8")
    out = run("dossiers", "import", str(broken)).output
    assert "line 3" in out


def test_import_csv_one_row_per_fee_line(agency: str, tmp_path: Path, db: Database) -> None:
    header = ("code,agency_code,procedure_code,procedure_name,applicant_name,received_at,"
              "fee_kind,fee_name,fee_amount\n")
    rows = (
        f"C-1,{AGENCY},1.001612,Đăng ký hộ kinh doanh,Trần Văn Bình,2021-04-01 08:00,"
        "le_phi,Lệ phí,100000\n"
        f"C-1,{AGENCY},1.001612,Đăng ký hộ kinh doanh,Trần Văn Bình,2021-04-01 08:00,"
        "phi,Phí,80000\n"
        f"C-2,{AGENCY},2.000908,Chứng thực bản sao,Lê Thị Mai,2021-04-01 09:00,,,\n"
    )
    path = tmp_path / "d.csv"
    path.write_text(header + rows, encoding="utf-8")
    result = run("dossiers", "import", str(path))
    assert result.exit_code == 0, result.output
    assert _count(db, Dossier) == 2
    assert _count(db, FeeLine) == 2
    bad = tmp_path / "bad.csv"
    bad.write_text(header + rows.replace("80000", "80.000").replace("C-", "E-"),
                   encoding="utf-8")
    out = run("dossiers", "import", str(bad))
    assert out.exit_code == 1
    assert "fees[1].amount" in out.output
    assert "80.000" in out.output


def test_audit_verify_finds_first_broken_link(agency: str, db: Database,
                                              tmp_path: Path) -> None:
    run("dossiers", "import", str(_write_jsonl(tmp_path / "a.jsonl",
                                               [dossier_body(code="V-1")])))
    run("users", "create", "kim", "--role", "cashier", "--all-agencies", input="a-long-password\n")
    ok = run("audit", "verify")
    assert ok.exit_code == 0
    assert "3 events verified" in ok.output
    with db.engine.begin() as conn:
        if db.dialect == "sqlite":
            conn.execute(text("DROP TRIGGER audit_events_no_update"))
        else:
            conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        conn.execute(text("UPDATE audit_events SET data = '{\"total\": 1}' WHERE id = 2"))
        if db.dialect == "postgresql":
            conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER USER"))
    broken = run("audit", "verify", "--json")
    assert broken.exit_code == 1
    report = json.loads(broken.stdout.strip().splitlines()[0])
    assert report["first_broken_id"] == 2
    assert report["checked"] == 1
