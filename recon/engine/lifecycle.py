"""What a run changes: which findings are new, which stay open, which no longer hold and why.

The runner passes the identities of the discrepancies that are open before the run and the
:class:`~recon.engine.core.Reconciliation` of this run. :func:`classify` says which findings to
insert (``new``), which to refresh (``still_open``: amounts and sentences may have moved), and
which to close as ``auto_resolved`` (``resolved``), each with one sentence in Vietnamese and in
English saying what changed ("the settlement arrived on 2026-11-25"), read from the facts this
run saw. Pure, like the rest of the engine. Each kind's reason is the ``resolve`` of its entry
in the registry the run used (:mod:`recon.engine.kinds`).

For a partial run (recent activity only) pass ``partial=True``: an open discrepancy whose
subject (dossier / payment / settlement line) was not among this run's inputs is neither
confirmed nor resolved but left ``untouched``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple

from recon.clock import VN_TZ
from recon.engine import (
    deposits,
    explain,
    fee_invoices,
    forwarding,
    payouts,
    portal,
    remittances,
)
from recon.engine.core import Reconciliation, settlement_deadline
from recon.engine.explain import date_en, date_vi, vnd
from recon.engine.records import REFUNDED, SUCCEEDED, Discrepancy, PaymentRow

Pair = tuple[str, str]


class Resolution(NamedTuple):
    """A previously open discrepancy that no longer holds, and why (vi, en)."""

    identity: str
    kind: str
    reason: str
    reason_en: str


@dataclass(frozen=True, slots=True)
class Classification:
    new: list[Discrepancy]
    still_open: list[Discrepancy]
    resolved: list[Resolution]
    untouched: list[str]


def classify(
    previous_open: Iterable[str], result: Reconciliation, *, partial: bool = False
) -> Classification:
    """Split ``previous_open`` and ``result`` into new / still open / resolved / untouched.

    Every list is sorted by identity. A previous identity that cannot be parsed is a caller
    error and raises ``ValueError``.
    """
    kinds = result.kinds
    previous = set(previous_open)
    for identity in previous:
        kinds.parse_identity(identity)  # fail loudly on rubbish rather than resolve it
    current = {d.identity for d in result.discrepancies}
    new = [d for d in result.discrepancies if d.identity not in previous]
    still_open = [d for d in result.discrepancies if d.identity in previous]
    resolved: list[Resolution] = []
    untouched: list[str] = []
    for identity in sorted(previous - current):
        if partial and not result.covers(identity):
            untouched.append(identity)
            continue
        kind, ids = kinds.parse_identity(identity)
        vi, en = kinds[kind].resolve(ids, result)
        resolved.append(Resolution(identity, kind, vi, en))
    return Classification(new, still_open, resolved, untouched)


def resolution_reason(kind: str, ids: dict[str, int], result: Reconciliation) -> Pair:
    """Why a ``kind`` finding about ``ids`` no longer holds, given this run's facts (the
    ``resolve`` of the kind's entry in the registry the run used)."""
    return result.kinds[kind].resolve(ids, result)


# --------------------------------------------------------------------------- per kind
#
# One reason per built-in kind, named in its entry of recon.engine.kinds.

_GONE_DOSSIER = (
    "Hồ sơ không còn trong dữ liệu đối soát.",
    "The dossier is no longer in the reconciled data.",
)
_GONE_PAYMENT = (
    "Khoản thanh toán không còn trong dữ liệu đối soát.",
    "The payment is no longer in the reconciled data.",
)
_GONE_LINE = (
    "Dòng quyết toán không còn trong dữ liệu đối soát.",
    "The settlement line is no longer in the reconciled data.",
)


def _fallback(result: Reconciliation) -> Pair:
    when = result.as_of.astimezone(VN_TZ)
    return (
        f"Điều kiện phát sinh chênh lệch không còn đúng tại thời điểm đối soát "
        f"{when:%d/%m/%Y %H:%M}.",
        f"The condition no longer holds as of {when:%Y-%m-%d %H:%M} (Vietnam time).",
    )


