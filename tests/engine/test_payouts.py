"""The pure payout matcher (recon/engine/payouts.py): batches by session, 1:1, N:1, a named
difference, an unexplained one, unexpected credits, missing batches, banking days."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta

import pytest

from recon.clock import VN_TZ
from recon.engine.payouts import (
    BankCredit,
    Deduction,
    PayoutConfig,
    ProviderPayout,
    build_batches,
    is_banking_day,
    match_payouts,
    weekend_add_banking_days,
)
from recon.engine.records import SettlementLineRow

VNPAY = ProviderPayout("vnpay", r"\bVNPAY\b", days=1, merge_non_banking_days=True)
MOMO = ProviderPayout("momo", r"\bMSERVICE\b", days=1)
CONFIG = PayoutConfig(providers={"vnpay": VNPAY, "momo": MOMO})

# 2026-10-02 is a Friday
FRI, SAT, SUN, MON, TUE = (date(2026, 10, 2) + timedelta(days=i) for i in range(5))


def line(lid: int, day: date, amount: int, fee: int = 0, provider: str = "vnpay",
         hour: int = 10) -> SettlementLineRow:
    at = datetime.combine(day, time(hour), VN_TZ).astimezone(UTC)
    return SettlementLineRow(lid, provider, f"T{lid}", amount, fee, amount - fee, day, at)


def credit(cid: int, day: date, amount: int, memo: str = "VNPAY TT PHIEN",
           ref: str | None = None) -> BankCredit:
    return BankCredit(cid, ref or f"FT{cid}", amount, day, memo)


def at(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), VN_TZ)


def kinds(outcome: object) -> list[tuple[str, int | None, int]]:
    return [(d.kind, d.settlement_line_id, d.delta)
            for d in outcome.findings]  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- banking days


def test_weekend_default_skips_saturday_and_sunday() -> None:
    assert weekend_add_banking_days(FRI, 1) == MON
    assert weekend_add_banking_days(FRI, 0) == FRI
    assert weekend_add_banking_days(SAT, 1) == MON
    assert weekend_add_banking_days(MON, 2) == date(2026, 10, 7)
    assert [is_banking_day(weekend_add_banking_days, d) for d in (FRI, SAT, SUN, MON)] == [
        True, False, False, True]
    with pytest.raises(ValueError, match="banking days"):
        weekend_add_banking_days(FRI, -1)


def test_vnpay_session_runs_over_the_weekend_and_is_due_the_next_banking_day() -> None:
    batches = build_batches([line(1, FRI, 100_000), line(2, SAT, 50_000),
                             line(3, SUN, 20_000), line(4, MON, 70_000)], CONFIG)
    assert [(b.session_on, b.last_day, b.expected_on, b.net, len(b.lines)) for b in batches] == [
        (FRI, SUN, MON, 170_000, 3), (MON, MON, TUE, 70_000, 1)]


def test_a_holiday_from_the_calendar_merges_into_the_session_before_it() -> None:
    holiday = MON

    def add(day: date, n: int) -> date:
        current = day
        for _ in range(n):
            current += timedelta(days=1)
            while current.weekday() >= 5 or current == holiday:
                current += timedelta(days=1)
        return current

    config = PayoutConfig(providers={"vnpay": VNPAY}, add_banking_days=add)
    [batch] = build_batches([line(1, FRI, 1_000), line(2, MON, 2_000)], config)
    assert (batch.session_on, batch.last_day, batch.expected_on, batch.net) == (
        FRI, MON, TUE, 3_000)


def test_a_provider_without_merging_has_one_batch_per_calendar_day() -> None:
    batches = build_batches([line(1, SAT, 10_000, provider="momo"),
                             line(2, SUN, 20_000, provider="momo")], CONFIG)
    assert [(b.session_on, b.expected_on) for b in batches] == [(SAT, MON), (SUN, MON)]


def test_the_session_is_the_vietnam_date_of_the_transaction() -> None:
    late = line(1, FRI, 10_000, hour=23)  # 23:00 ICT is 16:00 UTC: still Friday in Vietnam
    [batch] = build_batches([late], PayoutConfig(providers={"momo": MOMO, "vnpay": VNPAY}))
    assert batch.session_on == FRI


# --------------------------------------------------------------------------- matching


def test_one_credit_pays_one_batch_exactly() -> None:
    outcome = match_payouts(
        lines=[line(1, MON, 100_000, fee=2_000), line(2, MON, 50_000, fee=1_000)],
        credits=[credit(10, TUE, 147_000)], config=CONFIG, as_of=at(date(2026, 10, 9)))
    assert outcome.findings == []
    [match] = outcome.matches
    assert (match.credit.id, [b.first_line_id for b in match.batches], match.difference) == (
        10, [1], 0)
    assert outcome.states == {1: "paid"}


def test_one_credit_pays_several_sessions_n_to_1() -> None:
    lines = [line(1, MON, 100_000, provider="momo"), line(2, TUE, 30_000, provider="momo"),
             line(3, date(2026, 10, 7), 5_000, provider="momo")]
    outcome = match_payouts(lines=lines, credits=[credit(9, date(2026, 10, 7), 130_000,
                                                         memo="MSERVICE DOI SOAT")],
                            config=CONFIG, as_of=at(date(2026, 10, 7), 9))
    assert outcome.findings == []
    [match] = outcome.matches
    assert [b.first_line_id for b in match.batches] == [1, 2]
    assert outcome.states == {1: "paid", 2: "paid", 3: "waiting"}


def test_a_chargeback_deducted_is_matched_with_the_difference_named() -> None:
    outcome = match_payouts(
        lines=[line(1, MON, 500_000)], credits=[credit(7, TUE, 320_000)],
        deductions=[Deduction("vnpay", "chargeback", "VNP99", 180_000)],
        config=CONFIG, as_of=at(date(2026, 10, 9)))
    assert kinds(outcome) == [("payout_mismatch", 7, -180_000)]
    [finding] = outcome.findings
    assert "VNP99" in finding.explanation and "180.000" in finding.explanation
    assert "chargeback" in finding.explanation_en
    assert outcome.states == {1: "differs"}


def test_a_refund_line_lowers_its_batch_and_is_not_deducted_again() -> None:
    """A refund line (VNP99 refunded, 180,000 plus a 3,000 refund fee) lowers Tuesday's
    batch: its net is 500,000 - 5,000 - 183,000. The chargeback of VNP99 is not also offered
    as a deduction: the refund is counted once."""
    sale = line(1, MON, 500_000, fee=5_000)
    refund = line(2, TUE, 180_000, fee=3_000)._replace(provider_txn_id="RF99",
                                                        refund_of="VNP99")
    other = line(3, TUE, 400_000, fee=4_000)
    batches = build_batches([sale, refund, other], CONFIG)
    assert [(b.session_on, b.gross, b.fee, b.net) for b in batches] == [
        (MON, 500_000, 5_000, 495_000), (TUE, 220_000, 7_000, 213_000)]
    chargeback = Deduction("vnpay", "chargeback", "VNP99", 180_000)
    paid = match_payouts(
        lines=[sale, refund, other],
        credits=[credit(7, TUE, 495_000), credit(8, date(2026, 10, 7), 213_000)],
        deductions=[chargeback], config=CONFIG, as_of=at(date(2026, 10, 9)))
    assert kinds(paid) == [] and paid.states == {1: "paid", 2: "paid"}
    # credited the batch less the refund once more: a mismatch left unexplained (the
    # chargeback is not taken to explain it), never a second deduction
    short = match_payouts(
        lines=[sale, refund, other],
        credits=[credit(7, TUE, 495_000), credit(8, date(2026, 10, 7), 213_000 - 180_000)],
        deductions=[chargeback], config=CONFIG, as_of=at(date(2026, 10, 9)))
    assert kinds(short) == [("payout_mismatch", 8, -180_000)]
    assert short.matches[-1].named == "unexplained" and short.matches[-1].deduction is None
    # without the refund line the chargeback still explains a short credit, as before
    old = match_payouts(lines=[sale, other], credits=[credit(7, TUE, 495_000),
                                                    credit(8, date(2026, 10, 7), 216_000)],
                        deductions=[chargeback], config=CONFIG, as_of=at(date(2026, 10, 9)))
    assert old.matches[-1].named == "deduction"


def test_a_session_of_refunds_only_is_taken_off_the_next_one() -> None:
    """Monday sees only a refund (100,000 and a 3,000 refund fee): nothing is credited for it
    (never payout_missing); Tuesday's batch owes 103,000 less, and its credit is exact."""
    refund = line(1, MON, 100_000, fee=3_000)._replace(refund_of="T0")
    sale = line(2, TUE, 400_000, fee=4_000)
    batches = build_batches([refund, sale], CONFIG)
    assert [(b.session_on, b.net, b.carried_in, b.expected_credit, b.carries_forward)
            for b in batches] == [(MON, -103_000, 0, 0, True),
                                  (TUE, 396_000, -103_000, 293_000, False)]
    outcome = match_payouts(lines=[refund, sale], credits=[credit(7, date(2026, 10, 7), 293_000)],
                            config=CONFIG, as_of=at(date(2026, 10, 20)))
    assert kinds(outcome) == [] and outcome.states == {1: "paid", 2: "paid"}


