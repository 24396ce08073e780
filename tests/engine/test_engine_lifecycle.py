"""New / still open / no longer holding, and the reason given for each kind."""

from __future__ import annotations

from datetime import date

import pytest

from recon.engine import (
    KINDS,
    REGISTRY,
    EngineConfig,
    FeeLineRow,
    Reconciliation,
    classify,
    lifecycle,
)
from tests.engine.engine_builders import (
    NBSP,
    T0,
    dossier,
    ids,
    intent,
    line,
    pay,
    plus,
    run,
    settle_all,
    vn,
)


def resolved_reason(before: Reconciliation, after: Reconciliation,
                    identity: str) -> tuple[str, str]:
    assert identity in ids(before)
    outcome = classify(ids(before), after)
    reasons = {r.identity: (r.reason, r.reason_en) for r in outcome.resolved}
    assert identity in reasons, (ids(after), outcome)
    return reasons[identity]


def test_every_kind_has_a_reason() -> None:
    """Each kind's entry names its own reason, a function of recon.engine.lifecycle."""
    reasons = [REGISTRY[kind].resolve for kind in KINDS]
    assert reasons == [getattr(lifecycle, f"reason_{kind}") for kind in KINDS]


def test_first_run_is_all_new_and_a_rerun_is_all_still_open() -> None:
    result = run(dossiers=[dossier(1, 100)], payments=[pay(1, 50, dossier=1)])
    first = classify([], result)
    assert [d.identity for d in first.new] == ids(result)
    assert first.still_open == [] and first.resolved == [] and first.untouched == []
    again = classify(ids(result), run(dossiers=[dossier(1, 100)], payments=[pay(1, 50, dossier=1)]))
    assert again.new == [] and again.resolved == []
    assert [d.identity for d in again.still_open] == ids(result)


def test_still_open_carries_the_new_amounts() -> None:
    before = run(dossiers=[dossier(1, 100_000)], payments=[pay(1, 50_000, dossier=1)])
    after = run(dossiers=[dossier(1, 100_000)],
                payments=[pay(1, 50_000, dossier=1), pay(2, 30_000, dossier=1)])
    outcome = classify(ids(before), after)
    underpaid = [d for d in outcome.still_open if d.kind == "underpaid"]
    assert [d.delta for d in underpaid] == [-20_000]


def test_missing_settlement_resolved_when_the_settlement_arrives() -> None:
    p = pay(1, 180_000, dossier=1)
    before = run(dossiers=[dossier(1, 180_000)], payments=[p])
    after = run(dossiers=[dossier(1, 180_000)], payments=[p],
                lines=[line(7, p, settled_on=date(2026, 11, 25))])
    assert resolved_reason(before, after, "missing_settlement:payment=1") == (
        "Khoản thanh toán đã được quyết toán ngày 25/11/2026.",
        "The settlement arrived on 2026-11-25.",
    )


def test_missing_settlement_resolved_when_the_provider_needs_none() -> None:
    p = pay(1, 180_000, dossier=1, provider="pos")
    before = run(dossiers=[dossier(1, 180_000)], payments=[p])
    after = run(dossiers=[dossier(1, 180_000)], payments=[p],
                config=EngineConfig(no_settlement_providers=frozenset({"cash", "pos"})))
    _vi, en = resolved_reason(before, after, "missing_settlement:payment=1")
    assert en == "Payments by POS are now configured as needing no settlement."


def test_missing_settlement_resolved_when_the_deadline_is_longer() -> None:
    p = pay(1, 180_000, dossier=1, paid_at=vn(2026, 11, 21, 10))
    as_of = vn(2026, 11, 25)
    before = run(dossiers=[dossier(1, 180_000)], payments=[p], as_of=as_of)
    after = run(dossiers=[dossier(1, 180_000)], payments=[p], as_of=as_of,
                config=EngineConfig(default_settlement_days=5))
    vi, en = resolved_reason(before, after, "missing_settlement:payment=1")
    assert "26/11/2026" in vi
    assert en == ("The settlement deadline (5 days, ending 2026-11-26) has not passed as of "
                  "this run.")


def test_underpaid_resolved_when_paid_in_full() -> None:
    d = dossier(1, 180_000, "HS-1")
    before = run(dossiers=[d], payments=[pay(1, 100_000, dossier=1)])
    after = run(dossiers=[d], payments=[pay(1, 100_000, dossier=1), pay(2, 80_000, dossier=1)])
    assert resolved_reason(before, after, "underpaid:dossier=1") == (
        f"Hồ sơ HS-1 nay đã nộp đủ: 180.000{NBSP}₫ trên 180.000{NBSP}₫ phải nộp.",
        f"Dossier HS-1 is now paid in full: 180.000{NBSP}₫ of 180.000{NBSP}₫ assessed.",
    )