def _status_changed(payment: PaymentRow) -> Pair:
    return (
        f"Khoản thanh toán nay được ghi nhận là {explain.status_vi(payment.status)}.",
        f"The payment is now recorded as {payment.status}.",
    )


def _dossier_totals(kind: str, ids: dict[str, int], result: Reconciliation) -> Pair:
    did = ids["dossier"]
    dossier = result.dossier(did)
    assessed = result.assessed_total(did)
    if dossier is None or assessed is None:
        return _GONE_DOSSIER
    paid = result.paid_total(did)
    code = dossier.code
    if paid == 0:
        return (
            f"Hồ sơ {code} không còn khoản thanh toán thành công nào.",
            f"Dossier {code} no longer has a succeeded payment.",
        )
    if paid == assessed:
        return (
            f"Hồ sơ {code} nay đã nộp đủ: {vnd(paid)} trên {vnd(assessed)} phải nộp.",
            f"Dossier {code} is now paid in full: {vnd(paid)} of {vnd(assessed)} assessed.",
        )
    if paid < assessed:  # was overpaid
        return (
            f"Hồ sơ {code} nay nộp {vnd(paid)}, ít hơn {vnd(assessed)} phải nộp (báo riêng "
            f"là nộp thiếu).",
            f"Dossier {code} is now paid {vnd(paid)}, less than the {vnd(assessed)} assessed "
            f"(reported separately as underpaid).",
        )
    if kind == "underpaid":
        return (
            f"Hồ sơ {code} nay đã nộp {vnd(paid)}, không còn thiếu so với {vnd(assessed)} "
            f"phải nộp (phần thừa, nếu có, được báo riêng).",
            f"Dossier {code} has now been paid {vnd(paid)}, no longer short of the "
            f"{vnd(assessed)} assessed (any excess is reported separately).",
        )
    return (  # overpaid, and the excess is now wholly explained by duplicates
        f"Phần nộp thừa của hồ sơ {code} nay được báo là các khoản nộp trùng.",
        f"The excess paid on dossier {code} is now reported as duplicate payments.",
    )


def reason_underpaid(ids: dict[str, int], result: Reconciliation) -> Pair:
    return _dossier_totals("underpaid", ids, result)


def reason_overpaid(ids: dict[str, int], result: Reconciliation) -> Pair:
    return _dossier_totals("overpaid", ids, result)


def reason_duplicate_payment(ids: dict[str, int], result: Reconciliation) -> Pair:
    payment = result.payment(ids["payment"])
    if payment is None:
        return _GONE_PAYMENT
    if payment.status != SUCCEEDED:
        return _status_changed(payment)
    did = ids["dossier"]
    matched = result.matched_dossier(payment)
    if matched != did:
        return _rematched(payment, matched, result)
    dossier = result.dossier(did)
    assessed = result.assessed_total(did)
    if dossier is None or assessed is None:
        return _GONE_DOSSIER
    paid = result.paid_total(did)
    if paid <= assessed:
        return (
            f"Tổng đã nộp của hồ sơ {dossier.code} ({vnd(paid)}) nay không vượt số phải nộp "
            f"{vnd(assessed)}.",
            f"Dossier {dossier.code}'s total paid ({vnd(paid)}) no longer exceeds the "
            f"{vnd(assessed)} assessed.",
        )
    return (
        f"Khoản này không còn được coi là nộp trùng: phần thừa của hồ sơ {dossier.code} "
        f"được báo theo khoản thanh toán khác.",
        f"This payment is no longer taken as the duplicate: dossier {dossier.code}'s excess "
        f"is reported against other payments.",
    )


def _rematched(payment: PaymentRow, matched: int | None, result: Reconciliation) -> Pair:
    if matched is None:
        return (
            "Khoản thanh toán nay không còn gắn với hồ sơ này.",
            "The payment is no longer matched to this dossier.",
        )
    dossier = result.dossier(matched)
    code = dossier.code if dossier is not None else str(matched)
    return (
        f"Khoản thanh toán nay được gắn với hồ sơ {code}.",
        f"The payment is now matched to dossier {code}.",
    )


