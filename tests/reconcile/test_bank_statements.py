"""A collection reconciled only through the bank's statement: the VietinBank statement keys its
lines by the bank's reference, the SePay, Casso and payOS payments by the provider's own id and
carry the bank's reference beside it (payments.bank_reference). On a real database, full and
incremental runs, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from recon.clock import FixedClock
from recon.db import Database
from recon.settlements.importer import import_settlement
from tests.conftest import T0
from tests.reconcile.recon_builders import World, state
from tests.settlements.conftest import FIXTURES

STATEMENT = FIXTURES / "vietinbank_statement.xlsx"
# the statement's credits (24/11/2026): FT26328123456 180,000 · FT26328124001 1,250,000 ·
# FT26328124777 100,000 (and a debit, left out by the profile's filter)
PAID_AT = T0 - timedelta(days=2)  # 24/11/2026 10:00 in Huế


@pytest.fixture
def w(db: Database, clock: FixedClock) -> World:
    return World(db, clock)


def run_late(w: World, mode: str) -> None:
    """A run a week after the payments (every settlement deadline has passed); the clock moves
    on, so an incremental run reads what changed since the previous run."""
    if w.clock.now() < T0 + timedelta(days=7):
        w.later(days=7)
    w.later(minutes=10)
    w.run(mode, as_of=w.clock.now())


def import_statement(w: World, provider: str) -> None:
    summary = import_settlement(w.db, w.clock, provider, STATEMENT, STATEMENT.name,
                                actor="test")
    assert (summary.profile, summary.lines) == ("vietinbank_statement", 3)


def open_kinds(w: World) -> list[tuple[str, str | None]]:
    """(kind, the payment's provider transaction id or the line's) of every open finding."""
    out = []
    for d in w.discrepancies("open"):
        with w.db.read() as s:
            txn = s.execute(text(
                "SELECT COALESCE((SELECT provider_txn_id FROM payments WHERE id = :p), "
                "(SELECT provider_txn_id FROM settlement_lines WHERE id = :l))"),
                {"p": d.payment_id, "l": d.settlement_line_id}).scalar()
        out.append((d.kind, txn))
    return sorted(out)


def pay_two(w: World, provider: str, own_ids: tuple[str, str]) -> tuple[int, int]:
    """Two bank transfers, one paying 180,000 (settled 180,000 on the statement), the other
    100,000 (the statement says 1,250,000)."""
    d1, d2 = w.dossier(amounts=(100000, 80000)), w.dossier(amounts=(100000,))
    r1, r2 = w.intent(d1, 180000), w.intent(d2, 100000)
    p1 = w.pay(180000, provider=provider, txn=own_ids[0], reference=r1, paid_at=PAID_AT,
               bank_reference="FT26328123456")
    p2 = w.pay(100000, provider=provider, txn=own_ids[1], reference=r2,
               paid_at=PAID_AT + timedelta(hours=5), bank_reference="FT26328124001")
    return p1, p2


@pytest.mark.parametrize(("provider", "own_ids"), [
    ("sepay", ("92704", "92711")),                   # SePay id; referenceCode = the bank's
    ("casso", ("4711", "4712")),                     # Casso data.id; data.reference
    ("payos", ("FT26328123456", "FT26328124001")),  # payOS: the bank's reference is its id
])
@pytest.mark.parametrize("mode", ["full", "incremental"])
def test_statement_lines_find_their_payments_by_the_bank_reference(
        w: World, provider: str, own_ids: tuple[str, str], mode: str) -> None:
    p1, p2 = pay_two(w, provider, own_ids)
    w.run("full", as_of=w.clock.now())  # before the statement: nothing due yet
    assert w.open_identities() == []
    w.later(hours=1)
    import_statement(w, provider)
    run_late(w, mode)
    # the 180,000 credit is settled: no unexpected line, no missing settlement; the amount
    # that differs is still flagged, against the payment; the credit no payment carries is
    # still unexpected
    assert open_kinds(w) == [("amount_mismatch", own_ids[1]),
                             ("unexpected_settlement", "FT26328124777")]
    (mismatch,) = [d for d in w.discrepancies("open") if d.kind == "amount_mismatch"]
    assert (mismatch.payment_id, mismatch.expected_amount, mismatch.actual_amount) == (
        p2, 100000, 1250000)
    assert p1 not in {d.payment_id for d in w.discrepancies("open")}


def test_without_bank_references_every_credit_is_unexpected_and_missing(w: World) -> None:
    """What finance saw before: payments recorded without the bank's reference."""
    d = w.dossier(amounts=(100000, 80000))
    w.pay(180000, provider="sepay", txn="92704", reference=w.intent(d, 180000),
          paid_at=PAID_AT)
    import_statement(w, "sepay")
    run_late(w, "full")
    assert open_kinds(w) == [("missing_settlement", "92704"),
                             ("unexpected_settlement", "FT26328123456"),
                             ("unexpected_settlement", "FT26328124001"),
                             ("unexpected_settlement", "FT26328124777")]


