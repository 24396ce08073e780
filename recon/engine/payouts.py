"""Payouts: a provider's batch against the bank credit that paid it. Pure, like the core.

A gateway or an acquirer (VNPay, MoMo, ZaloPay, the POS acquirer) does not credit the centre
per citizen payment: it pays a **batch** -- the settlement lines of one session -- with one
bank credit, its net total, some banking days later. This module groups those lines into
batches, matches each credit of the centre's bank statement to the batch(es) it pays, and
says what does not hold:

- ``payout_missing``: a batch whose credit has not come once its expected day is over;
- ``payout_mismatch``: a credit that pays a batch (or several) with another amount; the
  difference is *named* when it is a known deduction (a chargeback, a fee invoice) or the
  provider's fee (the gross was paid);
- ``payout_unexpected``: a credit whose memo says it comes from a provider, that no batch
  explains.

VietQR transfers (payOS, SePay, Casso) have no batch: each is its own statement line, matched
to its payment by the bank reference in :mod:`recon.engine.core`, never here.

**Batches.** A provider's lines are grouped by session day: the Vietnam date of the
transaction (its ``settled_on`` when the time is unknown). For a provider whose sessions merge
over days that are no banking day (VNPay: LEGS.md A.2), the session day is the last banking
day on or before that date, so Friday, Saturday and Sunday are one batch. The batch's credit is
expected ``days`` banking days after its session day (``add_banking_days(session_on, days)``).

**Refunds.** A refund line (``SettlementLineRow.refund_of`` set) belongs to the batch of its
own session day, like a sale, and lowers it: the batch's gross less the amount refunded, its
fee plus the refund fee charged, its net less both (the provider takes the refunded amount and
its refund fee out of that payout; a contract that returns the percentage fee charges a lower
refund fee, never a negative one). A session whose refunds exceed its sales is credited
nothing (``carries_forward``, state ``paid``): what it lacks is taken off the provider's next
session (``carried_in``), as the provider takes it off its next payout. A refunded payment is
then *not* also a chargeback
deduction (:class:`Deduction`) of its provider when a refund line of it is among the lines:
the refund is counted once, in its batch (the loader leaves out of the deductions every
refunded payment that has a refund line at all, whatever the window).

**Credits.** A statement line (a credit on the centre's account) belongs to the first provider
whose payout memo pattern (:class:`ProviderPayout`) it matches; the others are none of this
module's business.

**Matching**, per provider, credits in booking order (``booked_on``, then id); a credit may pay
the batches still unpaid whose session day is on or before its booking day and whose expected
day plus ``late_days`` banking days is on or after it. In this order it takes:

1. one batch whose expected credit (net, or gross for a provider that ``pays_gross``) equals
   the credit (within the provider's ``tolerance``), the earliest;
2. a run of consecutive batches (2 to ``max_batches``) whose expected credits add up to it
   (several days paid in one credit), the earliest run;
3. one batch or a run whose total less one unused deduction of the provider equals it (the
   difference named after the deduction), or, for a net provider, whose gross equals it (the
   fee not deducted);
4. the batch expected on the credit's booking day: matched, the difference left unexplained.

Anything else is ``payout_unexpected``. A batch matched in 1 or 2 is ``paid``; in 3 or 4
``differs`` (one ``payout_mismatch`` on the credit); unmatched it is ``waiting`` until its
expected day is over (as of the run, Vietnam time) and the imported statements reach that day
(a credit cannot be missing from a statement not yet imported), then ``missing``.

**Identities.** A batch is named by its first settlement line (the lowest id: later lines of
the same session get higher ids), a credit by its statement line, so every finding's subject is
one settlement line: ``payout_missing:settlement_line=<batch's first line>``,
``payout_mismatch:settlement_line=<credit>``, ``payout_unexpected:settlement_line=<credit>``.

**Banking days** come in as a function ``add_banking_days(day, n)`` (the ``n``-th banking day
after ``day``; ``day`` itself for 0): :func:`weekend_add_banking_days` by default (Saturdays
and Sundays off). The deployment's calendar (weekends, Vietnamese holidays, the operator's
file) replaces it in :class:`PayoutConfig` -- see ``recon.settlements.payouts.payout_config``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from operator import itemgetter
from typing import Final, NamedTuple

from recon.engine import explain
from recon.engine.core import Reconciliation, WithPass
from recon.engine.explain import VN_OFFSET, vn_date
from recon.engine.records import Discrepancy, SettlementLineRow

AddBankingDays = Callable[[date, int], date]
Pair = tuple[str, str]

PAYOUT_KINDS: Final = ("payout_missing", "payout_mismatch", "payout_unexpected")
STATES: Final = ("paid", "differs", "waiting", "missing")
DEFAULT_LATE_DAYS: Final = 5
DEFAULT_MAX_BATCHES: Final = 10
_LOOKBACK: Final = 31  # calendar days a session may reach back over non-banking days


def weekend_add_banking_days(day: date, n: int) -> date:
    """The ``n``-th banking day after ``day`` when only Saturdays and Sundays are off (``day``
    itself for ``n == 0``). The default until the deployment's calendar is wired in."""
    if n < 0:
        raise ValueError(f"banking days must be >= 0, got {n}")
    current = day
    for _ in range(n):
        current += timedelta(days=1)
        while current.weekday() >= 5:
            current += timedelta(days=1)
    return current


