"""A fee_mismatch in headless Chromium (Debian's /usr/bin/chromium, the house's launcher in
tests/cashier/live.py): finance opens the finding and reads the contract, the rate, the
expected and the charged fee, in Vietnamese; then the fees page. Screenshots go to
tests/artifacts/ (git-ignored)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from recon.accounts.auth import create_user
from recon.cli.admin import upgrade_database
from recon.clock import FixedClock, SystemClock
from recon.contracts import load_contracts
from recon.db import Database
from recon.engine import EngineConfig
from recon.models import Discrepancy
from tests.live import chromium_page, served, sign_in
from tests.reconcile.recon_builders import TOTAL, World

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
PASSWORD = "ketoan-fee-browser-2021"
pytestmark = pytest.mark.browser


def test_finance_reads_a_fee_mismatch(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fees.db'}"
    upgrade_database(url)
    db = Database(url)
    clock = FixedClock(datetime.now(UTC).replace(microsecond=0))
    w = World(db, clock, config=EngineConfig(contracts=load_contracts()))
    d = w.dossier()
    p = w.pay(TOTAL, reference=w.intent(d, TOTAL))
    w.settle("vnpay", w.txn_of(p), TOTAL, fee=TOTAL * 88 // 10_000 + 1_100)
    w.run()
    with db.read() as s:
        found = s.scalars(select(Discrepancy)).one()
        assert found.kind == "fee_mismatch"
        finding_id = found.id
    with db.transaction() as s:
        create_user(s, SystemClock(), username="ketoan", role="finance", password=PASSWORD,
                    display_name="Trần Văn Kế")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with served(db, SystemClock(), tmp_path) as base, chromium_page(1360, 1000) as page:
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
                if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
        sign_in(page, base, "ketoan", PASSWORD, f"/finance/discrepancies/{finding_id}")
        body = page.inner_text("main")
        assert "Sai phí theo hợp đồng" in body
        assert ("vnpay-demo (kênh: mọi phương thức (giao dịch này: phương thức không được báo); "
                "0,88 %, đã gồm VAT)") in body.replace("\u00a0", " ")
        assert "2.684 ₫" in body.replace("\u00a0", " ")  # charged
        assert "1.584 ₫" in body.replace("\u00a0", " ")  # per contract
        page.screenshot(path=str(ARTIFACTS / "fee_mismatch_detail.png"), full_page=True)
        page.goto(f"{base}/finance/fees?year={clock.now().year}")
        assert "Phí đã thu so với hợp đồng" in page.inner_text("main")
        page.screenshot(path=str(ARTIFACTS / "finance_fees.png"), full_page=True)
    assert problems == []
