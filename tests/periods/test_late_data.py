"""A run never changes a closed month's findings: a settlement line that arrives late for a
payment of a closed month is kept and reported in the current open month as a
``late_for_closed_period`` finding, explained; reopening the month lets the run update it."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest
from sqlalchemy import select

from recon.clock import FixedClock
from recon.db import Database
from recon.engine.closed import LATE
from recon.engine.explain import vn_date
from recon.models import AuditEvent, Discrepancy, Period, ReconRun, SettlementLine
from recon.periods import month_of
from recon.review import actions
from recon.review import periods as close
from tests.finance.helpers import vn
from tests.foundation.helpers import AGENCY
from tests.reconcile.recon_builders import World

APRIL = date(2021, 4, 1)


def _one(db: Database, kind: str) -> Discrepancy:
    with db.read() as s:
        return s.scalars(select(Discrepancy).where(Discrepancy.kind == kind)).one()


def test_a_late_line_surfaces_in_the_open_month_and_the_closed_month_stays(
        db: Database, clock: FixedClock) -> None:
    w = World(db, clock)
    dossier = w.dossier()
    pid = w.pay(180_000, dossier_code=w.codes[dossier], paid_at=vn(2021, 4, 5))
    w.run("full")
    missing = _one(db, "missing_settlement")
    assert missing.payment_id == pid and missing.status == "open"

    with db.transaction() as s:
        period_id = close.propose(s, clock, actor="user:maker", month=APRIL, carry_forward={
            missing.id: "VNPay has not sent April's file yet"}).id
    with db.transaction() as s:
        close.approve(s, clock, period_id, actor="user:checker")
    with db.read() as s:
        frozen = close.get(s, period_id).snapshot

    w.later(days=2)
    w.settle("vnpay", w.txn_of(pid), 180_000)  # the line arrives, months late
    w.run("auto")
    w.run("full")

    still = _one(db, "missing_settlement")  # the closed month's finding is as it was
    assert (still.status, still.delta, still.last_run_id, still.updated_at) == (
        "open", -180_000, missing.last_run_id, missing.updated_at)
    late = _one(db, "late_for_closed_period")
    assert late.status == "open" and late.payment_id == pid
    assert (late.expected_amount, late.actual_amount, late.delta) == (-180_000, 0, 180_000)
    assert month_of(late.detected_at) == month_of(clock.now())  # the current open month
    arrived = clock.now().strftime("%Y-%m-%d")
    assert "a payment of 04/2021, a closed month" in (late.explanation_en or "")
    assert f"arrived on {arrived}" in (late.explanation_en or "")
    assert "tháng 04/2021, đã khóa sổ" in late.explanation
    with db.read() as s:
        assert close.get(s, period_id).snapshot == frozen
        current = {d.id for d in close.discrepancies_of(s, month_of(clock.now()), None)}
        april = {d.id for d in close.discrepancies_of(s, APRIL, None)}
    assert late.id in current and late.id not in april and still.id in april

    with db.transaction() as s:  # the late finding is the open month's work
        actions.resolve(s, clock, late.id, actor="user:x", resolution_type="provider_corrected",
                        note="April's figure corrected in the quarterly report")

    with db.transaction() as s:
        close.reopen(s, clock, period_id, actor="user:root", role="admin",
                     reason="VNPay's April file arrived")
    w.later(minutes=5)
    w.run("full")
    assert _one(db, "missing_settlement").status == "auto_resolved"  # open again: updated
    assert _one(db, "late_for_closed_period").status == "resolved"
    with db.read() as s:
        period = s.get(Period, period_id)
        assert period is not None and period.status == "open"
        assert len(close.snapshots(s, period_id)) == 1


def test_a_new_finding_for_a_closed_month_is_not_written_there(db: Database,
                                                               clock: FixedClock) -> None:
    w = World(db, clock)
    dossier = w.dossier()
    pid = w.pay(180_000, dossier_code=w.codes[dossier], paid_at=vn(2021, 4, 5))
    w.settle("vnpay", w.txn_of(pid), 180_000, settled_on=date(2021, 4, 6))
    w.run("full")
    assert w.open_identities() == []
    with db.transaction() as s:
        period_id = close.propose(s, clock, actor="user:maker", month=APRIL).id
    with db.transaction() as s:
        close.approve(s, clock, period_id, actor="user:checker")
    w.later(days=1)
    line = w.settle("vnpay", w.txn_of(pid), 170_000)  # a second line, late, dated in April
    with db.transaction() as s:
        s.get_one(SettlementLine, line).transaction_at = vn(2021, 4, 5, 10)
    w.run("full")
    assert w.kinds() == ["late_for_closed_period"]  # no duplicate_settlement dated in April
    late = _one(db, "late_for_closed_period")
    assert (late.expected_amount, late.actual_amount) == (0, 170_000)


def vn_day(when: datetime) -> str:
    """A moment's Vietnam date as the Vietnamese sentences write it."""
    return f"{vn_date(when):%d/%m/%Y}"


