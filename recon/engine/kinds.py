"""The discrepancy kinds, each declared once: the one place that says what a kind is.

A :class:`Kind` entry names the kind and gives everything the rest of recon needs to know
about it:

- ``subject``: what its identity is about, in order (``dossier``, ``payment``,
  ``settlement_line``, or a pair of them; the remittance kinds name a collecting ``agency``, a
  ``month`` as YYYYMM and a ``budget_item``, the tiểu mục; ``deposit_overdue`` a ``period``'s
  first day as YYYYMMDD instead of the month; ``fee_invoice_mismatch`` a ``fee_invoice``, the
  id of a provider's invoice). The identity is ``kind`` plus those ids
  (:meth:`KindRegistry.make_identity`) and never changes between runs;
- ``stage``: ``"transactions"`` for a kind found from payments and settlement lines alone
  (reported early to the runner, while the dossiers still load), ``"dossiers"`` for one that
  needs the dossiers and what they were assessed;
- ``detector``: the function of :mod:`recon.engine.core` that finds it over the run's shared
  indexes (:class:`recon.engine.core.Facts`);
- ``explain``: the function of :mod:`recon.engine.explain` writing its sentence (vi, en); the
  detector calls it through the entry;
- ``resolve``: the function of :mod:`recon.engine.lifecycle` saying (vi, en) why an open
  finding of this kind no longer holds (the ``auto_resolved`` reason);
- ``label_vi`` / ``label_en``: its name on the finance pages and exports;
- ``alternatives``: other subjects an identity of this kind may name instead (only
  ``late_for_closed_period``: about a payment, else a dossier, else a settlement line);
- ``severity``: ``high`` (money owed to or by a citizen, or missing), ``medium`` (the
  provider's books disagree with ours), ``low``.

Everything else is derived from :data:`REGISTRY`: the engine's :data:`KINDS` and
:data:`SUBJECTS`, the model's ``DISCREPANCY_KINDS`` and its CHECK constraint, the finance
labels (``recon.web.i18n.KIND_LABELS``), the OpenAPI enum, the per-kind counts of a
run. ``tests/engine/test_kinds.py`` keeps all of them equal to the registry.

Adding a kind = one entry here + one detector in :mod:`recon.engine.core` (and its sentence in
:mod:`~recon.engine.explain`, its reason in :mod:`~recon.engine.lifecycle`) + a migration that
widens the database's CHECK (copy ``migrations/versions/0008_kinds_check.py``: a migration is
history, so it lists the kinds it admits as a literal tuple and never imports this module;
:meth:`KindRegistry.check_clause` prints the new clause to paste) + its tests. The test
``test_the_migrated_check_admits_exactly_the_registry`` fails until that migration exists.

A caller may also run the engine with another registry (``reconcile(..., kinds=...)``,
usually ``REGISTRY.extended(...)``): the result carries it, and :func:`~recon.engine.lifecycle.
classify` resolves with it. Pure, like the rest of the engine.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

from recon.engine import core, explain, lifecycle

if TYPE_CHECKING:
    from recon.engine.core import Facts, Reconciliation
    from recon.engine.records import Discrepancy

Pair = tuple[str, str]
Severity = Literal["high", "medium", "low"]
Stage = Literal["transactions", "dossiers"]
Emit = Callable[["Discrepancy"], None]
Detector = Callable[["Facts", "Kind", Emit], None]
Reason = Callable[[dict[str, int], "Reconciliation"], Pair]

SUBJECT_PARTS: Final = ("dossier", "payment", "settlement_line", "portal_line", "transfer",
                         "agency", "month", "period", "budget_item", "fee_invoice")
SEVERITIES: Final = ("high", "medium", "low")
STAGES: Final = ("transactions", "dossiers")
NAME_LENGTH: Final = 24  # discrepancies.kind is a VARCHAR(24)
_NAME = re.compile(r"[a-z][a-z_]*[a-z]")


@dataclass(frozen=True, slots=True)
class Kind:
    """One discrepancy kind (see the module doc for each field)."""

    name: str
    subject: tuple[str, ...]
    stage: Stage
    detector: Detector
    explain: Callable[..., Pair]
    resolve: Reason
    label_vi: str
    label_en: str
    severity: Severity
    alternatives: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name) or len(self.name) > NAME_LENGTH:
            raise ValueError(
                f"kind name {self.name!r}: lower-case letters and '_', at most {NAME_LENGTH}")
        for parts in (self.subject, *self.alternatives):
            if not parts or any(p not in SUBJECT_PARTS for p in parts) or tuple(
                    sorted(set(parts), key=SUBJECT_PARTS.index)) != parts:
                raise ValueError(
                    f"kind {self.name}: subject {parts!r} must be one or more of "
                    f"{SUBJECT_PARTS}, in that order, each once")
        if self.stage not in STAGES:
            raise ValueError(f"kind {self.name}: stage must be one of {STAGES}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"kind {self.name}: severity must be one of {SEVERITIES}")
        if not self.label_vi.strip() or not self.label_en.strip():
            raise ValueError(f"kind {self.name}: needs a label in Vietnamese and in English")


class KindRegistry:
    """An ordered, immutable set of :class:`Kind` entries, looked up by name."""

    __slots__ = ("_by_name", "_shapes", "dossier_kinds", "names", "subjects",
                 "transaction_kinds")

    def __init__(self, entries: Iterable[Kind]) -> None:
        by_name: dict[str, Kind] = {}
        for entry in entries:
            if entry.name in by_name:
                raise ValueError(f"kind {entry.name!r} is declared twice")
            by_name[entry.name] = entry
        self._by_name = by_name
        self.names: tuple[str, ...] = tuple(by_name)
        self.subjects: dict[str, tuple[str, ...]] = {k.name: k.subject for k in by_name.values()}
        self._shapes: dict[str, tuple[tuple[str, ...], ...]] = {
            k.name: (k.subject, *k.alternatives) for k in by_name.values()}
        self.transaction_kinds: tuple[Kind, ...] = tuple(
            k for k in by_name.values() if k.stage == "transactions")
        self.dossier_kinds: tuple[Kind, ...] = tuple(
            k for k in by_name.values() if k.stage == "dossiers")

    def __getitem__(self, name: str) -> Kind:
        try:
            return self._by_name[name]
        except KeyError:
            raise ValueError(f"unknown discrepancy kind {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[Kind]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def extended(self, *entries: Kind) -> KindRegistry:
        """A new registry: these kinds and ``entries`` after them (this one is unchanged)."""
        return KindRegistry((*self, *entries))

    # identities ------------------------------------------------------------------------

    def make_identity(
        self,
        kind: str,
        *,
        dossier_id: int | None = None,
        payment_id: int | None = None,
        settlement_line_id: int | None = None,
        portal_line_id: int | None = None,
        transfer_id: int | None = None,
        agency_id: int | None = None,
        month: int | None = None,
        budget_item: int | None = None,
        period: int | None = None,
        fee_invoice_id: int | None = None,
    ) -> str:
        """``kind`` plus the ids of its subject, e.g.
        ``duplicate_payment:dossier=12:payment=99``. Ids outside the subject are not part."""
        ids = {"dossier": dossier_id, "payment": payment_id,
               "settlement_line": settlement_line_id, "portal_line": portal_line_id,
               "transfer": transfer_id, "agency": agency_id, "month": month,
               "period": period, "budget_item": budget_item, "fee_invoice": fee_invoice_id}
        entry = self[kind]
        subject = next((shape for shape in (entry.subject, *entry.alternatives)
                        if all(ids[p] is not None for p in shape)), entry.subject)
        out = [kind]
        for part in subject:
            value = ids[part]
            if value is None:
                raise ValueError(f"{kind} needs a {part} id")
            out.append(f"{part}={value}")
        return ":".join(out)

    def parse_identity(self, identity: str) -> tuple[str, dict[str, int]]:
        """``"amount_mismatch:payment=5:settlement_line=9"`` -> ``("amount_mismatch",
        {"payment": 5, "settlement_line": 9})``. Raises ``ValueError`` on anything else."""
        kind, *parts = identity.split(":")
        subject = self.subjects.get(kind)
        if subject is None:
            raise ValueError(f"unknown discrepancy kind in identity {identity!r}")
        ids: dict[str, int] = {}
        for part in parts:
            name, sep, value = part.partition("=")
            if not sep or not (value.isascii() and value.isdigit()) or name in ids:
                raise ValueError(f"malformed identity {identity!r}")
            ids[name] = int(value)
        if tuple(ids) not in self._shapes[kind]:
            raise ValueError(f"identity {identity!r} does not name the subject of a {kind}")
        return kind, ids

    # what other layers derive ----------------------------------------------------------

    def labels(self) -> dict[str, Pair]:
        """kind -> (English, Vietnamese), the shape of ``i18n.KIND_LABELS``."""
        return {k.name: (k.label_en, k.label_vi) for k in self}

    def label(self, name: str, language: str) -> str:
        entry = self[name]
        return entry.label_vi if language == "vi" else entry.label_en

    def check_clause(self, column: str = "kind") -> str:
        """The SQL of the CHECK admitting exactly these kinds, for a migration's author to
        paste (as a literal) when a kind is added; see the module doc."""
        return f"{column} IN ({', '.join(repr(n) for n in self.names)})"


def _entries() -> Sequence[Kind]:
    return (
        Kind("underpaid", ("dossier",), "dossiers", core.detect_underpaid,
             explain.underpaid, lifecycle.reason_underpaid,
             "Nộp thiếu", "Underpaid", "high"),
        Kind("overpaid", ("dossier",), "dossiers", core.detect_overpaid,
             explain.overpaid, lifecycle.reason_overpaid,
             "Nộp thừa", "Overpaid", "high"),
        Kind("duplicate_payment", ("dossier", "payment"), "dossiers",
             core.detect_duplicate_payment, explain.duplicate_payment,
             lifecycle.reason_duplicate_payment,
             "Thanh toán trùng", "Paid twice", "high"),
        Kind("unmatched_payment", ("payment",), "transactions", core.detect_unmatched_payment,
             explain.unmatched_payment, lifecycle.reason_unmatched_payment,
             "Khoản thu không khớp hồ sơ", "Payment without dossier", "high"),
        Kind("missing_settlement", ("payment",), "transactions",
             core.detect_missing_settlement, explain.missing_settlement,
             lifecycle.reason_missing_settlement,
             "Thiếu đối soát", "Settlement missing", "high"),
        Kind("unexpected_settlement", ("settlement_line",), "transactions",
             core.detect_unexpected_settlement, explain.unexpected_settlement,
             lifecycle.reason_unexpected_settlement,
             "Đối soát không có giao dịch", "Settlement without payment", "medium"),
        Kind("amount_mismatch", ("payment", "settlement_line"), "transactions",
             core.detect_amount_mismatch, explain.amount_mismatch,
             lifecycle.reason_amount_mismatch,
             "Lệch số tiền", "Amount differs", "medium"),
        Kind("duplicate_settlement", ("settlement_line",), "transactions",
             core.detect_duplicate_settlement, explain.duplicate_settlement,
             lifecycle.reason_duplicate_settlement,
             "Đối soát trùng", "Settled twice", "medium"),
        Kind("status_mismatch", ("payment", "settlement_line"), "transactions",
             core.detect_status_mismatch, explain.status_mismatch,
             lifecycle.reason_status_mismatch,
             "Sai trạng thái giao dịch", "Failed or refunded, yet settled", "high"),
        Kind("fee_mismatch", ("payment", "settlement_line"), "transactions",
             core.detect_fee_mismatch, explain.fee_mismatch,
             lifecycle.reason_fee_mismatch,
             "Sai phí theo hợp đồng", "Fee differs from contract", "medium"),
        Kind("late_for_closed_period", ("payment",), "transactions",
             core.detect_late_for_closed_period, explain.late_for_closed_period,
             lifecycle.reason_late_for_closed_period,
             "Phát sinh sau khóa sổ", "Late for a closed month", "high",
             alternatives=(("dossier",), ("settlement_line",))),
        # found by the run's payout pass (recon.engine.payouts), not by the core
        Kind("payout_missing", ("settlement_line",), "transactions",
             core.detect_payout_missing,
             explain.payout_missing, lifecycle.reason_payout_missing,
             "Chưa nhận tiền chuyển về", "Payout not credited", "high"),
        Kind("payout_mismatch", ("settlement_line",), "transactions",
             core.detect_payout_mismatch,
             explain.payout_mismatch, lifecycle.reason_payout_mismatch,
             "Tiền chuyển về lệch", "Payout amount differs", "medium"),
        Kind("payout_unexpected", ("settlement_line",), "transactions",
             core.detect_payout_unexpected,
             explain.payout_unexpected, lifecycle.reason_payout_unexpected,
             "Tiền chuyển về không rõ đợt", "Payout without batch", "medium"),
        # one transfer naming several references, not split (recon.payments.split)
        Kind("multi_reference_unsplit", ("payment",), "transactions",
             core.detect_multi_reference_unsplit, explain.multi_reference_unsplit,
             lifecycle.reason_multi_reference_unsplit,
             "Chuyển khoản nhiều hồ sơ chưa chia", "Multi-reference payment not split",
             "high"),
        # found by the run's portal pass (recon.engine.portal, read by portal_load): the
        # portal's daily list against the provider and recon (Art. 36)
        Kind("portal_mismatch", ("payment",), "transactions", core.detect_portal_mismatch,
             explain.portal_mismatch, lifecycle.reason_portal_mismatch,
             "Lệch với Cổng DVCQG", "Differs from the national portal", "medium",
             alternatives=(("portal_line",),)),
        # found by the run's receipt pass (recon.engine.receipt_check), only with receipts on
        Kind("receipt_missing", ("dossier", "payment"), "dossiers",
             core.detect_receipt_missing, explain.receipt_missing,
             lifecycle.reason_receipt_missing,
             "Thiếu biên lai điện tử", "E-receipt missing", "high",
             alternatives=(("dossier", "payment", "agency"),)),
        Kind("receipt_mismatch", ("dossier", "payment"), "dossiers",
             core.detect_receipt_mismatch, explain.receipt_mismatch,
             lifecycle.reason_receipt_mismatch,
             "Biên lai sai số tiền", "E-receipt differs from payment", "high",
             alternatives=(("payment",), ("dossier", "payment", "agency"))),
        Kind("receipt_orphan", ("payment",), "transactions",
             core.detect_receipt_orphan, explain.receipt_orphan,
             lifecycle.reason_receipt_orphan,
             "Biên lai không có khoản thu", "E-receipt without payment", "high",
             alternatives=(("dossier",),)),
        # found by the run's forwarding pass (recon.engine.forwarding): the 24-hour rule
        Kind("forward_overdue", ("payment",), "transactions",
             core.detect_forward_overdue, explain.forward_overdue,
             lifecycle.reason_forward_overdue,
             "Chậm chuyển tiền thu hộ", "Collected for others, not passed on", "high"),
        Kind("forward_mismatch", ("transfer",), "transactions",
             core.detect_forward_mismatch, explain.forward_mismatch,
             lifecycle.reason_forward_mismatch,
             "Chuyển tiền thu hộ lệch", "Onward transfer differs", "medium"),
        # found by the run's remittance pass (recon.engine.remittances), not by the core
        Kind("remittance_overdue", ("agency", "month", "budget_item"), "transactions",
             core.detect_remittance_overdue,
             explain.remittance_overdue, lifecycle.reason_remittance_overdue,
             "Quá hạn nộp ngân sách", "Remittance overdue", "high"),
        Kind("remittance_short", ("agency", "month", "budget_item"), "transactions",
             core.detect_remittance_short,
             explain.remittance_short, lifecycle.reason_remittance_short,
             "Nộp ngân sách thiếu", "Remitted too little", "high"),
        Kind("remittance_excess", ("agency", "month", "budget_item"), "transactions",
             core.detect_remittance_excess,
             explain.remittance_excess, lifecycle.reason_remittance_excess,
             "Nộp ngân sách thừa", "Remitted too much", "medium"),
        # found by the run's deposit pass (recon.engine.deposits): the per-fee deposit rule
        Kind("deposit_overdue", ("agency", "period", "budget_item"), "transactions",
             core.detect_deposit_overdue, explain.deposit_overdue,
             lifecycle.reason_deposit_overdue,
             "Chậm gửi tiền phí vào Kho bạc", "Fees not deposited on time", "high"),
        # found by the run's fee invoice pass (recon.engine.fee_invoices): a subscription
        # provider's monthly invoice against its contract
        Kind("fee_invoice_mismatch", ("fee_invoice",), "transactions",
             core.detect_fee_invoice_mismatch, explain.fee_invoice_mismatch,
             lifecycle.reason_fee_invoice_mismatch,
             "Hóa đơn phí lệch hợp đồng", "Fee invoice differs from contract", "medium"),
    )


REGISTRY: Final = KindRegistry(_entries())
"""The built-in kinds, in the order pages and reports list them."""

KINDS: Final[tuple[str, ...]] = REGISTRY.names
SUBJECTS: Final[dict[str, tuple[str, ...]]] = REGISTRY.subjects

core.use_builtin_kinds(REGISTRY)  # the core's default registry: this one