def is_banking_day(add_banking_days: AddBankingDays, day: date) -> bool:
    """Whether ``day`` is a banking day, from ``add_banking_days`` alone."""
    return add_banking_days(day - timedelta(days=1), 1) == day


# --------------------------------------------------------------------------- inputs


class BankCredit(NamedTuple):
    """A credit on the centre's account: one line of an imported bank statement (a
    settlement line of a bank-statement profile; ``id`` is that line's id)."""

    id: int
    bank_reference: str
    amount: int
    booked_on: date
    memo: str
    credited_at: datetime | None = None
    file_id: int | None = None


class Deduction(NamedTuple):
    """An amount a provider may take off a payout: a chargeback (``chargeback``, a payment
    refunded to the citizen) or a fee invoice (``fee_invoice``). ``reference`` names it."""

    provider: str
    kind: str
    reference: str
    amount: int


@dataclass(frozen=True, slots=True)
class ProviderPayout:
    """How one provider pays its batches (from its adapter's ``payout``; see the module doc)."""

    provider: str
    memo: str
    days: int = 1
    merge_non_banking_days: bool = False
    pays_gross: bool = False
    tolerance: int = 0

    def __post_init__(self) -> None:
        try:
            re.compile(self.memo)
        except re.error as exc:
            raise ValueError(f"payout memo of {self.provider}: not a regular expression "
                             f"({exc})") from None
        for name in ("days", "tolerance"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"payout {name} of {self.provider} must be a whole number "
                                 f">= 0, got {value!r}")


@dataclass(frozen=True, slots=True)
class PayoutConfig:
    """The providers that pay in batches, the banking-day function and the matching window.

    ``statement_profiles``: the settlement profiles whose files are the centre's bank
    statements (their lines are the credits). ``late_days``: banking days after the expected
    day during which a late credit still pays a batch. ``max_batches``: the most batches one
    credit may pay.
    """

    providers: Mapping[str, ProviderPayout] = field(default_factory=dict)
    add_banking_days: AddBankingDays = weekend_add_banking_days
    statement_profiles: frozenset[str] = frozenset({"vietinbank_statement"})
    late_days: int = DEFAULT_LATE_DAYS
    max_batches: int = DEFAULT_MAX_BATCHES

    def __post_init__(self) -> None:
        object.__setattr__(self, "providers", dict(self.providers))
        object.__setattr__(self, "statement_profiles", frozenset(self.statement_profiles))
        if self.late_days < 0 or self.max_batches < 1:
            raise ValueError("late_days must be >= 0 and max_batches >= 1")

    def provider_of(self, memo: str) -> str | None:
        """The first provider (in the order given) whose memo pattern the text matches."""
        for name, spec in self.providers.items():
            if re.search(spec.memo, memo or "", re.IGNORECASE):
                return name
        return None

    def reach(self) -> int:
        """Calendar days a batch and its credit may lie apart (for a loader's window)."""
        most = max((s.days for s in self.providers.values()), default=0)
        return 2 * (most + self.late_days) + 14


