"""fee_invoice_mismatch, pure (recon.engine.fee_invoices): a subscription month's invoices in
force against its contract's charge, an invoice no contract covers, replacements; any input
order gives the same findings (Hypothesis)."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from recon.contracts import load_contracts
from recon.contracts.model import Contract, ContractBook
from recon.engine.fee_invoices import (
    InvoiceRow,
    judge_invoices,
    needed_months,
    replacements,
)
from recon.engine.kinds import REGISTRY

BOOK = load_contracts()  # the shipped demo contracts: sepay 199.000 ₫ + 100 ₫ above 3.000
FEB = date(2021, 2, 1)


def test_a_month_invoiced_as_its_contract_is_no_finding() -> None:
    rows = [InvoiceRow(1, "sepay", "SP-1", FEB, 199_000)]
    out = judge_invoices(rows, {("sepay", FEB): 2_000}, BOOK)
    assert out.findings == [] and [m.expected for m in out.months] == [199_000]
    # overage: 3.050 transactions, 50 above the package at 100 ₫
    over = judge_invoices([InvoiceRow(1, "sepay", "SP-1", FEB, 204_000)],
                          {("sepay", FEB): 3_050}, BOOK)
    assert over.findings == [] and over.months[0].expected == 204_000


def test_an_invoice_above_the_contract_is_one_finding_in_both_languages() -> None:
    rows = [InvoiceRow(7, "sepay", "SP-2", FEB, 221_000)]
    (found,) = judge_invoices(rows, {("sepay", FEB): 10}, BOOK).findings
    assert found.identity == "fee_invoice_mismatch:fee_invoice=7"
    assert (found.expected_amount, found.actual_amount, found.delta) == (199_000, 221_000,
                                                                         22_000)
    assert found.provider == "sepay" and found.payment_id is None
    assert "Hóa đơn SP-2 của SePay cho tháng 02/2021 đòi 221.000\u00a0₫" in found.explanation
    assert "nhiều hơn 22.000\u00a0₫" in found.explanation and "sepay-demo" in found.explanation
    assert "Invoice SP-2 of SePay for 2021-02 asks 221.000\u00a0₫, 22.000\u00a0₫ more" in (
        found.explanation_en)
    assert REGISTRY.parse_identity(found.identity) == ("fee_invoice_mismatch",
                                                      {"fee_invoice": 7})


def test_within_the_contracts_tolerance_is_no_finding() -> None:
    # the demo's tolerance is 1 đồng
    assert judge_invoices([InvoiceRow(1, "casso", "C-1", FEB, 150_001)], {},
                          BOOK).findings == []
    assert len(judge_invoices([InvoiceRow(1, "casso", "C-1", FEB, 150_002)], {},
                              BOOK).findings) == 1


def test_a_replacement_takes_the_place_of_the_invoice_it_corrects() -> None:
    wrong = InvoiceRow(3, "sepay", "SP-2", FEB, 221_000)
    fixed = InvoiceRow(9, "sepay", "SP-2B", FEB, 199_000, replaces="SP-2")
    assert replacements([wrong, fixed]) == {3: fixed}
    out = judge_invoices([fixed, wrong], {}, BOOK)
    assert out.findings == [] and out.month_of(3) is out.month_of(9)
    assert out.months[0].invoices == (fixed,)
    # a chain of replacements: the first invoice belongs to the month of the last
    third = InvoiceRow(12, "sepay", "SP-2C", FEB, 199_000, replaces="SP-2B")
    chained = judge_invoices([wrong, fixed._replace(amount=1), third], {}, BOOK)
    assert chained.findings == [] and chained.month_of(3) is chained.month_of(12)
    assert chained.month_of(3) is not None and chained.month_of(3).invoices == (third,)
    # a replacement still wrong is a finding about the replacement
    still = InvoiceRow(9, "sepay", "SP-2B", FEB, 200_000, replaces="SP-2")
    (found,) = judge_invoices([wrong, still], {}, BOOK).findings
    assert found.identity.endswith("=9") and "thay thế hóa đơn SP-2" in found.explanation


def test_two_invoices_of_a_month_are_summed() -> None:
    rows = [InvoiceRow(4, "sepay", "A", FEB, 150_000), InvoiceRow(5, "sepay", "B", FEB, 49_000)]
    assert judge_invoices(rows, {}, BOOK).findings == []
    (found,) = judge_invoices(rows[:1], {}, BOOK).findings
    assert found.delta == -49_000 and "ít hơn 49.000" in found.explanation


def test_a_month_no_contract_covers_and_what_is_not_judged() -> None:
    before = date(2020, 12, 1)  # the demo contracts start in 2021
    (found,) = judge_invoices([InvoiceRow(2, "casso", "C-0", before, 150_000)], {},
                              BOOK).findings
    assert (found.expected_amount, found.actual_amount) == (0, 150_000)
    assert "không có hợp đồng phí nào của Casso" in found.explanation
    # VNPay prices per transaction: its invoices (a deducted charge) are not judged
    assert judge_invoices([InvoiceRow(1, "vnpay", "V-1", FEB, 30_000)], {}, BOOK).findings == []
    # no contract at all (production without RECON_CONTRACTS_FILE): nothing is judged
    empty = judge_invoices([InvoiceRow(2, "casso", "C-0", before, 150_000)], {},
                           ContractBook())
    assert empty.findings == [] and not empty.active


def test_a_contract_starting_mid_month_covers_it_without_judging_it() -> None:
    mid = Contract(id="sepay-mid", provider="sepay", channel="*", valid_from=date(2021, 2, 15),
                   valid_to=None, kind="subscription", monthly_vnd=100_000)
    book = ContractBook((mid,))
    out = judge_invoices([InvoiceRow(1, "sepay", "S", FEB, 50_000)], {}, book)
    assert out.findings == [] and not out.months[0].judged
    assert needed_months([InvoiceRow(1, "sepay", "S", date(2021, 3, 1), 1)], book) == [
        ("sepay", date(2021, 3, 1))]


_ROWS = st.lists(st.tuples(st.sampled_from(["sepay", "casso", "vnpay", "payos"]),
                           st.sampled_from([date(2020, 12, 1), FEB, date(2021, 3, 1)]),
                           st.integers(1, 400_000), st.booleans()),
                 min_size=0, max_size=8)


@settings(max_examples=150, deadline=None)
@given(_ROWS, st.randoms(use_true_random=False), st.integers(0, 5_000))
def test_any_order_gives_the_same_findings(raw: list[tuple[str, date, int, bool]],
                                           rnd: object, count: int) -> None:
    rows: list[InvoiceRow] = []
    for i, (provider, month, amount, replacing) in enumerate(raw, start=1):
        earlier = [r for r in rows if r.provider == provider and r.period == month]
        target = earlier[-1].number if replacing and earlier else None
        rows.append(InvoiceRow(i, provider, f"N{i}", month, amount, target))
    counts = {key: count for key in needed_months(rows, BOOK)}
    first = judge_invoices(rows, counts, BOOK)
    shuffled = list(rows)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    again = judge_invoices(shuffled, counts, BOOK)
    assert first.findings == again.findings
    # every finding names an invoice in force, the lowest of its month
    gone = replacements(rows)
    for f in first.findings:
        lead = int(f.identity.rsplit("=", 1)[1])
        assert lead not in gone
        its = [r for r in rows if r.id not in gone and (r.provider, r.period) == next(
            (x.provider, x.period) for x in rows if x.id == lead)]
        assert lead == min(r.id for r in its) and f.actual_amount == sum(r.amount for r in its)
