"""The desk and the finance workbench in headless Chromium (Debian's /usr/bin/chromium; never a
downloaded browser), against a live server on 127.0.0.1 and a migrated SQLite file.

1. Cashier: log in, find a dossier, show a VietQR code, pay it with ``recon simulate pay``
   (a correctly signed SePay callback sent by a separate process), the page turns paid.
2. Finance: log in, filter the queue, open a discrepancy, resolve it; propose a write-off, a
   second finance officer approves it; export the filtered view as XLSX and read it back.

Screenshots of every page go to tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from openpyxl import load_workbook
from playwright.sync_api import Page, sync_playwright
from sqlalchemy import select
from werkzeug.serving import BaseWSGIServer, make_server

from recon import create_app
from recon.accounts.auth import create_user
from recon.cli.admin import upgrade_database
from recon.clock import SystemClock
from recon.config import load_settings
from recon.db import Database
from recon.models import Discrepancy, PaymentIntent
from recon.payments.recording import PaymentEvent, record_payment
from tests.finance.helpers import World, build_world
from tests.live import CHROMIUM, CHROMIUM_ARGS, sign_in, sign_out, watch_problems

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
ROOT = Path(__file__).resolve().parents[2]
PASSWORDS = {"thungan": "thungan-browser-2021", "ketoan": "ketoan-browser-2021",
             "kiemsoat": "kiemsoat-browser-2021"}

pytestmark = pytest.mark.browser
#: `recon simulate pay` (issue 4) signs a real provider callback; used whenever it is present
SIMULATE = importlib.util.find_spec("recon.cli.simulate") is not None


@dataclass
class Live:
    url: str
    db: Database
    world: World
    env: dict[str, str]


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    url = f"sqlite:///{tmp_path / 'finance.db'}"
    upgrade_database(url)
    db = Database(url)
    clock = SystemClock()
    world = build_world(db)
    with db.transaction() as s:
        create_user(s, clock, username="thungan", role="cashier",
                    password=PASSWORDS["thungan"], display_name="Nguyễn Thị Thu Ngân")
        create_user(s, clock, username="ketoan", role="finance", password=PASSWORDS["ketoan"],
                    display_name="Trần Văn Kế")
        create_user(s, clock, username="kiemsoat", role="finance",
                    password=PASSWORDS["kiemsoat"], display_name="Lê Thị Kiểm Soát")
    env = {
        "RECON_DATABASE_URL": url,
        "RECON_SECRET_KEY": "browser-test-secret-0123456789abcdef",
        "RECON_ENV": "test",
        "RECON_INSTANCE_PATH": str(tmp_path / "instance"),
        "RECON_SEPAY_API_KEY": "browser-test-sepay-key-0123456789",
    }
    app: Flask = create_app(load_settings(env), clock=clock, database=db)
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Live(f"http://127.0.0.1:{server.server_port}", db, world, env)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        db.dispose()


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1360, "height": 1000},
                                      locale="vi-VN", accept_downloads=True)
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


def _watch(page: Page) -> list[str]:
    return watch_problems(page, console_errors=True)


def _login(page: Page, live: Live, username: str, target: str) -> None:
    sign_in(page, live.url, username, PASSWORDS[username], target)


def _logout(page: Page) -> None:
    sign_out(page)


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_cashier_pays_with_recon_simulate(live: Live, page: Page) -> None:
    problems = _watch(page)
    code = live.world.codes["d7"]  # outstanding: 40.000 ₫
    _login(page, live, "thungan", "/cashier")
    page.fill("[data-testid=dossier-code]", code)
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-testid=dossier]")
    assert page.inner_text("[data-testid=outstanding]") == "40.000\u00a0₫"
    page.click("[data-testid=create-intent]")
    page.wait_for_selector("[data-testid=intent-panel]")
    page.wait_for_function(
        "() => { const i = document.querySelector('[data-testid=qr-image]');"
        " return i && i.complete && i.naturalWidth > 0; }")
    reference = page.inner_text("[data-testid=reference]")
    with live.db.read() as s:
        intent = s.scalars(select(PaymentIntent).where(PaymentIntent.reference == reference)).one()
    assert intent.amount == 40_000
    _shot(page, "finance-browser-cashier-qr")

    if SIMULATE:
        # a second process pays it, as SePay would: a signed callback to the live server
        env = {**os.environ, **live.env}
        done = subprocess.run(
            [sys.executable, "-m", "recon.cli", "simulate", "pay", reference, "--provider",
             "sepay", "--url", live.url], cwd=ROOT, env=env, capture_output=True, text=True,
            timeout=60, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
    else:  # the webhook and `recon simulate` not in this tree: record it as ingest would
        with live.db.transaction() as s:
            record_payment(s, SystemClock(), PaymentEvent(
                provider="sepay", provider_txn_id="FT21090123456", channel="vietqr",
                amount=40_000, status="succeeded", paid_at=SystemClock().now(),
                memo=f"{reference} NGUYEN VAN A nop le phi"), actor="webhook:sepay",
                reference_prefix="HS")

    page.wait_for_selector("#slip.state-paid .paid-banner", timeout=15_000)
    assert page.inner_text("#slip .paid-banner") == "Đã thanh toán"
    page.wait_for_function(
        "() => document.querySelector('[data-field=outstanding]').textContent"
        " === '0\\u00a0₫'")
    _shot(page, "finance-browser-cashier-paid")
    assert not problems, problems


def test_finance_filter_resolve_approve_export(live: Live, page: Page, tmp_path: Path) -> None:
    problems = _watch(page)
    w = live.world
    _login(page, live, "ketoan", "/finance")
    assert page.locator("[data-testid=dashboard]").is_visible()
    assert page.inner_text("[data-testid=open-total]") == "6"
    assert page.locator("svg[data-testid=chart-age] rect").count() == 4
    _shot(page, "finance-browser-dashboard")

    # the queue, filtered by kind and provider
    page.click("[data-testid=finance-nav] >> text=Chênh lệch")
    page.wait_for_selector("[data-testid=queue]")
    assert "6 chênh lệch phù hợp" in page.inner_text("[data-testid=queue-total]")
    page.check("[data-testid=kind-amount_mismatch]")
    page.check("[data-testid=kind-unmatched_payment]")
    page.select_option("[data-testid=filter-provider]", "sepay")
    page.click("[data-testid=apply-filters]")
    page.wait_for_url("**kind=amount_mismatch**")
    assert "2 chênh lệch phù hợp" in page.inner_text("[data-testid=queue-total]")
    assert page.locator("[data-testid=queue-row]").count() == 2
    _shot(page, "finance-browser-queue-filtered")

    # export the filtered view as XLSX and read it back
    with page.expect_download() as download_info:
        page.click("[data-testid=export-xlsx]")
    target = tmp_path / "export.xlsx"
    download_info.value.save_as(target)
    sheet = load_workbook(target, read_only=True).active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0][:3] == ["Mã", "Loại", "Trạng thái"]
    assert sorted(r[0] for r in rows[1:]) == sorted([w.discrepancies["B"],
                                                     w.discrepancies["D"]])

    # open one, read its story, resolve it
    page.click(f"[data-testid=open-{w.discrepancies['D']}]")
    page.wait_for_selector("[data-testid=discrepancy]")
    assert page.inner_text("[data-testid=explanation]") == "Giải thích D"
    assert page.locator("[data-testid=file-download]").count() == 1
    assert not page.locator("[data-testid=dossier-code]").is_visible()  # manual match only
    _shot(page, "finance-browser-detail")
    page.select_option("[data-testid=resolution-type]", "provider_corrected")
    page.fill("[data-testid=note]", "SePay đã gửi bảng kê điều chỉnh 1.000 ₫")
    page.click("[data-testid=resolve-submit]")
    page.wait_for_selector("[data-testid=reopen-form]")
    assert "Đã xử lý xong." in page.inner_text("[data-testid=notice]")
    assert page.inner_text("[data-testid=resolution]") == "Nhà cung cấp đã điều chỉnh"
    _shot(page, "finance-browser-resolved")

    # propose a write-off of a missing settlement; the proposer cannot approve it
    page.goto(f"{live.url}/finance/discrepancies/{w.discrepancies['C']}")
    page.select_option("[data-testid=resolution-type]", "written_off")
    page.fill("[data-testid=note]", "Chênh 10.000 ₫, đề nghị xóa sổ")
    page.click("[data-testid=resolve-submit]")
    page.wait_for_selector("[data-testid=proposal]")
    page.click("[data-testid=review-proposal]")
    page.wait_for_selector("[data-testid=own-proposal]")
    assert page.locator("[data-testid=approve-form]").count() == 0
    _shot(page, "finance-browser-own-proposal")
    _logout(page)

    # a second finance officer approves it
    _login(page, live, "kiemsoat", "/finance/approvals")
    page.click(f"[data-testid=review-{w.discrepancies['C']}]")
    page.wait_for_selector("[data-testid=approve-form]")
    assert page.inner_text("[data-testid=proposal-note]") == "Chênh 10.000 ₫, đề nghị xóa sổ"
    assert page.inner_text("[data-testid=proposal-by]") == "Người dùng ketoan"
    _shot(page, "finance-browser-approval")
    page.click("[data-testid=approve-submit]")
    page.wait_for_selector("[data-testid=reopen-form]")
    assert page.inner_text("[data-testid=resolution]") == "Xử lý xóa sổ chênh lệch"
    _shot(page, "finance-browser-approved")
    with live.db.read() as s:
        d = s.get(Discrepancy, w.discrepancies["C"])
        assert d is not None
        assert (d.status, d.proposed_by, d.resolved_by) == ("resolved", "user:ketoan",
                                                           "user:kiemsoat")

    # the reports and the audit log, printed and verified
    for name, url in (("quarterly", "/finance/reports/quarterly?year=2021&quarter=1"),
                      ("daily", "/finance/reports/daily?day=2021-02-01"),
                      ("outstanding", "/finance/outstanding"), ("audit", "/finance/audit")):
        page.goto(f"{live.url}{url}")
        _shot(page, f"finance-browser-{name}")
    page.goto(f"{live.url}/finance/reports/quarterly?year=2021&quarter=1")
    assert page.inner_text("[data-testid=q-share]") == "86%"
    page.emulate_media(media="print")
    assert not page.locator("[data-testid=finance-nav]").is_visible()
    assert page.locator("[data-testid=quarterly]").is_visible()
    _shot(page, "finance-browser-quarterly-print")
    page.emulate_media(media="screen")
    page.goto(f"{live.url}/finance/audit")
    page.click("[data-testid=verify-chain]")
    page.wait_for_selector("[data-testid=chain-ok]")
    _shot(page, "finance-browser-audit-verified")
    assert not problems, problems
