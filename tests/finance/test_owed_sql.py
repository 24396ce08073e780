"""What each collector owes the budget (the remittance pass's input, issue 18 §3) is computed
by one aggregate query; the reference is the declarations' month-by-month reading
(:func:`recon.review.declarations._month_parts`, payment by payment through the pure
``allocate`` and ``group``). Random dossiers, fee lines, collectors and payments around Vietnam
month boundaries, on SQLite and PostgreSQL: both give the same amounts for every collector,
tiểu mục and month, with and without an agency filter."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from recon.clock import VN_TZ, FixedClock
from recon.db import Database
from recon.engine.remittances import Key, month_of, next_month
from recon.intake.agencies import create_agency
from recon.intake.dossiers import parse_dossier, upsert_dossier
from recon.models import Payment
from recon.payments.recording import PaymentEvent, record_payment
from recon.review import declarations
from recon.review.treasury import group

# instants around the Vietnam month boundaries (17:00 UTC on the last day is 00:00 in Hà Nội)
MOMENTS = [datetime(2021, 2, 28, 16, 59, 59, tzinfo=UTC), datetime(2021, 2, 28, 17, 0, tzinfo=UTC),
           datetime(2021, 3, 15, 2, 0, tzinfo=UTC), datetime(2021, 3, 31, 16, 59, 59, tzinfo=UTC),
           datetime(2021, 3, 31, 17, 0, tzinfo=UTC), datetime(2021, 5, 3, 9, 0, tzinfo=UTC)]

_fee = st.tuples(st.sampled_from(["phi", "le_phi"]), st.integers(1, 300_000),
                 st.one_of(st.none(), st.integers(0, 10_000)),
                 st.sampled_from([None, "2716", "2771"]), st.integers(0, 2))
_payment = st.tuples(st.integers(1, 400_000), st.sampled_from(range(len(MOMENTS))),
                     st.sampled_from(["succeeded", "succeeded", "failed"]))
_dossier = st.tuples(st.integers(0, 1), st.lists(_fee, min_size=1, max_size=3),
                     st.lists(_payment, max_size=4))

_example = itertools.count(1)


def reference_owed(session: Session, collectors: Sequence[str] | None) -> dict[Key, int]:
    """The month-by-month reading the query replaced (every month from the first payment)."""
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


def _build(db: Database, clock: FixedClock, dossiers: list[tuple[int, list[Any], list[Any]]]
           ) -> list[str]:
    n = next(_example)
    agencies = [f"OW{n}A", f"OW{n}B", f"OW{n}C"]
    with db.transaction() as s:
        for code in agencies:
            create_agency(s, clock, code=code, name=f"Cơ quan {code}", bank_bin="970415",
                          account_number="113000000000", account_name="TEST", actor="test")
    for i, (receiver, fee_rows, payments) in enumerate(dossiers):
        code = f"OW{n}-{i}"
        fees = [{"kind": kind, "name": f"Khoản {j}", "amount": amount, "budget_code": budget,
                 **({"retention_bp": bp} if kind == "phi" and bp is not None else {}),
                 **({"collector_code": agencies[who]} if who else {})}
                for j, (kind, amount, bp, budget, who) in enumerate(fee_rows)]
        body = {"code": code, "agency_code": agencies[receiver], "procedure_code": "1.000001",
                "procedure_name": "Thủ tục thử", "applicant_name": "Nguyễn Văn A",
                "received_at": "2021-02-01T09:00:00+07:00",
                "fees": [{k: v for k, v in f.items() if v is not None} for f in fees]}
        with db.transaction() as s:
            upsert_dossier(s, clock, parse_dossier(body), actor="test")
        for k, (amount, moment, status) in enumerate(payments):
            with db.transaction() as s:
                record_payment(s, clock, PaymentEvent(
                    provider="cash", provider_txn_id=f"{code}-P{k}", channel="cash",
                    amount=amount, status=status, paid_at=MOMENTS[moment], dossier_code=code),
                    actor="user:thungan", reference_prefix="HS")
    return agencies


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(dossiers=st.lists(_dossier, min_size=1, max_size=4))
def test_the_query_owes_what_the_month_by_month_reading_owes(
        db: Database, clock: FixedClock, dossiers: list[tuple[int, list[Any], list[Any]]]
) -> None:
    agencies = _build(db, clock, dossiers)
    with db.read() as s:
        mine = declarations.owed(s, agencies)
        assert mine == reference_owed(s, agencies)
        assert declarations.owed(s) == reference_owed(s, None)
        # one collector alone owes its own part of the whole, nothing else
        assert declarations.owed(s, agencies[:1]) == {k: v for k, v in mine.items()
                                                       if k[0] == agencies[0]}


def test_a_payment_at_midnight_in_hanoi_belongs_to_the_new_month(db: Database,
                                                                  clock: FixedClock) -> None:
    # 200.000 ₫ of phí kept at 25 %, paid in two halves: 16:59:59 UTC on 31 March is still
    # March in Hà Nội, 17:00 UTC is April
    agencies = _build(db, clock, [(0, [("phi", 200_000, 2_500, "2716", 0)],
                                   [(100_000, 3, "succeeded"), (100_000, 4, "succeeded")])])
    with db.read() as s:
        assert declarations.owed(s, agencies) == {
            (agencies[0], "2716", date(2021, 3, 1)): 75_000,
            (agencies[0], "2716", date(2021, 4, 1)): 75_000}
