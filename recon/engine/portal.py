"""The portal's daily list against the provider and recon: a three-way comparison. Pure.

Decision 31/2021/QĐ-TTg Art. 36 has agencies reconcile the National Public Service Portal's
online payments daily. Where the portal's list for an agency and a Vietnam day was imported
(:mod:`recon.portal.importer`; the newest list of a day replaces an earlier one), each of its
lines is compared with recon's payments and the providers' settlement lines:

**Matching** a portal line to a payment, in this order, each payment matched once:

1. the provider's transaction id the line gives (and its provider, when given);
2. the payment reference recon minted (the intent's), when the line gives one;
3. otherwise a payment of the same dossier, day and amount not matched yet (the lowest id).

**What is a ``portal_mismatch``** (one finding per subject, every difference named, with
which side says what: the portal, recon, and the provider's settlement line where one exists):

- ``portal_mismatch:payment=<id>``: the portal's line and recon's payment disagree on the
  amount, the status or the dossier; or recon has a payment (succeeded or refunded, of a
  provider the portal lists, of a dossier of the agency, paid that day) the portal's list of
  that day lacks;
- ``portal_mismatch:portal_line=<id>``: the portal lists a payment (succeeded or refunded)
  recon lacks (the provider's line is named when the provider has it), or lists a
  transaction a second time (its payment already matched by another line).

A line the portal lists as failed or pending that recon lacks is no finding: no money moved.
A provider line that neither recon nor the portal has is the core's
``unexpected_settlement``, and a provider amount that differs from recon's is its
``amount_mismatch``: neither is repeated here.

**Runs**: a full run judges every day a list covers; an incremental one the (agency, day)
pairs whose portal lines or payments changed since the previous run's mark
(:mod:`recon.engine.portal_load`). A finding is auto-resolved when its day is judged again and
it no longer holds (the reason says what now agrees).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Final, NamedTuple

from recon.engine.core import Reconciliation, WithPass
from recon.engine.explain import (
    portal_listed_twice,
    portal_mismatch,
    portal_payment_lacks,
    portal_recon_lacks,
    vn_date,
)
from recon.engine.records import Discrepancy

KIND: Final = "portal_mismatch"
LISTED: Final = frozenset({"succeeded", "refunded"})  # statuses where money moved
DEFAULT_UNLISTED: Final = frozenset({"cash"})  # providers the portal never lists

Pair = tuple[str, str]
Day = tuple[int, date]  # (agency id, Vietnam date)


class PortalEntry(NamedTuple):
    """One line of the portal's list (of the newest list covering its agency and day)."""

    id: int
    agency_id: int
    portal_txn_id: str
    dossier_code: str
    amount: int
    status: str
    transaction_at: datetime
    reference: str | None = None
    provider_txn_id: str | None = None
    provider: str | None = None

    @property
    def day(self) -> date:
        return vn_date(self.transaction_at)


class PortalPayment(NamedTuple):
    """A payment as the comparison needs it: with its dossier's code and agency."""

    id: int
    provider: str
    provider_txn_id: str
    amount: int
    status: str
    paid_at: datetime
    reference: str | None = None
    dossier_id: int | None = None
    dossier_code: str | None = None
    agency_id: int | None = None

    @property
    def day(self) -> date:
        return vn_date(self.paid_at)


class ProviderLine(NamedTuple):
    """A provider's settlement line, for what the provider says (amount)."""

    id: int
    provider: str
    provider_txn_id: str
    amount: int


@dataclass
class PortalOutcome:
    """What the comparison found: the findings, the matched pairs (portal line id -> payment
    id), and the (agency, day) pairs it judged."""

    findings: list[Discrepancy] = field(default_factory=list)
    matched: dict[int, int] = field(default_factory=dict)
    judged: set[Day] = field(default_factory=set)
    entries: dict[int, PortalEntry] = field(default_factory=dict)
    payments: dict[int, PortalPayment] = field(default_factory=dict)

    def entry_of_payment(self, payment_id: int) -> PortalEntry | None:
        for line, paid in self.matched.items():
            if paid == payment_id:
                return self.entries.get(line)
        return None