def _close_april(db: Database, clock: FixedClock) -> int:
    with db.transaction() as s:
        period_id = close.propose(s, clock, actor="user:maker", month=APRIL).id
    with db.transaction() as s:
        close.approve(s, clock, period_id, actor="user:checker")
    return period_id


def _run_row_counts(db: Database, run_id: int | None) -> dict[str, object]:
    with db.read() as s:
        run = s.get(ReconRun, run_id)
        assert run is not None and run.counts is not None
        counts: dict[str, object] = json.loads(run.counts)
        return counts


def test_a_late_reassessment_surfaces_in_the_open_month(db: Database,
                                                        clock: FixedClock) -> None:
    w = World(db, clock)
    dossier = w.dossier()  # received 01/04/2021, assessed 180.000 ₫
    code = w.codes[dossier]
    pid = w.pay(180_000, dossier_code=code, paid_at=vn(2021, 4, 5))
    w.settle("vnpay", w.txn_of(pid), 180_000, settled_on=date(2021, 4, 6))
    assert w.run("full").total == 0
    period_id = _close_april(db, clock)
    with db.read() as s:
        frozen = close.get(s, period_id).snapshot

    w.later(days=3)
    w.dossier(code, amounts=(100_000, 80_000, 20_000))  # reassessed: 200.000 ₫, kept
    summary = w.run("auto")
    # what was written: no underpaid in April, one late finding now
    assert summary.counts["underpaid"] == 0 and summary.counts[LATE] == 1
    assert (summary.total, summary.new, summary.still_open, summary.held) == (1, 1, 0, 1)
    assert _run_row_counts(db, summary.run_id)["new"] == 1
    assert w.kinds() == [LATE]
    late = _one(db, LATE)
    assert (late.identity, late.dossier_id, late.payment_id) == (
        f"{LATE}:dossier={dossier}", dossier, None)
    assert (late.expected_amount, late.actual_amount, late.delta) == (0, -20_000, -20_000)
    arrived = clock.now().strftime("%Y-%m-%d")
    assert (f"A reassessment for dossier {code} of 04/2021, a closed month (received "
            f"2021-04-01), arrived on {arrived}") in (late.explanation_en or "")
    assert f"Hồ sơ {code} tiếp nhận ngày 01/04/2021 (tháng 04/2021, đã khóa sổ)" in \
        late.explanation
    assert "còn thiếu 20.000\u00a0₫" in late.explanation  # what holds now

    again = w.run("full")  # the same late finding, still open; April still unchanged
    assert (again.counts[LATE], again.new, again.still_open, again.held) == (1, 0, 1, 1)
    with db.read() as s:
        assert close.get(s, period_id).snapshot == frozen
        current = {d.id for d in close.discrepancies_of(s, month_of(clock.now()), None)}
        hue = close._agency(s, AGENCY)
        assert hue is not None
        agency = {d.id for d in close.discrepancies_of(s, month_of(clock.now()), hue.id)}
    assert late.id in current and late.id in agency  # the dossier's agency's, this month
    with db.transaction() as s:  # the open month's work, like any finding
        actions.resolve(s, clock, late.id, actor="user:x", resolution_type="provider_corrected",
                        note="phí bổ sung thu ở kỳ sau")
    assert _one(db, LATE).status == "resolved"


