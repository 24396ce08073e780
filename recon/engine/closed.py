"""Closed months (khóa sổ) as the run writes: a closed month's findings are left as they are.

Finance closes a month (``periods``, see :mod:`recon.periods` and :mod:`recon.review.periods`).
A run still reads and judges everything, but before it writes (:func:`hold`, called by
:func:`recon.engine.store.persist`):

- a finding whose subject is dated in a closed month (its subject's first part: a dossier by
  ``received_at``, a payment by ``paid_at``, a settlement line by ``transaction_at`` else
  ``settled_on``; Vietnam time; the agency of a dossier, or of a payment's dossier) is not
  written when it would change what the month froze: a new finding, changed amounts, an
  auto-resolved one holding again; and an open one that no longer holds is not auto-resolved;
- instead, the change is reported by a finding of the kind ``late_for_closed_period``
  (detected now, so in the current open month), explained in vi/en ("a settlement line for a
  payment of 03/2021, a closed month, arrived on …"): ``expected_amount`` is the difference the
  closed month froze (0 when it had none), ``actual_amount`` the difference that holds now,
  ``delta`` the change. Its identity names what changed, the first the run knows of: the
  payment (``late_for_closed_period:payment=N``; a settlement line's paired as the core pairs
  it: a sale line by its own transaction id, a refund line by its sale's, ``original_txn_id``
  else its own; the sentence names the line of the payment that arrived last, a refund line as
  such), else the settlement line no payment claims (an ``unexpected_settlement``:
  ``…:settlement_line=N``), else the dossier (an underpaid or overpaid dossier, e.g. after a
  late reassessment, which intake keeps: ``…:dossier=N``). Findings of that kind are never
  auto-resolved by a run: a person closes them.

What was held back and reported late is told to the caller (:class:`Held`), so the run's
counts and its audit event are what was written (``RunSummary.held`` says how many).

With no closed month (the usual case) this is one small query and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from sqlalchemy import Connection, Date, bindparam, text

from recon.clock import VN_TZ
from recon.db import UTCDateTime, by_ids
from recon.engine import explain
from recon.engine.kinds import REGISTRY
from recon.engine.lifecycle import Classification, Resolution
from recon.engine.load import chunks
from recon.engine.records import Discrepancy

LATE: Final = "late_for_closed_period"


@dataclass(frozen=True, slots=True)
class _Closed:
    month: date
    agency_id: int | None
    approved_at: datetime | None


@dataclass(frozen=True, slots=True)
class _Payment:
    id: int
    paid_at: datetime
    provider: str
    txn: str
    dossier_id: int | None
    agency_id: int | None


def _month(when: datetime | date) -> date:
    if isinstance(when, datetime):
        when = when.astimezone(VN_TZ).date()
    return when.replace(day=1)


def _closed(conn: Connection) -> dict[tuple[date, int | None], _Closed]:
    rows = conn.execute(text(
        "SELECT month, agency_id, approved_at FROM periods WHERE status = 'closed'"
    ).columns(approved_at=UTCDateTime()))
    out: dict[tuple[date, int | None], _Closed] = {}
    for raw, agency, approved in rows:
        month = _as_date(raw)
        out[(month, agency)] = _Closed(month, agency, approved)
    return out


def _fetch(conn: Connection, sql: str, ids: set[int], *, until: _Until | None = None,
           **types: Any) -> list[Any]:
    """``sql``'s rows for ``ids`` (its ``IN :ids``): on PostgreSQL in one statement (the
    subjects of a run's every finding, some ninety thousand ids at 1M open dossiers), elsewhere
    by chunks. ``until``: ``sql`` ends with a condition on ``:until`` (an instant) or
    ``:until_day`` (a date), bound here."""
    if not ids:
        return []
    query = by_ids(conn, sql).columns(**types)
    params: dict[str, Any] = {}
    if until is not None:
        query = query.bindparams(bindparam("until", type_=UTCDateTime()))
        if ":until_day" in sql:
            query = query.bindparams(bindparam("until_day", type_=Date()))
        params = {"until": until.instant, "until_day": until.day}
    parts = [sorted(ids)] if conn.dialect.name == "postgresql" else chunks(sorted(ids))
    return [row for part in parts
            for row in conn.execute(query, {**params, "ids": part}).all()]


@dataclass(frozen=True, slots=True)
class _Until:
    """The end of the latest closed month: its next month's first day, and that day's first
    instant in Vietnam. A subject dated from then on lies in no closed month."""

    day: date
    instant: datetime

    @classmethod
    def after(cls, months: Iterable[date]) -> _Until:
        last = max(months).replace(day=1)
        day = last.replace(year=last.year + 1, month=1) if last.month == 12 else last.replace(
            month=last.month + 1)
        return cls(day, datetime.combine(day, time(), VN_TZ).astimezone(UTC))


def _as_date(value: Any) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


@dataclass
class Held:
    """What :func:`hold` changed in what a run writes, for the run's counts: the identities of
    findings not written (a closed month's), of open findings not auto-resolved (a closed
    month's, or a late finding, which a person closes), and the late findings written instead.
    A run may call :func:`hold` more than once (the early write); this adds them up."""

    findings: set[str] = field(default_factory=set)
    resolutions: set[str] = field(default_factory=set)
    late: dict[str, Discrepancy] = field(default_factory=dict)
    #: what each late finding was made from, in an order of their own (a finding before a
    #: resolution, then by identity): when several make the same late finding, the first in
    #: that order stands, however the run split its writes
    late_from: dict[str, tuple[int, str]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.findings or self.resolutions or self.late)

    @property
    def count(self) -> int:
        """Findings not written and open findings not auto-resolved."""
        return len(self.findings) + len(self.resolutions - self.late.keys())

    def correct(self, c: Classification) -> Classification:
        """The run's classification as it was written: the held back taken out, the late
        findings in (new, or still open when they were open before the run)."""
        before = {d.identity for d in c.still_open} | {r.identity for r in c.resolved} | set(
            c.untouched)
        late = sorted(self.late.values())
        return Classification(
            [d for d in c.new if d.identity not in self.findings]
            + [d for d in late if d.identity not in before],
            [d for d in c.still_open if d.identity not in self.findings]
            + [d for d in late if d.identity in before],
            [r for r in c.resolved if r.identity not in self.resolutions
             and r.identity not in self.late],
            c.untouched)

    def counts(self, counts: dict[str, int], findings: Sequence[Discrepancy]) -> dict[str, int]:
        """The run's findings by kind (``counts``, of ``findings``) as they were written."""
        out = dict(counts)
        for d in findings:
            if d.identity in self.findings:
                out[d.kind] -= 1
        out[LATE] = out.get(LATE, 0) + len(self.late)
        return out


@dataclass(frozen=True, slots=True)
class _Dossier:
    id: int
    received_at: datetime
    agency_id: int | None
    code: str
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class _Line:
    id: int
    dated: datetime | date
    provider: str
    txn: str
    created_at: datetime | None


def _utc(value: Any) -> datetime | None:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value if isinstance(value, datetime) else None


def _since(period: _Closed) -> datetime:
    """When the month was closed (data stored after it is late)."""
    return period.approved_at or datetime.combine(period.month, time(), UTC) + timedelta(days=31)


#: a settlement line's sale, as the core pairs a line with its payment: a sale line's own
#: transaction id, a refund line's ``original_txn_id`` else its own (the expression of
#: :data:`recon.engine.load.REFUND_OF`, with a sale's own id instead of NULL)
SALE_OF: Final = ("CASE WHEN l.kind = 'refund' THEN COALESCE(l.original_txn_id, "
                  "l.provider_txn_id) ELSE l.provider_txn_id END")
# the lines of the findings, each with its payment (if one; SALE_OF is a constant)
_LINES = ("SELECT l.id, l.transaction_at, l.settled_on, l.provider, "  # noqa: S608
          "l.provider_txn_id, l.created_at, p.id FROM settlement_lines l "
          "LEFT JOIN payments p ON p.provider = l.provider "
          f"AND p.provider_txn_id = {SALE_OF} WHERE l.id IN :ids")
_PAYMENTS = ("SELECT p.id, p.paid_at, p.provider, p.provider_txn_id, p.dossier_id, "
             "d.agency_id FROM payments p LEFT JOIN dossiers d ON d.id = p.dossier_id "
             "WHERE p.id IN :ids")
#: the subjects dated before the end of the latest closed month (a line by its transaction
#: time, else its settlement day, as :func:`hold` dates it): only those can be held back
_DOSSIERS_UNTIL = ("SELECT id, received_at, agency_id, code, updated_at FROM dossiers "
                   "WHERE id IN :ids AND received_at < :until")
_PAYMENTS_UNTIL = _PAYMENTS + " AND p.paid_at < :until"
_LINES_UNTIL = (_LINES + " AND ((l.transaction_at IS NOT NULL AND l.transaction_at < :until) "
                "OR (l.transaction_at IS NULL AND l.settled_on < :until_day))")
# the last line of a payment stored after its month was closed: its sale lines (a sale, or a
# refund that names no other sale) and the refund lines naming it; both halves read an index
# ((provider, provider_txn_id), (provider, original_txn_id))
_ARRIVED = (
    "SELECT l.created_at, l.kind, l.provider_txn_id FROM settlement_lines l "
    "WHERE l.provider = :p AND l.created_at > :since AND ("
    "(l.provider_txn_id = :t AND (l.kind <> 'refund' OR l.original_txn_id IS NULL)) "
    "OR (l.kind = 'refund' AND l.original_txn_id = :t)) "
    "ORDER BY l.created_at DESC, l.id DESC LIMIT 1")

#: the subjects dated in a month (a remittance finding's agency, month and sub-item are not:
#: it is about what is owed after the month, and is never held back)
_DATED: Final = ("dossier", "payment", "settlement_line")


def hold(conn: Connection, findings: Sequence[Discrepancy], resolved: Sequence[Resolution],
         now: datetime, held: Held | None = None) -> tuple[list[Discrepancy], list[Resolution]]:
    """What the run may write, with closed months held back (see the module docstring).
    ``held``, if given, is told what was held back and what was reported late instead."""
    log = held if held is not None else Held()
    late_open = [r.identity for r in resolved if r.kind == LATE]
    log.resolutions.update(late_open)  # a person closes a late finding
    closed = _closed(conn)
    if not closed:
        return list(findings), [r for r in resolved if r.kind != LATE]

    def closing(when: datetime | date | None, agency: int | None) -> _Closed | None:
        if when is None:
            return None
        m = _month(when)
        return closed.get((m, None)) or (closed.get((m, agency)) if agency is not None
                                         else None)

    # the first part of each subject, and its ids
    subjects: list[tuple[str, int]] = []
    res_ids: dict[str, dict[str, int]] = {}
    for d in findings:
        if d.kind != LATE and REGISTRY[d.kind].subject[0] in _DATED:
            first = REGISTRY[d.kind].subject[0]
            subjects.append((first, {"dossier": d.dossier_id, "payment": d.payment_id,
                                     "settlement_line": d.settlement_line_id}.get(first) or 0))
    for r in resolved:
        if r.kind != LATE and REGISTRY[r.kind].subject[0] in _DATED:
            _, ids = REGISTRY.parse_identity(r.identity)
            res_ids[r.identity] = ids
            first = REGISTRY[r.kind].subject[0]
            subjects.append((first, ids.get(first, 0)))  # another shape: no such part
    want = {part: {i for p, i in subjects if p == part and i}
            for part in ("dossier", "payment", "settlement_line")}
    # of the subjects, those dated before the end of the latest closed month only: the rest
    # can lie in no closed month (in a steady run, almost all of them: not read at all)
    until = _Until.after(m for m, _agency in closed)
    dossiers = {row[0]: _Dossier(row[0], row[1], row[2], row[3], _utc(row[4])) for row in _fetch(
        conn, _DOSSIERS_UNTIL, want["dossier"], until=until, received_at=UTCDateTime(),
        updated_at=UTCDateTime())}
    payments = {p[0]: _Payment(*p) for p in _fetch(conn, _PAYMENTS_UNTIL, want["payment"],
                                                   until=until, paid_at=UTCDateTime())}
    lines: dict[int, _Line] = {}
    # a line's payment, paired as the core pairs them: a sale by its own transaction id, a
    # refund by its sale's (original_txn_id, else its own)
    line_payment: dict[int, int] = {}
    _add_lines(conn, _LINES_UNTIL, want["settlement_line"], lines, line_payment, until)

    def period_of(part: str, ident: int | None) -> _Closed | None:
        if ident is None:
            return None
        if part == "dossier" and ident in dossiers:
            d = dossiers[ident]
            return closing(d.received_at, d.agency_id)
        if part == "payment" and ident in payments:
            p = payments[ident]
            return closing(p.paid_at, p.agency_id)
        if part == "settlement_line" and ident in lines:
            return closing(lines[ident].dated, None)
        return None

    held_back: list[tuple[Discrepancy | None, Resolution | None, _Closed]] = []
    keep: list[Discrepancy] = []
    for d in findings:
        period = None
        if d.kind != LATE and REGISTRY[d.kind].subject[0] in _DATED:
            first = REGISTRY[d.kind].subject[0]
            period = period_of(first, {"dossier": d.dossier_id, "payment": d.payment_id,
                                       "settlement_line": d.settlement_line_id}[first])
        if period is None:
            keep.append(d)
        else:
            held_back.append((d, None, period))
    keep_res: list[Resolution] = []
    for r in resolved:
        if r.kind == LATE:
            continue  # a person closes a late finding
        first = REGISTRY[r.kind].subject[0]
        if first not in _DATED:  # e.g. a remittance's (agency, month, sub-item): not held
            keep_res.append(r)
            continue
        period = period_of(first, res_ids[r.identity].get(first))
        if period is None:
            keep_res.append(r)
        else:
            held_back.append((None, r, period))
    if not held_back:
        return keep, keep_res
    # what the late findings are made on, whenever it is dated: the held findings' lines
    # (each with its payment) and payments
    named: list[tuple[int | None, int | None]] = []  # (payment, line) of each held one
    for found, gone, _period in held_back:
        if found is not None:
            named.append((found.payment_id, found.settlement_line_id))
        elif gone is not None:
            ids = res_ids[gone.identity]
            named.append((ids.get("payment"), ids.get("settlement_line")))
    _add_lines(conn, _LINES, {line for _p, line in named if line and line not in lines},
               lines, line_payment)
    made_on = {payment or line_payment.get(line or 0) for payment, line in named}
    payments.update((p[0], _Payment(*p)) for p in _fetch(
        conn, _PAYMENTS, {i for i in made_on if i and i not in payments},
        paid_at=UTCDateTime()))

    identities = [h[0].identity if h[0] is not None else h[1].identity  # type: ignore[union-attr]
                  for h in held_back]
    stored: dict[str, tuple[str, int | None]] = {}
    for chunk in chunks(identities):
        for identity, status, delta in conn.execute(text(
                "SELECT identity, status, delta FROM discrepancies WHERE identity IN :ids")
                .bindparams(bindparam("ids", expanding=True)), {"ids": chunk}):
            stored[identity] = (status, delta)

    def report(period: _Closed, payment: int | None, line: int | None, dossier: int | None,
               old: int, new: int, now_vi: str, now_en: str) -> Discrepancy | None:
        """The late finding about the change: on its payment, else its settlement line, else
        its dossier (the first of them that the run knows)."""
        if payment is not None and payment in payments:
            return _late(conn, payments[payment], period, old, new, now_vi, now_en)
        if line is not None and line in lines:
            return _late_line(lines[line], period, old, new, now_vi, now_en)
        if dossier is not None and dossier in dossiers:
            return _late_dossier(dossiers[dossier], period, old, new, now_vi, now_en)
        return None

    late: dict[str, Discrepancy] = {}
    for found, gone, period in held_back:
        made_from = found if found is not None else gone
        assert made_from is not None
        source = (int(found is None), made_from.identity)
        if found is not None:
            log.findings.add(found.identity)
            before = stored.get(found.identity)
            if before is not None and (before[0] == "resolved" or (
                    before[0] == "open" and before[1] == found.delta)):
                continue  # nothing the closed month froze would change
            old = before[1] if before is not None and before[0] == "open" else 0
            line = found.settlement_line_id
            finding = report(period, found.payment_id or line_payment.get(line or 0), line,
                             found.dossier_id, old or 0, found.delta, found.explanation,
                             found.explanation_en)
        else:
            assert gone is not None
            log.resolutions.add(gone.identity)
            ids = res_ids[gone.identity]
            before = stored.get(gone.identity)
            if before is None:
                continue
            line = ids.get("settlement_line")
            finding = report(period, ids.get("payment") or line_payment.get(line or 0), line,
                             ids.get("dossier"), before[1] or 0, 0, gone.reason,
                             gone.reason_en)
        if finding is None:
            continue
        # made already, in this write or an earlier one of the run (the early write's): the
        # first in order stands (made again here, it is written again: the upsert replaces it)
        earlier = log.late_from.get(finding.identity)
        if earlier is None or source < earlier:
            late[finding.identity] = finding
            log.late_from[finding.identity] = source
    log.late.update(late)
    return keep + sorted(late.values()), keep_res


def _add_lines(conn: Connection, sql: str, ids: set[int], lines: dict[int, _Line],
               line_payment: dict[int, int], until: _Until | None = None) -> None:
    """The lines ``ids`` read by ``sql`` (:data:`_LINES` or its dated form) into ``lines``,
    and each one's payment into ``line_payment``."""
    for i, at, on, provider, txn, created, pay in _fetch(
            conn, sql, ids, until=until, transaction_at=UTCDateTime(),
            created_at=UTCDateTime()):
        lines[i] = _Line(i, at or _as_date(on), provider, txn, _utc(created))
        if pay is not None:
            line_payment[i] = pay


def _late(conn: Connection, payment: _Payment, period: _Closed, old: int, new: int,
          now_vi: str, now_en: str) -> Discrepancy:
    """The payment's late finding: the line of it that arrived last after the close (a sale
    line, or a refund line of it, paired as the core pairs them), if one did."""
    arrived = conn.execute(text(_ARRIVED).bindparams(bindparam("since", type_=UTCDateTime()))
                           .columns(created_at=UTCDateTime()), {
        "p": payment.provider, "t": payment.txn, "since": _since(period)}).first()
    refund = arrived[2] if arrived is not None and arrived[1] == "refund" else None
    vi, en = explain.late_for_closed_period(
        period.month, payment.paid_at, payment.provider, payment.txn,
        None if arrived is None else _utc(arrived[0]), now_vi, now_en, refund_line=refund)
    return Discrepancy(f"{LATE}:payment={payment.id}", LATE, payment.dossier_id, payment.id,
                       None, payment.provider, old, new, new - old, vi, en)


def _late_line(line: _Line, period: _Closed, old: int, new: int, now_vi: str,
               now_en: str) -> Discrepancy:
    """A line no payment claims (an unexpected settlement) changed for a closed month."""
    arrived = line.created_at if line.created_at and line.created_at > _since(period) else None
    dated = line.dated.astimezone(VN_TZ).date() if isinstance(line.dated, datetime) \
        else line.dated
    vi, en = explain.late_line_for_closed_period(period.month, line.provider, line.txn, dated,
                                                 arrived, now_vi, now_en)
    return Discrepancy(f"{LATE}:settlement_line={line.id}", LATE, None, None, line.id,
                       line.provider, old, new, new - old, vi, en)


def _late_dossier(dossier: _Dossier, period: _Closed, old: int, new: int, now_vi: str,
                  now_en: str) -> Discrepancy:
    """A dossier's finding (underpaid, overpaid) changed for a closed month: its fees were
    reassessed after the close (its ``updated_at`` says when), or a payment changed it."""
    changed = dossier.updated_at if dossier.updated_at and dossier.updated_at > _since(
        period) else None
    vi, en = explain.late_dossier_for_closed_period(period.month, dossier.code,
                                                    dossier.received_at, changed, now_vi,
                                                    now_en)
    return Discrepancy(f"{LATE}:dossier={dossier.id}", LATE, dossier.id, None, None, None,
                       old, new, new - old, vi, en)


__all__ = ["LATE", "Held", "hold"]
