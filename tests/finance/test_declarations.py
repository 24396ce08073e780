"""The fee declarations (issue 18 §4) on SQLite and PostgreSQL: their totals reconcile to the
daily report, the split follows the rules, the intake takes the shares, and the page, the
exports and the command show the same figures."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select

from recon.cli import cli
from recon.clock import VN_TZ, FixedClock
from recon.db import Database
from recon.demo.remittances import left_to_remit
from recon.demo.remittances import plan as remittance_plan
from recon.demo.seed import seed_demo
from recon.demo.transfers import CENTRE, DEPARTMENTS
from recon.errors import ValidationError
from recon.intake.agencies import create_agency
from recon.intake.dossiers import parse_dossier, upsert_dossier
from recon.models import Agency, FeeLine
from recon.money import format_vnd
from recon.payments.recording import PaymentEvent, record_payment
from recon.review import declarations
from recon.review.reports import daily_summary
from tests.finance.test_roles import _session_client

MARCH = date(2021, 3, 1)


def _days(month: date) -> list[date]:
    out, day = [], month
    while day.month == month.month:
        out.append(day)
        day += timedelta(days=1)
    return out


@pytest.fixture
def demo(db: Database, clock: FixedClock) -> Database:
    seed_demo(db, clock, dossiers=1_500, seed=2021)
    return db


def test_declarations_reconcile_to_the_daily_figures(demo: Database) -> None:
    with demo.read() as s:
        days = sum(daily_summary(s, d).totals["succeeded_amount"] for d in _days(MARCH))
        decl = declarations.monthly(s, MARCH)
        agencies = [(int(i), str(c)) for i, c in s.execute(select(Agency.id, Agency.code))]
        per_agency = {code: (sum(daily_summary(s, d, agency_id=ident).totals["succeeded_amount"]
                                 for d in _days(MARCH)),
                             declarations.monthly(s, MARCH, collectors=[code]))
                      for ident, code in agencies}
        months = [declarations.monthly(s, date(2021, m, 1)) for m in range(1, 13)]
        year = declarations.annual(s, 2021)
        _vouchers, faults = remittance_plan(left_to_remit(s),
                                            [date(2021, m, 1) for m in (1, 2, 3)], 2021)
    assert days > 0 and decl.collected > 0
    assert decl.payments_total == days
    assert decl.collected + decl.unallocated == days
    assert {d.code for d in decl.collectors} <= {c for _, c in agencies}
    departments = {d.code for d in DEPARTMENTS}
    for code, (their_days, mine) in per_agency.items():
        if code in departments:
            # the centre receives their fees (recon/demo/transfers.py): all collected elsewhere
            assert their_days == 0 and [d.code for d in mine.collectors] in ([code], [])
            assert mine.collected == sum(d.received_elsewhere for d in mine.collectors), code
            continue
        if code == CENTRE:
            # its receipts are its own fees and the departments' (and what no fee takes)
            for_others = sum(per_agency[dep][1].collected + per_agency[dep][1].unallocated
                             for dep in departments)
            assert for_others > 0
            assert mine.collected + mine.unallocated + for_others == their_days
            continue
        # elsewhere in the demo the receiving agency collects its own fees
        assert mine.collected + mine.unallocated == their_days, code
        assert [d.code for d in mine.collectors] in ([code], [])
    # remitted: the demo's vouchers pay each month exactly, but for its planned faults
    differs = {(d.code, row.budget_code) for d in decl.collectors for row in d.rows
               if row.difference}
    assert differs == {(k[0], k[1]) for keys in faults.values() for k in keys if k[2] == MARCH}
    for d in decl.collectors:
        for row in d.rows:
            assert row.kept + row.to_remit == row.collected
            assert row.difference == row.to_remit - row.remitted
            if row.kind == "le_phi":
                assert row.kept == 0 and row.retention_bp == 0
            assert len(row.budget_code) == 4
    assert any(r.kept for d in decl.collectors for r in d.phi)  # some phí keep a share
    # 02/PH: phí only; the year's collected is the months' sum, column (8) the months' remit
    assert all(not d.le_phi for d in year.collectors)
    phi_of_months = sum(r.collected for m in months for d in m.collectors for r in d.phi)
    assert sum(d.total("collected") for d in year.collectors) == phi_of_months
    assert sum(d.total("declared") for d in year.collectors) == sum(
        r.to_remit for m in months for d in m.collectors for r in d.phi)


def _agencies(db: Database, clock: FixedClock) -> None:
    with db.transaction() as s:
        for code, name in (("CENTRE", "Trung tâm Phục vụ hành chính công"),
                           ("DEPT", "Sở Tư pháp")):
            create_agency(s, clock, code=code, name=name, bank_bin="970415",
                          account_number="113000000000", account_name="TEST", actor="test")


def _body(**fee_changes: object) -> dict[str, object]:
    phi = {"kind": "phi", "name": "Phí cung cấp thông tin lý lịch tư pháp", "amount": 200_000,
           "retention_bp": 4_000, "budget_code": "2719", "collector_code": "DEPT"}
    phi.update(fee_changes)
    return {"code": "LLTP-1", "agency_code": "CENTRE", "procedure_code": "2.000488",
            "procedure_name": "Cấp Phiếu lý lịch tư pháp", "applicant_name": "Lê Văn Tám",
            "received_at": "2021-03-02T09:00:00+07:00",
            "fees": [{"kind": "le_phi", "name": "Lệ phí hộ tịch", "amount": 5_001,
                      "budget_code": "2771"}, phi]}


def test_the_intake_takes_the_shares_and_refuses_bad_ones(db: Database,
                                                          clock: FixedClock) -> None:
    _agencies(db, clock)
    with db.transaction() as s:
        upsert_dossier(s, clock, parse_dossier(_body()), actor="test")
    with db.read() as s:
        rows = s.execute(select(FeeLine.kind, FeeLine.retention_bp, FeeLine.budget_code,
                                FeeLine.collector_code).order_by(FeeLine.position)).all()
    assert [tuple(r) for r in rows] == [("le_phi", None, "2771", None),
                                        ("phi", 4_000, "2719", "DEPT")]
    for bad, field in (({"retention_bp": 10_001}, "retention_bp"),
                       ({"retention_bp": "40"}, "retention_bp"),
                       ({"budget_code": "27A9"}, "budget_code"),
                       ({"kind": "le_phi", "retention_bp": 100}, "retention_bp")):
        with pytest.raises(ValidationError) as caught:
            parse_dossier(_body(**bad))
        assert any(e.field.endswith(field) for e in caught.value.errors), bad
    with pytest.raises(ValidationError) as caught, db.transaction() as s:
        upsert_dossier(s, clock, parse_dossier({**_body(collector_code="NOBODY"),
                                                "code": "LLTP-2"}), actor="test")
    assert caught.value.errors[0].field == "fees[1].collector_code"
    # new shares for the same amounts change the lines in place, even after a payment
    with db.transaction() as s:
        paid = record_payment(s, clock, PaymentEvent(
            provider="cash", provider_txn_id="CASH-1", channel="cash", amount=205_001,
            status="succeeded", paid_at=datetime(2021, 3, 2, 10, tzinfo=VN_TZ),
            dossier_code="LLTP-1"), actor="user:thungan", reference_prefix="HS")
        _, outcome = upsert_dossier(s, clock, parse_dossier(_body(retention_bp=5_000)),
                                    actor="test")
    assert outcome == "updated"
    with db.read() as s:
        decl = declarations.monthly(s, MARCH)
        dept = declarations.monthly(s, MARCH, collectors=["DEPT"])
    by_code = {d.code: d for d in decl.collectors}
    centre, department = by_code["CENTRE"], by_code["DEPT"]
    assert [(r.budget_code, r.collected, r.kept, r.to_remit) for r in centre.le_phi] == [
        ("2771", 5_001, 0, 5_001)]
    assert [(r.budget_code, r.retention_bp, r.collected, r.kept, r.to_remit)
            for r in department.phi] == [("2719", 5_000, 200_000, 100_000, 100_000)]
    # the centre received the department's fee: it is to forward
    assert department.received_elsewhere == 200_000 and centre.received_elsewhere == 0
    assert [d.code for d in dept.collectors] == ["DEPT"]
    assert decl.collected == 205_001 and decl.unallocated == 0
    with db.read() as s:
        split = declarations.payment_split(s, paid.payment.id)
    # the centre took it all: the department's phí is to forward, the lệ phí to remit
    assert split is not None
    assert (split.to_forward, split.to_keep, split.to_remit, split.unallocated) == (
        200_000, 0, 5_001, 0)


def test_the_csv_import_takes_the_shares(db: Database, clock: FixedClock, env: dict[str, str],
                                         tmp_path: Path) -> None:
    _agencies(db, clock)
    path = tmp_path / "d.csv"
    path.write_text(
        "code,agency_code,procedure_code,procedure_name,applicant_name,received_at,fee_kind,"
        "fee_name,fee_amount,fee_retention_bp,fee_budget_code,fee_collector_code\n"
        "C-1,CENTRE,2.000815,Chứng thực bản sao,Trần Thị Lan,2021-03-03T08:00:00+07:00,phi,"
        "Phí chứng thực,2000,5000,2716,\n", encoding="utf-8")
    stranger = tmp_path / "s.csv"
    stranger.write_text(path.read_text(encoding="utf-8").replace("2716,\n", "2716,NOBODY\n"),
                        encoding="utf-8")
    refused = CliRunner().invoke(cli, ["dossiers", "import", str(stranger)])
    assert refused.exit_code != 0 and "collector_code" in refused.output
    result = CliRunner().invoke(cli, ["dossiers", "import", str(path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with db.read() as s:
        line = s.scalars(select(FeeLine)).one()
    assert (line.retention_bp, line.budget_code, line.collector_code) == (5_000, "2716", None)


def test_page_exports_and_command_show_the_same_figures(
        app: Flask, demo: Database, make_user: Callable[..., str], tmp_path: Path) -> None:
    with demo.read() as s:
        decl = declarations.monthly(s, MARCH, collectors=["H57.TTPVHCC"])
    centre = decl.collectors[0]
    client: FlaskClient = _session_client(app, make_user, "finance", "ketoan1")[0]
    page = client.get("/finance/declarations?month=2021-03&agency=H57.TTPVHCC")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Tờ khai phí, lệ phí" in html and "Số tiền phải nộp NSNN" in html
    # the demo's C1-02/NS vouchers fill "remitted", and the page says where it comes from
    assert "giấy nộp tiền vào NSNN (C1-02/NS)" in html
    assert format_vnd(centre.total("remitted")) in html and centre.total("remitted") > 0
    to_remit = centre.total("to_remit")
    assert format_vnd(to_remit) in html and format_vnd(to_remit).startswith(
        f"{to_remit:,}".replace(",", "."))
    assert client.get("/finance/declarations?month=2021-13").status_code == 422
    data = client.get("/finance/declarations.json?month=2021-03&agency=H57.TTPVHCC").get_json()
    assert data["collectors"][0]["totals"]["to_remit"] == to_remit
    assert data["remittances_recorded"] is True
    assert data["collectors"][0]["totals"]["remitted"] == centre.total("remitted")
    book = load_workbook(io.BytesIO(client.get(
        "/finance/declarations.xlsx?month=2021-03&agency=H57.TTPVHCC").data))
    sheet = book.active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "Tổ chức thu" and rows[0][7] == "Số tiền phải nộp NSNN"
    assert rows[-1][7] == to_remit  # the collector's total row
    assert rows[-1][8] == centre.total("remitted")
    assert rows[-1][9] == to_remit - centre.total("remitted")
    out = tmp_path / "decl.xlsx"
    result = CliRunner().invoke(cli, ["report", "declaration", "--month", "2021-03", "--agency",
                                      "H57.TTPVHCC", "--format", "xlsx", "-o", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    cli_sheet = load_workbook(out).active
    assert cli_sheet is not None
    assert list(cli_sheet.iter_rows(values_only=True)) == rows
    as_json = CliRunner().invoke(cli, ["report", "declaration", "--year", "2021", "--format",
                                       "json"], catch_exceptions=False)
    assert json.loads(as_json.output)["forms"] == ["02/PH"]
    bad = CliRunner().invoke(cli, ["report", "declaration", "--month", "03/2021"])
    assert bad.exit_code != 0 and "YYYY-MM" in bad.output