def test_a_late_unexpected_line_surfaces_in_the_open_month(db: Database,
                                                           clock: FixedClock) -> None:
    w = World(db, clock)
    dossier = w.dossier()
    pid = w.pay(180_000, dossier_code=w.codes[dossier], paid_at=vn(2021, 4, 5))
    w.settle("vnpay", w.txn_of(pid), 180_000, settled_on=date(2021, 4, 6))
    w.run("full")
    _close_april(db, clock)

    w.later(days=1)
    line = w.settle("vnpay", "VNP-NOBODY-1", 55_000, settled_on=date(2021, 4, 20))
    summary = w.run("full")
    assert summary.counts["unexpected_settlement"] == 0 and summary.counts[LATE] == 1
    assert (summary.new, summary.held) == (1, 1)
    assert w.kinds() == [LATE]
    late = _one(db, LATE)
    assert (late.identity, late.settlement_line_id, late.payment_id, late.dossier_id) == (
        f"{LATE}:settlement_line={line}", line, None, None)
    assert (late.expected_amount, late.actual_amount, late.delta) == (0, 55_000, 55_000)
    arrived = clock.now().strftime("%Y-%m-%d")
    assert ("A settlement line of 04/2021, a closed month (VNPay VNP-NOBODY-1, dated "
            f"2021-04-20), arrived on {arrived}") in (late.explanation_en or "")
    assert "(tháng 04/2021, đã khóa sổ)" in late.explanation
    assert month_of(late.detected_at) == month_of(clock.now())
    assert _run_row_counts(db, summary.run_id)["by_kind"] == summary.counts


def test_the_run_counts_what_a_closed_month_let_it_write(db: Database,
                                                          clock: FixedClock) -> None:
    """A late line that ends a frozen missing_settlement: nothing auto-resolved, one late
    finding, and the run row and its audit event say so."""
    w = World(db, clock)
    dossier = w.dossier()
    pid = w.pay(180_000, dossier_code=w.codes[dossier], paid_at=vn(2021, 4, 5))
    w.run("full")
    missing = _one(db, "missing_settlement")
    with db.transaction() as s:
        period_id = close.propose(s, clock, actor="user:maker", month=APRIL,
                                  carry_forward={missing.id: "chờ bảng kê"}).id
    with db.transaction() as s:
        close.approve(s, clock, period_id, actor="user:checker")
    w.later(days=1)
    w.settle("vnpay", w.txn_of(pid), 180_000)
    summary = w.run("full")
    assert (summary.auto_resolved, summary.new, summary.held) == (0, 1, 1)
    assert summary.counts["missing_settlement"] == 0 and summary.counts[LATE] == 1
    row = _run_row_counts(db, summary.run_id)
    assert (row["auto_resolved"], row["new"], row["held"]) == (0, 1, 1)
    with db.read() as s:
        event = s.scalars(select(AuditEvent).where(
            AuditEvent.action == "reconcile.run").order_by(AuditEvent.id.desc())).first()
        assert event is not None
        data = json.loads(event.data)
    assert data["auto_resolved"] == [] and data["new_by_kind"] == {LATE: 1}
    assert _one(db, "missing_settlement").status == "open"
    # the next night, nothing changed: the late finding is still open, nothing is new or
    # resolved, and the progress says so (it used to count the held finding as new and the
    # late one as resolved, from before the write)
    said: list[str] = []
    dry = w.run("full", dry_run=True)  # counts what the run would write
    assert (dry.new, dry.still_open, dry.auto_resolved, dry.held) == (0, 1, 0, 1)
    assert dry.counts["missing_settlement"] == 0 and dry.counts[LATE] == 1
    again = w.run("full", progress=said.append)
    assert (again.new, again.still_open, again.auto_resolved, again.held) == (0, 1, 0, 1)
    assert [m for m in said if m.startswith("wrote")] == [
        "wrote 0 new, 1 still open, 0 auto-resolved, 1 held back for closed months"]


