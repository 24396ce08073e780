"""A replacement needs a second person (issue 19, what it must show), in headless Chromium
(Debian's /usr/bin/chromium, tests/live.py): a finance officer proposes replacing a signed
receipt whose payer's name is wrong; the same officer cannot approve it; a second officer
approves; the new receipt names the one it replaces and the original shows as replaced; the
day's summary table is overdue. Screenshots are committed under docs/screenshots/."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from recon.accounts.auth import create_user
from recon.cli.admin import upgrade_database
from recon.clock import SystemClock
from recon.db import Database
from recon.models import Payment, Receipt
from recon.receipts.issuing import issue_receipt, load_signer
from recon.receipts.settings import ReceiptSettings
from recon.receipts.signing import verify
from tests.live import chromium_page, served, sign_in, sign_out
from tests.receipts.keys import PASSWORD as P12_PASSWORD
from tests.receipts.keys import make_keys
from tests.receipts.test_issuing import PAID, _payment

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORD = "ketoan-bien-lai-2026"
pytestmark = pytest.mark.browser


def test_a_replacement_needs_a_second_person(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'receipts.db'}"
    upgrade_database(url)  # the migrations, 0026 included
    db = Database(url)
    p12 = make_keys(tmp_path)[0]
    extra = {"RECON_RECEIPTS": "on", "RECON_RECEIPT_P12_FILE": str(p12),
             "RECON_RECEIPT_P12_PASSWORD": P12_PASSWORD, "RECON_RECEIPT_TAX_CODE": "3300101234"}
    settings = ReceiptSettings.from_env(extra)
    payment_id = _payment(db)
    with db.transaction() as s:
        payment = s.get(Payment, payment_id)
        assert payment is not None
        receipt = issue_receipt(s, payment, settings=settings, signer=load_signer(settings),
                                moment=PAID)
        assert receipt is not None
        original_id = receipt.id
        for username, name in (("ketoan", "Trần Văn Kế"), ("ketoan2", "Lê Thị Duyệt")):
            create_user(s, SystemClock(), username=username, role="finance",
                        password=PASSWORD, display_name=name)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    refused: list[int] = []
    page_url = f"/finance/e-receipts/{original_id}"
    with served(db, SystemClock(), tmp_path, extra) as base, \
            chromium_page(1366, 1000) as page:
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("response", lambda r: (refused if "/approve" in r.url else problems).append(
            r.status) if r.status >= 400 and "/favicon" not in r.url else None)
        sign_in(page, base, "ketoan", PASSWORD, page_url)
        body = page.inner_text("main")
        assert "EBL01 · 26T · 00000001" in body and "Nguyễn Thị Hoa" in body
        page.select_option("[data-testid=correction-kind]", "replacement")
        page.fill("[data-testid=correction-reason]", "Sai tên người nộp: Hòa, không phải Hoa")
        page.fill("[data-testid=correction-payer]", "Nguyễn Thị Hòa")
        page.click("[data-testid=propose-button]")
        page.wait_for_selector("[data-testid=correction][data-status=proposed]")
        assert "một cán bộ tài chính khác phải phê duyệt" in page.inner_text("main")
        page.screenshot(path=str(SCREENSHOTS / "receipt-correction-1-proposed.png"),
                        full_page=True)
        page.click("[data-testid=approve-correction]")  # the proposer's own approval
        page.wait_for_selector("[data-testid=error]")
        assert "không thể tự phê duyệt" in page.inner_text("[data-testid=error]")
        assert refused == [403]
        page.screenshot(path=str(SCREENSHOTS / "receipt-correction-2-same-person.png"),
                        full_page=True)
        with db.read() as s:  # nothing issued by the refused approval
            assert len(list(s.scalars(select(Receipt)))) == 1
        sign_out(page)
        sign_in(page, base, "ketoan2", PASSWORD, page_url)
        page.click("[data-testid=approve-correction]")
        page.wait_for_selector("[data-testid=receipt-marked]")
        main = page.inner_text("main")
        assert "Đã phê duyệt: biên lai EBL01 26T 00000002 đã được lập và ký số." in main
        assert "Đã bị thay thế" in page.inner_text("[data-testid=receipt-marked]")
        assert "04/SS-CTĐT (XML)" in main
        page.screenshot(path=str(SCREENSHOTS / "receipt-correction-3-replaced.png"),
                        full_page=True)
        page.click("[data-testid=receipt-marked] a")
        page.wait_for_selector("[data-testid=receipt-related]")
        assert page.inner_text("[data-testid=receipt-kind]") == "Biên lai thay thế"
        assert page.inner_text("[data-testid=receipt-payer]") == "Nguyễn Thị Hòa"
        assert page.inner_text("[data-testid=receipt-related]") == (
            "Thay thế cho biên lai mẫu số EBL01 ký hiệu 26T số 00000001 ngày 26/11/2026")
        page.screenshot(path=str(SCREENSHOTS / "receipt-correction-4-new-receipt.png"),
                        full_page=True)
        page.goto(f"{base}/finance/e-receipts?day=2026-11-26")
        row = page.locator("[data-testid=summary-row]").first
        assert row.get_attribute("data-state") == "overdue"
        assert "Quá hạn" in row.inner_text()
        assert "Đã bị thay thế" in page.inner_text("[data-testid=receipts-table]")
        assert "CN=" in page.inner_text("[data-testid=receipt-certificates]")
        page.screenshot(path=str(SCREENSHOTS / "receipt-summaries.png"), full_page=True)
    assert problems == []
    with db.read() as s:
        receipts = list(s.scalars(select(Receipt).order_by(Receipt.number)))
        assert [(r.number, r.kind, r.corrected_as) for r in receipts] == [
            (1, "original", "replaced"), (2, "replacement", None)]
        assert all(verify((r.document or "").encode("utf-8")) for r in receipts)
    db.dispose()
