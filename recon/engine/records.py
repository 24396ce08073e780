"""The engine's input and output records, and its configuration.

Rows are ``NamedTuple``\\ s on purpose: a full run reads millions of them, and a tuple is the
cheapest Python object to build (``PaymentRow._make(sql_row)``) and to unpack. Field order is
part of the interface: the loader may build rows positionally from a ``SELECT`` in this order.

Money is always an ``int`` of VND. Timestamps are timezone-aware ``datetime``\\ s (the database
layer hands back UTC); dates (``settled_on``) are plain ``date``\\ s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Final, NamedTuple

if TYPE_CHECKING:
    from recon.engine.payouts import PayoutConfig
    from recon.engine.receipt_check import ReceiptCheckConfig
    from recon.engine.remittances import RemittanceConfig

from recon.calendar.days import EVERY_DAY, BankingCalendar
from recon.contracts.model import EMPTY, ContractBook

SUCCEEDED: Final = "succeeded"
REFUNDED: Final = "refunded"
DEFAULT_SETTLEMENT_DAYS: Final = 2


class DossierRow(NamedTuple):
    """A dossier and what it was assessed.

    ``total_assessed`` is the sum of its fee lines. Leave it ``None`` and pass the fee lines to
    :func:`~recon.engine.core.reconcile` to have the engine sum them instead.
    """

    id: int
    code: str
    total_assessed: int | None = None


class FeeLineRow(NamedTuple):
    """One assessed fee (phí) or charge (lệ phí); only the amount matters to the engine."""

    dossier_id: int
    amount: int


class IntentRow(NamedTuple):
    """A payment intent (one QR code or gateway order) issued for a dossier."""

    id: int
    dossier_id: int
    reference: str
    amount: int
    channel: str
    status: str


class PaymentRow(NamedTuple):
    """Money that moved, as recorded by the ingest service.

    ``dossier_id`` is the dossier the ingest matched (by intent reference, bank memo or the
    cashier); ``None`` when nothing matched. ``(provider, provider_txn_id)`` is unique, as the
    database guarantees. ``bank_reference`` is the bank's own reference for the credit (SePay,
    Casso, payOS report it): a bank statement lists the payment by it, and a settlement line
    that no payment's own id claims is matched on it (see :mod:`recon.engine.core`).
    """

    id: int
    provider: str
    provider_txn_id: str
    channel: str
    amount: int
    status: str  # succeeded / failed / refunded
    paid_at: datetime
    dossier_id: int | None = None
    intent_id: int | None = None
    reference: str | None = None
    bank_reference: str | None = None
    #: how the payer paid (``payments.method``: ``qr``, ``domestic_card``, ``wallet``, a card
    #: scheme, ...; ``None``: the provider did not say): the fee contract's channel
    method: str | None = None
    #: whether the card was issued abroad (``None``: not a card, or the provider did not say)
    card_foreign: bool | None = None


class AllocationRow(NamedTuple):
    """A dossier's part of a payment split across several dossiers (``payment_allocations``):
    the payment counts as paying ``dossier_id`` exactly ``amount``."""

    payment_id: int
    dossier_id: int
    amount: int


class UnsplitRow(NamedTuple):
    """A payment whose memo names several references and that was not split
    (``payments.split_refusal``): why, and every reference found. ``reason`` is one of
    :data:`recon.payments.split.REASONS`; ``culprits`` the references it is about;
    ``difference`` the amount minus the sum owed (``amount_differs`` only)."""

    payment_id: int
    reason: str
    references: tuple[str, ...]
    culprits: tuple[str, ...] = ()
    difference: int = 0


class SettlementLineRow(NamedTuple):
    """One line of a provider's settlement report: gross ``amount``, ``fee`` and ``net``.

    ``net`` is the net the file stated: normally ``amount - fee``; a line whose file
    contradicts itself keeps its stated net (``settlement_lines.stated_net``) and is a
    ``fee_mismatch``.

    ``refund_of`` is ``None`` for a sale (``settlement_lines.kind = 'sale'``). For a refund
    line it is the provider transaction id of the sale it reverses: the file's original id
    (``original_txn_id``), else the line's own id. A refund line never settles a payment; it
    is paired with the payment of that id (see :mod:`recon.engine.core`). Its ``amount`` is
    the gross refunded and its ``fee`` the refund fee charged (both non-negative)."""

    id: int
    provider: str
    provider_txn_id: str
    amount: int
    fee: int
    net: int
    settled_on: date
    transaction_at: datetime | None = None
    refund_of: str | None = None


class Discrepancy(NamedTuple):
    """One finding. ``identity`` is ``kind`` plus the subject's ids and never changes between runs.

    Amounts are always ints and ``delta == actual_amount - expected_amount``:

    ====================== ========================== ============================= =========
    kind                   expected_amount            actual_amount                 delta
    ====================== ========================== ============================= =========
    underpaid              total assessed             total paid                    < 0
    overpaid               total assessed             paid, less duplicates         > 0
    duplicate_payment      0                          the extra payment's amount    > 0
    unmatched_payment      0                          the payment's amount          >= 0
    missing_settlement     the payment's amount       0                             <= 0
    unexpected_settlement  0                          the line's gross amount       >= 0
    amount_mismatch        the payment's amount       the line's gross amount       != 0
    duplicate_settlement   0                          the extra line's gross amount >= 0
    status_mismatch        0                          the line's gross amount       >= 0
    fee_mismatch           the contract's fee         the fee charged               != 0
                           (net wrong, fee right:     (the line's stated net)
                           gross - fee; a refund
                           line: the refund fee)
    ====================== ========================== ============================= =========

    ``within_tolerance`` is true only for an ``amount_mismatch`` whose absolute delta is within
    the provider's tolerance: it is still reported (nothing is hidden), and the runner or the
    review queue may treat it as low priority.
    """

    identity: str
    kind: str
    dossier_id: int | None
    payment_id: int | None
    settlement_line_id: int | None
    provider: str | None
    expected_amount: int
    actual_amount: int
    delta: int
    explanation: str
    explanation_en: str
    within_tolerance: bool = False


def _check_days(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a whole number of days >= 0, got {value!r}")


def _check_vnd(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a whole number of VND >= 0, got {value!r}")


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """What the engine needs to know about providers.

    - ``settlement_days``: per provider, how many days after the payment's Vietnam-time date
      its settlement may arrive (``default_settlement_days`` otherwise), counted on
      ``calendar``. See :func:`~recon.engine.core.settlement_deadline`.
    - ``calendar``: the days that count for those deadlines: :data:`~recon.calendar.EVERY_DAY`
      (calendar days) by default; the service runs with the Vietnamese banking calendar
      (:func:`recon.engine.settings.engine_config_from_env`).
    - ``contracts``: the fee contracts a settlement line's fee is judged by (``fee_mismatch``;
      none by default: only a line whose net is not gross - fee is a finding then).
    - ``no_settlement_providers``: providers whose payments are never settled by anyone (cash
      at the desk): they count as paid and are never ``missing_settlement``.
    - ``tolerances``: per provider, the largest absolute difference in VND between a payment
      and its settlement's gross amount that is flagged ``within_tolerance`` (still reported).
    - ``payouts``: the providers that pay the centre in batches, and the banking days
      (:class:`recon.engine.payouts.PayoutConfig`); ``None``: no payout pass (the run reads
      no batch and no credit).
    - ``receipts``: the receipt pass's grace period
      (:class:`recon.engine.receipt_check.ReceiptCheckConfig`) when e-receipts are on for the
      deployment; ``None``: receipts are not judged (no ``receipt_*`` finding).
    - ``forward_deadline_hours``: how many hours after collection money received for another
      organisation must be passed on (24 by Circular 74/2022 Art. 3; ``forward_overdue``).
    - ``remittances``: the remittance pass (:class:`recon.engine.remittances.
      RemittanceConfig`: the deadline's day and the reader of what is owed and remitted);
      ``None``: no remittance pass.
    """

    settlement_days: Mapping[str, int] = field(default_factory=dict)
    default_settlement_days: int = DEFAULT_SETTLEMENT_DAYS
    no_settlement_providers: frozenset[str] = frozenset({"cash"})
    tolerances: Mapping[str, int] = field(default_factory=dict)
    default_tolerance: int = 0
    payouts: PayoutConfig | None = None
    receipts: ReceiptCheckConfig | None = None
    remittances: RemittanceConfig | None = None
    calendar: BankingCalendar = EVERY_DAY
    contracts: ContractBook = EMPTY
    forward_deadline_hours: int = 24

    def __post_init__(self) -> None:
        _check_days("forward_deadline_hours", self.forward_deadline_hours)
        _check_days("default_settlement_days", self.default_settlement_days)
        _check_vnd("default_tolerance", self.default_tolerance)
        for provider, days in self.settlement_days.items():
            _check_days(f"settlement_days[{provider!r}]", days)
        for provider, tolerance in self.tolerances.items():
            _check_vnd(f"tolerances[{provider!r}]", tolerance)
        # private copies: a caller mutating its dict later must not change a running config
        object.__setattr__(self, "settlement_days", dict(self.settlement_days))
        object.__setattr__(self, "tolerances", dict(self.tolerances))
        object.__setattr__(
            self, "no_settlement_providers", frozenset(self.no_settlement_providers)
        )

    def days_for(self, provider: str) -> int:
        return self.settlement_days.get(provider, self.default_settlement_days)

    def tolerance_for(self, provider: str) -> int:
        return self.tolerances.get(provider, self.default_tolerance)

    def needs_settlement(self, provider: str) -> bool:
        return provider not in self.no_settlement_providers

    @property
    def banking_days(self) -> bool:
        """Whether deadlines count banking days (any calendar but every day)."""
        return self.calendar is not EVERY_DAY
