"""E-receipts in headless Chromium (Debian's /usr/bin/chromium): the desk takes a VietQR
payment, the slip turns to "Đã thanh toán" and offers "In biên lai", which opens the A5 print
view; a citizen, not logged in, types the receipt's lookup code into the public lookup and sees
the same receipt. Screenshots are committed under docs/screenshots/ (receipt-*.png)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Page
from sqlalchemy import select

from recon.accounts.auth import create_user
from recon.cli.admin import upgrade_database
from recon.clock import SystemClock
from recon.db import Database
from recon.models import PaymentIntent, Receipt
from recon.payments.recording import PaymentEvent, record_payment
from recon.receipts.issuing import receipting
from tests.intents.helpers import CODE, TOTAL, seed
from tests.live import chromium_page, served, sign_in, sign_out, watch_problems
from tests.receipts.keys import PASSWORD as P12_PASSWORD
from tests.receipts.keys import make_keys

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORD = "thungan-bienlai-2026"

pytestmark = pytest.mark.browser


@dataclass
class Live:
    url: str
    db: Database
    env: dict[str, str]


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    url = f"sqlite:///{tmp_path / 'receipts.db'}"
    upgrade_database(url)
    db = Database(url)
    clock = SystemClock()
    seed(db, clock)
    with db.transaction() as s:
        create_user(s, clock, username="thungan", role="cashier", password=PASSWORD,
                    display_name="Nguyễn Thị Thu Ngân")
    p12, _pem = make_keys(tmp_path)
    env = {"RECON_RECEIPTS": "on", "RECON_RECEIPT_P12_FILE": str(p12),
           "RECON_RECEIPT_P12_PASSWORD": P12_PASSWORD, "RECON_RECEIPT_TAX_CODE": "3300101234"}
    with served(db, clock, tmp_path, env) as base:
        yield Live(base, db, env)


@pytest.fixture
def page() -> Iterator[Page]:
    with chromium_page(1280, 1000, downloads=True) as page:
        yield page


def test_the_desk_prints_the_receipt_and_the_public_lookup_shows_it(live: Live,
                                                                     page: Page) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems = watch_problems(page, console_errors=True)
    sign_in(page, live.url, "thungan", PASSWORD, f"/cashier?code={CODE}")
    page.wait_for_selector("[data-testid=dossier]")
    page.click("[data-testid=create-intent]")
    page.locator("[data-testid=intent-panel]").wait_for()
    button = page.locator("[data-testid=print-receipt]")
    assert not button.is_visible()  # nothing to print before the money arrives

    with live.db.read() as s:
        intent = s.scalars(select(PaymentIntent)).one()
    with live.db.transaction() as s:  # the money arrives, recorded as the webhook would
        outcome = record_payment(s, SystemClock(), PaymentEvent(
            provider="sepay", provider_txn_id="FT26340123456", channel="vietqr",
            amount=TOTAL, status="succeeded", paid_at=SystemClock().now(),
            memo=f"MBVCB.3278907687.{intent.reference}.NGUYEN THI HUONG CHUYEN TIEN"),
            actor="test:browser", reference_prefix="HS", receipts=receipting(live.env))
    assert outcome.outcome == "recorded"
    with live.db.read() as s:
        receipt = s.scalars(select(Receipt)).one()
    code = receipt.lookup_code or ""
    assert len(code) == 12

    page.wait_for_selector("#slip.state-paid .paid-banner", timeout=10_000)
    assert page.inner_text("#slip .paid-banner") == "Đã thanh toán"
    button.wait_for(state="visible")
    assert button.inner_text() == "In biên lai"
    page.screenshot(path=str(SCREENSHOTS / "receipt-desk-paid.png"), full_page=True)

    button.click()
    page.wait_for_selector("[data-testid=receipt]")
    assert page.inner_text("[data-testid=receipt-title]") == "BIÊN LAI THU PHÍ, LỆ PHÍ"
    assert page.inner_text("[data-testid=receipt-number]") == "00000001"
    assert page.inner_text("[data-testid=receipt-total]") == "180.000\u00a0₫"
    assert page.inner_text("[data-testid=receipt-words]") == "Một trăm tám mươi nghìn đồng"
    assert page.inner_text("[data-testid=receipt-lookup-code]") == code
    assert "chữ ký hợp lệ" in page.inner_text("[data-testid=receipt-signature]")
    assert page.locator("[data-testid=receipt-line]").count() == 2
    # the QR on the receipt opens the public lookup of this receipt
    qr = page.locator("[data-testid=receipt-qr]")
    page.wait_for_function("() => document.querySelector('[data-testid=receipt-qr]')"
                           ".naturalWidth > 0")
    shot = SCREENSHOTS.parent / "receipt-qr.tmp.png"
    qr.screenshot(path=str(shot))
    try:
        read = zxingcpp.read_barcodes(Image.open(shot))
    finally:
        shot.unlink()
    assert [r.text for r in read] == [f"{live.url}/tra-cuu-bien-lai?ma={code}"]
    page.screenshot(path=str(SCREENSHOTS / "receipt-print-view.png"), full_page=True)

    # printed: the receipt alone, no navigation, no buttons
    page.emulate_media(media="print")
    assert page.locator("[data-testid=receipt]").is_visible()
    for hidden in (".topbar", "[data-testid=print-receipt]", "[data-testid=receipt-pdf]"):
        assert not page.locator(hidden).is_visible(), hidden
    page.emulate_media(media="screen")
    assert page.get_attribute("[data-testid=receipt-pdf]", "href") == \
        f"/receipts/{receipt.id}.pdf"
    pdf = page.request.get(f"{live.url}/receipts/{receipt.id}.pdf")
    assert pdf.ok and pdf.body().startswith(b"%PDF-")
    sign_out(page)

    # a citizen, not logged in: a wrong code first, then the one printed on the receipt
    page.goto(f"{live.url}/tra-cuu-bien-lai")
    assert "/login" not in page.url
    page.fill("[data-testid=lookup-code]", "ABCDEFGHJKLM")
    page.click("[data-testid=lookup-submit]")
    page.wait_for_selector("[data-testid=lookup-error]")
    assert "Không có biên lai nào" in page.inner_text("[data-testid=lookup-error]")
    assert page.locator("[data-testid=receipt]").count() == 0
    # the one expected problem: that page's 404
    problems[:] = [p for p in problems if "/tra-cuu-bien-lai?ma=ABCDEFGHJKLM" not in p]
    page.fill("[data-testid=lookup-code]", f"{code[:4].lower()} {code[4:8]} {code[8:]}")
    page.click("[data-testid=lookup-submit]")
    page.wait_for_selector("[data-testid=receipt]")
    assert page.inner_text("[data-testid=receipt-lookup-code]") == code
    assert page.inner_text("[data-testid=receipt-payer]") != ""
    assert page.inner_text("[data-testid=receipt-dossier]") == CODE
    with page.expect_download() as download:
        page.click("[data-testid=lookup-pdf]")
    assert download.value.suggested_filename == f"EBL01-{receipt.series}-00000001.pdf"
    page.screenshot(path=str(SCREENSHOTS / "receipt-public-lookup.png"), full_page=True)
    assert not problems, problems
