"""The reconciliation core: a pure, deterministic function from facts to discrepancies.

:func:`reconcile` takes dossiers (with their assessed totals, or their fee lines), payment
intents, payments, settlement lines, an :class:`EngineConfig` and the moment ``as_of``, and
returns a :class:`Reconciliation` whose ``discrepancies`` are sorted by identity. It does no I/O,
never reads the clock, and gives the same answer whatever order its inputs come in. It runs in
O(n) with dict grouping (sorting only the few dossiers and transactions that need it).

How it is built: one pass matches payments to dossiers and settlement lines and fills the
shared indexes (:class:`Facts`); then each kind of the registry (:mod:`recon.engine.kinds`)
runs its detector -- one small function per kind below, ``detect_<kind>`` -- over those
indexes: first the ``"transactions"`` kinds, then, once the dossiers are loaded, the
``"dossiers"`` kinds. ``reconcile(..., kinds=...)`` runs another registry (e.g. one with an
extra kind) without changing anything here.

How the kinds interact (the rules the tests pin down)
-----------------------------------------------------
Dossier level -- only *succeeded* payments matched to the dossier count as paid (cash too; a
failed or refunded payment counts as nothing). A payment is matched to ``payment.dossier_id``,
or, when that is empty, to the dossier of its intent. With ``paid`` and ``assessed``:

- no succeeded payment: the dossier is *outstanding*, not a discrepancy;
- ``paid < assessed``: one ``underpaid``. Nothing is called a duplicate while the dossier is
  short, so split payments of equal amounts are never mistaken for duplicates;
- ``paid > assessed``: the excess is first explained by duplicates. Payments are taken in
  ``(paid_at, id)`` order; a *repeat* is a payment of the same positive amount as an earlier
  one -- on the same intent (checked first), or anywhere on the dossier. Repeats are taken,
  intent repeats first, each while its whole amount still fits in the unexplained excess, and
  each becomes a ``duplicate_payment`` (subject: dossier + the extra payment; the original is
  the first payment of that amount, on that intent for an intent repeat). Whatever excess is
  left becomes one ``overpaid`` whose actual amount leaves the duplicates out. So a dossier paid
  twice the same amount is one ``duplicate_payment`` and no ``overpaid``; paid twice with
  different amounts it is ``overpaid``. For every dossier the deltas of its ``underpaid``,
  ``overpaid`` and ``duplicate_payment`` findings add up to exactly ``paid - assessed``.

Payment level -- a succeeded payment with no dossier is ``unmatched_payment`` (and may *also*
be ``missing_settlement``: settling does not depend on matching).

Settlement level -- lines are grouped by ``(provider, provider_txn_id)``; within a group the
line settled first (``settled_on``, then ``id``) is the original, and every other line is a
``duplicate_settlement``. Each line gets at most one finding:

- the original of a group with no recorded payment: ``unexpected_settlement``;
- the original of a failed/refunded payment: ``status_mismatch`` (no ``amount_mismatch`` as
  well: nothing should have been settled at all);
- the original of a succeeded payment whose gross amount differs: ``amount_mismatch``, with
  ``within_tolerance`` set when ``|delta|`` is within the provider's tolerance (reported all
  the same; the fee and net are the provider's business as long as the gross matches);
- a succeeded payment of a provider that settles, with no line at all once its deadline has
  passed: ``missing_settlement`` (see :func:`settlement_deadline`). Providers in
  ``config.no_settlement_providers`` (``cash``) never are.

Refunds -- a line of kind ``refund`` (``SettlementLineRow.refund_of`` set: the id of the sale
it reverses, the file's original id or else its own) never settles a payment: it is in no
group above, so it is never an original, a duplicate, an ``unexpected_settlement`` of a sale,
an ``amount_mismatch`` nor what keeps a payment from being ``missing_settlement``. It is paired
with the payment ``(line's provider, refund_of)`` (own ids only, not bank references) and
judged on its own:

- paired with a *refunded* payment: its fee is judged against the refund fee of the payment's
  contract (``Contract.refund_fee(gross)``, on the refund line's transaction date) and its
  stated net as any line's: ``fee_mismatch``, subject payment + refund line. That payment's
  own sale line is then *not* a ``status_mismatch``: the sale was settled and the refund
  reverses it, as it should;
- paired with a payment that is not refunded (succeeded or failed): ``status_mismatch``,
  subject payment + refund line (the provider refunded what recon holds otherwise);
- paired with no payment: ``unexpected_settlement`` of the refund line.

The refunded gross is not compared with the payment's amount (a refund may be partial), and
several refund lines of one sale are each judged on their fee.

Bank references -- a bank statement lists a SePay, Casso or payOS credit by the *bank's*
reference, which the provider reports beside its own id (``PaymentRow.bank_reference``). A
payment with no line under its own ``(provider, provider_txn_id)`` takes, failing that, the
group ``(provider, bank_reference)`` -- provided no payment's own id claimed that group first
(own ids always win) -- and that group then is its settlement exactly as if it carried its own
id: original, duplicates, amount and status checks alike. Of two such payments with the same
bank reference the lower id takes it. A payment already settled under its own id (the
provider's report) whose bank reference names a group no one else claimed (the bank statement
imported too) is settled twice: every line of that group is a ``duplicate_settlement`` of it.
A line whose id is neither a payment's own id nor a payment's bank reference stays
``unexpected_settlement``. The matching is by the line's provider, i.e. the provider the
statement was imported for.

What the engine assumes of its inputs (the database guarantees all of it): ids are unique per
record type, ``(provider, provider_txn_id)`` is unique among payments, timestamps are aware.
``as_of`` drives the settlement deadlines and nothing else: which rows exist "as of" a moment
is the loader's choice, so a rerun with the same rows and ``as_of`` gives the same answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from operator import itemgetter
from typing import TYPE_CHECKING, Final, NamedTuple

from recon.calendar.days import EVERY_DAY, BankingCalendar
from recon.clock import VN_TZ
from recon.contracts.model import MonthCounter, judge
from recon.engine import explain
from recon.engine.records import (
    REFUNDED,
    SUCCEEDED,
    AllocationRow,
    Discrepancy,
    DossierRow,
    EngineConfig,
    FeeLineRow,
    IntentRow,
    PaymentRow,
    SettlementLineRow,
    UnsplitRow,
)

if TYPE_CHECKING:
    from recon.contracts.model import Contract, FeeCheck
    from recon.engine.kinds import Kind, KindRegistry

_NEVER: Final = datetime.min.replace(tzinfo=UTC)  # no paid_at is before it: never overdue

TxnKey = tuple[str, str]
Emit = Callable[[Discrepancy], None]


_builtin: list[KindRegistry] = []


def use_builtin_kinds(registry: KindRegistry) -> None:
    """Called once by :mod:`recon.engine.kinds` when it loads: its registry becomes the default
    of every function here that takes ``kinds``. (The registry names this module's detectors,
    so the registry imports this module, never the other way round.)"""
    _builtin[:] = [registry]


def builtin_kinds() -> KindRegistry:
    """The registry of :mod:`recon.engine.kinds` (loaded with the package, :mod:`recon.engine`)."""
    if not _builtin:
        raise RuntimeError("recon.engine.kinds is not loaded: import recon.engine first")
    return _builtin[0]


# --------------------------------------------------------------------------- identities


def make_identity(
    kind: str,
    *,
    dossier_id: int | None = None,
    payment_id: int | None = None,
    settlement_line_id: int | None = None,
    transfer_id: int | None = None,
    kinds: KindRegistry | None = None,
    agency_id: int | None = None,
    month: int | None = None,
    budget_item: int | None = None,
    period: int | None = None,
    fee_invoice_id: int | None = None,
) -> str:
    """``kind`` plus the ids of its subject (``Kind.subject``), e.g.
    ``duplicate_payment:dossier=12:payment=99``. Ids outside the subject are not part of it."""
    registry = kinds if kinds is not None else builtin_kinds()
    return registry.make_identity(kind, dossier_id=dossier_id, payment_id=payment_id,
                                  settlement_line_id=settlement_line_id,
                                  transfer_id=transfer_id, agency_id=agency_id,
                                  month=month, budget_item=budget_item, period=period,
                                  fee_invoice_id=fee_invoice_id)


def parse_identity(identity: str, *, kinds: KindRegistry | None = None,
                   ) -> tuple[str, dict[str, int]]:
    """``"amount_mismatch:payment=5:settlement_line=9"`` -> ``("amount_mismatch",
    {"payment": 5, "settlement_line": 9})``. Raises ``ValueError`` on anything else."""
    registry = kinds if kinds is not None else builtin_kinds()
    return registry.parse_identity(identity)


# --------------------------------------------------------------------------- deadlines


def settlement_deadline(paid_at: datetime, days: int,
                        calendar: BankingCalendar = EVERY_DAY) -> date:
    """The last day (Vietnam time) on which a payment's settlement may arrive: the ``days``-th
    day of ``calendar`` after the date of ``paid_at`` in Vietnam (UTC+7). With the banking
    calendar, a payment of Tuesday 9 Feb 2021 with 2 days is due Thursday 18 Feb (Tết Tân
    Sửu, 10–16 Feb, counts no day); with :data:`~recon.calendar.EVERY_DAY` it is the date plus
    ``days``."""
    return calendar.add_banking_days(explain.vn_date(paid_at), days)


def settlement_overdue(paid_at: datetime, days: int, as_of: datetime,
                       calendar: BankingCalendar = EVERY_DAY) -> bool:
    """True once the deadline day is over: ``as_of`` is at or after 00:00 ICT of the next day.

    Paid 2026-11-21 23:59 ICT with 2 calendar days: the deadline is 2026-11-23, so at
    2026-11-23 23:59:59.999999 ICT it is not overdue and at 2026-11-24 00:00:00 ICT it is.
    """
    end = datetime.combine(settlement_deadline(paid_at, days, calendar) + timedelta(days=1),
                           time(), VN_TZ)
    return as_of >= end


def settlement_cutoff(as_of: datetime, days: int,
                      calendar: BankingCalendar = EVERY_DAY) -> datetime:
    """The same rule turned around, in UTC: a payment is overdue iff ``paid_at < cutoff``.

    Overdue iff deadline(paid day) < A (``as_of``'s Vietnam date). The deadline never moves
    back when the paid day moves forward, so the overdue paid days are those before one day
    q: the ``days``-th banking day before A (A itself when ``days`` is 0). With calendar days
    q is A - ``days``. ``tests/engine/test_banking_deadlines.py`` checks the two rules agree.
    """
    start = calendar.add_banking_days(explain.vn_date(as_of), -days)
    return datetime.combine(start, time(), VN_TZ).astimezone(UTC)


# --------------------------------------------------------------------------- result


class Reconciliation:
    """The outcome of one :func:`reconcile` call: ``discrepancies`` (sorted by identity), the
    ``kinds`` registry it ran with, and read-only lookups over the facts it saw, which
    :func:`recon.engine.lifecycle.classify` uses to say why a previous discrepancy no longer
    holds."""

    __slots__ = (
        "_allocated", "_assessed", "_bank_claims", "_dossiers", "_first_pay", "_groups",
        "_intents", "_lines", "_lines_by_id", "_lines_by_key", "_payments", "_payments_by_id",
        "as_of", "config",
        "discrepancies", "kinds",
    )

    def __init__(
        self,
        *,
        discrepancies: list[Discrepancy],
        as_of: datetime,
        config: EngineConfig,
        dossiers: dict[int, DossierRow],
        assessed: dict[int, int] | None,
        first_pay: dict[int, PaymentRow],
        groups: dict[int, list[PaymentRow]],
        intents: _Intents,
        payments: Sequence[PaymentRow],
        lines: Sequence[SettlementLineRow],
        bank_claims: dict[TxnKey, PaymentRow] | None = None,
        kinds: KindRegistry | None = None,
        allocated: frozenset[int] = frozenset(),
    ) -> None:
        self.discrepancies = discrepancies
        self._allocated = allocated
        self.kinds = kinds if kinds is not None else builtin_kinds()
        self.as_of = as_of
        self.config = config
        self._dossiers = dossiers
        self._assessed = assessed
        self._first_pay = first_pay
        self._groups = groups
        self._intents = intents
        self._payments = payments
        self._lines = lines
        self._bank_claims = bank_claims or {}
        self._payments_by_id: dict[int, PaymentRow] | None = None
        self._lines_by_id: dict[int, SettlementLineRow] | None = None
        self._lines_by_key: dict[TxnKey, list[SettlementLineRow]] | None = None

    def __iter__(self) -> Iterator[Discrepancy]:
        return iter(self.discrepancies)

    def __len__(self) -> int:
        return len(self.discrepancies)

    def counts(self) -> dict[str, int]:
        """Number of discrepancies per kind, every kind present (0 when none)."""
        out = dict.fromkeys(self.kinds.names, 0)
        for d in self.discrepancies:
            out[d.kind] += 1
        return out

    def identities(self) -> list[str]:
        return [d.identity for d in self.discrepancies]

    # facts, for explaining what changed ------------------------------------------------

    def dossier(self, dossier_id: int) -> DossierRow | None:
        return self._dossiers.get(dossier_id)

    def assessed_total(self, dossier_id: int) -> int | None:
        if self._assessed is not None:
            return self._assessed.get(dossier_id)
        row = self._dossiers.get(dossier_id)
        return None if row is None else row.total_assessed

    def paid_total(self, dossier_id: int) -> int:
        """The sum of the dossier's succeeded matched payments (0 when none)."""
        group = self._groups.get(dossier_id)
        if group is not None:
            return sum(p.amount for p in group)
        first = self._first_pay.get(dossier_id)
        return 0 if first is None else first.amount

    def payment(self, payment_id: int) -> PaymentRow | None:
        if self._payments_by_id is None:
            self._payments_by_id = {p.id: p for p in self._payments}
        return self._payments_by_id.get(payment_id)

    def matched_dossier(self, payment: PaymentRow) -> int | None:
        return _dossier_of(payment, self._intents)

    def is_allocated(self, payment_id: int) -> bool:
        """Whether the payment was split across several dossiers (its allocations count)."""
        return payment_id in self._allocated

    def intent(self, intent_id: int) -> IntentRow | None:
        return self._intents.get(intent_id)

    def settlement_line(self, line_id: int) -> SettlementLineRow | None:
        if self._lines_by_id is None:
            self._lines_by_id = {ln.id: ln for ln in self._lines}
        return self._lines_by_id.get(line_id)

    def settlement_lines_for(self, provider: str, provider_txn_id: str) -> list[SettlementLineRow]:
        """Lines of one provider transaction, the original (first settled) first."""
        if self._lines_by_key is None:
            by_key: dict[TxnKey, list[SettlementLineRow]] = {}
            for ln in self._lines:
                if ln.refund_of is None:  # a refund line settles nothing
                    by_key.setdefault((ln.provider, ln.provider_txn_id), []).append(ln)
            for group in by_key.values():
                group.sort(key=_line_order)
            self._lines_by_key = by_key
        return list(self._lines_by_key.get((provider, provider_txn_id), ()))

    def refund_lines_of(self, payment: PaymentRow) -> list[SettlementLineRow]:
        """The refund lines paired with ``payment`` (``refund_of`` its own id), by id."""
        return sorted((ln for ln in self._lines if ln.refund_of == payment.provider_txn_id
                       and ln.provider == payment.provider), key=_line_order)

    def bank_claimant(self, provider: str, provider_txn_id: str) -> PaymentRow | None:
        """The payment that took the lines keyed ``(provider, provider_txn_id)`` by its bank
        reference (see the module doc), or ``None``."""
        return self._bank_claims.get((provider, provider_txn_id))

    def settlement_lines_of(self, payment: PaymentRow) -> list[SettlementLineRow]:
        """Every line that settles ``payment``, its original first: those under its own id,
        then those it took by its bank reference (all duplicates when the former exist)."""
        lines = self.settlement_lines_for(payment.provider, payment.provider_txn_id)
        bank = payment.bank_reference
        if bank is not None:
            claimant = self._bank_claims.get((payment.provider, bank))
            if claimant is not None and claimant.id == payment.id:
                lines += self.settlement_lines_for(payment.provider, bank)
        return lines

    def covers(self, identity: str) -> bool:
        """Whether every subject of ``identity`` was among this run's inputs."""
        _kind, ids = self.kinds.parse_identity(identity)
        for name, value in ids.items():
            if name == "dossier" and value not in self._dossiers:
                return False
            if name == "payment" and self.payment(value) is None:
                return False
            if name == "settlement_line" and self.settlement_line(value) is None:
                return False
        return True


class WithPass(Reconciliation):
    """A run's result with one pass's findings added (the payout, forwarding, portal, receipt
    and remittance passes run after the core, each over what it reads itself): ``discrepancies``
    is the merged list, every other attribute is read through to the result it wraps, and
    ``covers`` answers for the pass's own kinds by :meth:`judged`, for the others by that
    result. A pass's subclass keeps its outcome on an attribute of its own (``payouts``,
    ``forwarding``, ``portal``, ``receipts``, ``remittances``), which the reasons of
    :mod:`recon.engine.lifecycle` read through any later wrapper."""

    __slots__ = ("_base",)

    def __init__(self, base: Reconciliation,
                 discrepancies: list[Discrepancy]) -> None:  # the base's slots stay unset
        self._base = base
        self.discrepancies = discrepancies
        self.kinds = base.kinds
        self.as_of = base.as_of
        self.config = base.config

    def __getattr__(self, name: str) -> object:
        # only reached for the base's slots left unset here: read them on the base
        return getattr(self._base, name)

    def judged(self, kind: str, ids: dict[str, int], identity: str) -> bool | None:
        """Whether this pass judged ``identity`` in this run; ``None``: not one of its kinds."""
        raise NotImplementedError

    def covers(self, identity: str) -> bool:
        kind, ids = self.kinds.parse_identity(identity)
        own = self.judged(kind, ids, identity)
        return self._base.covers(identity) if own is None else own


class _Intents:
    """Intents by id, indexed only if something asks (most payments carry their dossier)."""

    __slots__ = ("_by_id", "_rows")

    def __init__(self, rows: Sequence[IntentRow]) -> None:
        self._rows = rows
        self._by_id: dict[int, IntentRow] | None = None

    def get(self, intent_id: int) -> IntentRow | None:
        if self._by_id is None:
            self._by_id = {i.id: i for i in self._rows}
        return self._by_id.get(intent_id)


def _line_order(line: SettlementLineRow) -> tuple[date, int]:
    return (line.settled_on, line.id)


def _payment_order(payment: PaymentRow) -> tuple[datetime, int]:
    return (payment.paid_at, payment.id)


def _first_id(entry: tuple[PaymentRow, TxnKey, object]) -> int:
    return entry[0][0]


def _cutoff(provider: str, as_of: datetime, cfg: EngineConfig) -> datetime:
    """Paid before this, a payment of ``provider`` with no line is overdue (never for the
    providers that do not settle)."""
    if not cfg.needs_settlement(provider):
        return _NEVER
    return settlement_cutoff(as_of, cfg.days_for(provider), cfg.calendar)


# --------------------------------------------------------------------------- shared indexes


class Balance(NamedTuple):
    """A dossier whose succeeded matched payments do not add up to what it was assessed."""

    dossier_id: int
    code: str
    assessed: int
    paid: int
    payments: list[PaymentRow] | None  # all of them when more than one, else None


class Repeat(NamedTuple):
    """A payment taken as a repeat of ``original`` (see the module doc)."""

    payment: PaymentRow
    original: PaymentRow
    same_intent: bool


class Facts:
    """The shared indexes of one run: built once by :func:`reconcile`, read by every detector.

    After the transactions are matched (before any detector runs):

    - ``unmatched``: succeeded payments matched to no dossier;
    - ``unsettled``: ``(payment, dossier id)`` of each succeeded payment that no settlement
      line settles (neither under its own id nor under its bank reference);
    - ``gross_differs``: ``(payment, line, dossier id)`` of each succeeded payment whose
      settlement (the original line of the group it took) has another gross amount;
    - ``settled``: ``(payment, line)`` of each succeeded payment with the original line of the
      group it took (its own id or its bank reference), whatever the gross;
    - ``settled_not_succeeded``: ``(payment, line)`` of each failed or refunded payment that
      took a line group, with the group's original line;
    - ``unclaimed``: ``(provider, txn) -> original line`` of the groups no payment took;
    - ``line_groups``: ``(provider, txn) -> lines``, original first, of the groups with more
      than one line; ``group_payment`` names the payment that took such a group;
    - ``settled_twice``: ``(payment, its own original line, the first line of a group of its
      bank reference)``: a payment settled under both; ``first_settled`` maps such a group to
      the payment's own original;
    - ``bank_claims``: ``(provider, bank reference) -> payment`` for groups taken that way;
    - ``first_pay`` / ``pay_groups``: the succeeded matched payments by dossier (the first
      seen; all of them when there are more than one);
    - ``refund_lines``: the refund lines by ``(provider, refund_of)``; ``refund_paired``:
      ``(payment, refund line)`` for each refund line whose sale is a recorded payment;
      ``refund_strays``: the refund lines whose sale is not.

    Once the dossiers are loaded (before the dossier-stage detectors run): ``dossiers``,
    ``assessed`` (``None``: each row's own ``total_assessed``), ``balances`` (one
    :class:`Balance` per dossier paid more or less than assessed) and :meth:`repeats`.
    """

    __slots__ = (
        "_repeats",
        "allocations",
        "as_of",
        "assessed",
        "balances",
        "bank_claims",
        "config",
        "dossiers",
        "first_pay",
        "first_settled",
        "gross_differs",
        "group_payment",
        "intents",
        "line_groups",
        "pay_groups",
        "payments",
        "refund_lines",
        "refund_paired",
        "refund_strays",
        "refusals",
        "settled",
        "settled_not_succeeded",
        "settled_twice",
        "settlement_lines",
        "unclaimed",
        "unmatched",
        "unsettled",
        "unsplit",
    )

    def __init__(self, *, as_of: datetime, config: EngineConfig, intents: _Intents,
                 payments: Sequence[PaymentRow],
                 settlement_lines: Sequence[SettlementLineRow]) -> None:
        self.as_of = as_of
        self.config = config
        self.intents = intents
        self.payments = payments
        self.settlement_lines = settlement_lines
        self.unmatched: list[PaymentRow] = []
        # split payments: their allocations by payment id (each counts as paying its dossier)
        self.allocations: dict[int, list[AllocationRow]] = {}
        # payments naming several references that were not split: why, by payment id
        self.refusals: dict[int, UnsplitRow] = {}
        self.unsplit: list[tuple[PaymentRow, UnsplitRow]] = []
        self.unsettled: list[tuple[PaymentRow, int | None]] = []
        self.gross_differs: list[tuple[PaymentRow, SettlementLineRow, int | None]] = []
        self.settled: list[tuple[PaymentRow, SettlementLineRow]] = []
        self.settled_not_succeeded: list[tuple[PaymentRow, SettlementLineRow]] = []
        self.unclaimed: dict[TxnKey, SettlementLineRow] = {}
        self.line_groups: dict[TxnKey, list[SettlementLineRow]] = {}
        self.group_payment: dict[TxnKey, PaymentRow] = {}
        self.settled_twice: list[tuple[PaymentRow, SettlementLineRow, SettlementLineRow]] = []
        self.first_settled: dict[TxnKey, SettlementLineRow] = {}
        self.bank_claims: dict[TxnKey, PaymentRow] = {}
        self.first_pay: dict[int, PaymentRow] = {}
        self.pay_groups: dict[int, list[PaymentRow]] = {}
        # refund lines (see the module doc): by (provider, the sale's id); each paired with
        # its payment, or a stray with none
        self.refund_lines: dict[TxnKey, list[SettlementLineRow]] = {}
        self.refund_paired: list[tuple[PaymentRow, SettlementLineRow]] = []
        self.refund_strays: list[SettlementLineRow] = []
        self.dossiers: dict[int, DossierRow] = {}
        self.assessed: dict[int, int] | None = None
        self.balances: list[Balance] = []
        self._repeats: dict[int, list[Repeat]] = {}

    def dossier_of(self, payment: PaymentRow) -> int | None:
        """The dossier a payment is matched to, for context on any finding (never raises)."""
        return _dossier_of(payment, self.intents)

    def repeats(self, balance: Balance) -> list[Repeat]:
        """The repeats that explain an overpaid dossier's excess, in the order taken (see the
        module doc); empty unless it was paid more than assessed by more than one payment."""
        did = balance.dossier_id
        found = self._repeats.get(did)
        if found is None:
            group = balance.payments
            found = ([] if group is None or balance.paid <= balance.assessed
                     else _take_repeats(group, balance.paid - balance.assessed))
            self._repeats[did] = found
        return found


def _match_transactions(
    facts: Facts, payments: Sequence[PaymentRow], settlement_lines: Sequence[SettlementLineRow]
) -> None:
    """Fill the transaction indexes of ``facts`` (see :class:`Facts` and the module doc)."""
    # settlement lines, grouped by provider transaction ------------------------------------
    first_line = facts.unclaimed  # what is left once payments took theirs is unclaimed
    line_groups = facts.line_groups
    refund_lines = facts.refund_lines
    for row in settlement_lines:
        if row[8] is not None:  # a refund: never a settlement of its sale (_pair_refunds)
            refund_lines.setdefault((row[1], row[8]), []).append(row)
            continue
        key = (row[1], row[2])
        held = first_line.setdefault(key, row)
        if held is not row:
            group = line_groups.get(key)
            if group is None:
                line_groups[key] = [held, row]
            else:
                group.append(row)
    for key, group in line_groups.items():
        group.sort(key=_line_order)
        first_line[key] = group[0]
    group_payment = facts.group_payment
    bank_claims = facts.bank_claims

    # payments: one pass ------------------------------------------------------------------
    intent_rows = facts.intents
    allocations = facts.allocations
    refusals = facts.refusals
    first_pay = facts.first_pay
    pay_groups = facts.pay_groups
    unmatched = facts.unmatched.append
    unsettled = facts.unsettled.append
    differs = facts.gross_differs.append
    not_succeeded = facts.settled_not_succeeded.append
    settled = facts.settled.append
    # payments with a bank reference: without a line of their own (and their dossier) ...
    by_bank: list[tuple[PaymentRow, TxnKey, int | None]] = []
    # ... and with one (and that line)
    settled_too: list[tuple[PaymentRow, TxnKey, SettlementLineRow]] = []
    for p in payments:
        (_pid, provider, txn, _channel, amount, status, _paid, did, intent_id, _ref, bank,
         _method, _foreign) = p
        key = (provider, txn)
        line = first_line.pop(key, None)
        if line is not None:
            if line_groups and key in line_groups:
                group_payment[key] = p
            if bank is not None and bank != txn:
                settled_too.append((p, (provider, bank), line))
        if status == SUCCEEDED:
            if did is None and intent_id is not None:
                intent = intent_rows.get(intent_id)
                if intent is None:
                    raise ValueError(f"payment {p[0]} refers to intent {intent_id}, not given")
                did = intent[1]
            if did is None:
                shares = allocations.get(p[0]) if allocations else None
                if shares is not None:
                    # a split payment pays each dossier its allocation (gross stays the
                    # payment's own, for its settlement line)
                    for share in shares:
                        part = p._replace(amount=share[2], dossier_id=share[1])
                        held_p = first_pay.setdefault(share[1], part)
                        if held_p is not part:
                            pgroup = pay_groups.get(share[1])
                            if pgroup is None:
                                pay_groups[share[1]] = [held_p, part]
                            else:
                                pgroup.append(part)
                elif refusals and p[0] in refusals:
                    facts.unsplit.append((p, refusals[p[0]]))
                else:
                    unmatched(p)
            else:
                held_p = first_pay.setdefault(did, p)
                if held_p is not p:
                    pgroup = pay_groups.get(did)
                    if pgroup is None:
                        pay_groups[did] = [held_p, p]
                    else:
                        pgroup.append(p)
            if line is None:
                if bank is not None and bank != txn:  # judged once own ids took their lines
                    by_bank.append((p, (provider, bank), did))
                else:
                    unsettled((p, did))
            else:
                settled((p, line))
                if line[3] != amount:
                    differs((p, line, did))
        elif line is not None:
            not_succeeded((p, line))
        elif bank is not None and bank != txn:
            by_bank.append((p, (provider, bank), None))

    # bank references (see the module doc): lowest payment id first, so input order never
    # matters. First payments with no line of their own take the group of their reference ...
    by_bank.sort(key=_first_id)
    for p, bank_key, did in by_bank:
        line = first_line.pop(bank_key, None)
        if line is not None:
            bank_claims[bank_key] = p
            if line_groups and bank_key in line_groups:
                group_payment[bank_key] = p
            if p[5] != SUCCEEDED:
                not_succeeded((p, line))
            else:
                settled((p, line))
                if line[3] != p[4]:
                    differs((p, line, did))
        elif p[5] == SUCCEEDED:
            unsettled((p, did))
    # ... then a group still unclaimed that names a settled payment settles it a second time
    settled_too.sort(key=_first_id)
    for p, bank_key, own in settled_too:
        extra = first_line.pop(bank_key, None)
        if extra is not None:
            bank_claims[bank_key] = p
            group_payment[bank_key] = p
            facts.first_settled[bank_key] = own
            facts.settled_twice.append((p, own, extra))
    if refund_lines:
        _pair_refunds(facts, payments)


def _pair_refunds(facts: Facts, payments: Sequence[PaymentRow]) -> None:
    """Each refund line with the payment of its sale (see the module doc); a refunded payment
    with a refund line is no ``status_mismatch`` for its sale line."""
    refund_lines = facts.refund_lines
    paired = facts.refund_paired
    found: set[TxnKey] = set()
    reversed_ids: set[int] = set()
    for p in payments:
        key = (p[1], p[2])
        lines = refund_lines.get(key)
        if lines is None:
            continue
        found.add(key)
        if p[5] == REFUNDED:
            reversed_ids.add(p[0])
        for line in lines:
            paired.append((p, line))
    for key, lines in refund_lines.items():
        if key not in found:
            facts.refund_strays.extend(lines)
    if reversed_ids:
        facts.settled_not_succeeded[:] = [
            pair for pair in facts.settled_not_succeeded if pair[0][0] not in reversed_ids]


def _add_dossiers(
    facts: Facts, dossier_rows: Sequence[DossierRow], fee_lines: Sequence[FeeLineRow] | None
) -> None:
    """Fill the dossier indexes of ``facts``; raise ``ValueError`` on inconsistent input."""
    dossier_by_id = facts.dossiers = dict(zip(map(itemgetter(0), dossier_rows), dossier_rows,
                                              strict=True))
    if len(dossier_by_id) != len(dossier_rows):
        raise ValueError("dossier ids must be unique")
    assessed: dict[int, int] | None = None  # None: each row's own total_assessed
    if fee_lines is not None:
        assessed = dict.fromkeys(dossier_by_id, 0)
        try:
            for fee_dossier, fee_amount in fee_lines:
                assessed[fee_dossier] += fee_amount
        except KeyError as exc:
            raise ValueError(f"a fee line refers to dossier {exc.args[0]}, not given") from None
        for d_id, _code, total in dossier_rows:
            if total is not None and total != assessed[d_id]:
                raise ValueError(
                    f"dossier {d_id}: total_assessed {total} differs from its fee lines "
                    f"({assessed[d_id]})"
                )
    facts.assessed = assessed
    balance = facts.balances.append
    group_of = facts.pay_groups.get
    dossier_of = dossier_by_id.get
    for did, first in facts.first_pay.items():
        group_or_none = group_of(did)
        paid = first[4] if group_or_none is None else sum(x[4] for x in group_or_none)
        dossier = dossier_of(did)
        if dossier is None:
            raise ValueError(f"payment {first[0]} is matched to dossier {did}, not given")
        due = dossier[2] if assessed is None else assessed[did]
        if due is None:
            raise ValueError(f"dossier {did} has no total_assessed and no fee lines were given")
        if paid != due:
            balance(Balance(did, dossier[1], due, paid, group_or_none))


def _take_repeats(group: list[PaymentRow], excess: int) -> list[Repeat]:
    """The repeats that explain ``excess`` (see the module docstring), in the order taken."""
    group.sort(key=_payment_order)
    first_of_amount: dict[int, PaymentRow] = {}
    first_on_intent: dict[tuple[int, int], PaymentRow] = {}
    intent_repeats: list[tuple[PaymentRow, PaymentRow]] = []
    amount_repeats: list[tuple[PaymentRow, PaymentRow]] = []
    for p in group:
        amount = p.amount
        if amount <= 0:
            continue
        original = None
        if p.intent_id is not None:
            original = first_on_intent.setdefault((p.intent_id, amount), p)
        if original is not None and original is not p:
            intent_repeats.append((p, original))
        else:
            original = first_of_amount.setdefault(amount, p)
            if original is not p:
                amount_repeats.append((p, original))
    taken: list[Repeat] = []
    total = 0
    for repeats, same_intent in ((intent_repeats, True), (amount_repeats, False)):
        for p, original in repeats:
            if p.amount > excess - total:
                continue
            total += p.amount
            taken.append(Repeat(p, original, same_intent))
    return taken


# --------------------------------------------------------------------------- reconcile


def reconcile(
    *,
    dossiers: Sequence[DossierRow] | Callable[[], Sequence[DossierRow]],
    intents: Sequence[IntentRow] = (),
    payments: Sequence[PaymentRow] = (),
    settlement_lines: Sequence[SettlementLineRow] = (),
    as_of: datetime,
    config: EngineConfig | None = None,
    fee_lines: Sequence[FeeLineRow] | None = None,
    settled: Callable[[list[Discrepancy]], None] | None = None,
    kinds: KindRegistry | None = None,
    allocations: Sequence[AllocationRow] = (),
    unsplit: Sequence[UnsplitRow] = (),
) -> Reconciliation:
    """Compare assessed, paid and settled; return every discrepancy, sorted by identity.

    ``dossiers`` must include every dossier a payment (or its intent) is matched to, and
    ``intents`` every intent a payment without a dossier points to: a reference to one that is
    missing is a loader bug and raises ``ValueError`` rather than being silently dropped. With
    ``fee_lines`` the assessed totals are their sums (a dossier without lines assessed 0, and a
    ``total_assessed`` given as well must agree); without, each ``total_assessed`` is used, and
    one left ``None`` on a dossier that has a payment raises ``ValueError``.

    For a partial (recent-activity) run, load with each payment every other payment of its
    dossier and every settlement line of its transaction (under its own id and under its bank
    reference), and with each line every payment whose own id or bank reference is the line's
    id, or totals and matches will be wrong.

    ``dossiers`` may also be a function returning them: it is called once, after the
    settlement lines are grouped and the payments walked, so a loader can still be fetching
    the dossiers meanwhile (the runner's full load does). The result is the same.

    ``settled``, if given, is called once, before the dossiers are asked for, with the
    findings of the ``"transactions"`` stage (every built-in kind but ``underpaid``,
    ``overpaid`` and ``duplicate_payment``; sorted by identity): the runner starts writing
    them meanwhile. They are in the result too, unchanged.

    ``allocations``: the shares of payments split across several dossiers (a succeeded payment
    with no dossier of its own and allocations pays each dossier its share; its gross is still
    what its settlement line is compared with). ``unsplit``: payments naming several references
    that were not split, reported as ``multi_reference_unsplit`` instead of
    ``unmatched_payment``. A payment with a dossier of its own ignores both.

    ``kinds`` is the registry whose detectors run (:data:`recon.engine.kinds.REGISTRY` when
    ``None``): the shared indexes are built once, then each kind's detector adds its findings.
    """
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        raise ValueError("as_of must be a timezone-aware datetime")
    cfg = config if config is not None else EngineConfig()
    registry = kinds if kinds is not None else builtin_kinds()

    facts = Facts(as_of=as_of, config=cfg, intents=_Intents(intents), payments=payments,
                  settlement_lines=settlement_lines)
    for share in allocations:
        facts.allocations.setdefault(share[0], []).append(share)
    for share_list in facts.allocations.values():
        share_list.sort(key=itemgetter(1))
    facts.refusals = {row[0]: row for row in unsplit}
    _match_transactions(facts, payments, settlement_lines)
    out: list[Discrepancy] = []
    emit = out.append
    for kind in registry.transaction_kinds:
        kind.detector(facts, kind, emit)
    if settled is not None:
        settled(sorted(out, key=itemgetter(0)))

    # dossiers and what each was assessed (only now: a loader may still be fetching them) ---
    _add_dossiers(facts, dossiers() if callable(dossiers) else dossiers, fee_lines)
    for kind in registry.dossier_kinds:
        kind.detector(facts, kind, emit)

    out.sort(key=itemgetter(0))
    for i in range(1, len(out)):
        if out[i - 1][0] == out[i][0]:
            raise ValueError(f"two findings share the identity {out[i][0]}: are the ids unique?")
    return Reconciliation(
        discrepancies=out, as_of=as_of, config=cfg, dossiers=facts.dossiers,
        assessed=facts.assessed, first_pay=facts.first_pay, groups=facts.pay_groups,
        intents=facts.intents, payments=payments, lines=settlement_lines,
        bank_claims=facts.bank_claims, kinds=registry,
        allocated=frozenset(facts.allocations),
    )


# --------------------------------------------------------------------------- detectors
#
# One per built-in kind, named in its entry of recon.engine.kinds. A detector reads the shared
# indexes (Facts) and emits each finding of ``kind``; it writes its sentence with
# ``kind.explain``. Amounts follow the table of recon.engine.records.Discrepancy.


def detect_late_for_closed_period(facts: Facts, kind: Kind, emit: Emit) -> None:
    """Emits nothing here: which months are closed, and what they froze, only the database
    knows. The run finds these where it writes (:func:`recon.engine.closed.hold`): data that
    arrives for a payment of a closed month (a late settlement line, a refund) would change a
    finding of that month; the finding is left as it was and this kind reports the change in
    the current month instead."""


def _found_by_the_payout_pass(facts: Facts, kind: Kind, emit: Emit) -> None:
    """Emits nothing here: the core sees neither batches nor bank credits. The run's payout
    pass (:mod:`recon.engine.payouts`, read by :mod:`recon.engine.payout_load`) finds these
    and adds them to the result."""
    del facts, kind, emit


detect_payout_missing = _found_by_the_payout_pass
detect_payout_mismatch = _found_by_the_payout_pass
detect_payout_unexpected = _found_by_the_payout_pass


def detect_portal_mismatch(facts: Facts, kind: Kind, emit: Emit) -> None:
    """Emits nothing here: the core does not read the portal's lists. The run's portal pass
    (:mod:`recon.engine.portal`, read by :mod:`recon.engine.portal_load`) finds these."""
    del facts, kind, emit


def _found_by_the_receipt_pass(facts: Facts, kind: Kind, emit: Emit) -> None:
    """Emits nothing here: the core sees no receipt. The run's receipt pass
    (:mod:`recon.engine.receipt_check`, read by :mod:`recon.engine.receipt_load`) finds these,
    when receipts are on, and adds them to the result."""
    del facts, kind, emit


detect_receipt_missing = _found_by_the_receipt_pass
detect_receipt_mismatch = _found_by_the_receipt_pass
detect_receipt_orphan = _found_by_the_receipt_pass


def _found_by_the_forwarding_pass(facts: Facts, kind: Kind, emit: Emit) -> None:
    """Emits nothing here: the core sees neither the fee lines' collectors nor the transfers.
    The run's forwarding pass (:mod:`recon.engine.forwarding`, read by
    :mod:`recon.engine.forward_load`) finds these and adds them to the result."""
    del facts, kind, emit


detect_forward_overdue = _found_by_the_forwarding_pass
detect_forward_mismatch = _found_by_the_forwarding_pass


def _found_by_the_remittance_pass(facts: Facts, kind: Kind, emit: Emit) -> None:
    """Emits nothing here: the core sees no voucher and no fee split. The run's remittance
    pass (:mod:`recon.engine.remittances`, its inputs read by the service layer) finds these
    kinds."""
    del facts, kind, emit


def _found_by_the_deposit_pass(facts: Facts, kind: Kind, emit: Emit) -> None:
    """Emits nothing here: the core sees neither deposit rules nor deposits. The run's
    deposit pass (:mod:`recon.engine.deposits`, read by :mod:`recon.engine.deposit_load`)
    finds these and adds them to the result."""
    del facts, kind, emit


detect_deposit_overdue = _found_by_the_deposit_pass


def detect_fee_invoice_mismatch(facts: Facts, kind: Kind, emit: Emit) -> None:
    """Emits nothing here: the core sees no invoice. The run's fee invoice pass
    (:mod:`recon.engine.fee_invoices`, read by :mod:`recon.engine.fee_invoice_load`) finds
    these and adds them to the result."""
    del facts, kind, emit
detect_remittance_overdue = _found_by_the_remittance_pass
detect_remittance_short = _found_by_the_remittance_pass
detect_remittance_excess = _found_by_the_remittance_pass


def detect_unmatched_payment(facts: Facts, kind: Kind, emit: Emit) -> None:
    name, explain_ = kind.name, kind.explain
    for p in facts.unmatched:
        vi, en = explain_(p[1], p[2], p[4], p[9])
        emit(Discrepancy(
            f"{name}:payment={p[0]}", name, None, p[0], None, p[1], 0, p[4], p[4], vi, en,
        ))


def detect_multi_reference_unsplit(facts: Facts, kind: Kind, emit: Emit) -> None:
    """A succeeded payment naming several references that was not split (see
    :mod:`recon.payments.split`): one finding naming every reference and the reason."""
    name, explain_ = kind.name, kind.explain
    for p, why in facts.unsplit:
        vi, en = explain_(p[1], p[2], p[4], why[1], tuple(why[2]), tuple(why[3]), why[4])
        emit(Discrepancy(
            f"{name}:payment={p[0]}", name, None, p[0], None, p[1], 0, p[4], p[4], vi, en,
        ))


def detect_missing_settlement(facts: Facts, kind: Kind, emit: Emit) -> None:
    """Succeeded, no line, and paid before its provider's cutoff (never for ``cash``)."""
    name, explain_ = kind.name, kind.explain
    cfg, as_of = facts.config, facts.as_of
    cutoffs: dict[str, datetime] = {}
    for p, did in facts.unsettled:
        provider = p[1]
        cutoff = cutoffs.get(provider)
        if cutoff is None:
            cutoff = cutoffs[provider] = _cutoff(provider, as_of, cfg)
        if p[6] < cutoff:
            days = cfg.days_for(provider)
            vi, en = explain_(
                provider, p[2], p[4], paid_at=p[6], days=days,
                deadline=settlement_deadline(p[6], days, cfg.calendar),
                banking=cfg.banking_days,
            )
            emit(Discrepancy(
                f"{name}:payment={p[0]}", name, did, p[0], None, provider, p[4], 0, -p[4],
                vi, en,
            ))


def detect_amount_mismatch(facts: Facts, kind: Kind, emit: Emit) -> None:
    """A succeeded payment whose original line's gross differs (flagged within tolerance)."""
    name, explain_ = kind.name, kind.explain
    cfg = facts.config
    for p, line, did in facts.gross_differs:
        tolerance = cfg.tolerance_for(p[1])
        delta = line[3] - p[4]
        within = abs(delta) <= tolerance
        vi, en = explain_(p[1], p[2], p[4], line[3], within_tolerance=within, tolerance=tolerance)
        emit(Discrepancy(
            f"{name}:payment={p[0]}:settlement_line={line[0]}", name,
            did, p[0], line[0], p[1], p[4], line[3], delta, vi, en, within,
        ))


def detect_fee_mismatch(facts: Facts, kind: Kind, emit: Emit) -> None:
    """The original line of a succeeded payment whose fee is not its contract's (beyond the
    contract's tolerance, 1 đồng by default), or whose stated net is not gross - fee (the
    file contradicts itself). The contract is the one of the line's provider and the
    payment's method (``"*"`` when the provider gave none) on the transaction's Vietnam date
    (the line's ``transaction_at``, else the payment's ``paid_at``); a line no contract covers
    is judged on its net only. A contract with tiers judges a line by its place in the
    month's count of that contract's lines seen here, in transaction order: that tier or any
    higher one (the count is a lower bound; :mod:`recon.contracts.model`). The foreign-card
    surcharge is expected only of a card the payment says was issued abroad."""
    name, explain_ = kind.name, kind.explain
    book = facts.config.contracts
    contracts: dict[tuple[str, str | None, date], Contract | None] = {}

    def contract_for(provider: str, method: str | None, day: date) -> Contract | None:
        key = (provider, method, day)
        try:
            return contracts[key]
        except KeyError:
            found = contracts[key] = book.find(provider, method, day)
            return found

    # the same contract, gross, fee, tier count and card get the same check: lines repeat the
    # few fees of a centre's price list, so most lines find theirs here
    checks: dict[tuple[str, int, int, int, bool | None, str | None], FeeCheck] = {}
    counts: dict[int, int] = {}
    if any(c.tiers for c in book.contracts):  # each line's place in its month, in time order
        timed: list[tuple[datetime, int, Contract, date]] = []
        for p, line in facts.settled:
            when = line[7] if line[7] is not None else p[6]
            day = explain.vn_date(when)
            c = contract_for(line[1], p[11], day)
            if c is not None and c.tiers:
                timed.append((when, line[0], c, day))
        timed.sort(key=itemgetter(0, 1))
        counter = MonthCounter()
        for _when, line_id, c, day in timed:
            counts[line_id] = counter.next(c, day)
    judge_fees = len(book) > 0
    offset = explain.VN_OFFSET
    # a line's check, by what decides it: provider, method, Vietnam day, gross, fee, card,
    # tier count (one look-up per line; most lines of a day repeat a few fees)
    verdicts: dict[tuple[str, str | None, date, int, int, object, int], FeeCheck | None] = {}
    for p, line in facts.settled:
        gross, fee, net = line[3], line[4], line[5]
        net_ok = net == gross - fee
        check = None
        if judge_fees:
            at = line[7]
            if at is None:
                at = p[6]
            # explain.vn_date, inlined (a call per line is a tenth of this loop)
            day = ((at + offset).date() if at.tzinfo is UTC and offset is not None
                   else explain.vn_date(at))
            vkey = (line[1], p[11], day, gross, fee, p[12], counts.get(line[0], 0) if counts
                    else 0)
            try:
                check = verdicts[vkey]
            except KeyError:
                contract = contract_for(line[1], p[11], day)
                if contract is not None:
                    foreign = None if p[12] is None else bool(p[12])
                    key = (contract.id, gross, fee, vkey[6], foreign, p[11])
                    check = checks.get(key)
                    if check is None:
                        check = checks[key] = judge(contract, gross, fee, count=key[3],
                                                    foreign=foreign, method=p[11])
                verdicts[vkey] = check
        fee_ok = check is None or check.ok
        if fee_ok and net_ok:
            continue
        vi, en = explain_(line[1], line[2], gross, fee, net, check)
        if fee_ok:
            expected, actual = gross - fee, net
        else:
            assert check is not None
            expected, actual = check.expected, fee
        emit(Discrepancy(
            f"{name}:payment={p[0]}:settlement_line={line[0]}", name,
            facts.dossier_of(p), p[0], line[0], line[1], expected, actual, actual - expected,
            vi, en,
        ))
    if facts.refund_paired:
        _refund_fees(facts, kind, emit, contract_for)


def _refund_fees(facts: Facts, kind: Kind, emit: Emit,
                 contract_for: Callable[[str, str | None, date], Contract | None]) -> None:
    """A refund line of a refunded payment: its fee against the refund fee of the payment's
    contract on the refund's Vietnam date (its ``transaction_at``, else its ``settled_on``),
    and its stated net against gross - fee; no contract: the net only."""
    name = kind.name
    for p, line in facts.refund_paired:
        if p[5] != REFUNDED:
            continue
        day = explain.vn_date(line[7]) if line[7] is not None else line[6]
        contract = contract_for(line[1], p[11], day)
        gross, fee, net = line[3], line[4], line[5]
        expected = None if contract is None else contract.refund_fee(gross)
        fee_ok = contract is None or abs(fee - (expected or 0)) <= contract.tolerance_vnd
        net_ok = net == gross - fee
        if fee_ok and net_ok:
            continue
        vi, en = explain.refund_fee_mismatch(line[1], line[2], p[2], gross, fee, net,
                                             None if fee_ok else contract)
        if fee_ok:
            want, actual = gross - fee, net
        else:
            assert expected is not None
            want, actual = expected, fee
        emit(Discrepancy(
            f"{name}:payment={p[0]}:settlement_line={line[0]}", name,
            facts.dossier_of(p), p[0], line[0], line[1], want, actual, actual - want, vi, en,
        ))


def detect_status_mismatch(facts: Facts, kind: Kind, emit: Emit) -> None:
    """A failed or refunded payment whose transaction was settled all the same."""
    name, explain_ = kind.name, kind.explain
    for p, line in facts.settled_not_succeeded:
        vi, en = explain_(p[1], p[2], p[5], line[3], line[6])
        emit(Discrepancy(
            f"{name}:payment={p[0]}:settlement_line={line[0]}", name,
            facts.dossier_of(p), p[0], line[0], p[1], 0, line[3], line[3], vi, en,
        ))
    for p, line in facts.refund_paired:  # a refund of a payment that is not refunded
        if p[5] == REFUNDED:
            continue
        vi, en = explain.refund_status_mismatch(p[1], p[2], line[2], p[5], line[3], line[6])
        emit(Discrepancy(
            f"{name}:payment={p[0]}:settlement_line={line[0]}", name,
            facts.dossier_of(p), p[0], line[0], p[1], 0, line[3], line[3], vi, en,
        ))


def detect_unexpected_settlement(facts: Facts, kind: Kind, emit: Emit) -> None:
    """The original line of a group no payment took, and a refund line whose sale is no
    recorded payment."""
    name, explain_ = kind.name, kind.explain
    for line in facts.unclaimed.values():
        vi, en = explain_(line[1], line[2], line[3], line[6])
        emit(Discrepancy(
            f"{name}:settlement_line={line[0]}", name,
            None, None, line[0], line[1], 0, line[3], line[3], vi, en,
        ))
    for line in facts.refund_strays:
        vi, en = explain.refund_unexpected(line[1], line[2], line[8], line[3], line[6])
        emit(Discrepancy(
            f"{name}:settlement_line={line[0]}", name,
            None, None, line[0], line[1], 0, line[3], line[3], vi, en,
        ))


def detect_duplicate_settlement(facts: Facts, kind: Kind, emit: Emit) -> None:
    """Every line of a group but its original, and every line of a bank-reference group that
    settles a payment already settled under its own id."""
    name, explain_ = kind.name, kind.explain
    for p, own, extra in facts.settled_twice:
        vi, en = explain_(extra[1], extra[2], extra[3], extra[6], own[6])
        emit(Discrepancy(
            f"{name}:settlement_line={extra[0]}", name,
            facts.dossier_of(p), p[0], extra[0], extra[1], 0, extra[3], extra[3], vi, en,
        ))
    first_settled = facts.first_settled
    group_payment = facts.group_payment
    for key, group in facts.line_groups.items():
        original = first_settled.get(key, group[0])
        owner = group_payment.get(key)
        did = None if owner is None else facts.dossier_of(owner)
        owner_id = None if owner is None else owner[0]
        for extra in group[1:]:
            vi, en = explain_(extra[1], extra[2], extra[3], extra[6], original[6])
            emit(Discrepancy(
                f"{name}:settlement_line={extra[0]}", name, did, owner_id,
                extra[0], extra[1], 0, extra[3], extra[3], vi, en,
            ))


def detect_underpaid(facts: Facts, kind: Kind, emit: Emit) -> None:
    name, explain_ = kind.name, kind.explain
    for did, code, due, paid, _payments in facts.balances:
        if paid < due:
            vi, en = explain_(code, due, paid)
            emit(Discrepancy(
                f"{name}:dossier={did}", name, did, None, None, None,
                due, paid, paid - due, vi, en,
            ))


def detect_overpaid(facts: Facts, kind: Kind, emit: Emit) -> None:
    """The excess that the repeats (``duplicate_payment``) leave unexplained."""
    name, explain_ = kind.name, kind.explain
    for balance in facts.balances:
        did, code, due, paid, _payments = balance
        if paid <= due:
            continue
        duplicates = sum(r.payment.amount for r in facts.repeats(balance))
        counted = paid - duplicates
        if counted > due:
            vi, en = explain_(code, due, counted, duplicates)
            emit(Discrepancy(
                f"{name}:dossier={did}", name, did, None, None, None,
                due, counted, counted - due, vi, en,
            ))


def detect_duplicate_payment(facts: Facts, kind: Kind, emit: Emit) -> None:
    """Each repeat taken to explain an overpaid dossier's excess."""
    name, explain_ = kind.name, kind.explain
    intents = facts.intents
    for balance in facts.balances:
        if balance.paid <= balance.assessed or balance.payments is None:
            continue
        did, code = balance.dossier_id, balance.code
        for p, original, same_intent in facts.repeats(balance):
            reference = None
            if same_intent and p.intent_id is not None:
                intent = intents.get(p.intent_id)
                reference = intent.reference if intent is not None else p.reference
            vi, en = explain_(
                code, p.amount, p.provider, p.provider_txn_id,
                original_provider=original.provider, original_txn=original.provider_txn_id,
                original_paid_at=original.paid_at, same_intent=same_intent, reference=reference,
            )
            emit(Discrepancy(
                f"{name}:dossier={did}:payment={p.id}", name,
                did, p.id, None, p.provider, 0, p.amount, p.amount, vi, en,
            ))


def _dossier_of(payment: PaymentRow, intents: _Intents) -> int | None:
    """The matched dossier, for context on settlement findings (never raises)."""
    if payment.dossier_id is not None or payment.intent_id is None:
        return payment.dossier_id
    intent = intents.get(payment.intent_id)
    return None if intent is None else intent.dossier_id
