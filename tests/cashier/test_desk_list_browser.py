"""The desk's list in headless Chromium, on the demo's data: today's dossiers that still owe
fees, a search by a name typed without diacritics, opening a dossier, an amount typed the
Vietnamese way, and a scanned code.

Debian's /usr/bin/chromium only. The list's screenshots are committed under docs/screenshots/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page

from recon.cli.admin import upgrade_database
from recon.clock import VN_TZ, SystemClock
from recon.db import Database
from recon.demo.catalog import AGENCIES
from recon.demo.seed import TODAY_QUEUE, seed_demo
from recon.intake.dossiers import parse_dossier, upsert_dossier
from recon.models import Payment
from tests.live import chromium_page, served

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
NAME = "Đặng Thị Ngọc Ánh"
CODE = "000.00.21.H57-DESK-0001"

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
    seed_demo(db, clock, dossiers=600)
    received = clock.now().astimezone(VN_TZ)
    with db.transaction() as s:  # one applicant the test knows, received just now
        upsert_dossier(s, clock, parse_dossier({
            "code": CODE, "agency_code": AGENCIES[0].code, "procedure_code": "1.001612",
            "procedure_name": "Đăng ký thành lập hộ kinh doanh", "applicant_name": NAME,
            "received_at": received.isoformat(),
            "fees": [{"kind": "le_phi", "name": "Lệ phí đăng ký hộ kinh doanh",
                      "amount": 100000},
                     {"kind": "phi", "name": "Phí cung cấp thông tin", "amount": 80000}]}),
            actor="test")
    with served(db, clock, tmp_path) as base:
        yield LiveDesk(base, db)


@pytest.fixture
def page() -> Iterator[Page]:
    with chromium_page(1366, 900) as page:
        yield page


def test_desk_list_search_open_and_pay(live_desk: LiveDesk, page: Page) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    # (the refused amount's 422 is expected: the form comes back with the error)
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith(("/favicon.ico", "/cash")) else None)

    page.goto(f"{live_desk.url}/cashier")
    page.fill("input[name=username]", "thungan")
    page.fill("input[name=password]", "thungan-demo-2021")
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{live_desk.url}/cashier**")

    # today's list: the demo's queue and the dossier received a moment ago, newest first
    rows = page.locator("[data-testid=desk-row]")
    assert rows.count() == TODAY_QUEUE + 1
    assert rows.first.get_attribute("data-code") == CODE
    assert rows.first.locator("[data-testid=desk-row-owed]").inner_text() == "180.000\u00a0₫"
    assert "Hồ sơ hôm nay còn phải nộp" in page.inner_text("[data-testid=desk-list]")
    summary = page.inner_text("[data-testid=desk-list-summary]")
    assert re.fullmatch(r"41 hồ sơ, cần thu [0-9.]+\u00a0₫", summary.strip()), summary
    search = page.locator("[data-testid=dossier-code]")
    assert search.evaluate("el => el === document.activeElement")
    # at 1366 px the table fits its card: no sideways scrolling
    edges = page.evaluate(
        "() => { const t = document.querySelector('[data-testid=desk-rows]');"
        " const card = t.closest('.card');"
        " return [t.getBoundingClientRect().right, card.getBoundingClientRect().right"
        " - parseFloat(getComputedStyle(card).paddingRight)]; }")
    assert edges[0] <= edges[1] + 0.5, edges
    page.screenshot(path=str(SCREENSHOTS / "cashier-desk-list.png"))

    # a name typed without diacritics narrows the list as it is typed
    page.keyboard.type("dang thi ngoc anh", delay=30)
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=desk-row]').length === 1")
    assert page.inner_text("[data-testid=desk-row-applicant]") == NAME
    assert "khớp với “dang thi ngoc anh”" in page.inner_text("[data-testid=desk-list-summary]")
    assert page.url.endswith("/cashier?q=dang+thi+ngoc+anh")
    page.screenshot(path=str(SCREENSHOTS / "cashier-desk-search.png"))

    # the row opens the dossier
    page.click("[data-testid=desk-row] .applicant")
    page.wait_for_selector("[data-testid=dossier]")
    assert page.url.endswith(f"/cashier?code={CODE}")
    assert page.inner_text("[data-testid=outstanding]") == "180.000\u00a0₫"
    cash = page.locator("[data-testid=cash-amount]")
    assert cash.input_value() == "180.000"

    # an amount typed as bare digits is shown the Vietnamese way; a decimal is refused
    cash.fill("8,5")
    page.fill("[data-testid=receipt-number]", "BL-DESK-1")
    page.click("[data-testid=record-cash]")
    page.wait_for_selector("[data-testid=desk-error]")
    error = page.inner_text("[data-testid=desk-error]")
    assert error.startswith("Số tiền “8,5” không phải số đồng nguyên"), error
    cash = page.locator("[data-testid=cash-amount]")
    cash.fill("")
    cash.type("8000")
    page.locator("[data-testid=receipt-number]").focus()
    assert cash.input_value() == "8.000"
    page.click("[data-testid=record-cash]")
    page.wait_for_selector("[data-testid=notice]")
    assert "Đã ghi nhận 8.000\u00a0₫ tiền mặt, biên lai BL-DESK-1." in page.inner_text(
        "[data-testid=notice]")
    assert page.inner_text("[data-testid=outstanding]") == "172.000\u00a0₫"
    with live_desk.db.read() as s:
        assert [p.amount for p in s.query(Payment).filter_by(receipt_number="BL-DESK-1")] == [
            8000]

    # back to the list: the dossier still owes, with the new amount
    page.click("[data-testid=back-to-list]")
    page.wait_for_selector("[data-testid=desk-list]")
    first = page.locator("[data-testid=desk-row]").first
    assert first.locator("[data-testid=desk-row-owed]").inner_text() == "172.000\u00a0₫"

    # the counter: one agency's dossiers only, remembered
    other = AGENCIES[0]
    page.select_option("[data-testid=desk-agency]", other.code)
    page.wait_for_function(
        "name => document.querySelector('[data-testid=desk-list] h2').textContent"
        ".includes(name)", arg=other.name)
    agency_rows = page.locator("[data-testid=desk-row]").count()
    assert 1 <= agency_rows <= TODAY_QUEUE + 1
    page.reload()
    assert page.locator("[data-testid=desk-row]").count() == agency_rows

    # a scanner types the code fast and presses Enter: the dossier opens
    page.locator("[data-testid=dossier-code]").focus()
    page.keyboard.type(CODE)
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-testid=dossier]")
    assert page.url.endswith(f"/cashier?code={CODE}")
    assert not problems, problems
