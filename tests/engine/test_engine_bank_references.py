"""Bank statements: lines keyed by the bank's reference find the SePay, Casso and payOS
payments that carry it (``PaymentRow.bank_reference``), with every other rule unchanged."""

from __future__ import annotations

import random
from datetime import date

import pytest

from recon.engine import PaymentRow, classify, reconcile
from tests.engine.engine_builders import AS_OF, dossier, ids, line, pay, run

# a SePay credit: SePay's own id 92704, the bank's reference FT24330123456
STATEMENT_DAY = date(2026, 11, 21)


def sepay(id: int = 1, amount: int = 180_000, *, txn: str = "92704",
          bank: str | None = "FT24330123456", status: str = "succeeded",
          provider: str = "sepay") -> PaymentRow:
    return pay(id, amount, dossier=1, provider=provider, channel="vietqr", txn=txn,
               status=status, bank_reference=bank)


def statement_line(id: int, reference: str = "FT24330123456", amount: int = 180_000, *,
                   provider: str = "sepay", settled_on: date = STATEMENT_DAY):
    """A line of a bank statement imported for ``provider``: keyed by the bank's reference."""
    return line(id, provider=provider, txn=reference, amount=amount, settled_on=settled_on)


@pytest.mark.parametrize(("provider", "txn", "bank"), [
    ("sepay", "92704", "FT24330123456"),          # SePay id / referenceCode
    ("casso", "4711", "FT24330123456"),           # Casso data.id / data.reference
    ("payos", "FT24330123456", "FT24330123456"),  # payOS: its id is the bank's reference
])
def test_a_payment_settled_only_by_the_bank_statement_is_clean(provider: str, txn: str,
                                                               bank: str) -> None:
    p = sepay(txn=txn, bank=bank, provider=provider)
    result = run(dossiers=[dossier(1, 180_000)], payments=[p],
                 lines=[statement_line(10, bank, provider=provider)])
    assert ids(result) == []  # before: unexpected_settlement:10 and missing_settlement:1
    assert [ln.id for ln in result.settlement_lines_of(p)] == [10]


def test_without_the_bank_reference_it_is_unexpected_and_missing() -> None:
    """What finance saw before: the line matches no payment, the payment no line."""
    result = run(dossiers=[dossier(1, 180_000)], payments=[sepay(bank=None)],
                 lines=[statement_line(10)])
    assert ids(result) == ["missing_settlement:payment=1",
                           "unexpected_settlement:settlement_line=10"]


def test_an_amount_difference_is_still_flagged() -> None:
    result = run(dossiers=[dossier(1, 180_000)], payments=[sepay()],
                 lines=[statement_line(10, amount=170_000)])
    (d,) = result.discrepancies
    assert (d.identity, d.payment_id, d.settlement_line_id, d.dossier_id) == (
        "amount_mismatch:payment=1:settlement_line=10", 1, 10, 1)
    assert (d.expected_amount, d.actual_amount, d.delta) == (180_000, 170_000, -10_000)
    assert "92704" in d.explanation_en  # named by the payment's own id


def test_a_refunded_payment_settled_by_the_statement_is_a_status_mismatch() -> None:
    result = run(dossiers=[dossier(1, 180_000)], payments=[sepay(status="refunded")],
                 lines=[statement_line(10)])
    assert ids(result) == ["status_mismatch:payment=1:settlement_line=10"]


def test_a_line_whose_reference_matches_nothing_is_still_unexpected() -> None:
    result = run(dossiers=[dossier(1, 180_000)], payments=[sepay()],
                 lines=[statement_line(10), statement_line(11, "FT24330999999", 50_000)])
    assert ids(result) == ["unexpected_settlement:settlement_line=11"]


def test_the_statement_line_listed_twice_is_a_duplicate_settlement_of_the_payment() -> None:
    result = run(dossiers=[dossier(1, 180_000)], payments=[sepay()],
                 lines=[statement_line(10), statement_line(11, settled_on=date(2026, 11, 22))])
    (d,) = result.discrepancies
    assert (d.identity, d.payment_id, d.dossier_id) == (
        "duplicate_settlement:settlement_line=11", 1, 1)


def test_the_provider_must_be_the_one_the_statement_was_imported_for() -> None:
    result = run(dossiers=[dossier(1, 180_000)], payments=[sepay()],
                 lines=[statement_line(10, provider="casso")])
    assert ids(result) == ["missing_settlement:payment=1",
                           "unexpected_settlement:settlement_line=10"]


def test_a_payment_s_own_id_wins_over_another_payment_s_bank_reference() -> None:
    """Line X belongs to the payment whose own id is X; the one whose bank reference is X
    gets nothing from it."""
    own = pay(2, 50_000, dossier=2, provider="sepay", txn="X77")
    other = sepay(bank="X77")
    result = run(dossiers=[dossier(1, 180_000), dossier(2, 50_000)], payments=[other, own],
                 lines=[statement_line(10, "X77", 50_000)])
    assert ids(result) == ["missing_settlement:payment=1"]


def test_two_payments_with_one_bank_reference_the_lower_id_takes_the_line() -> None:
    first, second = sepay(3, txn="92703"), sepay(8, txn="92708")
    for order in ([first, second], [second, first]):
        result = run(dossiers=[dossier(1, 360_000)], payments=order, lines=[statement_line(10)])
        assert ids(result) == ["missing_settlement:payment=8"]


