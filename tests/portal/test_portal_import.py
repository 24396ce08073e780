"""The portal's daily list: read through a column profile, all or nothing, kept verbatim, the
same file refused twice; on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from datetime import date

import openpyxl
import pytest
from sqlalchemy import func, select

from recon.clock import FixedClock
from recon.db import Database
from recon.errors import ConfigurationError, DuplicateFile, ValidationError
from recon.models import AuditEvent, PortalFile, PortalLine
from recon.portal.importer import import_portal_list, load_profiles, parse_profiles
from tests.foundation.helpers import AGENCY, seed_agency

HEADER = ("Mã giao dịch,Mã hồ sơ,Mã tham chiếu,Mã giao dịch trung gian,Trung gian thanh toán,"
          "Số tiền,Trạng thái,Thời gian giao dịch\n")
ROWS = ("G22.99.3-261126-000001,000.00.21.H57-261126-0001,HSABC123,V100,VNPAY,180.000,"
        "Thành công,26/11/2026 09:15:00\n"
        "G22.99.3-261126-000002,000.00.21.H57-261126-0002,,,,50.000 ₫,Thất bại,"
        "26/11/2026 23:30:00\n")
FOOTER = "Tổng cộng,,,,,230.000,,\n"


def csv_bytes(rows: str = ROWS, footer: str = FOOTER) -> bytes:
    return (HEADER + rows + footer).encode("utf-8")


def count(db: Database) -> tuple[int, int, int]:
    with db.read() as s:
        return (s.scalar(select(func.count()).select_from(PortalFile)) or 0,
                s.scalar(select(func.count()).select_from(PortalLine)) or 0,
                s.scalar(select(func.count()).select_from(AuditEvent)
                         .where(AuditEvent.action == "portal.imported")) or 0)


@pytest.fixture
def agency(db: Database, clock: FixedClock) -> str:
    seed_agency(db, clock)
    return AGENCY


def test_a_list_is_read_through_the_profile_and_kept(db: Database, clock: FixedClock,
                                                      agency: str) -> None:
    data = csv_bytes()
    summary = import_portal_list(db, clock, data, "dvc-26-11.csv", agency=agency, actor="t")
    assert (summary.rows, summary.total_amount) == (2, 230000)
    assert (summary.day_from, summary.day_to) == (date(2026, 11, 26), date(2026, 11, 26))
    assert summary.by_status == {"succeeded": 1, "failed": 1}
    with db.read() as s:
        f = s.scalars(select(PortalFile)).one()
        lines = s.scalars(select(PortalLine).order_by(PortalLine.line_no)).all()
        assert f.content == data and f.profile == "dvcqg_daily"
        assert [(ln.portal_txn_id, ln.reference, ln.provider_txn_id, ln.provider, ln.amount,
                 ln.status, ln.day) for ln in lines] == [
            ("G22.99.3-261126-000001", "HSABC123", "V100", "vnpay", 180000, "succeeded",
             date(2026, 11, 26)),
            ("G22.99.3-261126-000002", None, None, None, 50000, "failed",
             date(2026, 11, 26))]
    assert count(db) == (1, 2, 1)


def test_the_same_file_twice_is_refused_and_nothing_changes(db: Database, clock: FixedClock,
                                                           agency: str) -> None:
    import_portal_list(db, clock, csv_bytes(), "a.csv", agency=agency, actor="t")
    with pytest.raises(DuplicateFile, match=r"already imported .* portal list #"):
        import_portal_list(db, clock, csv_bytes(), "b.csv", agency=agency, actor="t")
    assert count(db) == (1, 2, 1)


def test_every_bad_row_is_named_and_nothing_is_written(db: Database, clock: FixedClock,
                                                       agency: str) -> None:
    bad = ROWS + ("G22.99.3-261126-000003,HS3,,,Ví lạ,12.5,Thành công,26/11/2026 10:00:00\n"
                  "G22.99.3-261126-000001,HS4,,,,1.000,Thành công,26/11/2026 10:00:00\n"
                  "G22.99.3-261126-000006,HS6,,,,1.000,Đã xong,26/11/2026 10:00:00\n")
    with pytest.raises(ValidationError) as caught:
        import_portal_list(db, clock, csv_bytes(bad), "bad.csv", agency=agency, actor="t")
    text = "\n".join(str(e) for e in caught.value.errors)
    assert "line 4: Trung gian thanh toán: 'Ví lạ' is no provider" in text
    assert "line 4: Số tiền:" in text
    assert "line 6: Trạng thái: 'Đã xong' is not a status" in text
    assert "listed twice (rows 2 and 5)" in text
    assert "Nothing was imported" in (caught.value.hint or "")
    assert count(db) == (0, 0, 0)


def test_an_unknown_agency_or_profile_is_refused_with_what_to_do(
        db: Database, clock: FixedClock, agency: str) -> None:
    with pytest.raises(ValidationError, match="no agency has the code") as caught:
        import_portal_list(db, clock, csv_bytes(), "a.csv", agency="NOPE", actor="t")
    assert agency in (caught.value.hint or "")
    with pytest.raises(ValidationError, match="no portal profile"):
        import_portal_list(db, clock, csv_bytes(), "a.csv", agency=agency, profile="x",
                           actor="t")
    assert count(db) == (0, 0, 0)


def test_an_empty_list_needs_its_day_and_rows_must_be_on_it(db: Database, clock: FixedClock,
                                                            agency: str) -> None:
    with pytest.raises(ValidationError, match="names no day"):
        import_portal_list(db, clock, csv_bytes("", ""), "e.csv", agency=agency, actor="t")
    with pytest.raises(ValidationError, match="not on the list's day 27/11/2026"):
        import_portal_list(db, clock, csv_bytes(), "a.csv", agency=agency,
                           day=date(2026, 11, 27), actor="t")
    summary = import_portal_list(db, clock, csv_bytes("", ""), "e.csv", agency=agency,
                                 day=date(2026, 11, 27), actor="t")
    assert (summary.rows, summary.day_from) == (0, date(2026, 11, 27))


def test_an_xlsx_list_with_a_title_above_the_header(db: Database, clock: FixedClock,
                                                    agency: str) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["DANH SÁCH GIAO DỊCH THANH TOÁN TRỰC TUYẾN"])
    ws.append([])
    ws.append(HEADER.strip().split(","))
    ws.append(["G22.99.3-261126-000009", "HS9", None, "M1", "MoMo", 120000, "Đã hoàn tiền",
               "26/11/2026 08:00:00"])
    out = io.BytesIO()
    wb.save(out)
    summary = import_portal_list(db, clock, out.getvalue(), "list.xlsx", agency=agency,
                                 actor="t")
    assert (summary.format, summary.rows, summary.by_status) == ("xlsx", 1, {"refunded": 1})
    with db.read() as s:
        assert s.scalars(select(PortalLine.provider)).one() == "momo"


def test_an_operator_profile_renames_columns_and_words() -> None:
    profiles = parse_profiles({"profiles": {"mine": {
        "columns": {"portal_txn_id": "MaGD", "dossier_code": "MaHS", "amount": "SoTien",
                    "status": "TT", "transaction_at": "ThoiGian"},
        "statuses": {"1": "succeeded", "0": "failed"}}}}, "test")
    assert profiles["mine"].statuses == {"1": "succeeded", "0": "failed"}
    with pytest.raises(ConfigurationError, match="cannot be optional"):
        parse_profiles({"profiles": {"bad": {
            "columns": {"portal_txn_id": "a", "dossier_code": "b", "amount": "c",
                        "status": "d", "transaction_at": "e"},
            "optional_columns": ["amount"], "statuses": {"x": "failed"}}}}, "test")
    with pytest.raises(ConfigurationError, match="not one of succeeded"):
        parse_profiles({"profiles": {"bad": {
            "columns": {"portal_txn_id": "a", "dossier_code": "b", "amount": "c",
                        "status": "d", "transaction_at": "e"},
            "statuses": {"x": "ok"}}}}, "test")
    assert "dvcqg_daily" in load_profiles()