# --------------------------------------------------------------------------- outputs


class PayoutBatch(NamedTuple):
    """The lines a provider pays in one credit: one session (see the module doc)."""

    provider: str
    session_on: date
    last_day: date
    expected_on: date
    lines: tuple[SettlementLineRow, ...]
    gross: int
    fee: int
    net: int
    pays_gross: bool = False
    #: what earlier sessions of the provider whose refunds exceeded their sales left to take
    #: off this one (<= 0; see "Refunds" in the module doc)
    carried_in: int = 0

    @property
    def first_line_id(self) -> int:
        return self.lines[0].id

    @property
    def owed(self) -> int:
        """Its own lines' credit (net, or gross), plus what earlier sessions carried in:
        negative when its refunds exceed its sales."""
        return (self.gross if self.pays_gross else self.net) + self.carried_in

    @property
    def expected_credit(self) -> int:
        return max(self.owed, 0)

    @property
    def carries_forward(self) -> bool:
        """Nothing to credit: its refunds exceed its sales, the rest goes to the next session."""
        return self.owed < 0 or (self.owed == 0 and any(
            line.refund_of is not None for line in self.lines))


class PayoutMatch(NamedTuple):
    """A credit and the batch(es) it pays. ``difference`` is credited less expected;
    ``named`` says what it is (``""`` exact, ``"deduction"``, ``"fee"``, ``"unexplained"``)."""

    credit: BankCredit
    provider: str
    batches: tuple[PayoutBatch, ...]
    expected: int
    difference: int
    named: str = ""
    deduction: Deduction | None = None


@dataclass(slots=True)
class PayoutOutcome:
    """What :func:`match_payouts` found: every batch with its state and the match that paid
    it, the matches, the credits nothing explains, and the findings (sorted by identity)."""

    batches: list[PayoutBatch]
    matches: list[PayoutMatch]
    unexpected: list[tuple[str, BankCredit]]
    states: dict[int, str]
    paid_by: dict[int, PayoutMatch]
    findings: list[Discrepancy]
    credits: dict[int, tuple[str, BankCredit]]

    def batch_of_line(self, line_id: int) -> PayoutBatch | None:
        for batch in self.batches:
            if batch.first_line_id == line_id:
                return batch
        return None


# --------------------------------------------------------------------------- batches


def session_day(day: date, spec: ProviderPayout, add_banking_days: AddBankingDays) -> date:
    """The session a transaction of ``day`` belongs to (see the module doc)."""
    if not spec.merge_non_banking_days:
        return day
    current = day
    for _ in range(_LOOKBACK):
        if is_banking_day(add_banking_days, current):
            return current
        current -= timedelta(days=1)
    return day


