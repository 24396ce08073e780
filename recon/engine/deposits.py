"""Deposits of collected phí (issue 18, LEGS B.4), pure: the per-fee deposit rule, what each
collector must have sent to its fee account awaiting budget remittance ("tài khoản phí chờ nộp
ngân sách" at the State Treasury) by when, the deposits that paid it, and ``deposit_overdue``.

**The rule** (Decree 120/2016/NĐ-CP Art. 3(2)(a), as amended by Decree 82/2023/NĐ-CP): daily,
weekly or monthly, the collector sends the phí it collected to that account; each fee's own
circular sets the period ("no later than the 5th of each month" for the previous month:
Circulars 09/2024/TT-BTC, 28/2023/TT-BTC; "no later than Thursday each week" for the previous
week: Circulars 37/2023/TT-BTC, 41/2023/TT-BTC). A :class:`DepositRule` is data on the fee
line (from the procedure catalogue): a ``period`` (``day``, ``week`` Monday–Sunday, ``month``)
and ``due_days``, the days after the period's last day by which it is deposited, that day
included (``month:5`` is the 5th of the next month, ``week:thu`` = ``week:4`` the Thursday
after the week, ``day:1`` the next day). Counted on calendar days, as the circulars word them.

**Owed.** Every phí part a succeeded payment puts on a fee line with a rule (the whole part:
the retained share is drawn from the account afterwards), owed by the line's collector, whoever
received the money, from the payment's time.

**Allocation.** Per collector, deposits in time order (then id) pay the parts still unpaid that
were collected at or before the deposit, the earliest due first (then the period, the tiểu
mục, the payment's time, the payment, the line).

**Findings.** One per collector, tiểu mục and period start (``deposit_overdue:agency=<id>:
period=<yyyymmdd>:budget_item=<tiểu mục>``) with parts still unpaid after their due date (Vietnam
date of the run later than the due date): ``expected`` what those parts owe, ``actual`` what
was deposited of them. It resolves itself once deposits pay them (late or not).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Final, NamedTuple

from recon.engine import explain
from recon.engine.records import Discrepancy

KIND: Final = "deposit_overdue"
PERIODS: Final = ("day", "week", "month")
MAX_DUE_DAYS: Final = 60
WEEKDAYS: Final = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}


@dataclass(frozen=True, slots=True)
class DepositRule:
    """``period`` (day, week, month) and ``due_days`` after its last day (inclusive)."""

    period: str
    due_days: int

    def __post_init__(self) -> None:
        if self.period not in PERIODS:
            raise ValueError(f"deposit period must be one of {', '.join(PERIODS)}, got "
                             f"{self.period!r}")
        if isinstance(self.due_days, bool) or not isinstance(self.due_days, int) \
                or not 0 <= self.due_days <= MAX_DUE_DAYS:
            raise ValueError(f"deposit due days must be a whole number 0..{MAX_DUE_DAYS}, got "
                             f"{self.due_days!r}")

    def text(self) -> str:
        """The rule as the intake takes it back: ``month:5``, ``week:4``, ``day:1``."""
        return f"{self.period}:{self.due_days}"

    def bounds(self, day: date) -> tuple[date, date]:
        """The period holding ``day``: its first and last day."""
        if self.period == "day":
            return day, day
        if self.period == "week":
            start = day - timedelta(days=day.weekday())
            return start, start + timedelta(days=6)
        last = calendar.monthrange(day.year, day.month)[1]
        return day.replace(day=1), day.replace(day=last)

    def due(self, day: date) -> date:
        """The last day to deposit what was collected on ``day``."""
        return self.bounds(day)[1] + timedelta(days=self.due_days)


def parse_rule(text: str) -> DepositRule:
    """``PERIOD:DUE``: ``month:5`` (by the 5th of the next month), ``week:thu`` or ``week:4``
    (by the Thursday after the week), ``day:1`` (the next day). ValueError says what to write."""
    period, sep, due = text.strip().lower().partition(":")
    if not sep:
        raise ValueError(f"{text!r} is not a deposit rule: write PERIOD:DUE, e.g. month:5 (by "
                         "the 5th of the next month), week:thu, day:1")
    due = due.strip()
    if period.strip() == "week" and due in WEEKDAYS:
        return DepositRule("week", WEEKDAYS[due])
    if not (due.isascii() and due.isdigit()):
        raise ValueError(f"{text!r}: the due part must be a number of days"
                         + (" or a weekday (mon..sun)" if period.strip() == "week" else ""))
    return DepositRule(period.strip(), int(due))


def rule_of(period: str | None, due_days: int | None) -> DepositRule | None:
    """A fee line's stored rule (None when it has none)."""
    if period is None or due_days is None:
        return None
    return DepositRule(period, int(due_days))


class DepositPart(NamedTuple):
    """``amount`` of a phí line collected by ``collector`` at ``paid_at`` under ``rule``."""

    payment_id: int
    dossier_id: int
    collector: str
    budget_code: str
    rule: DepositRule
    amount: int
    paid_at: datetime
    position: int = 0

    @property
    def day(self) -> date:
        return explain.vn_date(self.paid_at)

    @property
    def period(self) -> tuple[date, date]:
        return self.rule.bounds(self.day)

    @property
    def due(self) -> date:
        return self.rule.due(self.day)


class DepositRow(NamedTuple):
    """A deposit into ``collector``'s fee-pending account (a transfer, by anyone)."""

    id: int
    collector: str
    amount: int
    at: datetime
    reference: str