def test_underpaid_resolved_when_payment_failed_after_all() -> None:
    before = run(dossiers=[dossier(1, 180_000, "HS-1")], payments=[pay(1, 100_000, dossier=1)])
    after = run(dossiers=[dossier(1, 180_000, "HS-1")],
                payments=[pay(1, 100_000, dossier=1, status="failed")])
    _vi, en = resolved_reason(before, after, "underpaid:dossier=1")
    assert en == "Dossier HS-1 no longer has a succeeded payment."


def test_underpaid_turning_overpaid_is_resolved_and_the_overpaid_is_new() -> None:
    before = run(dossiers=[dossier(1, 100_000, "HS-1")], payments=[pay(1, 60_000, dossier=1)])
    after = run(dossiers=[dossier(1, 100_000, "HS-1")],
                payments=[pay(1, 60_000, dossier=1), pay(2, 70_000, dossier=1)])
    outcome = classify(ids(before), after)
    assert [d.identity for d in outcome.new if d.kind == "overpaid"] == ["overpaid:dossier=1"]
    _vi, en = resolved_reason(before, after, "underpaid:dossier=1")
    assert "no longer short" in en


def test_overpaid_resolved_when_fees_are_reassessed() -> None:
    payments = [pay(1, 200_000, dossier=1)]
    before = run(dossiers=[dossier(1, None, "HS-1")], fee_lines=[FeeLineRow(1, 180_000)],
                 payments=payments)
    after = run(dossiers=[dossier(1, None, "HS-1")],
                fee_lines=[FeeLineRow(1, 180_000), FeeLineRow(1, 20_000)], payments=payments)
    _vi, en = resolved_reason(before, after, "overpaid:dossier=1")
    assert en == f"Dossier HS-1 is now paid in full: 200.000{NBSP}₫ of 200.000{NBSP}₫ assessed."


def test_duplicate_payment_resolved_when_refunded() -> None:
    first = pay(1, 180_000, dossier=1)
    extra = pay(2, 180_000, dossier=1, paid_at=plus(T0, hours=1))
    before = run(dossiers=[dossier(1, 180_000)], payments=[first, extra],
                 lines=settle_all([first, extra]))
    after = run(dossiers=[dossier(1, 180_000)], payments=[first, extra._replace(
        status="refunded")], lines=settle_all([first]))
    assert resolved_reason(before, after, "duplicate_payment:dossier=1:payment=2") == (
        "Khoản thanh toán nay được ghi nhận là đã hoàn tiền.",
        "The payment is now recorded as refunded.",
    )


def test_duplicate_payment_resolved_when_rematched() -> None:
    first = pay(1, 50_000, dossier=1)
    extra = pay(2, 50_000, dossier=1, paid_at=plus(T0, hours=1))
    dossiers = [dossier(1, 50_000), dossier(2, 50_000, "HS-2")]
    before = run(dossiers=dossiers, payments=[first, extra], lines=settle_all([first, extra]))
    after = run(dossiers=dossiers, payments=[first, extra._replace(dossier_id=2)],
                lines=settle_all([first, extra]))
    _vi, en = resolved_reason(before, after, "duplicate_payment:dossier=1:payment=2")
    assert en == "The payment is now matched to dossier HS-2."


def test_unmatched_payment_resolved_when_matched() -> None:
    p = pay(5, 180_000, reference="HSX")
    dossiers = [dossier(1, 180_000, "HS-1")]
    before = run(dossiers=dossiers, payments=[p], lines=settle_all([p]))
    after = run(dossiers=dossiers, payments=[p._replace(dossier_id=1)], lines=settle_all([p]))
    assert resolved_reason(before, after, "unmatched_payment:payment=5") == (
        "Khoản thanh toán nay được gắn với hồ sơ HS-1.",
        "The payment is now matched to dossier HS-1.",
    )


def test_unexpected_settlement_resolved_when_the_payment_is_recorded() -> None:
    p = pay(5, 90_000, dossier=1, provider="payos", txn="PO-1")
    before = run(dossiers=[dossier(1, 90_000)], lines=[line(3, p)])
    after = run(dossiers=[dossier(1, 90_000)], payments=[p], lines=[line(3, p)])
    _vi, en = resolved_reason(before, after, "unexpected_settlement:settlement_line=3")
    assert en == "The matching payment (payOS transaction PO-1) has now been recorded."


def test_amount_mismatch_resolved_when_amounts_agree() -> None:
    p = pay(1, 180_000, dossier=1)
    before = run(dossiers=[dossier(1, 180_000)], payments=[p], lines=[line(3, p, amount=1)])
    after = run(dossiers=[dossier(1, 180_000)], payments=[p], lines=[line(3, p)])
    _vi, en = resolved_reason(before, after, "amount_mismatch:payment=1:settlement_line=3")
    assert en == f"The payment amount (180.000{NBSP}₫) now equals the settled gross amount."


def test_amount_mismatch_resolved_when_the_line_is_gone() -> None:
    p = pay(1, 180_000, dossier=1)
    before = run(dossiers=[dossier(1, 180_000)], payments=[p], lines=[line(3, p, amount=1)])
    after = run(dossiers=[dossier(1, 180_000)], payments=[p], lines=[line(4, p)])
    _vi, en = resolved_reason(before, after, "amount_mismatch:payment=1:settlement_line=3")
    assert en == "The settlement line is no longer in the reconciled data."