@pytest.mark.parametrize("mode", ["full", "auto"])
@pytest.mark.parametrize("own_id", ["VNP-RF-1", None])  # None: the line carries the sale's id
def test_a_late_refund_line_is_reported_on_its_sale_of_the_closed_month(
        db: Database, clock: FixedClock, mode: str, own_id: str | None) -> None:
    """A refund line is paired with its sale through ``original_txn_id`` (else its own id), as
    the core pairs it: arriving after April was closed, it is one late finding about April's
    payment, whose sentence says a refund line arrived and when."""
    w = World(db, clock)
    dossier = w.dossier()
    pid = w.pay(180_000, dossier_code=w.codes[dossier], paid_at=vn(2021, 4, 5))
    txn = w.txn_of(pid)
    w.settle("vnpay", txn, 180_000, settled_on=date(2021, 4, 6))
    w.run("full")
    assert w.open_identities() == []
    _close_april(db, clock)

    w.later(days=1)
    line = w.settle("vnpay", own_id or txn, 180_000, settled_on=date(2021, 4, 20),
                    kind="refund", original_txn_id=txn if own_id else None,
                    transaction_at=vn(2021, 4, 20, 10))
    summary = w.run(mode)
    assert (summary.new, summary.held) == (1, 1)
    assert summary.counts["status_mismatch"] == 0 and summary.counts[LATE] == 1
    assert w.kinds() == [LATE]
    late = _one(db, LATE)
    assert (late.identity, late.payment_id, late.dossier_id, late.settlement_line_id) == (
        f"{LATE}:payment={pid}", pid, dossier, None)
    assert (late.expected_amount, late.actual_amount, late.delta) == (0, 180_000, 180_000)
    arrived = clock.now()
    named_en = f" ({own_id})" if own_id else ""
    named_vi = f" mã {own_id}" if own_id else ""
    assert (f"A refund line{named_en} for a payment of 04/2021, a closed month (VNPay {txn}, "
            f"paid 2021-04-05), arrived on {arrived:%Y-%m-%d}. The closed month is left "
            "unchanged; VNPay reports a refund of 180.000\u00a0₫") in (late.explanation_en or "")
    assert "recon records that payment as succeeded, not refunded" in (late.explanation_en or "")
    assert (f"Một dòng hoàn tiền{named_vi} cho khoản thanh toán VNPay {txn} ngày 05/04/2021 "
            f"(tháng 04/2021, đã khóa sổ) đến ngày {vn_day(arrived)}. Tháng đã khóa không "
            "thay đổi; VNPay báo hoàn tiền 180.000\u00a0₫") in late.explanation
    assert "không phải đã hoàn tiền" in late.explanation
    with db.read() as s:
        refund = s.get_one(SettlementLine, line)
        assert (refund.kind, refund.provider_txn_id) == ("refund", own_id or txn)

    again = w.run("full")  # the same late finding, still open; nothing about the line itself
    assert (again.new, again.still_open, again.counts[LATE]) == (0, 1, 1)
    assert w.open_identities() == [f"{LATE}:payment={pid}"]