def reason_unmatched_payment(ids: dict[str, int], result: Reconciliation) -> Pair:
    payment = result.payment(ids["payment"])
    if payment is None:
        return _GONE_PAYMENT
    if payment.status != SUCCEEDED:
        return _status_changed(payment)
    matched = result.matched_dossier(payment)
    if matched is not None:
        return _rematched(payment, matched, result)
    return _fallback(result)


def reason_multi_reference_unsplit(ids: dict[str, int], result: Reconciliation) -> Pair:
    payment = result.payment(ids["payment"])
    if payment is None:
        return _GONE_PAYMENT
    if payment.status != SUCCEEDED:
        return _status_changed(payment)
    matched = result.matched_dossier(payment)
    if matched is not None:
        return _rematched(payment, matched, result)
    if result.is_allocated(payment.id):
        return (
            "Khoản thanh toán nay đã được chia cho các hồ sơ.",
            "The payment is now allocated across its dossiers.",
        )
    return _fallback(result)


def reason_missing_settlement(ids: dict[str, int], result: Reconciliation) -> Pair:
    payment = result.payment(ids["payment"])
    if payment is None:
        return _GONE_PAYMENT
    lines = result.settlement_lines_of(payment)
    if lines:
        day = lines[0].settled_on
        return (
            f"Khoản thanh toán đã được quyết toán ngày {date_vi(day)}.",
            f"The settlement arrived on {date_en(day)}.",
        )
    if payment.status != SUCCEEDED:
        return _status_changed(payment)
    config = result.config
    if not config.needs_settlement(payment.provider):
        name_vi, name_en = explain.provider_vi(payment.provider), explain.provider_en(
            payment.provider
        )
        return (
            f"Khoản thanh toán qua {name_vi} nay được cấu hình là không cần quyết toán.",
            f"Payments by {name_en} are now configured as needing no settlement.",
        )
    days = config.days_for(payment.provider)
    deadline = settlement_deadline(payment.paid_at, days, config.calendar)
    unit_vi, unit_en = ("ngày làm việc", "banking days") if config.banking_days else (
        "ngày", "days")
    return (
        f"Hạn quyết toán ({days} {unit_vi}, hết ngày {date_vi(deadline)}) chưa qua tại thời "
        f"điểm đối soát.",
        f"The settlement deadline ({days} {unit_en}, ending {date_en(deadline)}) has not "
        f"passed as of this run.",
    )


def reason_unexpected_settlement(ids: dict[str, int], result: Reconciliation) -> Pair:
    line = result.settlement_line(ids["settlement_line"])
    if line is None:
        return _GONE_LINE
    if line.refund_of is not None:  # a refund line: its sale's payment is now recorded
        return (
            f"Khoản thanh toán được hoàn (giao dịch {explain.provider_vi(line.provider)} mã "
            f"{line.refund_of}) nay đã được ghi nhận.",
            f"The refunded payment ({explain.provider_en(line.provider)} transaction "
            f"{line.refund_of}) has now been recorded.",
        )
    claimant = result.bank_claimant(line.provider, line.provider_txn_id)
    lines = (result.settlement_lines_for(line.provider, line.provider_txn_id)
             if claimant is None else result.settlement_lines_of(claimant))
    if lines and lines[0].id != line.id:
        return _now_duplicate()
    if claimant is not None:  # found by the bank's reference (a bank statement line)
        return (
            f"Khoản thanh toán tương ứng (giao dịch {explain.provider_vi(line.provider)} mã "
            f"{claimant.provider_txn_id}, số tham chiếu ngân hàng {line.provider_txn_id}) nay "
            f"đã được ghi nhận.",
            f"The matching payment ({explain.provider_en(line.provider)} transaction "
            f"{claimant.provider_txn_id}, bank reference {line.provider_txn_id}) has now been "
            f"recorded.",
        )
    return (
        f"Khoản thanh toán tương ứng (giao dịch {explain.provider_vi(line.provider)} mã "
        f"{line.provider_txn_id}) nay đã được ghi nhận.",
        f"The matching payment ({explain.provider_en(line.provider)} transaction "
        f"{line.provider_txn_id}) has now been recorded.",
    )


