"""Issue 18's money to the Treasury walked in Debian's Chromium (Playwright, no downloaded
browser) on the Huế demo, reconciled: the dashboard's "collected, not yet remitted" per
collecting organisation, a ``forward_overdue`` finding with both sides (what the centre owed
onward, to whom, since when; the transfers) and its Vietnamese explanation, and the centre's
declaration for March 2021. Every figure on screen is checked against the database's own.
Screenshots go to docs/screenshots/treasury-*.png."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import Page
from sqlalchemy import select

from recon.audit.chain import record_on
from recon.cli.admin import upgrade_database
from recon.clock import VN_TZ, FixedClock
from recon.db import Database
from recon.demo.seed import seed_demo
from recon.demo.transfers import CENTRE
from recon.engine.remittances import Ageing
from recon.engine.runner import run_reconciliation
from recon.models import Discrepancy
from recon.money import format_vnd
from recon.review import declarations
from recon.review import forwarding as forwarding_reads
from recon.review import remittances as remittance_reads
from recon.review.remittances import with_remittance_pass
from recon.review.reports import vn_today
from recon.settlements.payouts import engine_config
from tests.conftest import T0
from tests.finance.demo_world import PASSWORDS
from tests.live import chromium_page, served, sign_in, watch_problems

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
MARCH = date(2021, 3, 1)
#: an amount as the pages write it: dots group thousands, a no-break space, then ₫
VND = re.compile(r"^-?\d{1,3}(\.\d{3})*\u00a0₫$")


@dataclass
class LiveDemo:
    url: str
    unremitted: list[Ageing]
    findings: int  # what the open remittance_overdue and remittance_short findings lack
    names: dict[str, str]
    overdue: Discrepancy
    sides: forwarding_reads.OverdueSides
    march: declarations.Declaration


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveDemo]:
    tmp_path = tmp_path_factory.mktemp("treasury")
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    upgrade_database(url)
    db = Database(url)
    clock = FixedClock(T0)  # Thursday 26/11/2026, 10:00 in Huế: every 2021 deadline is past
    seed_demo(db, clock, dossiers=1_500, seed=2021)
    # as `recon reconcile` runs it: with the payout pass and the remittance pass
    config = with_remittance_pass(engine_config({}), {})
    run_reconciliation(db, clock=clock, audit=record_on, config=config, mode="full",
                       triggered_by="test")
    with db.read() as s:
        unremitted = remittance_reads.not_remitted(s, vn_today(clock.now()))
        findings = sum(abs(d or 0) for d in s.scalars(
            select(Discrepancy.delta).where(
                Discrepancy.status == "open",
                Discrepancy.kind.in_(("remittance_overdue", "remittance_short")))))
        overdue = s.scalars(select(Discrepancy).where(Discrepancy.kind == "forward_overdue")
                            .order_by(Discrepancy.id)).first()
        assert overdue is not None and overdue.payment_id is not None
        sides = forwarding_reads.overdue_sides(s, overdue.payment_id, now=clock.now(),
                                               deadline_hours=config.forward_deadline_hours)
        march = declarations.monthly(s, MARCH, collectors=[CENTRE])
        s.expunge(overdue)
    with served(db, clock, tmp_path) as base:
        yield LiveDemo(base, unremitted, findings, sides.names, overdue, sides, march)


@pytest.fixture
def page() -> Iterator[Page]:
    with chromium_page(1366, 900) as page:
        yield page


def _cells(row: object) -> list[str]:
    return [c.strip() for c in row.locator("td").all_inner_texts()]  # type: ignore[attr-defined]


def test_dashboard_shows_what_each_collector_has_not_remitted(live: LiveDemo,
                                                              page: Page) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems = watch_problems(page)
    sign_in(page, live.url, "ketoan", PASSWORDS["ketoan"], "/finance")
    heading = page.get_by_role("heading", name="Đã thu, chưa nộp ngân sách")
    assert heading.is_visible()
    table = page.locator("[data-testid=not-remitted]")
    rows = table.locator("[data-testid=not-remitted-row]")
    owing = live.unremitted
    assert owing  # the demo leaves money unremitted
    assert rows.count() == len(owing)
    for i, ageing in enumerate(owing):
        cells = _cells(rows.nth(i))
        expected = [ageing.not_due, ageing.up_to_30, ageing.up_to_90, ageing.older,
                    ageing.total]
        assert cells[1:] == [format_vnd(v) for v in expected]
        assert all(VND.match(c) for c in cells[1:]), cells
        assert cells[0] == f"{ageing.collector} – {live.names[ageing.collector]}"
    # only who owes is listed, and what is owed is what the remittance findings say is missing
    assert all(a.total > 0 for a in owing)
    assert sum(a.total for a in owing) == live.findings > 0
    # the six columns fit the card: the page never scrolls sideways
    fits = page.evaluate("""() => {
      const t = document.querySelector('[data-testid=not-remitted]');
      return {table: t.getBoundingClientRect().right,
              box: t.parentElement.getBoundingClientRect().right,
              page: document.documentElement.scrollWidth, view: window.innerWidth};
    }""")
    assert fits["table"] <= fits["box"] and fits["page"] <= fits["view"], fits
    page.screenshot(path=str(SCREENSHOTS / "treasury-dashboard-not-remitted.png"),
                    full_page=True)
    assert problems == []


def test_a_forward_overdue_shows_both_sides(live: LiveDemo, page: Page) -> None:
    problems = watch_problems(page)
    target = f"/finance/discrepancies/{live.overdue.id}"
    sign_in(page, live.url, "ketoan", PASSWORDS["ketoan"], target)
    explanation = page.locator("[data-testid=explanation]").inner_text()
    assert explanation.strip() == live.overdue.explanation.strip()
    assert "nhưng chưa chuyển" in explanation and "quá hạn" in explanation
    assert "Thông tư 74/2022/TT-BTC" in explanation

    owed = page.locator("[data-testid=forward-owed-side]")
    assert owed.locator("h2").inner_text().strip() == "Khoản phải chuyển"
    owed_rows = owed.locator("tbody tr")
    assert owed_rows.count() == len(live.sides.parts) > 0
    late = [st for st in live.sides.parts if st.remaining > 0]
    assert late  # what is still owed: the finding's subject
    for i, st in enumerate(live.sides.parts):
        cells = _cells(owed_rows.nth(i))
        name = live.names.get(st.part.collector, st.part.collector)
        assert cells[0] == ("Ngân sách nhà nước (lệ phí)" if st.part.destination == "budget"
                            else f"{st.part.collector} – {name}")  # to whom
        assert cells[1:4] == [format_vnd(st.part.amount), format_vnd(st.paid),
                              format_vnd(st.remaining)]
        paid_at = st.part.paid_at.astimezone(VN_TZ)
        assert cells[4] == f"{paid_at:%d/%m/%Y %H:%M}"  # since when
        assert cells[5].replace(".", "") == str(live.sides.hours(st.part.paid_at))
        assert int(cells[5].replace(".", "")) > live.sides.deadline_hours
    for st in late:
        name = live.names.get(st.part.collector, st.part.collector)
        if st.part.destination != "budget":
            assert name in explanation  # the explanation names whom it is owed to
        assert format_vnd(st.remaining) in explanation

    transfers = page.locator("[data-testid=forward-transfer-side]")
    assert transfers.locator("h2").inner_text().strip() == "Các lệnh chuyển"
    shown = transfers.locator("tbody tr")
    assert shown.count() == len(live.sides.transfers)
    for i, ts in enumerate(live.sides.transfers[:5]):
        cells = _cells(shown.nth(i))
        assert cells[0] == ts.transfer.reference
        assert cells[3] == format_vnd(ts.transfer.amount)
        assert cells[4] == format_vnd(ts.applied)
    page.screenshot(path=str(SCREENSHOTS / "treasury-forward-overdue.png"), full_page=True)
    assert problems == []


def test_the_monthly_declaration_page_shows_its_totals(live: LiveDemo, page: Page) -> None:
    problems = watch_problems(page)
    target = f"/finance/declarations?month=2021-03&agency={CENTRE}"
    sign_in(page, live.url, "ketoan", PASSWORDS["ketoan"], target)
    assert "Tờ khai phí, lệ phí" in page.locator("[data-testid=declarations]").inner_text()
    centre = live.march.collectors[0]
    assert page.locator("[data-testid=d-collector]").inner_text().startswith(CENTRE)
    table = page.locator("[data-testid=d-table]")
    assert table.locator("tbody tr").count() == len(centre.rows) > 0
    totals = [c.strip() for c in table.locator("tfoot th").all_inner_texts()]
    collected, kept, to_remit = (centre.total("collected"), centre.total("kept"),
                                 centre.total("to_remit"))
    remitted = centre.total("remitted")
    assert collected == kept + to_remit and remitted > 0
    assert totals[1:] == [format_vnd(collected), "", format_vnd(kept), format_vnd(to_remit),
                          format_vnd(remitted), format_vnd(to_remit - remitted)]
    assert page.locator("[data-testid=d-to-remit]").inner_text().strip() == format_vnd(to_remit)
    assert "C1-02/NS" in page.locator("[data-testid=d-no-remittance]").inner_text()
    check = page.locator("[data-testid=d-reconcile]").inner_text()
    assert format_vnd(live.march.payments_total) in check
    assert format_vnd(live.march.collected) in check
    assert live.march.payments_total == live.march.collected + live.march.unallocated
    page.screenshot(path=str(SCREENSHOTS / "treasury-declaration-2021-03.png"), full_page=True)
    assert problems == []
