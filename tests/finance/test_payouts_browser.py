"""A payout walked in Debian's Chromium (Playwright, no downloaded browser) against a live
server: the payouts page, a batch's lines, the credit that paid it and its bank statement, and
the batch never credited, from its row to its discrepancy with both sides. Screenshots go to
docs/screenshots/ (as the desk's browser tests do)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page

from recon.accounts.auth import create_user
from recon.cli.admin import upgrade_database
from recon.clock import FixedClock
from recon.db import Database
from recon.settlements.payouts import engine_config
from tests.conftest import T0
from tests.live import chromium_page, served, sign_in, watch_problems
from tests.reconcile.payout_builders import MON, credit, pay_and_settle, statement_of_wednesday
from tests.reconcile.recon_builders import World

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORD = "ketoan-payouts-2026"


@dataclass
class LivePayouts:
    url: str
    db: Database


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LivePayouts]:
    url = f"sqlite:///{tmp_path / 'payouts.db'}"
    upgrade_database(url)
    db = Database(url)
    clock = FixedClock(T0)  # Thursday 26/11/2026, 10:00 in Huế
    w = World(db, clock, config=engine_config({}))
    pay_and_settle(w)  # VNPay: the Fri+Sat session, and Monday's
    credit(w, MON, [("FT001", 196000, "VNPAY TT PHIEN 20/11")])  # Monday's never comes
    statement_of_wednesday(w)
    w.run("full", as_of=clock.now())
    with db.transaction() as s:
        create_user(s, clock, username="ketoan", role="finance", password=PASSWORD,
                    display_name="Trần Văn Kế")
    with served(db, clock, tmp_path) as base:
        yield LivePayouts(base, db)


@pytest.fixture
def page() -> Iterator[Page]:
    with chromium_page(1366, 900, downloads=True) as page:
        yield page


def test_a_payout_from_batch_to_bank_credit(live: LivePayouts, page: Page) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems = watch_problems(page)
    sign_in(page, live.url, "ketoan", PASSWORD, "/finance/payouts?month=2026-11")

    rows = page.locator("[data-testid=payout-batch]")
    assert rows.count() == 2
    paid = page.locator("[data-testid=payout-batch][data-state=paid]")
    assert "20/11/2026 – 22/11/2026" in paid.inner_text() and "FT001" in paid.inner_text()
    lines = page.locator("[data-testid=payout-lines][data-state=paid]")
    lines.locator("summary").click()  # the batch's lines
    assert lines.locator("details table").is_visible()
    assert "V1" in lines.inner_text() and "V2" in lines.inner_text()
    page.screenshot(path=str(SCREENSHOTS / "finance-payouts.png"), full_page=True)

    with page.expect_download() as download:  # the bank statement the credit came in
        paid.locator("[data-testid=statement-download]").click()
    saved = download.value.path()
    assert saved is not None and b"FT001" in Path(saved).read_bytes()

    missing = page.locator("[data-testid=payout-batch][data-state=missing]")
    assert "Chưa nhận được" in missing.inner_text()
    missing.locator("[data-testid=payout-discrepancy]").click()
    page.wait_for_url("**/finance/discrepancies/*")
    sides = page.locator("[data-testid=payout-sides]")
    assert "Chưa có khoản ghi có nào thanh toán đợt này." in sides.inner_text()
    assert "23/11/2026" in sides.inner_text()  # Monday's session
    assert "Đợt chuyển tiền VNPay phiên 23/11/2026" in page.locator(
        "[data-testid=discrepancy]").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "finance-payout-missing.png"), full_page=True)
    assert problems == []