def _now_duplicate() -> Pair:
    return (
        "Dòng quyết toán này nay được báo là quyết toán trùng.",
        "This settlement line is now reported as a duplicate settlement.",
    )


def _payment_and_line(
    ids: dict[str, int], result: Reconciliation, check: Callable[[PaymentRow, int], Pair]
) -> Pair:
    payment = result.payment(ids["payment"])
    if payment is None:
        return _GONE_PAYMENT
    line = result.settlement_line(ids["settlement_line"])
    if line is None:
        return _GONE_LINE
    if line.refund_of is not None:  # a refund line: paired with its sale's payment
        if (line.provider, line.refund_of) != (payment.provider, payment.provider_txn_id):
            return (
                "Dòng hoàn tiền nay không còn ứng với khoản thanh toán này.",
                "The refund line no longer refers to this payment.",
            )
        return check(payment, line.amount)
    lines = result.settlement_lines_of(payment)
    if all(ln.id != line.id for ln in lines):
        return (
            "Dòng quyết toán nay không còn ứng với khoản thanh toán này.",
            "The settlement line no longer refers to this payment.",
        )
    if lines[0].id != line.id:
        return _now_duplicate()
    return check(payment, line.amount)


def reason_amount_mismatch(ids: dict[str, int], result: Reconciliation) -> Pair:
    def check(payment: PaymentRow, gross: int) -> Pair:
        if payment.status != SUCCEEDED:
            return _status_changed(payment)  # now a status_mismatch, reported separately
        if payment.amount == gross:
            return (
                f"Số tiền thanh toán ({vnd(payment.amount)}) nay khớp với số tiền quyết toán.",
                f"The payment amount ({vnd(payment.amount)}) now equals the settled gross "
                f"amount.",
            )
        return _fallback(result)

    return _payment_and_line(ids, result, check)


def reason_fee_mismatch(ids: dict[str, int], result: Reconciliation) -> Pair:
    """The line is gone or no longer the payment's original, or its fee now agrees with the
    contracts (an operator corrected the contracts file) and its net with gross - fee."""
    line = result.settlement_line(ids["settlement_line"])

    def check(payment: PaymentRow, _gross: int) -> Pair:
        refund = line is not None and line.refund_of is not None
        if payment.status != (REFUNDED if refund else SUCCEEDED):
            return _status_changed(payment)
        if refund and line is not None and line.net == line.amount - line.fee:
            return (
                f"Phí hoàn tiền {vnd(line.fee)} của dòng hoàn tiền nay khớp với hợp đồng phí.",
                f"The refund line's fee of {vnd(line.fee)} now agrees with the fee contract.",
            )
        if line is not None and line.net == line.amount - line.fee:
            return (
                f"Phí {vnd(line.fee)} của dòng quyết toán nay khớp với hợp đồng phí.",
                f"The line's fee of {vnd(line.fee)} now agrees with the fee contract.",
            )
        return _fallback(result)

    return _payment_and_line(ids, result, check)


def reason_status_mismatch(ids: dict[str, int], result: Reconciliation) -> Pair:
    line = result.settlement_line(ids["settlement_line"])

    def check(payment: PaymentRow, _gross: int) -> Pair:
        if line is not None and line.refund_of is not None:  # a refund of a payment
            if payment.status == REFUNDED:
                return _status_changed(payment)
            return _fallback(result)
        if payment.status == SUCCEEDED:
            return _status_changed(payment)
        if payment.status == REFUNDED and result.refund_lines_of(payment):
            return (
                "Nhà cung cấp nay đã báo dòng hoàn tiền cho giao dịch này: khoản quyết toán đã "
                "được hoàn lại.",
                "The provider now reports a refund line for this transaction: the settlement "
                "is reversed.",
            )
        return _fallback(result)

    return _payment_and_line(ids, result, check)