def compare(*, entries: Iterable[PortalEntry], covered: Iterable[Day],
            payments: Iterable[PortalPayment], lines: Iterable[ProviderLine] = (),
            dossiers: Mapping[str, int] | None = None,
            unlisted: frozenset[str] = DEFAULT_UNLISTED) -> PortalOutcome:
    """Compare the portal's lines of the ``covered`` (agency, day) pairs with ``payments``
    (those of the covered days, and any a line names) and the providers' ``lines``.
    ``dossiers``: dossier code -> id (to name the dossier of a line recon lacks)."""
    judged = set(covered)
    out = PortalOutcome(judged=judged)
    rows = sorted((e for e in entries if (e.agency_id, e.day) in judged),
                  key=lambda e: e.id)
    pays = sorted(payments, key=lambda p: p.id)
    out.entries = {e.id: e for e in rows}
    out.payments = {p.id: p for p in pays}
    by_txn: dict[str, list[PortalPayment]] = {}
    by_ref: dict[str, list[PortalPayment]] = {}
    by_dossier_day: dict[tuple[str, date, int], list[PortalPayment]] = {}
    for p in pays:
        by_txn.setdefault(p.provider_txn_id, []).append(p)
        if p.reference:
            by_ref.setdefault(p.reference, []).append(p)
        if p.dossier_code:
            by_dossier_day.setdefault((p.dossier_code, p.day, p.amount), []).append(p)
    line_of: dict[tuple[str, str], ProviderLine] = {}
    for ln in sorted(lines, key=lambda x: x.id):
        line_of.setdefault((ln.provider, ln.provider_txn_id), ln)
    codes = dossiers or {}
    claimed: dict[int, PortalEntry] = {}
    twice: list[tuple[PortalEntry, PortalPayment]] = []
    waiting: list[PortalEntry] = []

    def take(e: PortalEntry, p: PortalPayment) -> None:
        if p.id in claimed:
            twice.append((e, p))
        else:
            claimed[p.id] = e
            out.matched[e.id] = p.id

    for e in rows:  # 1 and 2: by the ids the line gives
        found: PortalPayment | None = None
        if e.provider_txn_id:
            found = next((p for p in by_txn.get(e.provider_txn_id, ())
                          if e.provider is None or p.provider == e.provider), None)
        if found is None and e.reference:
            candidates = by_ref.get(e.reference, [])
            found = next((p for p in candidates if p.amount == e.amount),
                         candidates[0] if candidates else None)
        if found is not None:
            take(e, found)
        else:
            waiting.append(e)
    unmatched: list[PortalEntry] = []
    for e in waiting:  # 3: same dossier, day and amount
        if e.provider_txn_id or e.reference:
            unmatched.append(e)
            continue
        found = next((p for p in by_dossier_day.get((e.dossier_code, e.day, e.amount), ())
                      if p.id not in claimed), None)
        if found is None:
            unmatched.append(e)
        else:
            take(e, found)
    findings = out.findings
    for e in rows:
        paid = out.matched.get(e.id)
        if paid is None:
            continue
        p = out.payments[paid]
        differences = []
        if e.amount != p.amount:
            differences.append("amount")
        if e.status != p.status:
            differences.append("status")
        if e.dossier_code != p.dossier_code:
            differences.append("dossier")
        if not differences:
            continue
        line = line_of.get((p.provider, p.provider_txn_id))
        vi, en = portal_mismatch(e, p, line, differences)
        findings.append(Discrepancy(
            f"{KIND}:payment={p.id}", KIND, p.dossier_id or codes.get(e.dossier_code), p.id,
            None if line is None else line.id, p.provider, p.amount, e.amount,
            e.amount - p.amount, vi, en))
    for e in unmatched:
        if e.status not in LISTED:
            continue
        line = None
        if e.provider_txn_id:
            line = next((ln for (prov, txn), ln in line_of.items()
                         if txn == e.provider_txn_id and e.provider in (None, prov)), None)
        vi, en = portal_recon_lacks(e, line)
        findings.append(Discrepancy(
            f"{KIND}:portal_line={e.id}", KIND, codes.get(e.dossier_code), None,
            None if line is None else line.id, e.provider, 0, e.amount, e.amount, vi, en))
    for e, p in twice:
        first = claimed[p.id]
        vi, en = portal_listed_twice(e, first, p)
        findings.append(Discrepancy(
            f"{KIND}:portal_line={e.id}", KIND, p.dossier_id, p.id, None, p.provider,
            0, e.amount, e.amount, vi, en))
    for p in pays:
        if (p.id in claimed or p.status not in LISTED or p.provider in unlisted
                or p.agency_id is None or (p.agency_id, p.day) not in judged):
            continue
        line = line_of.get((p.provider, p.provider_txn_id))
        vi, en = portal_payment_lacks(p, line)
        findings.append(Discrepancy(
            f"{KIND}:payment={p.id}", KIND, p.dossier_id, p.id,
            None if line is None else line.id, p.provider, p.amount, 0, -p.amount, vi, en))
    findings.sort(key=lambda d: d.identity)
    return out


