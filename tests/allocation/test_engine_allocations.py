"""The pure engine with allocations: each dossier paid its share; a refusal is one finding."""

from __future__ import annotations

from datetime import UTC, date, datetime

from recon.engine import (
    AllocationRow,
    DossierRow,
    PaymentRow,
    SettlementLineRow,
    UnsplitRow,
    reconcile,
)

AS_OF = datetime(2026, 3, 1, tzinfo=UTC)
PAID = datetime(2026, 2, 1, 3, tzinfo=UTC)


def _payment(pid: int, amount: int, did: int | None = None) -> PaymentRow:
    return PaymentRow(pid, "sepay", f"T{pid}", "vietqr", amount, "succeeded", PAID, did)


def test_split_payment_pays_each_dossier_its_share_and_settles_by_gross() -> None:
    dossiers = [DossierRow(1, "HS-1", 120_000), DossierRow(2, "HS-2", 180_000)]
    pay = _payment(7, 300_000)
    line = SettlementLineRow(1, "sepay", "T7", 300_000, 0, 300_000, date(2026, 2, 2))
    result = reconcile(dossiers=dossiers, payments=[pay], settlement_lines=[line], as_of=AS_OF,
                       allocations=[AllocationRow(7, 1, 120_000), AllocationRow(7, 2, 180_000)])
    assert list(result) == []  # no unmatched, no under/overpaid, no amount mismatch
    assert result.paid_total(1) == 120_000
    assert result.paid_total(2) == 180_000
    assert result.is_allocated(7)


def test_split_share_counts_with_other_payments_of_the_dossier() -> None:
    dossiers = [DossierRow(1, "HS-1", 200_000), DossierRow(2, "HS-2", 180_000)]
    result = reconcile(
        dossiers=dossiers, payments=[_payment(7, 300_000), _payment(8, 50_000, 1)],
        settlement_lines=[], as_of=datetime(2026, 2, 1, 4, tzinfo=UTC),
        allocations=[AllocationRow(7, 1, 120_000), AllocationRow(7, 2, 180_000)])
    assert result.paid_total(1) == 170_000
    assert [d.kind for d in result] == ["underpaid"]
    assert result.discrepancies[0].delta == -30_000


def test_refusal_is_one_finding_naming_every_reference() -> None:
    refusal = UnsplitRow(7, "amount_differs", ("HSAAAA", "HSBBBB"), (), -10_000)
    result = reconcile(dossiers=[], payments=[_payment(7, 290_000)], as_of=PAID,
                       unsplit=[refusal])
    (finding,) = list(result)
    assert finding.kind == "multi_reference_unsplit"
    assert finding.identity == "multi_reference_unsplit:payment=7"
    for ref in ("HSAAAA", "HSBBBB"):
        assert ref in finding.explanation and ref in finding.explanation_en
    assert "10.000" in finding.explanation and "differs" in finding.explanation_en
    assert "không tự chia" in finding.explanation


def test_without_refusal_a_payment_without_dossier_stays_unmatched() -> None:
    result = reconcile(dossiers=[], payments=[_payment(7, 290_000)], as_of=PAID)
    assert [d.kind for d in result] == ["unmatched_payment"]
