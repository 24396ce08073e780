"""Budget remittance (issue 18 §3), pure: what each collector owes the state budget per month
and sub-item, the C1-02/NS voucher lines allocated to it, and what does not hold.

No database, no clock: plain values in, plain values out (docs/remittances.md).

**Owed.** Per collecting organisation, month (the Vietnam month the money was collected in)
and tiểu mục: the declarations' "to remit" (lệ phí in full; phí less the retained share),
computed from the gross amount (a provider's fee does not reduce what the budget is owed).

**Allocation.** Voucher lines are taken in order (voucher date, voucher number, line). A line
is the remitting organisation's, for its tiểu mục:

1. a line that names its period (kỳ thuế) or a dossier (whose payment month is known) pays
   that month, whatever is left of it (more is an excess of that month);
2. any other line pays the oldest months still owed first, among the months up to the
   voucher's own; what is left over goes to the latest of those months (an excess), or, when
   nothing was ever owed, to the month before the voucher's.

**Paid in by the receiver** (issue 18 §2–3). A lệ phí received by a centre for another
collector is paid into the budget by the centre itself (Circular 74/2022 Art. 3): the
forwarding allocation says which transfer into the budget paid which part. Those parts count
as *remitted* for the part's collector, tiểu mục and month (:func:`discharge_lines`; they are
allocated first, exactly where they belong, and never settle a month). A C1-02/NS voucher that
is the Treasury's record of such a transfer is the **same money**, counted once: through the
transfer (:func:`same_money` tells them apart; the voucher is then left out of the
allocation).

**Judged.** A (collector, month, tiểu mục) is judged once its deadline is over (the
``due_day``-th of the following month, by the end of that day, Vietnam time: Law 38/2019/QH14
Art. 44 for the monthly declaration, payment following it) or once a voucher dated after the
month's end was allocated to it (the remitter has settled that month):

- ``remittance_overdue``: the deadline is over, something is owed and nothing was remitted;
- ``remittance_short``: something was remitted, less than owed;
- ``remittance_excess``: more was remitted than owed.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Final

from recon.engine import explain
from recon.engine.core import Reconciliation, WithPass
from recon.engine.records import Discrepancy

DEFAULT_DUE_DAY: Final = 20

Key = tuple[str, str, date]  # (collector code, tiểu mục, first day of the month)


def month_of(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def previous_month(month: date) -> date:
    return (month.replace(day=1) - timedelta(days=1)).replace(day=1)


def due_on(month: date, due_day: int = DEFAULT_DUE_DAY) -> date:
    """The last day to remit ``month``'s money: the ``due_day``-th of the following month (the
    month's last day when it is shorter)."""
    if not 1 <= due_day <= 31:
        raise ValueError(f"due_day must be within 1..31, got {due_day}")
    following = next_month(month)
    last = calendar.monthrange(following.year, following.month)[1]
    return following.replace(day=min(due_day, last))


@dataclass(frozen=True, slots=True)
class VoucherLine:
    """One line of a C1-02/NS voucher as the allocation sees it. ``month`` is the month the
    line names (its kỳ thuế, or its dossier's payment month), else None."""

    line_id: int
    voucher_no: str
    voucher_date: date
    remitter: str
    budget_code: str
    amount: int
    month: date | None = None
    position: int = 0
    paid_by: str | None = None  # a transfer by this receiving agency, not a voucher


@dataclass(frozen=True, slots=True)
class Allocated:
    """``amount`` of voucher line ``line_id`` allocated to ``key`` (``paid_by``: the receiving
    agency whose transfer into the budget it is, ``line_id`` then the transfer's id)."""

    line_id: int
    voucher_no: str
    voucher_date: date
    key: Key
    amount: int
    paid_by: str | None = None