def reason_duplicate_settlement(ids: dict[str, int], result: Reconciliation) -> Pair:
    line = result.settlement_line(ids["settlement_line"])
    if line is None:
        return _GONE_LINE
    claimant = result.bank_claimant(line.provider, line.provider_txn_id)
    lines = (result.settlement_lines_for(line.provider, line.provider_txn_id)
             if claimant is None else result.settlement_lines_of(claimant))
    if len(lines) <= 1:
        return (
            "Dòng quyết toán này nay là dòng duy nhất của giao dịch.",
            "This is now the only settlement line of its transaction.",
        )
    return (
        "Dòng quyết toán này nay được coi là dòng quyết toán gốc của giao dịch (quyết toán "
        "sớm nhất).",
        "This line is now taken as the transaction's original (earliest) settlement.",
    )


def reason_late_for_closed_period(ids: dict[str, int], result: Reconciliation) -> Pair:
    """Never used by a run (a late finding is closed by a person, see
    :mod:`recon.engine.closed`); here for the registry's completeness."""
    return _fallback(result)


# --------------------------------------------------------------------------- payouts
#
# The payout kinds are found by the run's payout pass (recon.engine.payouts); its outcome
# rides on the result (PayoutReconciliation.payouts) and says why a finding went away.

def _payout_outcome(result: Reconciliation) -> payouts.PayoutOutcome | None:
    found = getattr(result, "payouts", None)
    return found if isinstance(found, payouts.PayoutOutcome) else None


def reason_payout_missing(ids: dict[str, int], result: Reconciliation) -> Pair:
    outcome = _payout_outcome(result)
    line = ids.get("settlement_line", 0)
    if outcome is not None:
        match = next((m for first, m in outcome.paid_by.items() if first == line), None)
        if match is not None:
            c = match.credit
            return (f"Đợt đã được ghi có: {c.bank_reference} ngày {c.booked_on:%d/%m/%Y} "
                    f"({vnd(c.amount)}).",
                    f"The batch was credited: {c.bank_reference} of {c.booked_on:%Y-%m-%d} "
                    f"({vnd(c.amount)}).")
        if outcome.batch_of_line(line) is not None:
            return ("Đợt chưa đến hạn ghi có tại thời điểm đối soát.",
                    "The batch's credit is not due yet as of this run.")
    return ("Đợt chuyển tiền không còn trong dữ liệu đối soát.",
            "The payout batch is no longer in the reconciled data.")


def reason_payout_mismatch(ids: dict[str, int], result: Reconciliation) -> Pair:
    outcome = _payout_outcome(result)
    line = ids.get("settlement_line", 0)
    if outcome is not None and line in outcome.credits:
        return ("Khoản ghi có nay khớp đúng số tiền của đợt chuyển tiền.",
                "The credit now matches its batch's amount exactly.")
    return ("Khoản ghi có không còn trong dữ liệu đối soát.",
            "The credit is no longer in the reconciled data.")


def reason_payout_unexpected(ids: dict[str, int], result: Reconciliation) -> Pair:
    outcome = _payout_outcome(result)
    line = ids.get("settlement_line", 0)
    if outcome is not None:
        for match in outcome.matches:
            if match.credit.id == line:
                sessions = explain.sessions_vi(payouts.sessions_of(match))
                sessions_en = explain.sessions_en(payouts.sessions_of(match))
                return (f"Khoản ghi có nay khớp đợt chuyển tiền phiên {sessions}.",
                        f"The credit now pays the batch of session {sessions_en}.")
    return ("Khoản ghi có không còn được xem là tiền chuyển về của nhà cung cấp.",
            "The credit is no longer taken for a provider's payout.")


# --------------------------------------------------------------------------- portal


def reason_portal_mismatch(ids: dict[str, int], result: Reconciliation) -> Pair:
    """The portal pass's outcome rides on the result (PortalReconciliation.portal)."""
    found = getattr(result, "portal", None)
    return portal.reason(ids, found if isinstance(found, portal.PortalOutcome) else None)
# --------------------------------------------------------------------------- receipts
#
# The receipt kinds are found by the run's receipt pass (recon.engine.receipt_check); its
# outcome rides on the result (ReceiptReconciliation.receipts).

def _receipts_seen(result: Reconciliation, payment_id: int | None) -> list[str]:
    outcome = getattr(result, "receipts", None)
    if outcome is None or payment_id is None:
        return []
    from recon.engine.receipt_check import receipt_label  # noqa: PLC0415 - no import cycle

    return [receipt_label(r.form_code, r.series, r.number)
            for r in outcome.receipts_of.get(payment_id, [])]


