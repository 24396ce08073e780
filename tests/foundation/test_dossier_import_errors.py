"""Issue 13, item 4: `recon dossiers import` reports every error with its line number (an
unknown agency too, also next to other errors), and the help says what the command takes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from recon.cli import cli
from recon.db import Database
from recon.intake.importer import CSV_COLUMNS
from recon.models import Dossier, DossierImport
from tests.foundation.helpers import AGENCY, dossier_body

HEADER = ",".join(CSV_COLUMNS) + "\n"


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def agency(env: dict[str, str]) -> str:
    result = run("agencies", "create", AGENCY, "--name", "Trung tâm Phục vụ HCC Huế",
                 "--bin", "970415", "--account", "113000000000",
                 "--account-name", "Trung tam Phuc vu HCC")
    assert result.exit_code == 0, result.output
    return AGENCY


def _csv_row(code: str, agency: str, amount: str = "100000") -> str:
    return (f"{code},{agency},1.001612,Đăng ký hộ kinh doanh,Trần Văn Bình,2021-04-01 08:00,"
            f"le_phi,Lệ phí,{amount}\n")


def _nothing_imported(db: Database) -> None:
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Dossier)) == 0
        assert s.scalar(select(func.count()).select_from(DossierImport)) == 0


def _problem_lines(output: str) -> list[str]:
    return [line.strip() for line in output.splitlines() if line.startswith("  line ")]


def test_unknown_agency_has_its_line(agency: str, tmp_path: Path, db: Database) -> None:
    path = tmp_path / "d.csv"
    path.write_text(HEADER + _csv_row("C-1", AGENCY) + _csv_row("C-2", "NOWHERE"),
                    encoding="utf-8")
    result = run("dossiers", "import", str(path))
    assert result.exit_code == 1
    assert _problem_lines(result.output) == ["line 3: agency_code: unknown agency 'NOWHERE'"]
    assert "recon agencies create" in result.output  # what to do about it
    _nothing_imported(db)


def test_unknown_agency_reported_beside_field_errors(agency: str, tmp_path: Path,
                                                     db: Database) -> None:
    """A field error elsewhere, and on the same record, hides no unknown agency."""
    path = tmp_path / "d.csv"
    path.write_text(HEADER
                    + _csv_row("C-1", AGENCY, amount="80.000")      # line 2: a field error
                    + _csv_row("C-2", "NOWHERE")                    # line 3: unknown agency
                    + _csv_row("C-3", "ELSEWHERE", amount="abc")    # line 4: both
                    + _csv_row("C-4", AGENCY),                      # line 5: fine
                    encoding="utf-8")
    result = run("dossiers", "import", str(path))
    assert result.exit_code == 1
    problems = _problem_lines(result.output)
    assert problems[0].startswith("line 2: fees[0].amount")
    assert problems[1] == "line 3: agency_code: unknown agency 'NOWHERE'"
    assert problems[2].startswith("line 4: fees[0].amount")
    assert problems[3] == "line 4: agency_code: unknown agency 'ELSEWHERE'"
    assert len(problems) == 4
    assert "4 problem(s)" in result.output
    _nothing_imported(db)


def test_every_record_of_an_unknown_agency_is_listed(agency: str, tmp_path: Path,
                                                     db: Database) -> None:
    """JSON Lines: each record names its own line, not only the first of the agency."""
    bodies: list[dict[str, Any]] = [
        dossier_body(code="J-1", agency_code="NOWHERE"),
        dossier_body(code="J-2"),
        dossier_body(code="J-3", agency_code="NOWHERE", received_at="yesterday"),
    ]
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(json.dumps(b, ensure_ascii=False) for b in bodies) + "\n",
                    encoding="utf-8")
    result = run("dossiers", "import", str(path))
    assert result.exit_code == 1
    problems = _problem_lines(result.output)
    assert problems[0] == "line 1: agency_code: unknown agency 'NOWHERE'"
    assert problems[1].startswith("line 3: received_at")
    assert problems[2] == "line 3: agency_code: unknown agency 'NOWHERE'"
    assert len(problems) == 3
    _nothing_imported(db)


def test_a_malformed_agency_code_is_one_error(agency: str, tmp_path: Path,
                                              db: Database) -> None:
    """An agency code that is not text is reported once, as what it is."""
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(dossier_body(code="K-1", agency_code=42)) + "\n",
                    encoding="utf-8")
    result = run("dossiers", "import", str(path))
    assert result.exit_code == 1
    problems = _problem_lines(result.output)
    assert len(problems) == 1 and problems[0].startswith("line 1: agency_code")
    assert "unknown agency" not in result.output
    _nothing_imported(db)


def test_import_help_lists_the_columns() -> None:
    out = run("dossiers", "import", "--help").output
    for column in (*CSV_COLUMNS, "received_channel", "procedure_field"):
        assert f"\n    {column} " in out, column
    assert "le_phi" in out and "line number" in out


def test_quarterly_help_describes_year_and_quarter() -> None:
    out = run("report", "quarterly", "--help").output
    assert "--year YYYY" in out and "The calendar year" in out
    assert "--quarter 1-4" in out and "1 = January–March" in out
    assert "4 = October–December" in out