def reason(ids: Mapping[str, int], outcome: PortalOutcome | None) -> Pair:
    """Why a ``portal_mismatch`` about ``ids`` no longer holds (its day was judged again)."""
    if outcome is not None and "payment" in ids:
        e = outcome.entry_of_payment(ids["payment"])
        if e is not None:
            return (f"Cổng DVCQG và recon nay ghi giống nhau giao dịch {e.portal_txn_id}.",
                    f"The portal and recon now agree on transaction {e.portal_txn_id}.")
        return ("Khoản thanh toán không còn thuộc danh sách phải có trên Cổng DVCQG (trạng "
                "thái, hồ sơ hoặc ngày đã thay đổi).",
                "The payment is no longer one the portal's list must have (its status, "
                "dossier or day changed).")
    if outcome is not None and ids.get("portal_line") in outcome.matched:
        return ("Giao dịch của Cổng DVCQG nay khớp một khoản thanh toán của recon.",
                "The portal's transaction now matches a payment of recon.")
    return ("Dòng của Cổng DVCQG không còn trong danh sách mới nhất của ngày đó, hoặc không "
            "còn ghi nhận tiền đã chuyển.",
            "The portal's line is no longer in the newest list of its day, or no longer "
            "records money paid.")


class PortalReconciliation(WithPass):
    """A run's result with the portal findings added (:class:`~recon.engine.core.WithPass`):
    it judged a ``portal_mismatch`` identity when the portal pass judged its day."""

    __slots__ = ("_judged", "portal")

    def __init__(self, base: Reconciliation, outcome: PortalOutcome, judged: set[str],
                 discrepancies: list[Discrepancy]) -> None:
        super().__init__(base, discrepancies)
        self._judged = judged
        self.portal = outcome

    def judged(self, kind: str, ids: dict[str, int], identity: str) -> bool | None:
        return identity in self._judged if kind == KIND else None


def with_portal(base: Reconciliation, outcome: PortalOutcome,
                judged: set[str]) -> PortalReconciliation:
    """The run's result: the base's findings (less any ``portal_mismatch`` it may carry) plus
    the portal's; ``judged``: the identities whose subject the portal pass judged (found now
    or previously open on a judged day)."""
    kept = [d for d in base.discrepancies if d.kind != KIND]
    merged = sorted([*kept, *outcome.findings], key=lambda d: d.identity)
    return PortalReconciliation(base, outcome, judged | {d.identity for d in outcome.findings},
                                merged)


__all__ = ["KIND", "PortalEntry", "PortalOutcome", "PortalPayment", "PortalReconciliation",
           "ProviderLine", "compare", "reason", "with_portal"]