def reason_receipt_missing(ids: dict[str, int], result: Reconciliation) -> Pair:
    labels = _receipts_seen(result, ids.get("payment"))
    if labels:
        return (f"Đã phát hành biên lai {', '.join(labels)}.",
                f"Receipt(s) {', '.join(labels)} issued.")
    return ("Khoản thu không còn phải có biên lai (không còn thành công hoặc không còn gắn "
            "với hồ sơ).",
            "The payment is no longer owed a receipt (no longer succeeded, or no longer "
            "allocated to the dossier).")


def reason_receipt_mismatch(ids: dict[str, int], result: Reconciliation) -> Pair:
    labels = _receipts_seen(result, ids.get("payment"))
    if labels:
        return (f"Biên lai ({', '.join(labels)}) nay khớp số tiền và các khoản đã nộp.",
                f"The receipts ({', '.join(labels)}) now match what was paid.")
    return ("Biên lai không còn trong dữ liệu đối soát.",
            "The receipts are no longer in the reconciled data.")


def reason_receipt_orphan(ids: dict[str, int], result: Reconciliation) -> Pair:
    del ids, result
    return ("Biên lai nay đã được điều chỉnh hoặc gắn với khoản thu thành công.",
            "The receipts are now adjusted, or belong to a succeeded payment.")


# --------------------------------------------------------------------------- onward transfers
#
# Found by the run's forwarding pass (recon.engine.forwarding); its outcome rides on the result
# (ForwardReconciliation.forwarding).

def _forward_outcome(result: Reconciliation) -> forwarding.ForwardOutcome | None:
    found = getattr(result, "forwarding", None)
    return found if isinstance(found, forwarding.ForwardOutcome) else None


def reason_forward_overdue(ids: dict[str, int], result: Reconciliation) -> Pair:
    outcome = _forward_outcome(result)
    if outcome is not None:
        parts = outcome.parts_of(ids.get("payment", 0))
        if parts and all(p.remaining == 0 for p in parts):
            refs = sorted({t for p in parts for t in p.by})
            named = [t.transfer.reference for t in outcome.transfers if t.transfer.id in refs]
            return (f"Đã chuyển đủ bằng lệnh {', '.join(named)}.",
                    f"Passed on in full by transfer(s) {', '.join(named)}.")
        if parts:
            return ("Khoản phải chuyển chưa quá hạn tại thời điểm đối soát.",
                    "What is owed onward is not past its deadline as of this run.")
    return ("Khoản thu không còn phải chuyển cho đơn vị khác.",
            "The payment no longer owes anything onward.")


def reason_forward_mismatch(ids: dict[str, int], result: Reconciliation) -> Pair:
    outcome = _forward_outcome(result)
    state = None if outcome is None else outcome.transfer(ids.get("transfer", 0))
    if state is not None:
        return (f"Lệnh chuyển nay khớp số phải chuyển ({vnd(state.applied)}).",
                f"The transfer now matches what was owed ({vnd(state.applied)}).")
    return ("Lệnh chuyển không còn trong dữ liệu.", "The transfer is no longer recorded.")


# --------------------------------------------------------------------------- remittances
#
# Found by the run's remittance pass (recon.engine.remittances); its outcome rides on the
# result (RemittanceReconciliation.remittances) and says why a finding went away.

