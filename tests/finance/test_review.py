"""The review services: each action checks state, changes it and writes one audit event;
write-offs and manual matches need a second person (maker ≠ checker)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select

from recon.audit import four_eyes
from recon.audit.chain import verify_chain
from recon.clock import FixedClock
from recon.db import Database
from recon.errors import NotFound, ValidationError
from recon.models import AuditEvent, Discrepancy, Payment, User
from recon.review import actions as review
from tests.finance.helpers import World, build_world


@pytest.fixture
def world(db: Database) -> World:
    return build_world(db)


def _events(db: Database, discrepancy_id: int) -> list[tuple[str, str, dict[str, Any]]]:
    with db.read() as s:
        rows = s.execute(select(AuditEvent.action, AuditEvent.actor, AuditEvent.data).where(
            AuditEvent.entity_type == "discrepancy",
            AuditEvent.entity_id == str(discrepancy_id)).order_by(AuditEvent.id)).all()
    return [(a, actor, json.loads(d)) for a, actor, d in rows]


def _get(db: Database, discrepancy_id: int) -> Discrepancy:
    with db.read() as s:
        found = s.get(Discrepancy, discrepancy_id)
        assert found is not None
        return found


def test_resolve_at_once(db: Database, clock: FixedClock, world: World) -> None:
    did = world.discrepancies["D"]
    with db.transaction() as s:
        result = review.resolve(s, clock, did, actor="user:ketoan",
                                resolution_type="provider_corrected",
                                note="SePay sent a corrected statement")
    assert result.outcome == "resolved"
    d = _get(db, did)
    assert (d.status, d.resolution_type, d.resolved_by) == ("resolved", "provider_corrected",
                                                           "user:ketoan")
    assert d.resolved_at == clock.now()
    [(action, actor, data)] = _events(db, did)
    assert (action, actor) == ("discrepancy.resolved", "user:ketoan")
    assert data["note"] == "SePay sent a corrected statement"
    with db.read() as s:
        assert verify_chain(s).ok


def test_write_off_needs_a_second_person(db: Database, clock: FixedClock,
                                         world: World) -> None:
    did = world.discrepancies["C"]
    with db.transaction() as s:
        result = review.resolve(s, clock, did, actor="user:ketoan",
                                resolution_type="written_off", note="10.000 ₫, not worth it")
    assert result.outcome == "proposed"
    d = _get(db, did)
    assert (d.status, d.proposed_resolution_type, d.proposed_by) == (
        "open", "written_off", "user:ketoan")
    with pytest.raises(four_eyes.SameUser), db.transaction() as s:
        review.approve(s, clock, did, actor="user:ketoan")
    assert _get(db, did).status == "open"  # nothing changed
    with pytest.raises(review.ReviewError) as exc, db.transaction() as s:
        review.resolve(s, clock, did, actor="user:ketoan", resolution_type="provider_corrected",
                       note="changed my mind")
    assert exc.value.reason == "pending"
    with db.transaction() as s:
        approved = review.approve(s, clock, did, actor="user:kiemsoat", note="ok")
    assert approved.outcome == "approved"
    d = _get(db, did)
    assert (d.status, d.resolution_type, d.resolved_by, d.proposed_by) == (
        "resolved", "written_off", "user:kiemsoat", "user:ketoan")
    assert "10.000 ₫, not worth it" in (d.resolution_note or "")
    actions = [(a, actor) for a, actor, _ in _events(db, did)]
    assert actions == [("discrepancy.resolution_proposed", "user:ketoan"),
                       ("discrepancy.resolution_approved", "user:kiemsoat")]
    with db.read() as s:
        assert verify_chain(s).ok


def test_manual_match_attaches_the_payment_on_approval(db: Database, clock: FixedClock,
                                                       world: World) -> None:
    did = world.discrepancies["B"]  # an unmatched sepay transfer
    with db.transaction() as s:
        review.resolve(s, clock, did, actor="user:ketoan", resolution_type="matched_manually",
                       note="citizen showed the bank slip", dossier_code=world.codes["d7"])
    with db.read() as s:
        payment = s.get(Payment, world.payments["unmatched"])
        assert payment is not None and payment.dossier_id is None  # not before approval
    with db.transaction() as s:
        review.approve(s, clock, did, actor="user:kiemsoat")
    with db.read() as s:
        payment = s.get(Payment, world.payments["unmatched"])
        assert payment is not None
        assert payment.dossier_id == world.dossiers["d7"]
        assert payment.updated_at == clock.now()
        attached = s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "payment.matched_manually",
            AuditEvent.entity_id == str(payment.id)))
    assert attached == 1
    d = _get(db, did)
    assert d.resolution_type == "matched_manually"
    assert world.codes["d7"] in (d.resolution_note or "")


def test_manual_match_needs_a_real_dossier(db: Database, clock: FixedClock,
                                           world: World) -> None:
    did = world.discrepancies["B"]
    for code in (None, "", "000.00.21.H57-NOPE"):
        with pytest.raises(ValidationError) as exc, db.transaction() as s:
            review.resolve(s, clock, did, actor="user:ketoan",
                           resolution_type="matched_manually", note="x", dossier_code=code)
        assert exc.value.errors[0].field == "dossier_code"
    assert _events(db, did) == []


def test_reject_and_withdraw(db: Database, clock: FixedClock, world: World) -> None:
    did = world.discrepancies["A"]
    with db.transaction() as s:
        review.resolve(s, clock, did, actor="user:ketoan", resolution_type="written_off",
                       note="duplicate kept")
    with db.transaction() as s:
        review.reject(s, clock, did, actor="user:kiemsoat", note="refund it instead")
    d = _get(db, did)
    assert (d.status, d.proposed_by, d.proposed_resolution_type) == ("open", None, None)
    with db.transaction() as s:
        review.resolve(s, clock, did, actor="user:ketoan", resolution_type="written_off",
                       note="again")
    with db.transaction() as s:
        review.reject(s, clock, did, actor="user:ketoan")  # the proposer withdraws
    events = _events(db, did)
    assert [a for a, _, _ in events] == [
        "discrepancy.resolution_proposed", "discrepancy.resolution_rejected",
        "discrepancy.resolution_proposed", "discrepancy.resolution_rejected"]
    assert events[-1][2]["withdrawn"] is True and events[1][2]["withdrawn"] is False
    with pytest.raises(review.ReviewError) as exc, db.transaction() as s:
        review.approve(s, clock, did, actor="user:kiemsoat")
    assert exc.value.reason == "no_proposal"


def test_assign_and_unassign(db: Database, clock: FixedClock, world: World,
                             make_user: Any) -> None:
    make_user("ketoan", "finance")
    make_user("thungan", "cashier")
    with db.read() as s:
        users = {u.username: u.id for u in s.scalars(select(User))}
    did = world.discrepancies["E"]
    with db.transaction() as s:
        review.assign(s, clock, did, actor="user:admin", user_id=users["ketoan"])
    assert _get(db, did).assigned_to_id == users["ketoan"]
    with pytest.raises(ValidationError), db.transaction() as s:
        review.assign(s, clock, did, actor="user:admin", user_id=users["thungan"])
    with pytest.raises(ValidationError), db.transaction() as s:
        review.assign(s, clock, did, actor="user:admin", user_id=987654)
    with db.transaction() as s:
        review.assign(s, clock, did, actor="user:admin", user_id=None)
    assert _get(db, did).assigned_to_id is None
    data = [d for _, _, d in _events(db, did)]
    assert [(d["from_user_id"], d["to_user_id"]) for d in data] == [
        (None, users["ketoan"]), (users["ketoan"], None)]


def test_reopen(db: Database, clock: FixedClock, world: World) -> None:
    did = world.discrepancies["F"]  # resolved in the world
    with pytest.raises(ValidationError), db.transaction() as s:
        review.reopen(s, clock, did, actor="user:ketoan", note="  ")
    with db.transaction() as s:
        review.reopen(s, clock, did, actor="user:ketoan", note="the provider reversed it")
    d = _get(db, did)
    assert (d.status, d.resolution_type, d.resolved_by, d.resolved_at) == (
        "open", None, None, None)
    [(action, _, data)] = _events(db, did)
    assert action == "discrepancy.reopened"
    assert data["previous"]["resolution_type"] == "provider_corrected"
    with pytest.raises(review.ReviewError) as exc, db.transaction() as s:
        review.reopen(s, clock, did, actor="user:ketoan", note="again")
    assert exc.value.reason == "already_open"


def test_actions_on_a_closed_discrepancy_are_refused(db: Database, clock: FixedClock,
                                                     world: World) -> None:
    did = world.discrepancies["F"]
    with pytest.raises(review.ReviewError) as exc, db.transaction() as s:
        review.resolve(s, clock, did, actor="user:ketoan", resolution_type="written_off",
                       note="x")
    assert exc.value.reason == "not_open"
    with pytest.raises(NotFound), db.transaction() as s:
        review.resolve(s, clock, 10**9, actor="user:ketoan", resolution_type="written_off",
                       note="x")
    with pytest.raises(ValidationError), db.transaction() as s:
        review.resolve(s, clock, world.discrepancies["A"], actor="user:ketoan",
                       resolution_type="forgiven", note="x")
    with pytest.raises(ValidationError), db.transaction() as s:
        review.resolve(s, clock, world.discrepancies["A"], actor="user:ketoan",
                       resolution_type="written_off", note="x" * 2001)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == 0
