"""Closing a month (khóa sổ): maker ≠ checker, refusal while discrepancies are open, carrying
forward, the snapshot's hash in the audit chain, the closed month read-only, reopening keeps
the old snapshot. The world is tests/finance/helpers.py's (months of 2021, Vietnam time)."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from recon.audit.chain import verify_chain
from recon.clock import FixedClock
from recon.db import Database
from recon.errors import Forbidden, ValidationError
from recon.intake.dossiers import find_dossier, parse_dossier, upsert_dossier
from recon.models import AuditEvent, Discrepancy, Period, PeriodSnapshot
from recon.periods import PeriodClosed, closed_period, month_of
from recon.review import actions
from recon.review import periods as close
from recon.review.actions import ReviewError
from recon.review.periods import SameUser
from tests.finance.helpers import World, build_world, vn

JAN = date(2021, 1, 1)
FEB = date(2021, 2, 1)


@pytest.fixture
def world(db: Database) -> World:
    return build_world(db)


def _close_january(db: Database, clock: FixedClock, world: World) -> int:
    with db.transaction() as s:
        period = close.propose(s, clock, actor="user:maker", month=JAN,
                               carry_forward={world.discrepancies["D"]: "the bank owes 1.000 ₫"})
        pid = period.id
    with db.transaction() as s:
        close.approve(s, clock, pid, actor="user:checker")
    return pid


def test_month_of_is_vietnam_time() -> None:
    # 31/01/2021 23:30 in Vietnam is still January there (16:30 UTC)
    assert month_of(vn(2021, 1, 31, 23, 30)) == JAN
    assert month_of(vn(2021, 2, 1, 0, 30)) == FEB  # 31/01 17:30 UTC


def test_propose_is_refused_while_discrepancies_are_open(db: Database, clock: FixedClock,
                                                         world: World) -> None:
    with db.transaction() as s, pytest.raises(ReviewError) as exc:
        close.propose(s, clock, actor="user:maker", month=JAN)
    assert exc.value.reason == "open_discrepancies"
    assert str(world.discrepancies["D"]) in str(exc.value)
    with db.transaction() as s, pytest.raises(ValidationError):  # carried forward needs a note
        close.propose(s, clock, actor="user:maker", month=JAN,
                      carry_forward={world.discrepancies["D"]: "  "})
    with db.read() as s:
        assert s.scalars(select(Period)).all() == []


def test_maker_cannot_approve_and_the_snapshot_hash_is_in_the_chain(
        db: Database, clock: FixedClock, world: World) -> None:
    with db.transaction() as s:
        pid = close.propose(s, clock, actor="user:maker", month=JAN,
                            carry_forward={world.discrepancies["D"]: "bank owes"}).id
    with db.transaction() as s, pytest.raises(SameUser):
        close.approve(s, clock, pid, actor="user:maker")
    with db.transaction() as s:
        period = close.approve(s, clock, pid, actor="user:checker")
        assert period.status == "closed"
    with db.read() as s:
        period = s.get(Period, pid)
        assert period is not None and period.snapshot is not None
        assert hashlib.sha256(period.snapshot.encode()).hexdigest() == period.snapshot_sha256
        snap = json.loads(period.snapshot)
        rows = {r["id"]: r for r in snap["discrepancies"]}
        assert rows[world.discrepancies["D"]]["carried_forward"] == "bank owes"
        assert rows[world.discrepancies["D"]]["status"] == "open"
        assert world.discrepancies["A"] not in rows  # February's
        assert len(snap["days"]) == 31
        assert snap["approved_by"] == "user:checker"
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "period.closed")).one()
        assert json.loads(event.data)["sha256"] == period.snapshot_sha256
        [kept] = s.scalars(select(PeriodSnapshot)).all()
        assert (kept.sha256, kept.audit_event_id) == (period.snapshot_sha256, event.id)
        assert verify_chain(s).ok


def test_a_closed_month_refuses_resolution_and_intake(db: Database, clock: FixedClock,
                                                      world: World) -> None:
    _close_january(db, clock, world)
    with db.transaction() as s, pytest.raises(PeriodClosed) as exc:
        actions.resolve(s, clock, world.discrepancies["D"], actor="user:x",
                        resolution_type="provider_corrected", note="fixed")
    assert "01/2021 is a closed month" in str(exc.value)
    assert "admin may reopen" in (exc.value.hint or "")
    with db.transaction() as s:  # a March discrepancy is still worked as before
        actions.resolve(s, clock, world.discrepancies["B"], actor="user:x",
                        resolution_type="provider_corrected", note="fixed")
    with db.read() as s:
        d1 = find_dossier(s, world.codes["d1"])
        assert d1 is not None
        body = {"code": d1.code, "agency_code": d1.agency.code,
                "procedure_code": d1.procedure.code, "procedure_name": d1.procedure.name,
                "applicant_name": d1.applicant_name, "received_at": d1.received_at.isoformat(),
                "received_channel": d1.received_channel,
                "fees": [{"kind": f.kind, "name": f.name, "amount": f.amount}
                         for f in d1.fee_lines]}
    with db.transaction() as s:  # the same again changes nothing: allowed
        assert upsert_dossier(s, clock, parse_dossier(body), actor="t")[1] == "unchanged"
    for changed in ({"received_at": vn(2021, 2, 6).isoformat()},
                    {"applicant_name": "Công dân khác"}):  # the dossier itself is read-only
        with db.transaction() as s, pytest.raises(PeriodClosed):
            upsert_dossier(s, clock, parse_dossier({**body, **changed}), actor="t")
    # a late reassessment is kept (the run reports it in the open month, test_late_data.py)
    reassessed = {**body, "fees": [{"kind": "phi", "name": "Khoản 0", "amount": 70_000}]}
    with db.transaction() as s:
        assert upsert_dossier(s, clock, parse_dossier(reassessed), actor="t",
                              reassess=True)[1] == "updated"
    with db.read() as s:
        event = s.scalars(select(AuditEvent).where(
            AuditEvent.action == "dossier.fees_reassessed")).one()
        assert json.loads(event.data)["closed_month"] == "2021-01"
    late = {**body, "code": "LATE-JAN-1", "received_at": vn(2021, 1, 20).isoformat()}
    with db.transaction() as s, pytest.raises(PeriodClosed):
        upsert_dossier(s, clock, parse_dossier(late), actor="t")
    with db.read() as s:
        assert find_dossier(s, "LATE-JAN-1") is None
        d = s.get(Discrepancy, world.discrepancies["D"])
        assert d is not None and d.status == "open"


def test_only_an_admin_reopens_and_the_old_snapshot_is_kept(db: Database, clock: FixedClock,
                                                            world: World) -> None:
    pid = _close_january(db, clock, world)
    with db.transaction() as s, pytest.raises(Forbidden):
        close.reopen(s, clock, pid, actor="user:checker", role="finance", reason="typo")
    with db.transaction() as s, pytest.raises(ValidationError):
        close.reopen(s, clock, pid, actor="user:root", role="admin", reason="")
    with db.transaction() as s:
        close.reopen(s, clock, pid, actor="user:root", role="admin",
                     reason="the bank corrected its January statement")
    with db.read() as s:
        assert closed_period(s, vn(2021, 1, 10), None) is None
        reopened = s.scalars(select(AuditEvent).where(
            AuditEvent.action == "period.reopened")).one()
        assert json.loads(reopened.data)["reason"] == "the bank corrected its January statement"
    with db.transaction() as s:  # open again: the discrepancy can be resolved now
        actions.resolve(s, clock, world.discrepancies["D"], actor="user:x",
                        resolution_type="provider_corrected", note="corrected")
    with db.transaction() as s:
        close.propose(s, clock, actor="user:maker", month=JAN)  # nothing open any more
    with db.transaction() as s:
        close.approve(s, clock, pid, actor="user:checker")
    with db.read() as s:
        first, second = close.snapshots(s, pid)
        assert first.sha256 != second.sha256
        rows = json.loads(second.snapshot)["discrepancies"]
        assert [r["status"] for r in rows if r["id"] == world.discrepancies["D"]] == ["resolved"]
        period = s.get(Period, pid)
        assert period is not None and period.snapshot_sha256 == second.sha256
        assert period.status == "closed"
        assert verify_chain(s).ok


def test_a_close_for_one_agency_leaves_the_others_open(db: Database, clock: FixedClock,
                                                       world: World) -> None:
    # February: AG1 has only a resolved discrepancy (F); AG2 has A and G open
    with db.transaction() as s, pytest.raises(ReviewError):
        close.propose(s, clock, actor="user:maker", month=FEB)
    with db.transaction() as s:
        pid = close.propose(s, clock, actor="user:maker", month=FEB, agency_code="AG1").id
    with db.transaction() as s:
        close.approve(s, clock, pid, actor="user:checker")
    with db.transaction() as s, pytest.raises(ReviewError):  # closed already
        close.propose(s, clock, actor="user:maker", month=FEB, agency_code="AG1")
    with db.transaction() as s:  # G is AG2's: still open to work
        actions.reject(s, clock, world.discrepancies["G"], actor="user:x")
    with db.read() as s:
        snap = json.loads(close.get(s, pid).snapshot or "{}")
        assert snap["agency"] == "AG1"
        assert [r["id"] for r in snap["discrepancies"]] == [world.discrepancies["F"]]


def _close(db: Database, clock: FixedClock, month: date, agency: str | None) -> dict[str, Any]:
    with db.read() as s:  # carry forward whatever the scope still has open
        scope = close._agency(s, agency)
        carry = {d.id: "worked next month" for d in close.discrepancies_of(
            s, month, scope.id if scope else None, status="open")}
    with db.transaction() as s:
        pid = close.propose(s, clock, actor="user:maker", month=month, agency_code=agency,
                            carry_forward=carry).id
    with db.transaction() as s:
        close.approve(s, clock, pid, actor="user:checker")
    with db.read() as s:
        snap: dict[str, Any] = json.loads(close.get(s, pid).snapshot or "{}")
    return snap


def test_a_close_for_one_agency_freezes_only_its_figures(db: Database, clock: FixedClock,
                                                         world: World) -> None:
    # February: AG1 collected vnpay 100.000 ₫ (d2, settled 02/02); AG2 cash 200.000 ₫ (d3)
    # and momo 300.000 ₫ twice (d4), nothing settled; the unmatched sepay payment is March's
    ag1 = _close(db, clock, FEB, "AG1")
    ag2 = _close(db, clock, FEB, "AG2")
    every = _close(db, clock, FEB, None)

    def collected(snap: dict[str, Any]) -> tuple[int, int, dict[str, int]]:
        m = snap["month_figures"]
        return (m["collected"]["count"], m["collected"]["amount"],
                {f["key"]: f["amount"] for f in m["collected_by_provider"]})

    assert collected(ag1) == (1, 100_000, {"vnpay": 100_000})
    assert collected(ag2) == (3, 800_000, {"cash": 200_000, "momo": 600_000})
    assert collected(every) == (4, 900_000, {"cash": 200_000, "momo": 600_000,
                                             "vnpay": 100_000})
    assert ag1["month_figures"]["settled"]["amount"] == 100_000
    assert ag2["month_figures"]["settled"]["amount"] == 0
    assert every["month_figures"]["settled"]["amount"] == 100_000

    def day(snap: dict[str, Any], iso: str) -> dict[str, Any]:
        [one] = [d for d in snap["days"] if d["day"] == iso]
        return one

    # 01/02: d2's two vnpay payments (one failed) are AG1's; 04/02: d4's two are AG2's
    assert day(ag1, "2021-02-01")["totals"]["payments"] == 2
    assert day(ag2, "2021-02-01")["totals"]["payments"] == 0
    assert day(every, "2021-02-01")["totals"]["payments"] == 2
    assert day(ag1, "2021-02-04")["totals"]["succeeded_amount"] == 0
    assert day(ag2, "2021-02-04")["totals"]["succeeded_amount"] == 600_000
    assert [s["amount"] for s in day(ag1, "2021-02-02")["settled"]] == [100_000]
    assert day(ag2, "2021-02-02")["settled"] == []
    for d in every["days"]:  # the province's day is the sum of its two agencies' days
        for key in ("payments", "succeeded_amount", "lines_amount"):
            assert d["totals"][key] == (day(ag1, d["day"])["totals"][key]
                                        + day(ag2, d["day"])["totals"][key])
    # each scope's discrepancies are its own: A and G (d4, d3) are AG2's, F (d2) AG1's
    ids = {name: {r["id"] for r in snap["discrepancies"]}
           for name, snap in (("ag1", ag1), ("ag2", ag2), ("every", every))}
    assert world.discrepancies["F"] in ids["ag1"] and world.discrepancies["F"] not in ids["ag2"]
    assert {world.discrepancies["A"], world.discrepancies["G"]} <= ids["ag2"] - ids["ag1"]
    assert ids["every"] >= ids["ag1"] | ids["ag2"]
