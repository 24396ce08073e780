"""The fees page walked in Debian's Chromium (Playwright, no downloaded browser) against a live
server: VNPay's month charged against its contract, line by line, with the lines off contract
linked to their findings; SePay's subscription month against its invoice, the invoice's
fee_invoice_mismatch opened from its row; then the same page in English. Screenshots go to
docs/screenshots/finance-fees*.png (as the other browser tests do)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page

from recon.accounts.auth import create_user
from recon.cli.admin import upgrade_database
from recon.clock import FixedClock
from recon.contracts import load_contracts
from recon.contracts.invoices import InvoiceIn
from recon.db import Database
from recon.engine import EngineConfig
from recon.settlements.fee_invoices import record_invoice
from tests.conftest import T0
from tests.live import chromium_page, served, sign_in, watch_problems
from tests.reconcile.recon_builders import TOTAL, World

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORD = "ketoan-fees-2026"
FEE = TOTAL * 88 // 10_000  # vnpay-demo: 0,88 % of 180.000 ₫, rounded down: 1.584 ₫
NBSP = "\u00a0"


def _cells(page: Page, table: str, provider: str) -> list[str]:
    row = page.locator(f"[data-testid={table}] tr[data-provider={provider}]"
                       f"[data-month='2026-11']")
    assert row.count() == 1, (table, provider)
    return [c.replace(NBSP, " ").strip() for c in row.locator("td").all_inner_texts()]


def _world(tmp_path: Path) -> tuple[Database, FixedClock]:
    url = f"sqlite:///{tmp_path / 'fees.db'}"
    upgrade_database(url)
    db = Database(url)
    clock = FixedClock(T0)  # Thursday 26/11/2026, 10:00 in Huế
    w = World(db, clock, config=EngineConfig(contracts=load_contracts()))
    for extra in (0, 1_100):  # VNPay: one fee as the contract says, one 1.100 ₫ above
        d = w.dossier()
        p = w.pay(TOTAL, reference=w.intent(d, TOTAL))
        w.settle("vnpay", w.txn_of(p), TOTAL, fee=FEE + extra)
    for _ in range(2):  # SePay: two transfers in November, settled by its statement
        d = w.dossier()
        p = w.pay(TOTAL, provider="sepay", reference=w.intent(d, TOTAL))
        w.settle("sepay", w.txn_of(p), TOTAL)
    record_invoice(db, clock, InvoiceIn("sepay", "SP-2026-11", date(2026, 12, 1),
                                        date(2026, 11, 1), 221_000, "billed"), actor="test")
    w.run("full", as_of=datetime(2026, 12, 2, 3, tzinfo=UTC))
    with db.transaction() as s:
        create_user(s, clock, username="ketoan", role="finance", password=PASSWORD,
                    display_name="Trần Văn Kế")
    return db, clock


def test_the_fees_page_in_vietnamese_and_english(tmp_path: Path) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    db, clock = _world(tmp_path)
    with served(db, clock, tmp_path) as base, chromium_page(1366, 900) as page:
        problems = watch_problems(page)
        sign_in(page, base, "ketoan", PASSWORD, "/finance/fees?year=2026")
        main = page.inner_text("main").replace(NBSP, " ")
        assert "Phí đã thu so với hợp đồng · 01/2026–12/2026" in main
        # VNPay's November: 2 lines, 360.000 ₫ gross, charged 4.268 ₫ where the contract
        # asks 3.168 ₫ (1.584 ₫ each): +1.100 ₫, one line off contract, none uncovered
        assert _cells(page, "fees-table", "vnpay") == [
            "11/2026", "VNPay", "vnpay-demo", "2", "360.000 ₫", "4.268 ₫", "3.168 ₫",
            "+1.100 ₫", "1", "0"]
        # SePay deducts nothing from its lines (a subscription)
        assert _cells(page, "fees-table", "sepay")[3:9] == [
            "2", "360.000 ₫", "0 ₫", "0 ₫", "0 ₫", "0"]
        # its month: 2 transactions of 3.000 included, 199.000 ₫ by contract, invoiced
        # 221.000 ₫: +22.000 ₫, and the finding the run opened about it
        sepay = _cells(page, "subscriptions-table", "sepay")
        assert sepay == ["11/2026", "SePay", "sepay-demo", "2", "3.000", "199.000 ₫",
                         "221.000 ₫", "+22.000 ₫", "SP-2026-11 (thanh toán riêng)",
                         "Hóa đơn phí lệch hợp đồng (Đang mở)"]
        page.screenshot(path=str(SCREENSHOTS / "finance-fees.png"), full_page=True)

        # the finding, from its row: the month's invoice against the contract
        page.locator("[data-testid=subscriptions-table] tr[data-provider=sepay] "
                     "[data-testid=subscription-finding] a").click()
        page.wait_for_url("**/finance/discrepancies/*")
        detail = page.inner_text("main").replace(NBSP, " ")
        assert "Hóa đơn phí lệch hợp đồng" in detail
        assert ("Hóa đơn SP-2026-11 của SePay cho tháng 11/2026 đòi 221.000 ₫, nhiều hơn "
                "22.000 ₫ so với phí thuê bao theo hợp đồng sepay-demo là 199.000 ₫") in detail
        sides = page.locator("[data-testid=invoice-sides]")
        assert sides.locator("[data-testid=invoice-expected]").inner_text().replace(
            NBSP, " ") == "199.000 ₫"
        assert sides.locator("[data-testid=invoice-invoiced]").inner_text().replace(
            NBSP, " ") == "221.000 ₫"
        page.screenshot(path=str(SCREENSHOTS / "finance-fee-invoice-mismatch.png"),
                        full_page=True)
        sides.locator("[data-testid=invoice-fees-link]").click()
        page.wait_for_url("**/finance/fees?year=2026")

        # the VNPay line off contract, from its count to the queue of fee_mismatch findings
        page.locator("[data-testid=fees-table] tr[data-provider=vnpay] "
                     "[data-testid=fees-findings]").click()
        page.wait_for_url("**/finance/discrepancies?**")
        rows = page.locator("[data-testid=queue-row]")
        assert rows.count() == 1 and "Sai phí theo hợp đồng" in rows.inner_text()
        assert page.locator("[data-testid=kind-fee_mismatch]").is_checked()
        page.go_back()
        page.wait_for_url("**/finance/fees?year=2026")

        # the English switch: the same figures, the words in English
        page.click("[data-testid=lang-switch]")
        page.wait_for_url("**/finance/fees?year=2026")
        english = page.inner_text("main").replace(NBSP, " ")
        assert "Fees charged against the contracts · 01/2026–12/2026" in english
        assert "Subscriptions and fee invoices" in english
        assert _cells(page, "fees-table", "vnpay")[4:8] == [
            "360.000 ₫", "4.268 ₫", "3.168 ₫", "+1.100 ₫"]
        assert _cells(page, "subscriptions-table", "sepay")[5:] == [
            "199.000 ₫", "221.000 ₫", "+22.000 ₫", "SP-2026-11 (billed)",
            "Fee invoice differs from contract (Open)"]
        page.screenshot(path=str(SCREENSHOTS / "finance-fees-en.png"), full_page=True)
        assert problems == []