def test_duplicate_settlement_resolved_when_the_other_line_is_removed() -> None:
    p = pay(1, 180_000, dossier=1)
    before = run(dossiers=[dossier(1, 180_000)], payments=[p], lines=[line(3, p), line(4, p)])
    after = run(dossiers=[dossier(1, 180_000)], payments=[p], lines=[line(4, p)])
    _vi, en = resolved_reason(before, after, "duplicate_settlement:settlement_line=4")
    assert en == "This is now the only settlement line of its transaction."


def test_status_mismatch_resolved_when_the_payment_succeeded_after_all() -> None:
    p = pay(1, 180_000, dossier=1, status="failed")
    before = run(dossiers=[dossier(1, 180_000)], payments=[p], lines=[line(3, p)])
    after = run(dossiers=[dossier(1, 180_000)], payments=[p._replace(status="succeeded")],
                lines=[line(3, p)])
    assert resolved_reason(before, after, "status_mismatch:payment=1:settlement_line=3") == (
        "Khoản thanh toán nay được ghi nhận là thành công.",
        "The payment is now recorded as succeeded.",
    )


@pytest.mark.parametrize("identity", [
    "underpaid:dossier=9", "overpaid:dossier=9", "duplicate_payment:dossier=9:payment=9",
    "unmatched_payment:payment=9", "missing_settlement:payment=9",
    "unexpected_settlement:settlement_line=9", "amount_mismatch:payment=9:settlement_line=9",
    "duplicate_settlement:settlement_line=9", "status_mismatch:payment=9:settlement_line=9",
])
def test_subject_gone_from_a_full_run_is_resolved_with_a_reason(identity: str) -> None:
    outcome = classify([identity], run(dossiers=[]))
    assert [r.identity for r in outcome.resolved] == [identity]
    reason = outcome.resolved[0]
    assert reason.kind == identity.split(":", maxsplit=1)[0]
    assert "không còn" in reason.reason and "no longer" in reason.reason_en


def test_partial_run_leaves_subjects_it_did_not_load_untouched() -> None:
    p = pay(1, 50_000, dossier=1)
    result = run(dossiers=[dossier(1, 100_000)], payments=[p], lines=settle_all([p]))
    previous = ["underpaid:dossier=1", "missing_settlement:payment=1",
                "missing_settlement:payment=2", "underpaid:dossier=7"]
    outcome = classify(previous, result, partial=True)
    assert [d.identity for d in outcome.still_open] == ["underpaid:dossier=1"]
    assert [r.identity for r in outcome.resolved] == ["missing_settlement:payment=1"]
    assert outcome.untouched == ["missing_settlement:payment=2", "underpaid:dossier=7"]
    full = classify(previous, result)
    assert full.untouched == [] and len(full.resolved) == 3


def test_rubbish_previous_identity_is_refused() -> None:
    with pytest.raises(ValueError):
        classify(["what:ever"], run(dossiers=[]))


def test_reasons_use_intent_matching_too() -> None:
    p = pay(1, 100_000, intent=4)
    result = run(dossiers=[dossier(1, 100_000, "HS-1")], intents=[intent(4, 1, 100_000)],
                 payments=[p], lines=settle_all([p]))
    outcome = classify(["unmatched_payment:payment=1"], result)
    assert outcome.resolved[0].reason_en == "The payment is now matched to dossier HS-1."
    assert result.paid_total(1) == 100_000 and result.assessed_total(1) == 100_000


def test_amount_mismatch_resolved_when_the_line_is_rekeyed() -> None:
    p = pay(1, 180_000, dossier=1)
    before = run(dossiers=[dossier(1, 180_000)], payments=[p], lines=[line(3, p, amount=1)])
    after = run(dossiers=[dossier(1, 180_000)], payments=[p, pay(2, 1, txn="OTHER", dossier=1)],
                lines=[line(3, txn="OTHER", amount=1), line(4, p)])
    _vi, en = resolved_reason(before, after, "amount_mismatch:payment=1:settlement_line=3")
    assert en == "The settlement line no longer refers to this payment."


def test_line_that_became_the_duplicate_is_explained() -> None:
    p = pay(1, 180_000, dossier=1)
    before = run(dossiers=[dossier(1, 180_000)], payments=[p],
                 lines=[line(3, p, amount=1, settled_on=date(2026, 11, 23))])
    after = run(dossiers=[dossier(1, 180_000)], payments=[p],
                lines=[line(3, p, amount=1, settled_on=date(2026, 11, 23)),
                       line(2, p, settled_on=date(2026, 11, 22))])
    outcome = classify(ids(before), after)
    assert ids(after) == ["duplicate_settlement:settlement_line=3"]
    assert outcome.resolved[0].reason_en == (
        "This settlement line is now reported as a duplicate settlement.")
