"""Closing a month end to end in headless Chromium (Debian's /usr/bin/chromium, through
tests/live.py), against a live server on 127.0.0.1 and a migrated SQLite file:

1. a finance officer proposes closing 01/2021 on /finance/periods: refused while January has
   open discrepancies, then proposed with each carried forward with a note;
2. the same officer cannot approve it; a second finance officer does: the month is closed, its
   report prints;
3. a settlement line for a January payment arrives late (`recon settlements import`, a separate
   process) and `recon reconcile --full` runs: January is left as it was, and the workbench of
   the open month shows a ``late_for_closed_period`` finding with its explanation;
4. an admin reopens January with a reason: the month is open, the reason is in the audit log.

Screenshots of every step go to tests/artifacts/ (git-ignored); docs/screenshots/ keeps a copy
of some (periods-*.png).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import Page
from sqlalchemy import delete, select

from recon.accounts.auth import create_user
from recon.cli.admin import upgrade_database
from recon.clock import SystemClock
from recon.db import Database
from recon.engine.closed import LATE
from recon.models import AuditEvent, Discrepancy, Period
from recon.periods import month_of
from recon.review import periods as close
from tests.finance.helpers import World, build_world
from tests.live import chromium_page, live_env, served, sign_in, sign_out, watch_problems

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
ROOT = Path(__file__).resolve().parents[2]
PASSWORDS = {"ketoan": "ketoan-periods-2021", "kiemsoat": "kiemsoat-periods-2021",
             "quantri": "quantri-periods-2021"}
JAN = date(2021, 1, 1)

pytestmark = pytest.mark.browser


@dataclass
class Live:
    url: str
    db: Database
    world: World
    env: dict[str, str]


def _recon(live: Live, *args: str) -> str:
    """`recon ARGS` in a separate process beside the live server; its standard output."""
    done = subprocess.run([sys.executable, "-m", "recon.cli", *args], cwd=ROOT,
                          env={**os.environ, **live.env}, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    url = f"sqlite:///{tmp_path / 'periods.db'}"
    upgrade_database(url)
    db = Database(url)
    clock = SystemClock()
    world = build_world(db)
    with db.transaction() as s:
        # the world's hand-made discrepancies give way to what a run finds in its facts
        s.execute(delete(Discrepancy))
        create_user(s, clock, username="ketoan", role="finance", password=PASSWORDS["ketoan"],
                    display_name="Trần Văn Kế")
        create_user(s, clock, username="kiemsoat", role="finance",
                    password=PASSWORDS["kiemsoat"], display_name="Lê Thị Kiểm Soát")
        create_user(s, clock, username="quantri", role="admin", password=PASSWORDS["quantri"],
                    display_name="Phạm Quản Trị")
    with served(db, clock, tmp_path) as base:
        live = Live(base, db, world, live_env(url, tmp_path))
        _recon(live, "reconcile", "--full")
        yield live


@pytest.fixture
def page() -> Iterator[Page]:
    with chromium_page(1360, 1000) as p:
        yield p


def _watch(page: Page) -> list[str]:
    return watch_problems(page)


def _login(page: Page, live: Live, username: str, target: str) -> None:
    sign_in(page, live.url, username, PASSWORDS[username], target)


def _logout(page: Page) -> None:
    sign_out(page)


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"periods-{name}.png"), full_page=True)


def _row(page: Page) -> str:
    return page.inner_text("[data-testid=period-2021-01] [data-testid=period-status]")


def test_close_a_month_end_to_end(live: Live, page: Page, tmp_path: Path) -> None:
    problems = _watch(page)
    with live.db.read() as s:
        open_in_january = [d.id for d in close.discrepancies_of(s, JAN, None, status="open")]
    assert open_in_january  # the run left January's differences open: they must be carried

    # 1. propose: refused while January has open discrepancies, then carried forward
    _login(page, live, "ketoan", "/finance/periods")
    assert page.inner_text("h1") == "Khóa sổ"
    page.fill("[data-testid=propose-month]", "2021-01")
    page.click("[data-testid=propose-period]")
    page.wait_for_selector("[data-testid=error]")
    assert page.inner_text("[data-testid=error]") == (
        "Tháng còn chênh lệch đang mở: hãy xử lý, hoặc chuyển từng chênh lệch sang kỳ sau "
        "kèm ghi chú.")
    _shot(page, "1-refused-open")
    problems.remove(next(p for p in problems if p.startswith("409 ")))
    page.fill("[data-testid=propose-month]", "2021-01")
    page.fill("[data-testid=propose-carry]", "\n".join(
        f"{i}=Chờ bảng kê điều chỉnh của nhà cung cấp" for i in open_in_january))
    page.click("[data-testid=propose-period]")
    page.wait_for_selector("[data-testid=notice]")
    assert _row(page) == "Chờ phê duyệt khóa sổ"
    assert page.locator("[data-testid=approve-period]").count() == 0  # not by the proposer
    _shot(page, "2-proposed")
    _logout(page)

    # 2. a second finance officer approves: January is closed, its report prints
    _login(page, live, "kiemsoat", "/finance/periods")
    page.click("[data-testid=period-2021-01] [data-testid=approve-period]")
    page.wait_for_selector("[data-testid=notice]")
    assert _row(page) == "Đã khóa sổ"
    _shot(page, "3-closed")
    with live.db.read() as s:
        period = s.scalars(select(Period).where(Period.month == JAN)).one()
        assert (period.status, period.proposed_by, period.approved_by) == (
            "closed", "user:ketoan", "user:kiemsoat")
        frozen = {d.id: (d.status, d.delta, d.updated_at) for d in s.scalars(
            select(Discrepancy).where(Discrepancy.id.in_(open_in_january)))}
    page.click("[data-testid=period-2021-01] [data-testid=period-report]")
    page.wait_for_load_state()
    assert period.snapshot_sha256 is not None and period.snapshot_sha256 in page.content()
    _shot(page, "4-report")

    # 3. a line for d8's January payment (sepay 20.000 ₫, 02/01/2021) arrives late; a run
    late_file = tmp_path / "sepay-late-2021-01.csv"
    late_file.write_text("provider_txn_id,amount,fee,transaction_at,settled_on\r\n"
                         "TX-d8,20000,0,2021-01-02T09:00:00+07:00,2021-01-03\r\n",
                         encoding="utf-8")
    _recon(live, "settlements", "import", "--provider", "sepay", str(late_file))
    summary = json.loads(_recon(live, "reconcile", "--full").strip().splitlines()[-1])
    assert summary["counts"][LATE] == 1 and summary["held"] >= 1
    with live.db.read() as s:
        late = s.scalars(select(Discrepancy).where(Discrepancy.kind == LATE)).one()
        assert late.payment_id == live.world.payments["d8"]
        assert month_of(late.detected_at) == month_of(SystemClock().now())  # the open month
        assert {d.id: (d.status, d.delta, d.updated_at) for d in s.scalars(
            select(Discrepancy).where(Discrepancy.id.in_(open_in_january)))} == frozen

    page.click("[data-testid=finance-nav] >> text=Chênh lệch")
    page.wait_for_selector("[data-testid=queue]")
    page.check(f"[data-testid=kind-{LATE}]")
    page.click("[data-testid=apply-filters]")
    page.wait_for_url(f"**kind={LATE}**")
    assert page.locator("[data-testid=queue-row]").count() == 1
    assert "Phát sinh sau khóa sổ" in page.inner_text("[data-testid=queue-row]")
    _shot(page, "5-late-in-queue")
    page.click(f"[data-testid=open-{late.id}]")
    page.wait_for_selector("[data-testid=discrepancy]")
    explanation = page.inner_text("[data-testid=explanation]")
    assert "Một dòng đối soát cho khoản thanh toán" in explanation
    assert "TX-d8 ngày 02/01/2021 (tháng 01/2021, đã khóa sổ) đến ngày" in explanation
    assert "Tháng đã khóa không thay đổi" in explanation
    _shot(page, "6-late-detail")
    _logout(page)

    # 4. an admin reopens January, saying why
    _login(page, live, "quantri", "/finance/periods")
    reason = "Ngân hàng gửi bổ sung bảng kê tháng 01/2021"
    page.fill("[data-testid=period-2021-01] [data-testid=reopen-reason]", reason)
    _shot(page, "7-reopen")
    page.click("[data-testid=period-2021-01] [data-testid=reopen-period]")
    page.wait_for_selector("[data-testid=notice]")
    assert _row(page) == "Đang mở"
    assert reason in page.inner_text("[data-testid=period-2021-01]")
    _shot(page, "8-reopened")
    with live.db.read() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "period.reopened")).one()
        assert (event.actor, json.loads(event.data)["reason"]) == ("user:quantri", reason)
    page.goto(f"{live.url}/finance/audit")
    assert "period.reopened" in page.content() or "Mở lại" in page.content()
    _shot(page, "9-audit")
    assert not problems, problems
