"""One row per month and agency scope, guarded by the database (0012_periods_unique): the
"all agencies" close (agency NULL) is unique too, and two proposals racing for the same month
on PostgreSQL end with one stored and the other refused with a clear message."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from recon.clock import FixedClock
from recon.db import Database
from recon.models import AuditEvent, Period
from recon.review import periods as close
from recon.review.actions import ReviewError
from tests.finance.helpers import World, build_world
from tests.webhooks.whkit import wait_for_lock_waiter

MAY = date(2021, 5, 1)  # the world has nothing in May: a close needs no carrying forward
NOW = datetime(2021, 6, 3, 2, 0, tzinfo=UTC)


def _row(agency_id: int | None) -> Period:
    return Period(month=MAY, agency_id=agency_id, status="proposed", created_at=NOW,
                  updated_at=NOW)


def test_the_database_keeps_one_row_per_month_and_scope(db: Database) -> None:
    world: World = build_world(db)
    with db.read() as s:
        ag1, ag2 = (close._agency(s, c).id for c in ("AG1", "AG2"))  # type: ignore[union-attr]
    with db.transaction() as s:  # every scope once: all agencies, AG1, AG2
        s.add_all([_row(None), _row(ag1), _row(ag2)])
    with db.read() as s:
        keys = sorted(p.scope_key for p in s.scalars(select(Period)))
    assert keys == sorted([0, ag1, ag2])
    for agency in (None, ag1):  # a second "all agencies" row is refused like any other
        with pytest.raises(IntegrityError), db.transaction() as s:
            s.add(_row(agency))
    with db.read() as s:
        assert len(s.scalars(select(Period)).all()) == 3
    assert world.codes  # the world was built (its agencies are the scopes above)


def test_a_second_proposal_of_the_same_month_is_refused(db: Database,
                                                        clock: FixedClock) -> None:
    build_world(db)
    with db.transaction() as s:
        close.propose(s, clock, actor="user:maker", month=MAY)
    with db.transaction() as s, pytest.raises(ReviewError) as exc:
        close.propose(s, clock, actor="user:other", month=MAY)
    assert exc.value.reason == "already_proposed"
    with db.transaction() as s:  # another scope of the same month is its own row
        close.propose(s, clock, actor="user:other", month=MAY, agency_code="AG1")


def test_two_concurrent_proposals_one_is_refused_clearly(empty_pg: str,
                                                         clock: FixedClock) -> None:
    """PostgreSQL: A has inserted May's row (not committed) when B looks, finds no row to
    lock and inserts its own; B waits on the unique constraint, A commits, B is refused."""
    db = Database(empty_pg)
    try:
        build_world(db)
        outcome: dict[str, object] = {}

        def second() -> None:
            try:
                with db.transaction() as s:
                    close.propose(s, clock, actor="user:second", month=MAY,
                                  note="the same month, a moment later")
                outcome["stored"] = True
            except ReviewError as exc:
                outcome["refused"] = exc

        with db.transaction() as s:
            close.propose(s, clock, actor="user:first", month=MAY, note="May is done")
            racer = threading.Thread(target=second)
            racer.start()
            assert wait_for_lock_waiter(empty_pg), "the second proposal never waited"
        racer.join(timeout=60)
        assert not racer.is_alive()
        refused = outcome.get("refused")
        assert isinstance(refused, ReviewError), outcome
        assert refused.reason == "close_in_progress"
        assert "05/2021 (all agencies) was proposed for closing by someone else" in str(refused)
        assert "approve or reject the proposal" in (refused.hint or "")
        with db.read() as s:
            [period] = s.scalars(select(Period)).all()
            assert (period.status, period.proposed_by, period.scope_key) == (
                "proposed", "user:first", 0)
            actions = s.scalars(select(AuditEvent.action).where(
                AuditEvent.entity_type == "period")).all()
            assert actions == ["period.close_proposed"]  # the refused one wrote nothing
    finally:
        db.dispose()