def _remittance_reason(ids: dict[str, int], result: Reconciliation) -> Pair:
    outcome = getattr(result, "remittances", None)
    if not isinstance(outcome, remittances.RemittanceOutcome):
        return _fallback(result)
    key = outcome.key_of(ids)
    if key is None:
        return ("Không còn khoản phải nộp hay đã nộp nào cho tháng và tiểu mục này.",
                "Nothing is owed or remitted for this month and sub-item any more.")
    owed = outcome.owed.get(key, 0)
    paid = outcome.allocation.remitted.get(key, 0)
    vouchers = ", ".join(outcome.allocation.vouchers(key))
    if owed == paid:
        return (f"Số đã nộp ngân sách nay bằng số phải nộp ({vnd(owed)}; giấy nộp tiền "
                f"{vouchers or '—'}).",
                f"What was remitted now equals what is owed ({vnd(owed)}; voucher "
                f"{vouchers or '—'}).")
    due = remittances.due_on(key[2], outcome.due_day)
    if outcome.today <= due and key not in outcome.allocation.settled:
        return (f"Chưa đến hạn nộp (ngày {date_vi(due)}).",
                f"Not due yet (by {date_en(due)}).")
    return (f"Nay đã nộp {vnd(paid)} trên {vnd(owed)} phải nộp (giấy nộp tiền "
            f"{vouchers or '—'}); chênh lệch được báo ở phát hiện khác.",
            f"{vnd(paid)} of {vnd(owed)} owed is now remitted (voucher {vouchers or '—'}); "
            "the difference is reported by another finding.")


reason_remittance_overdue = _remittance_reason
reason_remittance_short = _remittance_reason
reason_remittance_excess = _remittance_reason


# --------------------------------------------------------------------------- deposits
#
# Found by the run's deposit pass (recon.engine.deposits, read by deposit_load); its outcome
# rides on the result (DepositReconciliation.deposits).

def reason_deposit_overdue(ids: dict[str, int], result: Reconciliation) -> Pair:
    outcome = getattr(result, "deposits", None)
    if not isinstance(outcome, deposits.DepositOutcome):
        return _fallback(result)
    item = outcome.item_of(ids)
    if item is None or item[0] not in outcome.judged_collectors:
        return ("Không còn khoản phí nào phải gửi cho kỳ này (hoặc đơn vị chưa có tài khoản phí "
                "chờ nộp ngân sách).",
                "No fee of this period is owed any more (or the organisation has no fee "
                "account awaiting budget remittance).")
    states = outcome.of_item(item)
    if states and all(s.remaining == 0 for s in states):
        paid = sum(s.paid for s in states)
        return (f"Đã gửi đủ {vnd(paid)} vào tài khoản phí chờ nộp ngân sách.",
                f"{vnd(paid)} is now deposited in full in the fee account awaiting budget "
                "remittance.")
    return ("Chưa đến hạn gửi tại thời điểm đối soát.",
            "Not due yet as of this run.")


# --------------------------------------------------------------------------- fee invoices
#
# Found by the run's fee invoice pass (recon.engine.fee_invoices, read by fee_invoice_load);
# its outcome rides on the result (FeeInvoiceReconciliation.fee_invoices).

def reason_fee_invoice_mismatch(ids: dict[str, int], result: Reconciliation) -> Pair:
    outcome = getattr(result, "fee_invoices", None)
    if not isinstance(outcome, fee_invoices.InvoiceOutcome):
        return _fallback(result)
    invoice_id = ids.get("fee_invoice", 0)
    newer = outcome.replaced_by.get(invoice_id)
    month = outcome.month_of(invoice_id)
    if newer is not None:
        if month is not None and month.ok:
            return (f"Hóa đơn đã được thay thế bằng hóa đơn {newer.number}; tháng "
                    f"{month.month:%m/%Y} nay khớp hợp đồng ({vnd(month.invoiced)}).",
                    f"The invoice was replaced by invoice {newer.number}; "
                    f"{month.month:%Y-%m} now agrees with the contract "
                    f"({vnd(month.invoiced)}).")
        return (f"Hóa đơn đã được thay thế bằng hóa đơn {newer.number} (hóa đơn mới được "
                "đối chiếu riêng).",
                f"The invoice was replaced by invoice {newer.number} (the new invoice is "
                "judged on its own).")
    if month is not None and month.ok:
        return (f"Tháng {month.month:%m/%Y} nay khớp hợp đồng: {vnd(month.invoiced)}.",
                f"{month.month:%Y-%m} now agrees with the contract: {vnd(month.invoiced)}.")
    return ("Hóa đơn không còn được đối chiếu (hợp đồng hoặc hóa đơn đã thay đổi).",
            "The invoice is no longer judged (the contracts or the invoices changed).")
