"""One scenario per discrepancy kind, the clean cases, and how the kinds interact."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from recon.engine import (
    Discrepancy,
    EngineConfig,
    FeeLineRow,
    make_identity,
    parse_identity,
    reconcile,
    settlement_cutoff,
    settlement_deadline,
    settlement_overdue,
)
from tests.engine.engine_builders import (
    AS_OF,
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


def only(result_discrepancies: list[Discrepancy]) -> Discrepancy:
    assert len(result_discrepancies) == 1, [d.identity for d in result_discrepancies]
    return result_discrepancies[0]


# --------------------------------------------------------------------------- each kind


def test_underpaid() -> None:
    p = pay(7, 150_000, dossier=1)
    result = run(
        dossiers=[dossier(1, None, "000.00.21.H57-261121-0001")],
        fee_lines=[FeeLineRow(1, 150_000), FeeLineRow(1, 30_000)],
        payments=[p], lines=settle_all([p]),
    )
    d = only(result.discrepancies)
    assert d == Discrepancy(
        identity="underpaid:dossier=1", kind="underpaid", dossier_id=1, payment_id=None,
        settlement_line_id=None, provider=None, expected_amount=180_000,
        actual_amount=150_000, delta=-30_000,
        explanation=(
            f"Hồ sơ 000.00.21.H57-261121-0001 mới nộp 150.000{NBSP}₫, còn thiếu "
            f"30.000{NBSP}₫ so với tổng phí, lệ phí phải nộp là 180.000{NBSP}₫."
        ),
        explanation_en=(
            f"Dossier 000.00.21.H57-261121-0001 has been paid 150.000{NBSP}₫, 30.000{NBSP}₫ "
            f"short of the 180.000{NBSP}₫ assessed in fees and charges."
        ),
        within_tolerance=False,
    )


def test_overpaid_with_different_amounts() -> None:
    payments = [pay(1, 180_000, dossier=1), pay(2, 20_000, dossier=1, provider="momo")]
    result = run(dossiers=[dossier(1, 180_000)], payments=payments, lines=settle_all(payments))
    d = only(result.discrepancies)
    assert (d.identity, d.kind, d.dossier_id, d.payment_id) == (
        "overpaid:dossier=1", "overpaid", 1, None)
    assert (d.expected_amount, d.actual_amount, d.delta) == (180_000, 200_000, 20_000)
    assert f"thừa 20.000{NBSP}₫" in d.explanation
    assert f"20.000{NBSP}₫ more than" in d.explanation_en


def test_duplicate_payment_is_not_also_overpaid() -> None:
    # the later payment by paid_at is the extra one, even though its id is lower
    first = pay(9, 180_000, dossier=1, provider="vnpay", txn="14123456", paid_at=T0)
    extra = pay(4, 180_000, dossier=1, provider="momo", txn="MM88",
                paid_at=plus(T0, minutes=3))
    result = run(dossiers=[dossier(1, 180_000, "HS-A")], payments=[extra, first],
                 lines=settle_all([first, extra]))
    d = only(result.discrepancies)
    assert d.identity == "duplicate_payment:dossier=1:payment=4"
    assert (d.kind, d.dossier_id, d.payment_id, d.provider) == ("duplicate_payment", 1, 4, "momo")
    assert (d.expected_amount, d.actual_amount, d.delta) == (0, 180_000, 180_000)
    assert d.explanation == (
        f"Hồ sơ HS-A được thanh toán thêm một lần 180.000{NBSP}₫ qua giao dịch MoMo mã MM88, "
        f"trùng số tiền với giao dịch VNPay mã 14123456 ngày 21/11/2026."
    )
    assert d.explanation_en == (
        f"Dossier HS-A was paid 180.000{NBSP}₫ again by MoMo transaction MM88, the same "
        f"amount as VNPay transaction 14123456 of 2026-11-21."
    )


def test_duplicate_payment_same_moment_higher_id_is_extra() -> None:
    payments = [pay(2, 50_000, dossier=1), pay(1, 50_000, dossier=1)]
    result = run(dossiers=[dossier(1, 50_000)], payments=payments, lines=settle_all(payments))
    assert ids(result) == ["duplicate_payment:dossier=1:payment=2"]


def test_unmatched_payment() -> None:
    p = pay(5, 50_000, provider="sepay", channel="vietqr", reference="HSX9Q2")
    result = run(dossiers=[], payments=[p], lines=settle_all([p]))
    d = only(result.discrepancies)
    assert (d.identity, d.dossier_id, d.payment_id, d.provider) == (
        "unmatched_payment:payment=5", None, 5, "sepay")
    assert (d.expected_amount, d.actual_amount, d.delta) == (0, 50_000, 50_000)
    assert d.explanation == (
        f"Giao dịch SePay mã TX5 số tiền 50.000{NBSP}₫ (nội dung/mã tham chiếu “HSX9Q2”) "
        f"không khớp với hồ sơ nào."
    )


def test_missing_settlement() -> None:
    p = pay(3, 180_000, dossier=1, provider="zalopay", txn="ZP1")
    result = run(dossiers=[dossier(1, 180_000)], payments=[p])
    d = only(result.discrepancies)
    assert (d.identity, d.dossier_id, d.payment_id, d.provider) == (
        "missing_settlement:payment=3", 1, 3, "zalopay")
    assert (d.expected_amount, d.actual_amount, d.delta) == (180_000, 0, -180_000)
    assert d.explanation == (
        f"Giao dịch ZaloPay mã ZP1 số tiền 180.000{NBSP}₫ ngày 21/11/2026 chưa có trong báo "
        f"cáo quyết toán, đã quá hạn quyết toán 2 ngày (hết ngày 23/11/2026)."
    )
    assert "2-day settlement deadline (2026-11-23) has passed" in d.explanation_en


def test_unexpected_settlement() -> None:
    stray = line(31, provider="payos", txn="PO-77", amount=90_000, fee=900,
                 settled_on=date(2026, 11, 25))
    result = run(dossiers=[], lines=[stray])
    d = only(result.discrepancies)
    assert (d.identity, d.settlement_line_id, d.payment_id, d.provider) == (
        "unexpected_settlement:settlement_line=31", 31, None, "payos")
    assert (d.expected_amount, d.actual_amount, d.delta) == (0, 90_000, 90_000)
    assert "25/11/2026" in d.explanation and "PO-77" in d.explanation


def test_amount_mismatch() -> None:
    p = pay(3, 180_000, dossier=1)
    result = run(dossiers=[dossier(1, 180_000)], payments=[p],
                 lines=[line(12, p, amount=179_000, fee=1_000)])
    d = only(result.discrepancies)
    assert (d.identity, d.dossier_id, d.payment_id, d.settlement_line_id) == (
        "amount_mismatch:payment=3:settlement_line=12", 1, 3, 12)
    assert (d.expected_amount, d.actual_amount, d.delta, d.within_tolerance) == (
        180_000, 179_000, -1_000, False)
    assert d.explanation == (
        f"Giao dịch VNPay mã TX3 được ghi nhận 180.000{NBSP}₫ nhưng được quyết toán "
        f"179.000{NBSP}₫, thấp hơn 1.000{NBSP}₫."
    )


@pytest.mark.parametrize(("tolerance", "within"), [(0, False), (999, False), (1_000, True)])
def test_amount_mismatch_within_tolerance_is_still_reported(tolerance: int, within: bool) -> None:
    p = pay(3, 180_000, dossier=1)
    config = EngineConfig(tolerances={"vnpay": tolerance})
    result = run(dossiers=[dossier(1, 180_000)], payments=[p],
                 lines=[line(12, p, amount=181_000)], config=config)
    d = only(result.discrepancies)
    assert (d.kind, d.delta, d.within_tolerance) == ("amount_mismatch", 1_000, within)
    assert ("dung sai" in d.explanation) is within
    assert ("tolerance" in d.explanation_en) is within


def test_tolerance_is_per_provider() -> None:
    p = pay(3, 180_000, dossier=1, provider="momo")
    config = EngineConfig(tolerances={"vnpay": 5_000})
    result = run(dossiers=[dossier(1, 180_000)], payments=[p],
                 lines=[line(12, p, amount=179_000)], config=config)
    assert only(result.discrepancies).within_tolerance is False


def test_duplicate_settlement() -> None:
    p = pay(3, 180_000, dossier=1)
    # line 40 was imported later but settled earlier: it is the original
    lines = [line(41, p, settled_on=date(2026, 11, 23)), line(40, p, settled_on=date(2026, 11, 22))]
    result = run(dossiers=[dossier(1, 180_000)], payments=[p], lines=lines)
    d = only(result.discrepancies)
    assert (d.identity, d.settlement_line_id, d.payment_id, d.dossier_id) == (
        "duplicate_settlement:settlement_line=41", 41, 3, 1)
    assert (d.expected_amount, d.actual_amount, d.delta) == (0, 180_000, 180_000)
    assert "23/11/2026" in d.explanation and "22/11/2026" in d.explanation


def test_duplicate_settlement_same_day_higher_id_is_extra() -> None:
    p = pay(3, 180_000, dossier=1)
    result = run(dossiers=[dossier(1, 180_000)], payments=[p], lines=[line(9, p), line(8, p)])
    assert ids(result) == ["duplicate_settlement:settlement_line=9"]


def test_settled_twice_without_payment_is_unexpected_then_duplicate() -> None:
    lines = [line(5, txn="GHOST", amount=10_000), line(6, txn="GHOST", amount=10_000)]
    result = run(dossiers=[], lines=lines)
    assert ids(result) == [
        "duplicate_settlement:settlement_line=6",
        "unexpected_settlement:settlement_line=5",
    ]


@pytest.mark.parametrize("status", ["failed", "refunded"])
def test_status_mismatch(status: str) -> None:
    p = pay(3, 180_000, dossier=1, status=status, provider="pos", txn="RRN1")
    # the gross differs too, but a payment that should not be settled at all is one finding
    result = run(dossiers=[dossier(1, 180_000)], payments=[p],
                 lines=[line(12, p, amount=170_000)])
    d = only(result.discrepancies)
    assert (d.identity, d.dossier_id, d.payment_id, d.settlement_line_id) == (
        "status_mismatch:payment=3:settlement_line=12", 1, 3, 12)
    assert (d.expected_amount, d.actual_amount, d.delta) == (0, 170_000, 170_000)
    word = {"failed": "thất bại", "refunded": "đã hoàn tiền"}[status]
    assert d.explanation == (
        f"Giao dịch POS mã RRN1 được ghi nhận là {word} nhưng vẫn được quyết toán "
        f"170.000{NBSP}₫ ngày 22/11/2026."
    )
    assert d.explanation_en == (
        f"POS transaction RRN1 is recorded as {status} but was settled for 170.000{NBSP}₫ "
        f"on 2026-11-22."
    )


# --------------------------------------------------------------------------- clean cases


def test_split_payments_over_fee_lines_and_intents_is_clean() -> None:
    fees = [FeeLineRow(1, 100_000), FeeLineRow(1, 50_000), FeeLineRow(1, 30_000)]
    intents = [intent(1, 1, 150_000), intent(2, 1, 30_000)]
    payments = [
        pay(1, 150_000, dossier=1, intent=1, provider="vnpay", reference="HS000001"),
        pay(2, 30_000, dossier=1, intent=2, provider="momo", reference="HS000002",
            paid_at=plus(T0, hours=2)),
    ]
    result = run(dossiers=[dossier(1, None)], fee_lines=fees, intents=intents,
                 payments=payments, lines=settle_all(payments))
    assert result.discrepancies == []


def test_split_payments_of_equal_amounts_are_not_duplicates() -> None:
    intents = [intent(1, 1, 150_000), intent(2, 1, 150_000)]
    payments = [pay(1, 150_000, dossier=1, intent=1), pay(2, 150_000, dossier=1, intent=2)]
    result = run(dossiers=[dossier(1, 300_000)], intents=intents, payments=payments,
                 lines=settle_all(payments))
    assert result.discrepancies == []


def test_provider_fees_netted_is_clean() -> None:
    p = pay(1, 180_000, dossier=1, provider="vnpay")
    settled = line(1, p, fee=1_980)
    assert (settled.amount, settled.fee, settled.net) == (180_000, 1_980, 178_020)
    result = run(dossiers=[dossier(1, 180_000)], payments=[p], lines=[settled])
    assert result.discrepancies == []


def test_payment_inside_its_deadline_is_clean() -> None:
    p = pay(1, 180_000, dossier=1, paid_at=vn(2026, 11, 21, 10))
    result = run(dossiers=[dossier(1, 180_000)], payments=[p], as_of=vn(2026, 11, 23, 23, 59))
    assert result.discrepancies == []


def test_payment_matched_by_bank_memo_is_clean() -> None:
    # the ingest found the dossier code in the memo: dossier set, no intent, no reference
    p = pay(1, 180_000, dossier=1, provider="casso", channel="vietqr", reference=None)
    result = run(dossiers=[dossier(1, 180_000)], payments=[p], lines=settle_all([p]))
    assert result.discrepancies == []


def test_payment_matched_through_its_intent_is_clean() -> None:
    p = pay(1, 180_000, dossier=None, intent=5)
    result = run(dossiers=[dossier(1, 180_000)], intents=[intent(5, 1, 180_000)],
                 payments=[p], lines=settle_all([p]))
    assert result.discrepancies == []


def test_cash_counts_as_paid_and_needs_no_settlement() -> None:
    p = pay(1, 180_000, dossier=1, provider="cash", txn="PT-0001")
    result = run(dossiers=[dossier(1, 180_000)], payments=[p],
                 as_of=datetime(2027, 1, 1, tzinfo=UTC))
    assert result.discrepancies == []


def test_providers_without_settlement_are_configurable() -> None:
    p = pay(1, 180_000, dossier=1, provider="pos")
    assert ids(run(dossiers=[dossier(1, 180_000)], payments=[p])) == [
        "missing_settlement:payment=1"]
    config = EngineConfig(no_settlement_providers=frozenset({"cash", "pos"}))
    assert run(dossiers=[dossier(1, 180_000)], payments=[p], config=config).discrepancies == []


def test_dossier_without_payment_is_outstanding_not_a_discrepancy() -> None:
    result = run(dossiers=[dossier(1, 180_000), dossier(2, 0)],
                 intents=[intent(1, 1, 180_000, status="expired")])
    assert result.discrepancies == []


def test_failed_and_refunded_payments_count_as_nothing() -> None:
    payments = [pay(1, 180_000, dossier=1, status="failed"),
                pay(2, 180_000, dossier=1, status="refunded")]
    assert run(dossiers=[dossier(1, 180_000)], payments=payments).discrepancies == []
    paid = [*payments, pay(3, 100_000, dossier=1)]
    assert ids(run(dossiers=[dossier(1, 180_000)], payments=paid,
                   lines=settle_all(paid[2:]))) == ["underpaid:dossier=1"]


# --------------------------------------------------------------------------- interactions


def test_duplicate_then_residual_overpaid() -> None:
    payments = [pay(1, 100_000, dossier=1), pay(2, 100_000, dossier=1, paid_at=plus(T0, hours=1)),
                pay(3, 30_000, dossier=1, paid_at=plus(T0, hours=2))]
    result = run(dossiers=[dossier(1, 100_000)], payments=payments, lines=settle_all(payments))
    assert ids(result) == ["duplicate_payment:dossier=1:payment=2", "overpaid:dossier=1"]
    dup, over = result.discrepancies
    assert dup.delta == 100_000
    assert (over.expected_amount, over.actual_amount, over.delta) == (100_000, 130_000, 30_000)
    assert "không tính 100.000" in over.explanation
    assert dup.delta + over.delta == 230_000 - 100_000


def test_paid_three_times_is_two_duplicates() -> None:
    payments = [pay(i, 50_000, dossier=1, paid_at=plus(T0, minutes=i)) for i in (1, 2, 3)]
    result = run(dossiers=[dossier(1, 50_000)], payments=payments, lines=settle_all(payments))
    assert ids(result) == ["duplicate_payment:dossier=1:payment=2",
                           "duplicate_payment:dossier=1:payment=3"]
    assert all("TX1" in d.explanation for d in result.discrepancies)


def test_repeat_larger_than_the_excess_is_overpaid_not_duplicate() -> None:
    payments = [pay(1, 150_000, dossier=1), pay(2, 150_000, dossier=1, paid_at=plus(T0, hours=1))]
    result = run(dossiers=[dossier(1, 200_000)], payments=payments, lines=settle_all(payments))
    d = only(result.discrepancies)
    assert (d.identity, d.delta) == ("overpaid:dossier=1", 100_000)


def test_underpaid_dossier_never_has_duplicates() -> None:
    payments = [pay(1, 100_000, dossier=1), pay(2, 100_000, dossier=1, paid_at=plus(T0, hours=1))]
    result = run(dossiers=[dossier(1, 300_000)], payments=payments, lines=settle_all(payments))
    assert ids(result) == ["underpaid:dossier=1"]
    assert result.discrepancies[0].delta == -100_000


def test_intent_paid_twice_is_the_duplicate_not_the_split() -> None:
    intents = [intent(1, 1, 150_000, reference="HSAAA1"), intent(2, 1, 150_000)]
    payments = [
        pay(1, 150_000, dossier=1, intent=1, paid_at=T0),
        pay(2, 150_000, dossier=1, intent=2, paid_at=plus(T0, minutes=10)),
        pay(3, 150_000, dossier=1, intent=1, paid_at=plus(T0, minutes=20), provider="momo"),
    ]
    result = run(dossiers=[dossier(1, 300_000)], intents=intents, payments=payments,
                 lines=settle_all(payments))
    d = only(result.discrepancies)
    assert d.identity == "duplicate_payment:dossier=1:payment=3"
    assert "cùng mã thanh toán HSAAA1" in d.explanation
    assert "same payment reference HSAAA1" in d.explanation_en


def test_unmatched_and_unsettled_payment_is_both() -> None:
    p = pay(5, 50_000, provider="sepay")
    assert ids(run(dossiers=[], payments=[p])) == [
        "missing_settlement:payment=5", "unmatched_payment:payment=5"]


def test_duplicate_payment_and_its_settlements_are_separate_findings() -> None:
    payments = [pay(1, 80_000, dossier=1), pay(2, 80_000, dossier=1, paid_at=plus(T0, hours=1))]
    result = run(dossiers=[dossier(1, 80_000)], payments=payments,
                 lines=[line(10, payments[0]), line(11, payments[1], amount=79_000)])
    assert ids(result) == ["amount_mismatch:payment=2:settlement_line=11",
                           "duplicate_payment:dossier=1:payment=2"]


def test_results_are_sorted_by_identity() -> None:
    payments = [pay(1, 10_000), pay(2, 10_000, dossier=2), pay(10, 10_000, dossier=10)]
    result = run(dossiers=[dossier(2, 20_000), dossier(10, 5_000)], payments=payments,
                 lines=[line(1, txn="X", amount=1)])
    assert ids(result) == sorted(ids(result))
    assert result.counts()["missing_settlement"] == 3
    assert sum(result.counts().values()) == len(result)


# --------------------------------------------------------------------------- deadline


def test_deadline_boundary_is_the_end_of_the_vietnam_day() -> None:
    p = pay(1, 180_000, dossier=1, paid_at=vn(2026, 11, 21, 10))
    assert settlement_deadline(p.paid_at, 2) == date(2026, 11, 23)
    last_moment = vn(2026, 11, 23, 23, 59, 59, 999_999)
    assert run(dossiers=[dossier(1, 180_000)], payments=[p], as_of=last_moment).discrepancies == []
    assert ids(run(dossiers=[dossier(1, 180_000)], payments=[p],
                   as_of=vn(2026, 11, 24))) == ["missing_settlement:payment=1"]


def test_deadline_counts_from_the_vietnam_date_not_utc() -> None:
    late_evening = datetime(2026, 11, 21, 16, 59, tzinfo=UTC)  # 23:59 on the 21st in Vietnam
    just_after_midnight = datetime(2026, 11, 21, 17, 0, tzinfo=UTC)  # 00:00 on the 22nd
    assert settlement_deadline(late_evening, 2) == date(2026, 11, 23)
    assert settlement_deadline(just_after_midnight, 2) == date(2026, 11, 24)
    as_of = vn(2026, 11, 24, 0, 0)
    assert settlement_overdue(late_evening, 2, as_of)
    assert not settlement_overdue(just_after_midnight, 2, as_of)
    payments = [pay(1, 10_000, paid_at=late_evening, dossier=1),
                pay(2, 10_000, paid_at=just_after_midnight, dossier=2)]
    result = run(dossiers=[dossier(1, 10_000), dossier(2, 10_000)], payments=payments,
                 as_of=as_of)
    assert ids(result) == ["missing_settlement:payment=1"]


def test_deadline_days_are_per_provider() -> None:
    payments = [pay(1, 10_000, provider="momo", dossier=1), pay(2, 10_000, provider="vnpay",
                                                                dossier=2)]
    config = EngineConfig(settlement_days={"momo": 1}, default_settlement_days=3)
    as_of = vn(2026, 11, 23, 12)  # 21st + 1 day is over, 21st + 3 days is not
    result = run(dossiers=[dossier(1, 10_000), dossier(2, 10_000)], payments=payments,
                 as_of=as_of, config=config)
    assert ids(result) == ["missing_settlement:payment=1"]
    assert "1 ngày" in result.discrepancies[0].explanation


def test_zero_days_means_settled_the_same_day() -> None:
    p = pay(1, 10_000, dossier=1, paid_at=vn(2026, 11, 21, 9))
    config = EngineConfig(default_settlement_days=0)
    assert run(dossiers=[dossier(1, 10_000)], payments=[p], config=config,
               as_of=vn(2026, 11, 21, 23, 59)).discrepancies == []
    assert len(run(dossiers=[dossier(1, 10_000)], payments=[p], config=config,
                   as_of=vn(2026, 11, 22)).discrepancies) == 1


def test_cutoff_matches_the_definition() -> None:
    as_of = vn(2026, 11, 24, 0, 0)
    cutoff = settlement_cutoff(as_of, 2)
    assert cutoff == vn(2026, 11, 22)
    assert settlement_overdue(cutoff - timedelta(microseconds=1), 2, as_of)
    assert not settlement_overdue(cutoff, 2, as_of)


# --------------------------------------------------------------------------- identities


def test_identity_round_trip() -> None:
    identity = make_identity("duplicate_payment", dossier_id=12, payment_id=99,
                             settlement_line_id=5)
    assert identity == "duplicate_payment:dossier=12:payment=99"
    assert parse_identity(identity) == ("duplicate_payment", {"dossier": 12, "payment": 99})
    assert make_identity("amount_mismatch", payment_id=3, settlement_line_id=4) == (
        "amount_mismatch:payment=3:settlement_line=4")


@pytest.mark.parametrize("bad", [
    "", "nonsense:dossier=1", "underpaid", "underpaid:dossier=x", "underpaid:payment=1",
    "underpaid:dossier=1:dossier=2", "duplicate_payment:payment=1:dossier=2",
    "underpaid:dossier=²",
])
def test_malformed_identity_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_identity(bad)


def test_make_identity_needs_the_subject() -> None:
    with pytest.raises(ValueError, match="needs a payment id"):
        make_identity("duplicate_payment", dossier_id=1)
    with pytest.raises(ValueError, match="unknown"):
        make_identity("late", dossier_id=1)


# --------------------------------------------------------------------------- loader bugs


def test_naive_as_of_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        reconcile(dossiers=[], as_of=datetime(2026, 11, 30))


def test_payment_to_an_unknown_dossier_is_refused() -> None:
    with pytest.raises(ValueError, match="dossier 2, not given"):
        run(dossiers=[dossier(1, 10)], payments=[pay(1, 10, dossier=2)])


def test_payment_to_an_unknown_intent_is_refused() -> None:
    with pytest.raises(ValueError, match="intent 4, not given"):
        run(dossiers=[dossier(1, 10)], payments=[pay(1, 10, intent=4)])


def test_fee_line_of_an_unknown_dossier_is_refused() -> None:
    with pytest.raises(ValueError, match="dossier 3, not given"):
        run(dossiers=[dossier(1, None)], fee_lines=[FeeLineRow(3, 10)])


def test_total_disagreeing_with_fee_lines_is_refused() -> None:
    with pytest.raises(ValueError, match="differs from its fee lines"):
        run(dossiers=[dossier(1, 20)], fee_lines=[FeeLineRow(1, 10)])


def test_paid_dossier_without_any_total_is_refused() -> None:
    with pytest.raises(ValueError, match="no total_assessed"):
        run(dossiers=[dossier(1, None)], payments=[pay(1, 10, dossier=1)])


def test_duplicate_dossier_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="unique"):
        run(dossiers=[dossier(1, 10), dossier(1, 10)])


def test_duplicate_line_ids_are_caught_by_identity_check() -> None:
    with pytest.raises(ValueError, match="share the identity"):
        run(dossiers=[], lines=[line(1, txn="A", amount=1), line(1, txn="B", amount=1)])


@pytest.mark.parametrize("kwargs", [
    {"default_settlement_days": -1}, {"settlement_days": {"momo": -2}},
    {"default_tolerance": -1}, {"tolerances": {"vnpay": 1.5}}, {"default_settlement_days": True},
])
def test_config_is_validated(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        EngineConfig(**kwargs)  # type: ignore[arg-type]


def test_config_copies_its_mappings() -> None:
    days = {"momo": 1}
    config = EngineConfig(settlement_days=days)
    days["momo"] = 9
    assert config.days_for("momo") == 1
    assert config.days_for("vnpay") == 2
    assert config.tolerance_for("vnpay") == 0
    assert not config.needs_settlement("cash")


def test_as_of_is_only_used_for_deadlines() -> None:
    p = pay(1, 10_000, dossier=1, paid_at=plus(AS_OF, days=5))  # recorded after as_of
    result = run(dossiers=[dossier(1, 20_000)], payments=[p])
    assert ids(result) == ["underpaid:dossier=1"]