def build_batches(lines: Iterable[SettlementLineRow], config: PayoutConfig) -> list[PayoutBatch]:
    """The batches of the providers that pay in batches, sorted by provider and session."""
    # first by (provider, Vietnam day), then each day's lines into its session: a full run
    # groups every batch line (half a million at a million dossiers), so the per-line work is
    # one date and one dict look-up
    specs = config.providers
    by_day: dict[tuple[str, date], list[SettlementLineRow]] = {}
    refund_days: set[tuple[str, date]] = set()  # (provider, day)s holding a refund line
    for line in lines:
        provider = line[1]
        if provider not in specs:
            continue
        at = line[7]
        if at is None:
            day = line[6]
        elif at.tzinfo is UTC and VN_OFFSET is not None:
            day = (at + VN_OFFSET).date()  # what vn_date gives, without the call
        else:
            day = vn_date(at)
        rows_of_day = by_day.get((provider, day))
        if rows_of_day is None:
            by_day[provider, day] = [line]
        else:
            rows_of_day.append(line)
        if line[8] is not None:
            refund_days.add((provider, day))
    groups: dict[tuple[str, date], list[SettlementLineRow]] = {}
    with_refunds: set[tuple[str, date]] = set()  # the sessions holding a refund line
    for (provider, day), rows_of_day in by_day.items():
        key = (provider, session_day(day, specs[provider], config.add_banking_days))
        if (provider, day) in refund_days:
            with_refunds.add(key)
        held = groups.get(key)
        if held is None:
            groups[key] = rows_of_day
        else:
            held.extend(rows_of_day)
    out: list[PayoutBatch] = []
    for (provider, session_on), rows in sorted(groups.items()):
        spec = specs[provider]
        rows.sort(key=_line_id)
        last = session_on
        if spec.merge_non_banking_days:
            while not is_banking_day(config.add_banking_days, last + timedelta(days=1)) and (
                    last - session_on).days < _LOOKBACK:
                last += timedelta(days=1)
        if (provider, session_on) in with_refunds:
            gross = sum(-r.amount if r.refund_of is not None else r.amount for r in rows)
            net = sum(-(r.amount + r.fee) if r.refund_of is not None else r.net for r in rows)
        else:  # sales only (most sessions): summed column by column in C
            gross, net = sum(map(_amount, rows)), sum(map(_net, rows))
        out.append(PayoutBatch(
            provider=provider, session_on=session_on, last_day=last,
            expected_on=config.add_banking_days(session_on, spec.days), lines=tuple(rows),
            gross=gross, fee=sum(map(_fee, rows)), net=net, pays_gross=spec.pays_gross,
        ))
    return _carry_refunds(out)


def _carry_refunds(batches: list[PayoutBatch]) -> list[PayoutBatch]:
    """A session whose refunds exceed its sales hands what it lacks to the provider's next
    session (``batches`` sorted by provider and session)."""
    carry: dict[str, int] = {}
    out: list[PayoutBatch] = []
    for own in batches:
        owed = carry.pop(own.provider, 0)
        batch = own._replace(carried_in=owed) if owed else own
        if batch.carries_forward:
            carry[batch.provider] = batch.owed
        out.append(batch)
    return out


_line_id = itemgetter(0)
_amount = itemgetter(3)
_fee = itemgetter(4)
_net = itemgetter(5)


# --------------------------------------------------------------------------- matching


def match_payouts(
    *,
    lines: Sequence[SettlementLineRow],
    credits: Sequence[BankCredit],
    config: PayoutConfig,
    as_of: datetime,
    deductions: Sequence[Deduction] = (),
    statements_until: date | None = None,
) -> PayoutOutcome:
    """Batches from ``lines``, matched to ``credits`` (see the module doc). Deterministic: the
    same answer in any input order.

    ``statements_until``: the last day the centre's imported statements reach. A batch
    expected after it stays ``waiting`` (its credit cannot be missing from a statement not yet
    imported); ``None``: the statements are taken as complete."""
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        raise ValueError("as_of must be a timezone-aware datetime")
    batches = build_batches(lines, config)
    by_provider: dict[str, list[PayoutBatch]] = {}
    for batch in batches:
        by_provider.setdefault(batch.provider, []).append(batch)
    mine: dict[str, list[BankCredit]] = {}
    credit_of: dict[int, tuple[str, BankCredit]] = {}
    for credit in sorted(credits, key=lambda c: (c.booked_on, c.id)):
        provider = config.provider_of(credit.memo)
        if provider is not None:
            mine.setdefault(provider, []).append(credit)
            credit_of[credit.id] = (provider, credit)
    spare: dict[str, list[Deduction]] = {}
    refunded_in_batches = {(ln.provider, ln.refund_of) for ln in lines
                           if ln.refund_of is not None}
    for d in sorted(deductions, key=lambda d: (d.provider, d.kind, d.reference, d.amount)):
        if d.kind == "chargeback" and (d.provider, d.reference) in refunded_in_batches:
            continue  # its refund line is in a batch already: never counted twice
        spare.setdefault(d.provider, []).append(d)

    matches: list[PayoutMatch] = []
    unexpected: list[tuple[str, BankCredit]] = []
    paid_by: dict[int, PayoutMatch] = {}
    for provider, provider_credits in sorted(mine.items()):
        spec = config.providers[provider]
        queue = by_provider.get(provider, [])
        for credit in provider_credits:
            open_ = [b for b in queue if b.first_line_id not in paid_by
                     and not b.carries_forward and _within(b, credit, config)]
            found = _match_one(credit, provider, open_, spec, config,
                                spare.get(provider, []))
            if found is None:
                unexpected.append((provider, credit))
                continue
            matches.append(found)
            for batch in found.batches:
                paid_by[batch.first_line_id] = found
            if found.deduction is not None:
                spare[provider].remove(found.deduction)

    today = vn_date(as_of)
    states: dict[int, str] = {}
    for batch in batches:
        match = paid_by.get(batch.first_line_id)
        if batch.carries_forward:  # nothing to credit: the next session owes less
            states[batch.first_line_id] = "paid"
        elif match is not None:
            states[batch.first_line_id] = "paid" if match.named == "" else "differs"
        else:
            due = today > batch.expected_on and (
                statements_until is None or batch.expected_on <= statements_until)
            states[batch.first_line_id] = "missing" if due else "waiting"
    findings = _findings(batches, states, matches, unexpected)
    return PayoutOutcome(batches=batches, matches=matches, unexpected=unexpected,
                         states=states, paid_by=paid_by, findings=findings,
                         credits=credit_of)


