"""The finance detail page shows a payment's e-receipt (form, series, number) and links to its
signed XML at /finance/receipts/<id>.xml (finance and administrators only)."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient
from lxml import etree
from sqlalchemy import select

from recon.clock import FixedClock
from recon.db import Database
from recon.models import (
    Agency,
    AuditEvent,
    Discrepancy,
    Dossier,
    Payment,
    Receipt,
    ReceiptCorrection,
    ReceiptSummary,
)
from recon.receipts.signing import verify
from tests.receipts.keys import PASSWORD, make_keys
from tests.webhooks.whkit import Hooks, is_accepted, make_hooks


@pytest.fixture(scope="module")
def p12(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_keys(tmp_path_factory.mktemp("keys"))[0]


def _log_in(client: FlaskClient, make_user: object, role: str) -> None:
    password = make_user(f"{role}9", role)  # type: ignore[operator]
    client.get("/login")
    with client.session_transaction() as sess:
        csrf = sess["csrf"]
    got = client.post("/login", data={"username": f"{role}9", "password": password,
                                      "csrf_token": csrf})
    assert got.status_code == 302


def _paid_with_a_finding(hooks: Hooks) -> tuple[int, Receipt]:
    assert is_accepted("sepay", hooks.send(hooks.call("sepay", hooks.intent("sepay"))))
    with hooks.db.transaction() as s:
        receipt = s.scalars(select(Receipt)).one()
        now = hooks.clock.now()
        found = Discrepancy(identity="test:receipt", kind="missing_settlement", status="open",
                            payment_id=receipt.payment_id, expected_amount=1, actual_amount=0,
                            delta=-1, explanation="thử", detected_at=now, updated_at=now)
        s.add(found)
        s.flush()
        return found.id, receipt


def test_the_detail_page_shows_the_receipt_and_its_xml_downloads(
        env: dict[str, str], db: Database, clock: FixedClock, p12: Path,
        make_user: object) -> None:
    hooks = make_hooks(env, db, clock, RECON_RECEIPTS="on", RECON_RECEIPT_P12_FILE=str(p12),
                       RECON_RECEIPT_P12_PASSWORD=PASSWORD)
    finding, receipt = _paid_with_a_finding(hooks)
    _log_in(hooks.client, make_user, "finance")
    page = hooks.client.get(f"/finance/discrepancies/{finding}").get_data(as_text=True)
    assert 'data-testid="e-receipt"' in page
    assert "Biên lai điện tử" in page and "EBL01" in page and "00000001" in page
    assert receipt.series in page
    link = f"/finance/receipts/{receipt.id}.xml"
    assert link in page
    got = hooks.client.get(link)
    assert got.status_code == 200 and got.mimetype == "application/xml"
    assert f"EBL01-{receipt.series}-00000001.xml" in got.headers["Content-Disposition"]
    assert verify(got.get_data()).signing_time
    assert hooks.client.get(f"/finance/receipts/{receipt.id + 1}.xml").status_code == 404


def test_the_desk_cannot_download_a_receipt(
        env: dict[str, str], db: Database, clock: FixedClock, p12: Path,
        make_user: object) -> None:
    hooks = make_hooks(env, db, clock, RECON_RECEIPTS="on", RECON_RECEIPT_P12_FILE=str(p12),
                       RECON_RECEIPT_P12_PASSWORD=PASSWORD)
    _finding, receipt = _paid_with_a_finding(hooks)
    _log_in(hooks.client, make_user, "cashier")
    assert hooks.client.get(f"/finance/receipts/{receipt.id}.xml").status_code == 403


def _login_as(hooks: Hooks, make_user: object, name: str) -> tuple[FlaskClient, str]:
    password = make_user(name, "finance")  # type: ignore[operator]
    client = hooks.app.test_client()
    client.get("/login")
    with client.session_transaction() as sess:
        csrf = sess["csrf"]
    got = client.post("/login", data={"username": name, "password": password,
                                      "csrf_token": csrf})
    assert got.status_code == 302
    with client.session_transaction() as sess:
        return client, str(sess["csrf"])


def test_an_adjustment_and_the_summary_on_the_e_receipts_page(
        env: dict[str, str], db: Database, clock: FixedClock, p12: Path,
        make_user: object) -> None:
    hooks = make_hooks(env, db, clock, RECON_RECEIPTS="on", RECON_RECEIPT_P12_FILE=str(p12),
                       RECON_RECEIPT_P12_PASSWORD=PASSWORD)
    _finding, receipt = _paid_with_a_finding(hooks)
    maker, maker_csrf = _login_as(hooks, make_user, "lapbien")
    checker, checker_csrf = _login_as(hooks, make_user, "duyetbien")
    url = f"/finance/e-receipts/{receipt.id}"
    assert 'data-testid="correction-form"' in maker.get(url).get_data(as_text=True)
    bad = maker.post(f"{url}/corrections", data={
        "csrf_token": maker_csrf, "kind": "adjustment", "reason": "Hoàn tiền",
        "lines": "phí:Phí:mười nghìn"})
    assert bad.status_code == 422 and "LOẠI:TÊN:SỐ TIỀN" in bad.get_data(as_text=True)
    with db.read() as s:
        assert s.scalars(select(ReceiptCorrection)).first() is None
    items = ";".join(f"{x.findtext('LKThu')}:{x.findtext('TKThu')}"
                     for x in _items(receipt)).split(";")
    first = items[0]
    got = maker.post(f"{url}/corrections", data={
        "csrf_token": maker_csrf, "kind": "adjustment", "reason": "Hoàn tiền thu thừa",
        "lines": f"{first}:-1.000"})
    assert got.status_code == 303
    with db.read() as s:
        correction_id = s.scalars(select(ReceiptCorrection.id)).one()
    same = maker.post(f"/finance/e-receipt-corrections/{correction_id}/approve",
                      data={"csrf_token": maker_csrf})
    assert same.status_code == 403 and "không thể tự phê duyệt" in same.get_data(as_text=True)
    done = checker.post(f"/finance/e-receipt-corrections/{correction_id}/approve",
                        data={"csrf_token": checker_csrf}, follow_redirects=True)
    text = done.get_data(as_text=True)
    assert done.status_code == 200 and "Đã điều chỉnh" in text and "00000002" in text
    with db.read() as s:
        new = s.scalars(select(Receipt).where(Receipt.kind == "adjustment")).one()
        assert new.amount == -1000 and new.corrects_id == receipt.id
        assert verify((new.document or "").encode("utf-8"))
    notice = checker.get(f"/finance/e-receipt-corrections/{correction_id}/notice.xml")
    assert notice.status_code == 200 and b"<LDo>Ho" in notice.data
    # the summary tables: prepare (audited) then download, then mark sent
    day = new.issued_on.isoformat()
    agency = _agency_code(db, receipt)
    index = checker.get(f"/finance/e-receipts?day={day}").get_data(as_text=True)
    assert 'data-state="prepared"' not in index and 'data-testid="summary-row"' in index
    prepared = checker.post(f"/finance/e-receipt-summaries/{agency}/{day}/prepare",
                            data={"csrf_token": checker_csrf})
    assert prepared.status_code == 303 and prepared.headers["Location"].endswith(
        f"/{day}.xml")
    xml = checker.get(prepared.headers["Location"])
    assert xml.status_code == 200 and b"<MSo>01/TH-BL" in xml.data and b"<TThai>2</TThai>" in (
        xml.data)
    assert checker.get(f"/finance/e-receipt-summaries/{agency}/{day}.xlsx").data[:2] == b"PK"
    assert 'data-state="prepared"' in checker.get(
        f"/finance/e-receipts?day={day}").get_data(as_text=True)
    refused = checker.post(f"/finance/e-receipt-summaries/{agency}/{day}/sent",
                           data={"csrf_token": checker_csrf, "sent_on": day, "reference": ""},
                           follow_redirects=True)
    assert "Ghi mã tham chiếu" in refused.get_data(as_text=True)
    sent = checker.post(f"/finance/e-receipt-summaries/{agency}/{day}/sent",
                        data={"csrf_token": checker_csrf, "sent_on": day,
                              "reference": "TCT-2026-001"}, follow_redirects=True)
    page = sent.get_data(as_text=True)
    assert 'data-state="sent"' in page and "TCT-2026-001" in page
    with db.read() as s:
        row = s.scalars(select(ReceiptSummary)).one()
        assert row.sent_reference == "TCT-2026-001" and row.sent_by == "user:duyetbien"
        actions = list(s.scalars(select(AuditEvent.action).where(
            AuditEvent.action.like("receipt%")).order_by(AuditEvent.id)))
        assert actions == ["receipt.correction_proposed", "receipt.correction_approved",
                           "receipt_summary.prepared", "receipt_summary.sent"]


def _items(receipt: Receipt) -> list[etree._Element]:
    root = etree.fromstring((receipt.document or "").encode("utf-8"))
    return list(root.iterfind("DLCTu/NDCTu/DSKThu/KThu"))


def _agency_code(db: Database, receipt: Receipt) -> str:
    with db.read() as s:
        return str(s.scalar(select(Agency.code).join(Dossier, Dossier.agency_id == Agency.id)
                            .join(Payment, Payment.dossier_id == Dossier.id)
                            .where(Payment.id == receipt.payment_id)))
