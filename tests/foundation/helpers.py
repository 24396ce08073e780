"""Small builders shared by foundation tests."""

from __future__ import annotations

from typing import Any

from recon.clock import Clock
from recon.db import Database
from recon.intake.agencies import create_agency

AGENCY = "HUE-TTHCC"


def seed_agency(db: Database, clock: Clock, code: str = AGENCY) -> None:
    with db.transaction() as s:
        create_agency(s, clock, code=code, name="Trung tâm Phục vụ hành chính công Huế",
                      bank_bin="970415", account_number="113000000000",
                      account_name="TRUNG TAM PHUC VU HANH CHINH CONG", actor="test")


def dossier_body(code: str = "000.00.21.H57-210401-0001", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": code,
        "agency_code": AGENCY,
        "procedure_code": "1.001612",
        "procedure_name": "Đăng ký thành lập hộ kinh doanh",
        "applicant_name": "Nguyễn Thị Hương",
        "received_at": "2021-04-01T08:30:00+07:00",
        "fees": [{"kind": "le_phi", "name": "Lệ phí đăng ký hộ kinh doanh", "amount": 100000},
                 {"kind": "phi", "name": "Phí cung cấp thông tin", "amount": 80000}],
    }
    body.update(changes)
    return body
