"""A run never changes a closed month's findings: a settlement line that arrives late for a
payment of a closed month is kept and reported in the current open month as a
``late_for_closed_period`` finding, explained; reopening the month lets the run update it."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from recon.clock import FixedClock
from recon.db import Database
from recon.models import Discrepancy, Period, SettlementLine
from recon.periods import month_of
from recon.review import actions
from recon.review import periods as close
from tests.finance.helpers import vn
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
