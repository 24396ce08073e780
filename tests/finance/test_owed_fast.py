"""``declarations.owed`` (one query for every month: the remittance pass's input) against the
month-by-month reference it replaced (:func:`declarations._month_parts` and
:func:`recon.review.treasury.group`, payment by payment), on SQLite and PostgreSQL: random
dossiers, fee lines, payments (several per dossier, across Vietnam's month boundaries,
overpaid, zero, failed, refunded, matched to no dossier), and the demo's data."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from recon.clock import VN_TZ, FixedClock
from recon.db import Database
from recon.demo.seed import seed_demo
from recon.engine.remittances import Key, month_of, next_month
from recon.models import Agency, Dossier, FeeLine, Payment, Procedure
from recon.review import declarations
from recon.review.treasury import group


def _owed_by_month(session: Session, collectors: list[str] | None = None) -> dict[Key, int]:
    """The reference: each month's parts allocated payment by payment, then grouped."""
    first, last = session.execute(
        select(func.min(Payment.paid_at), func.max(Payment.paid_at))
        .where(Payment.status == "succeeded", Payment.dossier_id.is_not(None))).one()
    out: dict[Key, int] = {}
    if first is None or last is None:
        return out
    month = month_of(first.astimezone(VN_TZ).date())
    end = month_of(last.astimezone(VN_TZ).date())
    while month <= end:
        parts, _left, _total = declarations._month_parts(session, month, collectors)
        for decl in group(parts, {}):
            for row in decl.rows:
                key = (decl.code, row.budget_code, month)
                out[key] = out.get(key, 0) + row.to_remit
        month = next_month(month)
    return out


# instants around the end of February and of March, Vietnam time (UTC+7): 16:59:59 UTC on
# the month's last day is 23:59:59 in Vietnam, 17:00:00 the next month's first second
_INSTANTS = [datetime(2021, 2, 28, 16, 59, 59, tzinfo=UTC), datetime(2021, 2, 28, 17, tzinfo=UTC),
             datetime(2021, 3, 15, 3, tzinfo=UTC), datetime(2021, 3, 31, 16, 59, 59, tzinfo=UTC),
             datetime(2021, 3, 31, 17, tzinfo=UTC), datetime(2021, 1, 5, 2, tzinfo=UTC)]

_fee = st.tuples(st.sampled_from(["phi", "le_phi"]), st.integers(0, 300),
                 st.sampled_from([None, 0, 2500, 3333, 10000]),
                 st.sampled_from([None, "1001", "1002"]), st.sampled_from([None, "A1", "A2"]))
_payment = st.tuples(st.integers(0, 400), st.sampled_from(["succeeded"] * 3 + ["failed",
                                                                                "refunded"]),
                     st.sampled_from(_INSTANTS), st.booleans())
_dossier = st.tuples(st.sampled_from([1, 2]), st.lists(_fee, max_size=4),
                     st.lists(_payment, max_size=4))


def _write(session: Session, dossiers: list[tuple[int, list[Any], list[Any]]]) -> None:
    now = datetime(2021, 1, 1, tzinfo=UTC)
    agencies = {}
    for n in (1, 2):
        agencies[n] = session.execute(insert(Agency).values(
            code=f"A{n}", name=f"Cơ quan {n}", bank_bin="970415", account_number="1130",
            account_name="CO QUAN").returning(Agency.id)).scalar_one()
    procedure = session.execute(insert(Procedure).values(code="1.001", name="Thủ tục")
                                .returning(Procedure.id)).scalar_one()
    txn = itertools.count(1)
    for i, (agency, fees, payments) in enumerate(dossiers):
        dossier = session.execute(insert(Dossier).values(
            code=f"HS-{i}", agency_id=agencies[agency], procedure_id=procedure,
            applicant_name="Nguyễn Văn A", received_at=now).returning(Dossier.id)).scalar_one()
        for pos, (kind, amount, bp, code, collector) in enumerate(fees):
            session.execute(insert(FeeLine).values(
                dossier_id=dossier, position=pos, kind=kind, name=f"Khoản {pos}",
                amount=amount, retention_bp=bp, budget_code=code, collector_code=collector))
        for amount, status, paid_at, matched in payments:
            session.execute(insert(Payment).values(
                provider="vnpay", provider_txn_id=f"T{next(txn)}", channel="vnpay",
                amount=amount, status=status, paid_at=paid_at,
                dossier_id=dossier if matched else None))
    session.flush()


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(dossiers=st.lists(_dossier, max_size=6))
def test_owed_in_one_query_is_the_month_by_month_allocation(
        db: Database, dossiers: list[tuple[int, list[Any], list[Any]]]) -> None:
    with db.engine.connect() as conn:
        outer = conn.begin()
        try:
            with Session(bind=conn) as session:
                _write(session, dossiers)
                expected = _owed_by_month(session)
                assert declarations.owed(session) == expected
                for one in (["A1"], ["A2"], ["A1", "A2"]):
                    assert declarations.owed(session, one) == _owed_by_month(session, one)
        finally:
            outer.rollback()


def test_owed_on_the_demo_is_the_month_by_month_allocation(db: Database,
                                                             clock: FixedClock) -> None:
    seed_demo(db, clock, dossiers=600, seed=2021)
    with db.read() as s:
        expected = _owed_by_month(s)
        assert expected and sum(expected.values()) > 0
        assert declarations.owed(s) == expected
        assert {k[2] for k in expected} >= {date(2021, 3, 1)}


def test_a_payment_across_a_vietnam_month_boundary_is_the_later_month(db: Database) -> None:
    with db.engine.connect() as conn:
        outer = conn.begin()
        try:
            with Session(bind=conn) as session:
                # 100 paid at 23:59:59 on 28/02 (Vietnam), 80 at 00:00:00 on 01/03
                _write(session, [(1, [("le_phi", 100, None, "1001", None),
                                      ("le_phi", 80, None, "1002", None)],
                                  [(100, "succeeded", _INSTANTS[0], True),
                                   (80, "succeeded", _INSTANTS[1], True)])])
                owed = declarations.owed(session)
        finally:
            outer.rollback()
    assert owed == {("A1", "1001", date(2021, 2, 1)): 100, ("A1", "1002", date(2021, 3, 1)): 80}
    assert _INSTANTS[1] - _INSTANTS[0] == timedelta(seconds=1)