def _within(batch: PayoutBatch, credit: BankCredit, config: PayoutConfig) -> bool:
    if batch.session_on > credit.booked_on:
        return False
    return credit.booked_on <= config.add_banking_days(batch.expected_on, config.late_days)


def _runs(open_: list[PayoutBatch], longest: int) -> Iterable[tuple[PayoutBatch, ...]]:
    """Runs of consecutive batches, shortest first (each length: earliest first)."""
    for size in range(1, min(longest, len(open_)) + 1):
        for start in range(len(open_) - size + 1):
            yield tuple(open_[start:start + size])


def _match_one(credit: BankCredit, provider: str, open_: list[PayoutBatch],
               spec: ProviderPayout, config: PayoutConfig,
               deductions: list[Deduction]) -> PayoutMatch | None:
    amount, tol = credit.amount, spec.tolerance

    def make(run: tuple[PayoutBatch, ...], named: str = "",
             deduction: Deduction | None = None) -> PayoutMatch:
        expected = sum(b.expected_credit for b in run)
        difference = amount - expected
        if named == "" and difference != 0:
            named = "tolerance"
        return PayoutMatch(credit, provider, run, expected, difference, named, deduction)

    runs = list(_runs(open_, config.max_batches))
    for run in runs:  # 1. and 2.: one batch, then runs of consecutive batches
        if abs(sum(b.expected_credit for b in run) - amount) <= tol:
            found = make(run)
            return found._replace(named="") if found.named == "tolerance" else found
    for run in runs:  # 3.: less a known deduction, or the gross paid
        total = sum(b.expected_credit for b in run)
        for deduction in deductions:
            if abs(total - deduction.amount - amount) <= tol:
                return make(run, "deduction", deduction)
        if not spec.pays_gross and abs(sum(b.gross for b in run) - amount) <= tol and any(
                b.fee for b in run):
            return make(run, "fee")
    for batch in open_:  # 4.: the batch due that day, the difference unexplained
        if batch.expected_on == credit.booked_on:
            return make((batch,), "unexplained")
    return None


# --------------------------------------------------------------------------- findings


def _sessions(batches: Iterable[PayoutBatch]) -> list[tuple[date, date]]:
    return [(b.session_on, b.last_day) for b in batches]