def test_a_fee_invoice_deducted_is_named() -> None:
    outcome = match_payouts(
        lines=[line(1, MON, 500_000)], credits=[credit(7, TUE, 450_000)],
        deductions=[Deduction("vnpay", "fee_invoice", "HD 0042", 50_000)],
        config=CONFIG, as_of=at(date(2026, 10, 9)))
    [finding] = outcome.findings
    assert (finding.kind, finding.expected_amount, finding.actual_amount) == (
        "payout_mismatch", 500_000, 450_000)
    assert "hóa đơn phí HD 0042" in finding.explanation


def test_the_gross_paid_by_a_net_provider_names_the_fee() -> None:
    outcome = match_payouts(lines=[line(1, MON, 200_000, fee=4_000)],
                            credits=[credit(3, TUE, 200_000)], config=CONFIG,
                            as_of=at(date(2026, 10, 9)))
    assert kinds(outcome) == [("payout_mismatch", 3, 4_000)]
    assert "fee" in outcome.findings[0].explanation_en


def test_a_provider_paying_gross_expects_the_gross() -> None:
    gross = PayoutConfig(providers={"vnpay": ProviderPayout("vnpay", "VNPAY", pays_gross=True)})
    outcome = match_payouts(lines=[line(1, MON, 200_000, fee=4_000)],
                            credits=[credit(3, TUE, 200_000)], config=gross,
                            as_of=at(date(2026, 10, 9)))
    assert outcome.findings == [] and outcome.states == {1: "paid"}