@dataclass
class Allocation:
    parts: list[Allocated] = field(default_factory=list)
    remitted: dict[Key, int] = field(default_factory=dict)
    settled: dict[Key, date] = field(default_factory=dict)  # latest voucher after the month
    by_receiver: dict[Key, int] = field(default_factory=dict)  # of remitted: paid by receivers

    def vouchers(self, key: Key) -> list[str]:
        seen: list[str] = []
        for part in self.parts:
            if part.key == key and part.voucher_no not in seen:
                seen.append(part.voucher_no)
        return seen


def allocate(owed: Mapping[Key, int], lines: Iterable[VoucherLine]) -> Allocation:
    """Allocate voucher ``lines`` to what is ``owed`` (see the module doc)."""
    left: dict[Key, int] = {k: v for k, v in owed.items() if v > 0}
    months: dict[tuple[str, str], list[date]] = {}
    for collector, code, month in owed:
        months.setdefault((collector, code), []).append(month)
    for found in months.values():
        found.sort()
    out = Allocation()

    def put(line: VoucherLine, key: Key, amount: int) -> None:
        if amount <= 0:
            return
        out.parts.append(Allocated(line.line_id, line.voucher_no, line.voucher_date, key,
                                   amount, line.paid_by))
        out.remitted[key] = out.remitted.get(key, 0) + amount
        left[key] = left.get(key, 0) - amount
        if line.paid_by is not None:
            # a receiver's transfer does not say the collector settled the month
            out.by_receiver[key] = out.by_receiver.get(key, 0) + amount
        elif line.voucher_date >= next_month(key[2]):
            out.settled[key] = max(out.settled.get(key, line.voucher_date), line.voucher_date)

    # the receivers' transfers first: each pays exactly the parts it discharged
    for line in sorted(lines, key=lambda ln: (ln.paid_by is None, ln.voucher_date,
                                              ln.voucher_no, ln.position, ln.line_id)):
        if line.amount <= 0:
            raise ValueError(f"voucher {line.voucher_no}: a line's amount must be positive")
        if line.month is not None:
            put(line, (line.remitter, line.budget_code, month_of(line.month)), line.amount)
            continue
        upto = month_of(line.voucher_date)
        candidates = [m for m in months.get((line.remitter, line.budget_code), []) if m <= upto]
        rest = line.amount
        for month in candidates:
            key = (line.remitter, line.budget_code, month)
            take = min(rest, max(left.get(key, 0), 0))
            put(line, key, take)
            rest -= take
            if not rest:
                break
        if rest:
            month = candidates[-1] if candidates else previous_month(upto)
            put(line, (line.remitter, line.budget_code, month), rest)
    return out


# --------------------------------------------------------------------------- paid by receivers


@dataclass(frozen=True, slots=True)
class Discharge:
    """``amount`` of a lệ phí part collected by ``collector`` (tiểu mục ``budget_code``, paid
    by the citizen in ``month``) that transfer ``transfer_id`` of ``receiver`` paid into the
    budget on ``day`` (Vietnam date)."""

    transfer_id: int
    reference: str
    receiver: str
    day: date
    collector: str
    budget_code: str
    month: date
    amount: int


def discharge_lines(discharges: Iterable[Discharge]) -> list[VoucherLine]:
    """The receivers' transfers as allocation lines: one per transfer, collector, tiểu mục and
    month, naming its month (``voucher_no`` is the transfer's reference and receiver)."""
    summed: dict[tuple[int, str, str, date], int] = {}
    first: dict[int, Discharge] = {}
    for d in discharges:
        if d.amount <= 0:
            continue
        key = (d.transfer_id, d.collector, d.budget_code, month_of(d.month))
        summed[key] = summed.get(key, 0) + d.amount
        first.setdefault(d.transfer_id, d)
    out: list[VoucherLine] = []
    for n, ((tid, collector, code, month), amount) in enumerate(sorted(summed.items())):
        d = first[tid]
        out.append(VoucherLine(tid, transfer_label(d.reference, d.receiver), d.day, collector,
                               code, amount, month, n, paid_by=d.receiver))
    return out


def transfer_label(reference: str, receiver: str) -> str:
    """How a receiver's transfer is named among vouchers: ``FT21… (H57.TTPVHCC)``."""
    return f"{reference} ({receiver})"