def test_the_statement_first_then_the_payment_closes_the_unexpected_line(w: World) -> None:
    """A late webhook: the line was unexpected; when the payment is recorded, the next
    incremental run closes it, saying which payment it was."""
    import_statement(w, "sepay")
    run_late(w, "full")
    assert len(w.discrepancies("open")) == 3
    w.later(hours=1)
    d = w.dossier(amounts=(100000, 80000))
    w.pay(180000, provider="sepay", txn="92704", reference=w.intent(d, 180000),
          paid_at=PAID_AT, bank_reference="FT26328123456")
    run_late(w, "incremental")
    assert open_kinds(w) == [("unexpected_settlement", "FT26328124001"),
                             ("unexpected_settlement", "FT26328124777")]
    (closed,) = w.discrepancies("auto_resolved")
    assert closed.auto_resolved_reason_en == (
        "The matching payment (SePay transaction 92704, bank reference FT26328123456) has "
        "now been recorded.")
    incremental = state(w.db)
    run_late(w, "full")
    assert state(w.db) == incremental


def test_the_payment_first_then_the_statement_closes_the_missing_settlement(w: World) -> None:
    d = w.dossier(amounts=(100000, 80000))
    w.pay(180000, provider="casso", txn="4711", reference=w.intent(d, 180000),
          paid_at=PAID_AT, bank_reference="FT26328123456")
    run_late(w, "full")
    assert open_kinds(w) == [("missing_settlement", "4711")]
    w.later(hours=1)
    import_statement(w, "casso")
    run_late(w, "incremental")
    (closed,) = w.discrepancies("auto_resolved")
    assert closed.auto_resolved_reason_en == "The settlement arrived on 2026-11-24."
    assert open_kinds(w) == [("unexpected_settlement", "FT26328124001"),
                             ("unexpected_settlement", "FT26328124777")]


def test_incremental_reads_the_payment_whose_own_id_the_reference_is(w: World) -> None:
    """A new payment's bank reference is K2, which is another payment's own id: that payment
    keeps line K2 (own ids win), and the incremental run, which reads it as a rival, decides as
    a full run does."""
    own = w.pay(50000, provider="sepay", txn="K2", paid_at=PAID_AT)
    w.settle("sepay", "K2", 50000)
    run_late(w, "full")  # settled long ago, nothing changes about it afterwards
    w.later(hours=1)
    other = w.pay(60000, provider="sepay", txn="K9", paid_at=PAID_AT, bank_reference="K2")
    run_late(w, "incremental")
    incremental = state(w.db)
    assert [(d.kind, d.payment_id) for d in w.discrepancies("open")] == [
        ("missing_settlement", other), ("unmatched_payment", own),
        ("unmatched_payment", other)]
    run_late(w, "full")
    assert state(w.db) == incremental


def test_incremental_reads_the_rival_with_the_same_bank_reference(w: World) -> None:
    """Two payments carry one bank reference and only the later one is new: the line stays
    with the lower id, as a full run decides (the run reads the rival and its dossier)."""
    d = w.dossier(amounts=(50000,))
    first = w.pay(50000, provider="sepay", txn="K1", paid_at=PAID_AT, bank_reference="FT7",
                  reference=w.intent(d, 50000))
    w.settle("sepay", "FT7", 50000)
    run_late(w, "full")
    assert w.open_identities() == []
    w.later(hours=1)
    second = w.pay(50000, provider="sepay", txn="K2", paid_at=PAID_AT, bank_reference="FT7")
    run_late(w, "incremental")
    incremental = state(w.db)
    assert [(d.kind, d.payment_id) for d in w.discrepancies("open")] == [
        ("missing_settlement", second), ("unmatched_payment", second)]
    assert first < second
    run_late(w, "full")
    assert state(w.db) == incremental


def test_provider_report_and_statement_both_imported_is_settled_twice(w: World) -> None:
    """The SePay export (by SePay's id) and the bank statement (by the bank's reference) both
    list the credit: the statement's line is a second settlement of the payment, not an
    unexpected one."""
    d = w.dossier(amounts=(100000, 80000))
    p = w.pay(180000, provider="sepay", txn="92704", reference=w.intent(d, 180000),
              paid_at=PAID_AT, bank_reference="FT26328123456")
    w.settle("sepay", "92704", 180000, settled_on=PAID_AT.date())
    w.settle("sepay", "FT26328123456", 180000, settled_on=PAID_AT.date() + timedelta(days=1))
    run_late(w, "full")
    (row,) = w.discrepancies("open")
    assert (row.kind, row.payment_id) == ("duplicate_settlement", p)