def test_a_credit_on_the_expected_day_with_another_amount_is_a_mismatch() -> None:
    outcome = match_payouts(lines=[line(1, MON, 300_000)], credits=[credit(4, TUE, 290_000)],
                            config=CONFIG, as_of=at(date(2026, 10, 9)))
    [finding] = outcome.findings
    assert (finding.kind, finding.identity, finding.delta) == (
        "payout_mismatch", "payout_mismatch:settlement_line=4", -10_000)
    assert "10.000\u00a0₫" in finding.explanation and "chưa rõ" in finding.explanation


def test_a_provider_credit_no_batch_explains_is_unexpected() -> None:
    outcome = match_payouts(lines=[line(1, MON, 300_000)],
                            credits=[credit(4, TUE, 300_000), credit(5, TUE, 77_000)],
                            config=CONFIG, as_of=at(date(2026, 10, 9)))
    assert kinds(outcome) == [("payout_unexpected", 5, 77_000)]
    assert outcome.findings[0].provider == "vnpay"


def test_a_credit_with_no_provider_memo_is_none_of_the_payouts_business() -> None:
    outcome = match_payouts(lines=[], credits=[credit(4, TUE, 180_000, memo="HS7K2P NOP PHI")],
                            config=CONFIG, as_of=at(TUE))
    assert outcome.findings == [] and outcome.credits == {}