@dataclass(frozen=True, slots=True)
class BudgetTransfer:
    """A transfer into the budget by ``receiver`` on ``day`` (Vietnam date), and the
    collectors whose lệ phí it paid."""

    id: int
    reference: str
    receiver: str
    day: date
    amount: int
    collectors: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class VoucherTotal:
    """A C1-02/NS voucher as :func:`same_money` sees it: its total and the bank reference of
    the payment it records, where the Treasury's statement gives one."""

    voucher_no: str
    voucher_date: date
    remitter: str
    total: int
    bank_reference: str | None = None


def _ref(text: str | None) -> str:
    return (text or "").strip().upper()


def same_money(vouchers: Iterable[VoucherTotal], transfers: Iterable[BudgetTransfer]
               ) -> dict[str, int]:
    """Which vouchers record a receiver's transfer into the budget (voucher number -> the
    transfer's id): the voucher's remitter is the transfer's receiver or one of the collectors
    it paid for, and

    1. the voucher carries the transfer's bank reference; or
    2. the voucher carries **no** bank reference, is dated the transfer's day and its total is
       the transfer's amount (the earliest such transfer not matched yet).

    A voucher naming another reference is other money. Each transfer matches one voucher."""
    ordered = sorted(transfers, key=lambda t: (t.day, t.id))
    taken: set[int] = set()
    out: dict[str, int] = {}

    def whose(t: BudgetTransfer) -> frozenset[str]:
        return t.collectors | {t.receiver}

    rest: list[VoucherTotal] = []
    for v in sorted(vouchers, key=lambda v: (v.voucher_date, v.voucher_no)):
        if not _ref(v.bank_reference):
            rest.append(v)
            continue
        for t in ordered:
            if t.id not in taken and _ref(t.reference) == _ref(v.bank_reference) \
                    and v.remitter in whose(t):
                out[v.voucher_no] = t.id
                taken.add(t.id)
                break
    for v in rest:
        for t in ordered:
            if t.id not in taken and t.day == v.voucher_date and t.amount == v.total \
                    and v.remitter in whose(t):
                out[v.voucher_no] = t.id
                taken.add(t.id)
                break
    return out


OVERDUE: Final = "remittance_overdue"
SHORT: Final = "remittance_short"
EXCESS: Final = "remittance_excess"
KINDS: Final = (OVERDUE, SHORT, EXCESS)


@dataclass(frozen=True, slots=True)
class Judged:
    """One (collector, tiểu mục, month) that does not hold, as of the day judged."""

    kind: str
    key: Key
    owed: int
    remitted: int
    due: date
    vouchers: tuple[str, ...]

    @property
    def difference(self) -> int:
        return self.remitted - self.owed


def judge(owed: Mapping[Key, int], allocation: Allocation, today: date, *,
          due_day: int = DEFAULT_DUE_DAY) -> list[Judged]:
    """What does not hold on ``today`` (a Vietnam date), sorted by key."""
    out: list[Judged] = []
    for key in sorted({*owed, *allocation.remitted}):
        due = due_on(key[2], due_day)
        owes = owed.get(key, 0)
        paid = allocation.remitted.get(key, 0)
        if not (today > due or key in allocation.settled) or owes == paid:
            continue
        vouchers = tuple(allocation.vouchers(key))
        if paid == 0:
            if today > due:
                out.append(Judged(OVERDUE, key, owes, 0, due, vouchers))
        elif paid < owes:
            out.append(Judged(SHORT, key, owes, paid, due, vouchers))
        else:
            out.append(Judged(EXCESS, key, owes, paid, due, vouchers))
    return out


@dataclass(frozen=True, slots=True)
class Ageing:
    """What a collector collected and has not remitted, by age (days past the deadline)."""

    collector: str
    not_due: int = 0  # deadline not yet over
    up_to_30: int = 0
    up_to_90: int = 0
    older: int = 0

    @property
    def total(self) -> int:
        return self.not_due + self.up_to_30 + self.up_to_90 + self.older