@pytest.mark.parametrize("mode", ["full", "auto"])
def test_a_refund_line_of_an_unknown_sale_whose_payment_comes_after_the_close(
        db: Database, clock: FixedClock, mode: str) -> None:
    """April's refund line VNP-RF-9 of sale T-LATE was an unexpected settlement when April
    closed; T-LATE's payment (of April, refunded) is recorded afterwards, and the refund line
    pairs with it. What changed is about that payment: the late finding names it (the refund
    line is its, through ``original_txn_id``), not the line."""
    w = World(db, clock)
    dossier = w.dossier(amounts=(50_000,))
    line = w.settle("vnpay", "VNP-RF-9", 50_000, settled_on=date(2021, 4, 20), kind="refund",
                    original_txn_id="T-LATE", transaction_at=vn(2021, 4, 20, 10))
    w.run("full")
    stray = _one(db, "unexpected_settlement")
    assert stray.settlement_line_id == line
    with db.transaction() as s:
        period_id = close.propose(s, clock, actor="user:maker", month=APRIL, carry_forward={
            d.id: "chờ VNPay xác nhận giao dịch gốc" for d in w.discrepancies("open")}).id
    with db.transaction() as s:
        close.approve(s, clock, period_id, actor="user:checker")

    w.later(days=1)
    pid = w.pay(50_000, txn="T-LATE", dossier_code=w.codes[dossier], paid_at=vn(2021, 4, 18),
                status="refunded")
    w.run(mode)
    lates = [d for d in w.discrepancies("open") if d.kind == LATE]
    assert [(d.identity, d.payment_id, d.settlement_line_id) for d in lates] == [
        (f"{LATE}:payment={pid}", pid, None)]
    late = lates[0]
    assert (late.expected_amount, late.actual_amount, late.delta) == (50_000, 0, -50_000)
    assert late.explanation_en == (
        "A payment of 04/2021, a closed month (VNPay T-LATE, paid 2021-04-18), changed after "
        "the month was closed. The closed month is left unchanged; The refunded payment "
        "(VNPay transaction T-LATE) has now been recorded.")
    assert late.explanation.startswith(
        "Khoản thanh toán VNPay T-LATE ngày 18/04/2021 thuộc tháng 04/2021 đã khóa sổ thay đổi "
        "sau khi khóa sổ. Tháng đã khóa không thay đổi; Khoản thanh toán được hoàn")
    still = _one(db, "unexpected_settlement")  # April's finding is as it was
    assert (still.status, still.last_run_id) == ("open", stray.last_run_id)


@pytest.mark.parametrize(("settled", "made_from"), [
    (170_000, "amount_mismatch"),  # its line short, found before the dossiers are walked
    (None, "duplicate_payment"),   # never settled: missing_settlement, found before too
], ids=["line short", "never settled"])
def test_one_late_finding_from_several_whatever_the_writes(
        db: Database, clock: FixedClock, settled: int | None, made_from: str) -> None:
    """A second payment of a closed month's dossier arrives late: two findings about it are
    held back (a duplicate payment, found with the dossiers, and one about its settlement,
    found before them), and both make the same late finding. The one made from the first
    of them by identity is written, as one write of everything would: on PostgreSQL a full
    run writes the early findings on a worker while the core walks the dossiers, and the
    later write used to replace the first's late finding with its own."""
    w = World(db, clock)
    dossier = w.dossier(received_at="2021-04-01T09:00:00+07:00")
    first = w.pay(180_000, dossier_code=w.codes[dossier], paid_at=vn(2021, 4, 5))
    w.settle("vnpay", w.txn_of(first), 180_000, settled_on=date(2021, 4, 6))
    w.run("full")
    _close_april(db, clock)
    w.later(days=1)
    second = w.pay(180_000, dossier_code=w.codes[dossier], paid_at=vn(2021, 4, 5, 11))
    if settled is not None:
        w.settle("vnpay", w.txn_of(second), settled, settled_on=date(2021, 4, 6))
    summary = w.run("full")
    assert summary.held == 2
    late = _one(db, LATE)
    assert late.payment_id == second
    # (the late finding: what the closed month held, 0, against what the finding says now)
    reference = {"amount_mismatch": (0, -10_000), "duplicate_payment": (0, 180_000)}
    assert (late.expected_amount, late.actual_amount) == reference[made_from], late.explanation