def _findings(batches: list[PayoutBatch], states: dict[int, str],
              matches: list[PayoutMatch],
              unexpected: list[tuple[str, BankCredit]]) -> list[Discrepancy]:
    out: list[Discrepancy] = []
    for batch in batches:
        if states[batch.first_line_id] != "missing":
            continue
        vi, en = explain.payout_missing(batch.provider, batch.session_on, batch.last_day,
                                        len(batch.lines), batch.expected_credit,
                                        batch.expected_on)
        lid = batch.first_line_id
        out.append(Discrepancy(
            f"payout_missing:settlement_line={lid}", "payout_missing", None, None, lid,
            batch.provider, batch.expected_credit, 0, -batch.expected_credit, vi, en))
    for match in matches:
        if match.named == "":
            continue
        c, d = match.credit, match.deduction
        vi, en = explain.payout_mismatch(
            match.provider, c.bank_reference, c.booked_on, c.amount, _sessions(match.batches),
            match.expected, match.named, None if d is None else d.kind,
            None if d is None else d.reference)
        cid = match.credit.id
        out.append(Discrepancy(
            f"payout_mismatch:settlement_line={cid}", "payout_mismatch", None, None, cid,
            match.provider, match.expected, match.credit.amount, match.difference, vi, en))
    for provider, credit in unexpected:
        vi, en = explain.payout_unexpected(provider, credit.bank_reference, credit.booked_on,
                                           credit.amount, credit.memo)
        out.append(Discrepancy(
            f"payout_unexpected:settlement_line={credit.id}", "payout_unexpected", None, None,
            credit.id, provider, 0, credit.amount, credit.amount, vi, en))
    out.sort(key=lambda d: d.identity)
    return out


# --------------------------------------------------------------------------- the run


def sessions_of(match: PayoutMatch) -> list[tuple[date, date]]:
    """The sessions (first day, last day) a match pays."""
    return _sessions(match.batches)


class PayoutReconciliation(WithPass):
    """A run's result with its payout findings added (:class:`~recon.engine.core.WithPass`):
    it judged a payout identity when the payout pass read that statement line."""

    __slots__ = ("_seen", "payouts")

    def __init__(self, base: Reconciliation, outcome: PayoutOutcome, seen_lines: set[int],
                 discrepancies: list[Discrepancy]) -> None:
        super().__init__(base, discrepancies)
        self._seen = seen_lines
        self.payouts = outcome

    def judged(self, kind: str, ids: dict[str, int], identity: str) -> bool | None:
        return ids.get("settlement_line") in self._seen if kind in PAYOUT_KINDS else None


def claimed_credit_ids(outcome: PayoutOutcome) -> frozenset[int]:
    """The statement lines that are a provider's payout credits (matched or not): the core's
    ``unexpected_settlement`` of them is replaced by this module's findings."""
    return frozenset(outcome.credits)


def drop_claimed(findings: Iterable[Discrepancy], claimed: frozenset[int]) -> list[Discrepancy]:
    """``findings`` without the core's ``unexpected_settlement`` of a payout credit."""
    return [d for d in findings
            if not (d.kind == "unexpected_settlement" and d.settlement_line_id in claimed)]


def with_payouts(base: Reconciliation, outcome: PayoutOutcome, seen_lines: set[int], *,
                 claimed: frozenset[int] | None = None) -> PayoutReconciliation:
    """The run's result: the core's findings less the payout credits' ``unexpected_settlement``
    (``claimed``: the outcome's credits when not given), plus the payout findings."""
    kept = drop_claimed(base.discrepancies,
                        claimed_credit_ids(outcome) if claimed is None else claimed)
    merged = sorted([*kept, *outcome.findings], key=lambda d: d.identity)
    return PayoutReconciliation(base, outcome, seen_lines, merged)


__all__ = [
    "PAYOUT_KINDS",
    "STATES",
    "AddBankingDays",
    "BankCredit",
    "Deduction",
    "PayoutBatch",
    "PayoutConfig",
    "PayoutMatch",
    "PayoutOutcome",
    "PayoutReconciliation",
    "ProviderPayout",
    "build_batches",
    "claimed_credit_ids",
    "drop_claimed",
    "is_banking_day",
    "match_payouts",
    "session_day",
    "sessions_of",
    "weekend_add_banking_days",
    "with_payouts",
]