AGE_BUCKETS: Final = ("not_due", "up_to_30", "up_to_90", "older")


def ageing(owed: Mapping[Key, int], allocation: Allocation, today: date, *,
           due_day: int = DEFAULT_DUE_DAY) -> list[Ageing]:
    """Per collector, the amount owed and not remitted (an excess of one month does not offset
    another's shortfall here: it is reported apart), bucketed by days past its deadline."""
    buckets: dict[str, dict[str, int]] = {}
    for key, owes in owed.items():
        unpaid = owes - allocation.remitted.get(key, 0)
        if unpaid <= 0:
            continue
        late = (today - due_on(key[2], due_day)).days
        name = ("not_due" if late <= 0 else "up_to_30" if late <= 30 else
                "up_to_90" if late <= 90 else "older")
        per = buckets.setdefault(key[0], dict.fromkeys(AGE_BUCKETS, 0))
        per[name] += unpaid
    return [Ageing(c, **b) for c, b in sorted(buckets.items())]


def owed_from_rows(rows: Sequence[tuple[str, str, date, int]]) -> dict[Key, int]:
    """``(collector, tiểu mục, month, to_remit)`` rows summed per key (rows of one sub-item at
    several retention rates add up)."""
    out: dict[Key, int] = {}
    for collector, code, month, amount in rows:
        key = (collector, code, month_of(month))
        out[key] = out.get(key, 0) + amount
    return out


# --------------------------------------------------------------------------- the run


@dataclass(frozen=True, slots=True)
class RemittanceInputs:
    """What the pass reads: what is owed, the voucher lines, and each collector's agency id
    and name (for the identity and the sentence)."""

    owed: Mapping[Key, int]
    lines: Sequence[VoucherLine]
    agency_ids: Mapping[str, int]
    names: Mapping[str, str] = field(default_factory=dict)
    #: the receivers' transfers into the budget, as lines (:func:`discharge_lines`)
    discharges: Sequence[VoucherLine] = ()
    #: vouchers that record one of those transfers (voucher number -> its label)
    same_as: Mapping[str, str] = field(default_factory=dict)

    @property
    def counted(self) -> list[VoucherLine]:
        """What the allocation counts: the vouchers not recording a receiver's transfer, and
        the transfers."""
        return [*(ln for ln in self.lines if ln.voucher_no not in self.same_as),
                *self.discharges]


@dataclass(frozen=True, slots=True)
class RemittanceConfig:
    """The remittance pass of a run: the deadline's day (``RECON_REMITTANCE_DUE_DAY``) and the
    reader of its inputs (given by the service layer: :func:`recon.review.remittances.
    remittance_config`), called with the run's connection."""

    read: Callable[[Any], RemittanceInputs]
    due_day: int = DEFAULT_DUE_DAY
    #: the reader of a run (``mode``, ``write``: not a dry run, ``say``: its progress,
    #: ``since``: a full run's first open instant, with closed months behind), where what is
    #: owed is kept between runs (:mod:`recon.review.owed_store`); None: ``read``
    run_read: Callable[[str, bool, Callable[[str], None], datetime | None],
                       Callable[[Any], RemittanceInputs]] | None = None

    def __post_init__(self) -> None:
        due_on(date(2021, 1, 1), self.due_day)  # refuses a day outside 1..31

    def reader(self, mode: str, *, write: bool, say: Callable[[str], None],
               since: datetime | None = None) -> Callable[[Any], RemittanceInputs]:
        """What a run of ``mode`` reads its inputs with (on its connection)."""
        return self.read if self.run_read is None else self.run_read(mode, write, say, since)


def budget_item(code: str) -> int:
    """A tiểu mục as the identity's integer (0 for a fee line without one)."""
    return int(code) if code.isascii() and code.isdigit() else 0


def identity(kind: str, agency_id: int, key: Key) -> str:
    month = key[2]
    return (f"{kind}:agency={agency_id}:month={month.year * 100 + month.month}"
            f":budget_item={budget_item(key[1])}")