@dataclass(slots=True)
class DepositState:
    part: DepositPart
    paid: int = 0
    by: list[int] = field(default_factory=list)

    @property
    def remaining(self) -> int:
        return self.part.amount - self.paid


def _order(p: DepositPart) -> tuple[date, date, str, datetime, int, int]:
    return (p.due, p.period[0], p.budget_code, p.paid_at, p.payment_id, p.position)


def allocate(parts: Iterable[DepositPart], deposits: Iterable[DepositRow]
             ) -> tuple[list[DepositState], dict[int, int]]:
    """Pay the parts with the deposits (module doc); returns the parts' states and what each
    deposit had left over (id -> VND)."""
    by_collector: dict[str, list[DepositState]] = {}
    states = [DepositState(p) for p in sorted(parts, key=_order)]
    for state in states:
        by_collector.setdefault(state.part.collector, []).append(state)
    left: dict[int, int] = {}
    for d in sorted(deposits, key=lambda d: (d.at, d.id)):
        rest = d.amount
        for state in by_collector.get(d.collector, ()):
            if rest == 0:
                break
            if state.remaining == 0 or state.part.paid_at > d.at:
                continue
            pay = min(rest, state.remaining)
            state.paid += pay
            state.by.append(d.id)
            rest -= pay
        left[d.id] = rest
    return states, left


Item = tuple[str, str, date]  # (collector, tiểu mục, period start)


@dataclass(frozen=True, slots=True)
class Overdue:
    """One collector's tiểu mục and period not deposited in full by its due date."""

    item: Item
    rule: DepositRule
    period_end: date
    due: date
    owed: int
    deposited: int
    deposits: tuple[int, ...]


@dataclass
class DepositOutcome:
    """What the allocation found as of ``today`` (a Vietnam date)."""

    today: date
    states: list[DepositState]
    overdue: list[Overdue]
    findings: list[Discrepancy]
    keys: dict[tuple[int, int, int], Item]  # (agency id, yyyymmdd, budget item) -> item
    judged_collectors: frozenset[str] = frozenset()

    def item_of(self, ids: Mapping[str, int]) -> Item | None:
        return self.keys.get((ids.get("agency", 0), ids.get("period", 0),
                              ids.get("budget_item", 0)))

    def of_item(self, item: Item) -> list[DepositState]:
        return [s for s in self.states if (s.part.collector, s.part.budget_code,
                                           s.part.period[0]) == item]


def period_number(day: date) -> int:
    return day.year * 10_000 + day.month * 100 + day.day


def budget_item(code: str) -> int:
    return int(code) if code.isascii() and code.isdigit() else 0


def identity(agency_id: int, item: Item) -> str:
    return (f"{KIND}:agency={agency_id}:period={period_number(item[2])}"
            f":budget_item={budget_item(item[1])}")


def judge(states: Sequence[DepositState], today: date) -> list[Overdue]:
    """The items with a part still unpaid after its due date, sorted."""
    items: dict[Item, list[DepositState]] = {}
    for s in states:
        p = s.part
        if s.remaining > 0 and today > p.due:
            items.setdefault((p.collector, p.budget_code, p.period[0]), []).append(s)
    out: list[Overdue] = []
    for item, late in sorted(items.items()):
        first = late[0].part
        out.append(Overdue(item, first.rule, first.period[1], min(s.part.due for s in late),
                           sum(s.part.amount for s in late), sum(s.paid for s in late),
                           tuple(sorted({i for s in late for i in s.by}))))
    return out


def match_deposits(parts: Sequence[DepositPart], deposits: Sequence[DepositRow], *,
                   as_of: datetime, agency_ids: Mapping[str, int],
                   names: Mapping[str, str] | None = None,
                   references: Mapping[int, str] | None = None) -> DepositOutcome:
    """Allocate and say what is overdue as of ``as_of``; collectors without an agency id are
    left out. ``names``: collectors' names for the sentences; ``references``: the deposits'
    bank references."""
    today = explain.vn_date(as_of)
    states, _left = allocate(parts, deposits)
    overdue = judge(states, today)
    label, refs = names or {}, references or {}
    keys: dict[tuple[int, int, int], Item] = {}
    for s in states:
        p = s.part
        agency = agency_ids.get(p.collector)
        if agency is not None:
            keys[(agency, period_number(p.period[0]), budget_item(p.budget_code))] = (
                p.collector, p.budget_code, p.period[0])
    findings: list[Discrepancy] = []
    for o in overdue:
        agency = agency_ids.get(o.item[0])
        if agency is None:
            continue
        vi, en = explain.deposit_overdue(
            label.get(o.item[0], o.item[0]), o.item[1] or "—", o.rule.period, o.rule.due_days,
            o.item[2], o.period_end, o.due, o.owed, o.deposited,
            tuple(refs.get(i, str(i)) for i in o.deposits), today)
        findings.append(Discrepancy(identity(agency, o.item), KIND, None, None, None, None,
                                    o.owed, o.deposited, o.deposited - o.owed, vi, en))
    findings.sort(key=lambda d: d.identity)
    return DepositOutcome(today, states, overdue, findings, keys,
                          frozenset(p.collector for p in parts))


__all__ = [
    "KIND",
    "PERIODS",
    "DepositOutcome",
    "DepositPart",
    "DepositRow",
    "DepositRule",
    "DepositState",
    "Overdue",
    "allocate",
    "identity",
    "judge",
    "match_deposits",
    "parse_rule",
    "period_number",
    "rule_of",
]
