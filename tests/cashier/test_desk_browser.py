"""The cashier's desk in headless Chromium: log in, find a dossier, show a VietQR code, read it
back, pay it, and watch the page turn to "Đã thanh toán" by itself.

Debian's /usr/bin/chromium only (never a downloaded browser). Screenshots go to
tests/artifacts/ (git-ignored).
"""

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
from recon.models import PaymentIntent
from recon.payments.recording import PaymentEvent, record_payment
from recon.vietqr.codec import decode
from tests.intents.helpers import ACCOUNT, BIN, CODE, TOTAL, seed
from tests.live import chromium_page, served

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
PASSWORD = "thungan-browser-2021"

pytestmark = pytest.mark.browser


@dataclass
class LiveDesk:
    url: str
    db: Database


@pytest.fixture
def live_desk(tmp_path: Path) -> Iterator[LiveDesk]:
    url = f"sqlite:///{tmp_path / 'desk.db'}"
    upgrade_database(url)
    db = Database(url)
    clock = SystemClock()
    seed(db, clock)
    with db.transaction() as s:
        create_user(s, clock, username="thungan", role="cashier", password=PASSWORD,
                    display_name="Nguyễn Thị Thu Ngân")
    with served(db, clock, tmp_path) as base:
        yield LiveDesk(base, db)


@pytest.fixture
def page() -> Iterator[Page]:
    with chromium_page(1280, 1000) as page:
        yield page


def test_cashier_desk_qr_to_paid(live_desk: LiveDesk, page: Page) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    # script errors, CSP violations and failed requests (the browser's own favicon probe
    # aside: the app has no icon) are all problems
    page.on("console", lambda m: problems.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)

    page.goto(f"{live_desk.url}/cashier")
    assert "/login" in page.url
    page.fill("input[name=username]", "thungan")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{live_desk.url}/cashier**")

    # the code field has the focus: a scanner types the code and presses Enter
    search = page.locator("[data-testid=dossier-code]")
    assert search.evaluate("el => el === document.activeElement")
    page.keyboard.type(CODE)
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-testid=dossier]")
    assert page.inner_text("[data-testid=outstanding]") == "180.000\u00a0₫"

    page.click("[data-testid=create-intent]")
    slip = page.locator("[data-testid=intent-panel]")
    slip.wait_for()
    image = page.locator("[data-testid=qr-image]")
    page.wait_for_function(
        "() => { const i = document.querySelector('[data-testid=qr-image]');"
        " return i && i.complete && i.naturalWidth > 0; }")

    with live_desk.db.read() as s:
        intent = s.scalars(select(PaymentIntent)).one()
    assert page.inner_text("[data-testid=reference]") == intent.reference
    assert page.inner_text("[data-testid=account-number]") == ACCOUNT
    assert "VietinBank" in page.inner_text("[data-testid=bank]")
    assert page.inner_text("[data-testid=intent-amount-shown]") == "180.000\u00a0₫"
    countdown = page.inner_text("[data-testid=countdown]")
    assert countdown[:2] in ("15", "14")

    # read the code back from what the screen shows
    shot = ARTIFACTS / "cashier-desk-qr-image.png"
    image.screenshot(path=str(shot))
    found = zxingcpp.read_barcodes(Image.open(shot))
    assert [r.text for r in found] == [intent.qr_payload]
    decoded = decode(found[0].text)
    assert (decoded.bin, decoded.account, decoded.amount, decoded.purpose) == (
        BIN, ACCOUNT, TOTAL, intent.reference)
    page.screenshot(path=str(ARTIFACTS / "cashier-desk-qr.png"), full_page=True)

    # printed, the slip stands alone: no search, no forms, no navigation
    page.emulate_media(media="print")
    assert image.is_visible() and slip.is_visible()
    for hidden in ("[data-testid=dossier]", "[data-testid=intent-form]", ".topbar",
                   "[data-testid=print-slip]"):
        assert not page.locator(hidden).is_visible(), hidden
    page.screenshot(path=str(ARTIFACTS / "cashier-desk-slip-print.png"), full_page=True)
    page.emulate_media(media="screen")

    # the money arrives (the webhook is not built yet: record it as the service would)
    with live_desk.db.transaction() as s:
        outcome = record_payment(s, SystemClock(), PaymentEvent(
            provider="sepay", provider_txn_id="FT26330123456", channel="vietqr",
            amount=TOTAL, status="succeeded", paid_at=SystemClock().now(),
            memo=f"MBVCB.3278907687.{intent.reference}.NGUYEN THI HUONG CHUYEN TIEN"),
            actor="test:browser", reference_prefix="HS")
    assert outcome.outcome == "recorded" and outcome.intent is not None

    page.wait_for_selector("#slip.state-paid .paid-banner", timeout=10_000)
    assert page.inner_text("#slip .paid-banner") == "Đã thanh toán"
    assert not image.is_visible()
    page.wait_for_function(
        "() => document.querySelector('[data-field=outstanding]').textContent"
        " === '0\\u00a0₫'")
    assert page.locator("[data-testid=cash-form]").count() == 0
    row = page.locator(f"[data-intent-row='{intent.id}']")
    assert row.locator("[data-role=status]").inner_text() == "Đã thanh toán"
    assert row.locator(".cancel-form").count() == 0
    page.screenshot(path=str(ARTIFACTS / "cashier-desk-paid.png"), full_page=True)
    assert not problems, problems