@dataclass
class RemittanceOutcome:
    """The pass's result: the allocation, its findings, and each identity's key."""

    owed: Mapping[Key, int]
    allocation: Allocation
    judged: list[Judged]
    findings: list[Discrepancy]
    keys: dict[tuple[int, int, int], Key]  # (agency id, yyyymm, budget item) -> key
    today: date
    due_day: int

    def key_of(self, ids: Mapping[str, int]) -> Key | None:
        return self.keys.get((ids.get("agency", 0), ids.get("month", 0),
                              ids.get("budget_item", 0)))


def findings_of(inputs: RemittanceInputs, as_of: datetime, *,
                due_day: int = DEFAULT_DUE_DAY) -> RemittanceOutcome:
    """Allocate and judge as of ``as_of`` (its Vietnam date); collectors with no agency id are
    left out (the intake admits only known agencies as collectors)."""
    today = explain.vn_date(as_of)
    allocation = allocate(inputs.owed, inputs.counted)
    judged = judge(inputs.owed, allocation, today, due_day=due_day)
    keys: dict[tuple[int, int, int], Key] = {}
    for key in {*inputs.owed, *allocation.remitted}:
        agency = inputs.agency_ids.get(key[0])
        if agency is not None:
            keys[(agency, key[2].year * 100 + key[2].month, budget_item(key[1]))] = key
    out: list[Discrepancy] = []
    for j in judged:
        agency = inputs.agency_ids.get(j.key[0])
        if agency is None:
            continue
        who = inputs.names.get(j.key[0]) or j.key[0]
        _collector, code, month = j.key
        if j.kind == OVERDUE:
            vi, en = explain.remittance_overdue(who, code or "—", month, j.owed, j.due)
        elif j.kind == SHORT:
            vi, en = explain.remittance_short(who, code or "—", month, j.owed, j.remitted,
                                              j.due, j.vouchers)
        else:
            vi, en = explain.remittance_excess(who, code or "—", month, j.owed, j.remitted,
                                               j.vouchers)
        out.append(Discrepancy(identity(j.kind, agency, j.key), j.kind, None, None, None, None,
                               j.owed, j.remitted, j.remitted - j.owed, vi, en))
    out.sort(key=lambda d: d.identity)
    return RemittanceOutcome(inputs.owed, allocation, judged, out, keys, today, due_day)


class RemittanceReconciliation(WithPass):
    """A run's result with the remittance findings added (:class:`~recon.engine.core.
    WithPass`): the pass judges every month in every run, so every remittance identity."""

    __slots__ = ("remittances",)

    def __init__(self, base: Reconciliation, outcome: RemittanceOutcome) -> None:
        super().__init__(base, sorted([*base.discrepancies, *outcome.findings],
                                      key=lambda d: d.identity))
        self.remittances = outcome

    def judged(self, kind: str, ids: dict[str, int], identity: str) -> bool | None:
        return True if kind in KINDS else None


def with_remittances(base: Reconciliation, outcome: RemittanceOutcome
                     ) -> RemittanceReconciliation:
    return RemittanceReconciliation(base, outcome)


__all__ = [
    "AGE_BUCKETS",
    "DEFAULT_DUE_DAY",
    "EXCESS",
    "KINDS",
    "OVERDUE",
    "SHORT",
    "Ageing",
    "Allocated",
    "Allocation",
    "BudgetTransfer",
    "Discharge",
    "Judged",
    "Key",
    "RemittanceConfig",
    "RemittanceInputs",
    "RemittanceOutcome",
    "RemittanceReconciliation",
    "VoucherLine",
    "VoucherTotal",
    "ageing",
    "allocate",
    "budget_item",
    "discharge_lines",
    "due_on",
    "findings_of",
    "identity",
    "judge",
    "month_of",
    "next_month",
    "owed_from_rows",
    "previous_month",
    "same_money",
    "transfer_label",
    "with_remittances",
]