def test_settled_by_the_provider_report_and_the_statement_is_settled_twice() -> None:
    """Both the SePay export (by SePay's id) and the bank statement (by the bank's reference)
    imported: the statement's line is a second settlement of the same credit."""
    p = sepay()
    export = line(10, p, settled_on=date(2026, 11, 21))
    result = run(dossiers=[dossier(1, 180_000)], payments=[p],
                 lines=[statement_line(11, settled_on=date(2026, 11, 22)), export])
    (d,) = result.discrepancies
    assert (d.identity, d.payment_id, d.dossier_id, d.actual_amount) == (
        "duplicate_settlement:settlement_line=11", 1, 1, 180_000)
    assert "21/11/2026" in d.explanation  # the original settlement's day
    assert [ln.id for ln in result.settlement_lines_of(p)] == [10, 11]


def test_a_payment_without_a_line_prefers_the_reference_to_a_settled_one() -> None:
    """Two payments name the same bank reference; the one with no line of its own takes the
    statement line, the one settled under its own id keeps its settlement."""
    settled, unsettled = sepay(1, txn="92701"), sepay(9, txn="92709")
    result = run(dossiers=[dossier(1, 360_000)], payments=[settled, unsettled],
                 lines=[line(10, settled), statement_line(11)])
    assert ids(result) == []


def test_input_order_never_matters() -> None:
    payments = [sepay(1, txn="A", bank="R1"), sepay(2, txn="B", bank="R1"),
                sepay(3, txn="C", bank="R2"), sepay(4, txn="R2", bank=None),
                sepay(5, txn="D", bank="R3")]
    lines = [statement_line(10, "R1"), statement_line(11, "R1"), statement_line(12, "R2"),
             line(13, payments[4]), statement_line(14, "R3"), statement_line(15, "R4")]
    expected = run(dossiers=[dossier(1, 900_000)], payments=payments, lines=lines).discrepancies
    rng = random.Random(7)
    for _ in range(20):
        rng.shuffle(payments)
        rng.shuffle(lines)
        again = run(dossiers=[dossier(1, 900_000)], payments=payments, lines=lines)
        assert again.discrepancies == expected


def test_the_early_findings_include_bank_reference_matches() -> None:
    """Findings that need no dossier are handed over before the dossiers are read: matches
    by bank reference are among them."""
    early: list[str] = []
    result = reconcile(dossiers=lambda: [dossier(1, 180_000)], payments=[sepay()],
                       settlement_lines=[statement_line(10, amount=1_000)], as_of=AS_OF,
                       settled=lambda found: early.extend(d.identity for d in found))
    assert early == ids(result) == ["amount_mismatch:payment=1:settlement_line=10"]


# --------------------------------------------------------------------------- auto-resolution


def test_missing_settlement_closes_when_the_statement_arrives() -> None:
    before = run(dossiers=[dossier(1, 180_000)], payments=[sepay()])
    assert ids(before) == ["missing_settlement:payment=1"]
    after = run(dossiers=[dossier(1, 180_000)], payments=[sepay()], lines=[statement_line(10)])
    change = classify(ids(before), after)
    (closed,) = change.resolved
    assert closed.identity == "missing_settlement:payment=1"
    assert closed.reason_en == "The settlement arrived on 2026-11-21."


def test_unexpected_settlement_closes_when_the_payment_arrives() -> None:
    before = run(dossiers=[dossier(1, 180_000)], lines=[statement_line(10)])
    assert ids(before) == ["unexpected_settlement:settlement_line=10"]
    after = run(dossiers=[dossier(1, 180_000)], payments=[sepay()], lines=[statement_line(10)])
    (closed,) = classify(ids(before), after).resolved
    assert closed.reason_en == ("The matching payment (SePay transaction 92704, bank reference "
                                "FT24330123456) has now been recorded.")
    assert "số tham chiếu ngân hàng FT24330123456" in closed.reason


def test_unexpected_line_that_becomes_a_second_settlement_is_now_a_duplicate() -> None:
    p = sepay()
    before = run(dossiers=[dossier(1, 180_000)], payments=[sepay(bank=None)],
                 lines=[line(10, p), statement_line(11)])
    assert ids(before) == ["unexpected_settlement:settlement_line=11"]
    after = run(dossiers=[dossier(1, 180_000)], payments=[p],
                lines=[line(10, p), statement_line(11)])
    change = classify(ids(before), after)
    assert [d.identity for d in change.new] == ["duplicate_settlement:settlement_line=11"]
    (closed,) = change.resolved
    assert closed.reason_en == "This settlement line is now reported as a duplicate settlement."


def test_amount_mismatch_by_bank_reference_closes_when_the_amounts_agree() -> None:
    before = run(dossiers=[dossier(1, 180_000)], payments=[sepay()],
                 lines=[statement_line(10, amount=170_000)])
    after = run(dossiers=[dossier(1, 170_000)], payments=[sepay(amount=170_000)],
                lines=[statement_line(10, amount=170_000)])
    (closed,) = classify(ids(before), after).resolved
    assert closed.reason_en.startswith("The payment amount (170.000")