def test_a_batch_not_credited_is_missing_only_after_its_expected_day() -> None:
    lines = [line(1, FRI, 100_000)]  # Friday's session, due Monday
    on_monday = match_payouts(lines=lines, credits=[], config=CONFIG, as_of=at(MON, 23))
    assert on_monday.findings == [] and on_monday.states == {1: "waiting"}
    on_tuesday = match_payouts(lines=lines, credits=[], config=CONFIG,
                               as_of=datetime.combine(TUE, time(0), VN_TZ))
    assert kinds(on_tuesday) == [("payout_missing", 1, -100_000)]
    finding = on_tuesday.findings[0]
    assert finding.identity == "payout_missing:settlement_line=1"
    assert "02/10/2026–04/10/2026" in finding.explanation and "05/10/2026" in finding.explanation


def test_a_late_credit_still_pays_its_batch_within_the_late_days() -> None:
    lines = [line(1, MON, 100_000)]
    late = match_payouts(lines=lines, credits=[credit(2, date(2026, 10, 9), 100_000)],
                         config=CONFIG, as_of=at(date(2026, 10, 12)))
    assert late.findings == [] and late.states == {1: "paid"}
    too_late = match_payouts(lines=lines, credits=[credit(2, date(2026, 10, 30), 100_000)],
                             config=CONFIG, as_of=at(date(2026, 10, 30)))
    assert sorted(k for k, _, _ in kinds(too_late)) == ["payout_missing", "payout_unexpected"]


def test_a_credit_before_the_session_pays_nothing() -> None:
    outcome = match_payouts(lines=[line(1, TUE, 100_000)], credits=[credit(2, MON, 100_000)],
                            config=CONFIG, as_of=at(MON))
    assert kinds(outcome) == [("payout_unexpected", 2, 100_000)]


def test_the_answer_does_not_depend_on_input_order() -> None:
    lines = [line(i, date(2026, 10, 1) + timedelta(days=i % 9), 10_000 * (i + 1), fee=i,
                  provider=("vnpay", "momo")[i % 2]) for i in range(1, 30)]
    base = match_payouts(lines=lines, credits=[], config=CONFIG, as_of=at(date(2026, 10, 12)))
    credits = [credit(100 + i, b.expected_on, b.net + (5 if i % 4 == 0 else 0),
                      memo="VNPAY" if b.provider == "vnpay" else "MSERVICE")
               for i, b in enumerate(base.batches)]
    first = match_payouts(lines=lines, credits=credits, config=CONFIG,
                          as_of=at(date(2026, 10, 12)))
    rng = random.Random(7)
    for _ in range(5):
        shuffled_lines, shuffled_credits = lines[:], credits[:]
        rng.shuffle(shuffled_lines)
        rng.shuffle(shuffled_credits)
        again = match_payouts(lines=shuffled_lines, credits=shuffled_credits, config=CONFIG,
                              as_of=at(date(2026, 10, 12)))
        assert again.findings == first.findings
    assert {d.kind for d in first.findings} == {"payout_mismatch"}


def test_a_bad_provider_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="regular expression"):
        ProviderPayout("vnpay", "(")
    with pytest.raises(ValueError, match="whole number"):
        ProviderPayout("vnpay", "VNPAY", days=-1)


def test_no_batch_is_missing_beyond_the_statements_imported() -> None:
    lines = [line(1, FRI, 100_000), line(2, MON, 50_000)]  # due Monday and Tuesday
    outcome = match_payouts(lines=lines, credits=[], config=CONFIG,
                            as_of=at(date(2026, 10, 9)), statements_until=MON)
    assert kinds(outcome) == [("payout_missing", 1, -100_000)]
    assert outcome.states == {1: "missing", 2: "waiting"}
