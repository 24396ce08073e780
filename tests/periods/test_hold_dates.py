"""What a closed month holds back is decided by its subject's date, to the microsecond of
Vietnam time: a dossier by ``received_at``, a payment by ``paid_at``, a settlement line by its
transaction time, else its settlement day. :func:`recon.engine.closed.hold` reads only the
subjects dated before the end of the latest closed month (a steady run's findings of the
open months are not read at all), and the payments the late findings are made on whenever
they were paid."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import text

from recon.clock import VN_TZ, FixedClock
from recon.db import Database
from recon.engine import closed
from recon.engine.records import Discrepancy
from tests.reconcile.recon_builders import World
from tests.reconcile.test_bounded_runs import AUG, close

LAST_OF_AUGUST = datetime(2026, 8, 31, 23, 59, 59, 999999, tzinfo=VN_TZ)
FIRST_OF_SEPTEMBER = datetime(2026, 9, 1, tzinfo=VN_TZ)


def _finding(kind: str, *, dossier: int | None = None, payment: int | None = None,
             line: int | None = None) -> Discrepancy:
    parts = [f"{name}={value}" for name, value in
             (("dossier", dossier), ("payment", payment), ("settlement_line", line))
             if value is not None]
    return Discrepancy(":".join([kind, *parts]), kind, dossier, payment, line, "vnpay",
                       0, 50000, 50000, "mới", "new")


def test_a_closed_month_holds_its_subjects_to_the_microsecond(
        db: Database, clock: FixedClock) -> None:
    w = World(db, clock)
    august = w.dossier(received_at="2026-08-31T23:59:59.999999+07:00")
    september = w.dossier(received_at="2026-09-01T00:00:00+07:00")
    last = w.pay(50000, txn="P-AUG", paid_at=LAST_OF_AUGUST)
    first = w.pay(50000, txn="P-SEP", paid_at=FIRST_OF_SEPTEMBER)
    # a repeat of August's dossier, paid in September: its finding is August's (the
    # dossier's), and its late finding is made on the September payment
    repeat = w.pay(50000, txn="P-REPEAT", dossier_code=w.codes[august],
                   paid_at=FIRST_OF_SEPTEMBER)
    by_time = w.settle("vnpay", "L-TIME", 50000, settled_on=date(2026, 9, 2),
                       transaction_at=LAST_OF_AUGUST)
    by_day = w.settle("vnpay", "L-DAY", 50000, settled_on=date(2026, 8, 31))
    next_day = w.settle("vnpay", "L-NEXT", 50000, settled_on=date(2026, 9, 1))
    time_after = w.settle("vnpay", "L-AFTER", 50000, settled_on=date(2026, 8, 31),
                          transaction_at=FIRST_OF_SEPTEMBER)
    # a line of August for a payment of September: held, its late finding on that payment
    paired = w.pay(50000, txn="L-PAIR", paid_at=FIRST_OF_SEPTEMBER)
    paired_line = w.settle("vnpay", "L-PAIR", 50000, settled_on=date(2026, 8, 31))
    # October closed for the dossiers' agency only, September open between: a payment of
    # September is not held, one of October for that agency's dossier is
    october = w.dossier(received_at="2026-10-01T08:00:00+07:00")
    in_october = w.pay(50000, txn="P-OCT", dossier_code=w.codes[october],
                       paid_at=datetime(2026, 10, 2, tzinfo=VN_TZ))
    close(db, AUG)
    with db.engine.begin() as conn:
        agency = conn.execute(text("SELECT agency_id FROM dossiers WHERE id = :d"),
                              {"d": october}).scalar_one()
        conn.execute(text(
            "INSERT INTO periods (month, agency_id, scope_key, status, approved_by, "
            "approved_at, created_at, updated_at) VALUES (:m, :a, :a, 'closed', "
            "'user:checker', :at, :at, :at)"),
            {"m": date(2026, 10, 1), "a": agency, "at": clock.now().strftime(
                "%Y-%m-%d %H:%M:%S.%f") if db.dialect == "sqlite" else clock.now()})
    findings = [
        _finding("missing_settlement", payment=last),
        _finding("missing_settlement", payment=first),
        _finding("unexpected_settlement", line=by_time),
        _finding("unexpected_settlement", line=by_day),
        _finding("unexpected_settlement", line=next_day),
        _finding("unexpected_settlement", line=time_after),
        _finding("duplicate_payment", dossier=august, payment=repeat),
        _finding("underpaid", dossier=september),
        _finding("duplicate_settlement", line=paired_line),
        _finding("missing_settlement", payment=in_october),
    ]
    held = closed.Held()
    with db.engine.connect() as conn:
        keep, _resolutions = closed.hold(conn, findings, [], clock.now(), held)
    assert held.findings == {
        f"missing_settlement:payment={last}", f"unexpected_settlement:settlement_line={by_time}",
        f"unexpected_settlement:settlement_line={by_day}",
        f"duplicate_payment:dossier={august}:payment={repeat}",
        f"duplicate_settlement:settlement_line={paired_line}",
        f"missing_settlement:payment={in_october}"}
    assert {d.identity for d in keep if d.kind != closed.LATE} == {
        f"missing_settlement:payment={first}",
        f"unexpected_settlement:settlement_line={next_day}",
        f"unexpected_settlement:settlement_line={time_after}",
        f"underpaid:dossier={september}"}
    late = {d.identity: d for d in keep if d.kind == closed.LATE}
    assert set(late) == {f"{closed.LATE}:payment={last}", f"{closed.LATE}:payment={repeat}",
                         f"{closed.LATE}:settlement_line={by_time}",
                         f"{closed.LATE}:settlement_line={by_day}",
                         f"{closed.LATE}:payment={paired}", f"{closed.LATE}:payment={in_october}"}
    # the repeat's late finding names its own payment, paid after the close
    assert "P-REPEAT" in late[f"{closed.LATE}:payment={repeat}"].explanation
