"""The CLI of corrections (two people) and of the same-day summary table: the file is valid
against our schema (xmlschema), lists each receipt of the organisation's day with the receipt
a replacement names, and its XLSX holds the same rows; the certificate in use is listed."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import xmlschema
from click.testing import CliRunner
from lxml import etree
from openpyxl import load_workbook
from sqlalchemy import select

from recon.accounts.auth import create_user
from recon.cli import cli
from recon.clock import VN_TZ, FixedClock
from recon.db import Database
from recon.errors import ValidationError
from recon.models import Agency, AuditEvent, Receipt
from recon.models.receipts import ReceiptSummary
from recon.receipts import summary as tables
from recon.receipts.issuing import load_signer
from recon.receipts.settings import ReceiptSettings
from tests.receipts.keys import PASSWORD, make_keys
from tests.receipts.test_corrections import _issued


@pytest.fixture
def receipts_env(env: dict[str, str], tmp_path: Path,
                 monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    p12 = make_keys(tmp_path)[0]
    values = {"RECON_RECEIPTS": "on", "RECON_RECEIPT_P12_FILE": str(p12),
              "RECON_RECEIPT_P12_PASSWORD": PASSWORD, "RECON_RECEIPT_TAX_CODE": "3300101234"}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return {**env, **values}


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    raised = result.exception  # a ReconError reaches `main()`, which prints it (fail)
    message = "" if raised is None or isinstance(raised, SystemExit) else str(raised)
    return result.exit_code, result.output + (result.stderr or "") + message


def test_correct_by_cli_then_the_summary_names_both(receipts_env: dict[str, str], db: Database,
                                                    tmp_path: Path) -> None:
    settings = ReceiptSettings.from_env(receipts_env)
    original_id = _issued(db, settings, load_signer(settings))
    with db.transaction() as s:
        for name in ("ketoan", "ketoan2"):
            create_user(s, FixedClock(datetime.now(UTC)), username=name, role="finance",
                        password="mat-khau-dai-1234")
    code, out = _run("receipts", "correct", str(original_id), "--kind", "replacement",
                     "--reason", "Sai tên người nộp", "--payer", "Nguyễn Thị Hòa",
                     "--by", "ketoan")
    assert code == 0, out
    code, out = _run("receipts", "approve-correction", "1", "--by", "ketoan")
    assert code != 0 and "cannot approve" in out and "Traceback" not in out
    code, out = _run("receipts", "approve-correction", "1", "--by", "ketoan2")
    assert code == 0 and "issued replacement receipt EBL01 26T 00000002" in out, out
    code, out = _run("receipts", "corrections")
    assert "approved\treplacement" in out and "new receipt" in out
    today = datetime.now(UTC).astimezone(VN_TZ).date()
    schema = xmlschema.XMLSchema(str(tables.SCHEMA_PATH))
    first = tmp_path / "th.xml"
    code, out = _run("receipts", "summary", "--date", "2026-11-26", "--output", str(first))
    assert code == 0 and "STP, 1 receipt(s), 101005 VND" in out, out
    root = etree.fromstring(first.read_bytes())
    schema.validate(root)
    assert root.findtext("DLBTHop/TTChung/MSo") == "01/TH-BLĐT"
    assert root.findtext("DLBTHop/TTChung/MST") == "3300101234"
    assert [r.findtext("SCTu") for r in root.iterfind(".//DLieu")] == ["1"]
    second = tmp_path / "today.xml"
    code, out = _run("receipts", "summary", "--date", today.isoformat(), "--agency", "STP",
                     "--output", str(second))
    assert code == 0, out
    row = etree.fromstring(second.read_bytes()).find(".//DLieu")
    schema.validate(etree.fromstring(second.read_bytes()))
    assert row is not None
    assert [row.findtext(t) for t in ("SCTu", "TNNop", "TgTien", "TThai", "SCTCLQuan")] == [
        "2", "Nguyễn Thị Hòa", "101005", "1", "1"]
    book = tmp_path / "today.xlsx"
    code, out = _run("receipts", "summary", "--date", today.isoformat(), "--output", str(book))
    assert code == 0, out
    sheet = load_workbook(io.BytesIO(book.read_bytes())).active
    values = [[c.value for c in r] for r in sheet.iter_rows()]
    assert values[1][3] == 2 and values[1][5] == "Nguyễn Thị Hòa" and values[1][6] == 101005
    assert values[1][7] == "Thay thế" and values[-1][6] == 101005
    with db.read() as s:
        prepared = list(s.scalars(select(ReceiptSummary.day).order_by(ReceiptSummary.day)))
        assert prepared == [date(2026, 11, 26), today]
        actions = set(s.scalars(select(AuditEvent.action)))
        assert {"receipt.correction_proposed", "receipt.correction_approved",
                "receipt_summary.prepared"} <= actions
        assert s.get(Receipt, original_id).corrected_as == "replaced"  # type: ignore[union-attr]
    code, out = _run("receipts", "certificates")
    assert code == 0 and "subject: " in out and "serial: " in out and "valid_to: " in out


def test_summary_refusals_name_what_to_do(receipts_env: dict[str, str], db: Database,
                                          tmp_path: Path) -> None:
    code, out = _run("receipts", "summary", "--date", "2026-11-26", "--output",
                     str(tmp_path / "x.xml"))
    assert code != 0 and "--agency" in out and not (tmp_path / "x.xml").exists()
    code, out = _run("receipts", "summary", "--date", "26/11/2026", "--output",
                     str(tmp_path / "x.xml"))
    assert code != 0 and "YYYY-MM-DD" in out
    code, out = _run("receipts", "summary", "--date", "2026-11-26", "--output",
                     str(tmp_path / "x.pdf"))
    assert code != 0 and ".xml or .xlsx" in out
    code, out = _run("receipts", "summary", "--date", "2026-11-26", "--agency", "NOPE",
                     "--output", str(tmp_path / "x.xml"))
    assert code != 0 and "NOPE" in out and "Traceback" not in out


def test_the_state_of_a_days_summary(db: Database) -> None:
    day = date(2026, 11, 26)
    row = ReceiptSummary(agency_id=1, day=day, prepared_by="x", receipts=1,
                         prepared_at=datetime(2026, 11, 26, tzinfo=UTC))
    assert tables.state(None, day, day, 1) == "not_prepared"
    assert tables.state(row, day, day + timedelta(days=1), 1) == "prepared"
    assert tables.state(row, day, day + timedelta(days=2), 1) == "overdue"
    assert tables.state(None, day, day + timedelta(days=2), 1) == "overdue"
    assert tables.state(row, day, day + timedelta(days=1), 0) == "overdue"
    row.sent_on = day
    assert tables.state(row, day, day + timedelta(days=9), 1) == "sent"


def test_mark_sent_is_audited_and_checked(db: Database, receipts_env: dict[str, str]) -> None:
    settings = ReceiptSettings.from_env(receipts_env)
    _issued(db, settings, load_signer(settings))
    clock = FixedClock(datetime(2026, 11, 27, 3, tzinfo=UTC))
    day = date(2026, 11, 26)
    with db.transaction() as s, pytest.raises(ValidationError, match="prepare"):
        tables.mark_sent(s, clock, "STP", day, sent_on="2026-11-26", reference="R1",
                         actor="user:a")
    with db.transaction() as s:
        (one,) = tables.summaries(s, day)
        tables.record_prepared(s, clock, one, actor="user:a")
    for sent_on, reference, field in (("2026-11-25", "R1", "sent_on"),
                                      ("2026-11-28", "R1", "sent_on"), ("x", "R1", "sent_on"),
                                      ("2026-11-26", " ", "reference")):
        with db.transaction() as s, pytest.raises(ValidationError) as caught:
            tables.mark_sent(s, clock, "STP", day, sent_on=sent_on, reference=reference,
                             actor="user:a")
        assert caught.value.errors[0].field == field
    with db.transaction() as s:
        tables.mark_sent(s, clock, "STP", day, sent_on="2026-11-26", reference="TCT-123",
                         actor="user:a")
    with db.read() as s:
        row = s.scalars(select(ReceiptSummary)).one()
        assert (row.sent_on, row.sent_reference, row.sent_by) == (day, "TCT-123", "user:a")
        agency = s.scalars(select(Agency)).one()
        assert row.agency_id == agency.id
        assert "receipt_summary.sent" in set(s.scalars(select(AuditEvent.action)))
