"""Closed months (khóa sổ) as the run writes: a closed month's findings are left as they are.

Finance closes a month (``periods``, see :mod:`recon.periods` and :mod:`recon.review.periods`).
A run still reads and judges everything, but before it writes (:func:`hold`, called by
:func:`recon.engine.store.persist`):

- a finding whose subject is dated in a closed month (its subject's first part: a dossier by
  ``received_at``, a payment by ``paid_at``, a settlement line by ``transaction_at`` else
  ``settled_on``; Vietnam time; the agency of a dossier, or of a payment's dossier) is not
  written when it would change what the month froze: a new finding, changed amounts, an
  auto-resolved one holding again; and an open one that no longer holds is not auto-resolved;
- instead, when that subject is a payment, the change is reported by a finding of the kind
  ``late_for_closed_period`` about the payment (detected now, so in the current open month),
  explained in vi/en ("a settlement line for a payment of 03/2021, a closed month, arrived on
  …"): ``expected_amount`` is the difference the closed month froze (0 when it had none),
  ``actual_amount`` the difference that holds now, ``delta`` the change. Findings of that
  kind are never auto-resolved by a run: a person closes them.

A finding about a settlement line (a duplicate line) reports its late change on the payment
whose transaction id the line carries. A change of a dossier-only finding, or of a line that
no payment claims (``unexpected_settlement``), of a closed month is held back the same way
without a late finding (late reassessments are refused at intake).

With no closed month (the usual case) this is one small query and changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from sqlalchemy import Connection, bindparam, text

from recon.clock import VN_TZ
from recon.db import UTCDateTime
from recon.engine import explain
from recon.engine.kinds import REGISTRY
from recon.engine.lifecycle import Resolution
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


def _fetch(conn: Connection, sql: str, ids: set[int], **types: Any) -> list[Any]:
    out: list[Any] = []
    for chunk in chunks(sorted(ids)):
        out.extend(conn.execute(text(sql).bindparams(bindparam("ids", expanding=True))
                                .columns(**types), {"ids": chunk}).all())
    return out


def _as_date(value: Any) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def hold(conn: Connection, findings: Sequence[Discrepancy], resolved: Sequence[Resolution],
         now: datetime) -> tuple[list[Discrepancy], list[Resolution]]:
    """What the run may write, with closed months held back (see the module docstring)."""
    closed = _closed(conn)
    if not closed:
        return list(findings), list(resolved)

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
        if d.kind != LATE:
            first = REGISTRY[d.kind].subject[0]
            subjects.append((first, {"dossier": d.dossier_id, "payment": d.payment_id,
                                     "settlement_line": d.settlement_line_id}[first] or 0))
    for r in resolved:
        if r.kind != LATE:
            _, ids = REGISTRY.parse_identity(r.identity)
            res_ids[r.identity] = ids
            first = REGISTRY[r.kind].subject[0]
            subjects.append((first, ids[first]))
    want = {part: {i for p, i in subjects if p == part and i}
            for part in ("dossier", "payment", "settlement_line")}
    for ids in res_ids.values():  # a resolution's payment, for its late finding
        if "payment" in ids:
            want["payment"].add(ids["payment"])
    dossiers = {i: (at, ag) for i, at, ag in _fetch(
        conn, "SELECT id, received_at, agency_id FROM dossiers WHERE id IN :ids",
        want["dossier"], received_at=UTCDateTime())}
    payments = {p[0]: _Payment(*p) for p in _fetch(
        conn, "SELECT p.id, p.paid_at, p.provider, p.provider_txn_id, p.dossier_id, "
              "d.agency_id FROM payments p LEFT JOIN dossiers d ON d.id = p.dossier_id "
              "WHERE p.id IN :ids", want["payment"], paid_at=UTCDateTime())}
    lines: dict[int, datetime | date] = {}
    line_payment: dict[int, int] = {}  # a line's payment, by the line's own transaction id
    for i, at, on, pay in _fetch(
            conn, "SELECT l.id, l.transaction_at, l.settled_on, p.id FROM settlement_lines l "
                  "LEFT JOIN payments p ON p.provider = l.provider "
                  "AND p.provider_txn_id = l.provider_txn_id WHERE l.id IN :ids",
            want["settlement_line"], transaction_at=UTCDateTime()):
        lines[i] = at or _as_date(on)
        if pay is not None:
            line_payment[i] = pay
    if line_payment:
        payments.update((p[0], _Payment(*p)) for p in _fetch(
            conn, "SELECT p.id, p.paid_at, p.provider, p.provider_txn_id, p.dossier_id, "
                  "d.agency_id FROM payments p LEFT JOIN dossiers d ON d.id = p.dossier_id "
                  "WHERE p.id IN :ids", set(line_payment.values()) - set(payments),
            paid_at=UTCDateTime()))

    def period_of(part: str, ident: int | None) -> _Closed | None:
        if ident is None:
            return None
        if part == "dossier" and ident in dossiers:
            return closing(*dossiers[ident])
        if part == "payment" and ident in payments:
            p = payments[ident]
            return closing(p.paid_at, p.agency_id)
        if part == "settlement_line" and ident in lines:
            return closing(lines[ident], None)
        return None

    held: list[tuple[Discrepancy | None, Resolution | None, _Closed]] = []
    keep: list[Discrepancy] = []
    for d in findings:
        period = None
        if d.kind != LATE:
            first = REGISTRY[d.kind].subject[0]
            period = period_of(first, {"dossier": d.dossier_id, "payment": d.payment_id,
                                       "settlement_line": d.settlement_line_id}[first])
        if period is None:
            keep.append(d)
        else:
            held.append((d, None, period))
    keep_res: list[Resolution] = []
    for r in resolved:
        if r.kind == LATE:
            continue  # a person closes a late finding
        first = REGISTRY[r.kind].subject[0]
        period = period_of(first, res_ids[r.identity].get(first))
        if period is None:
            keep_res.append(r)
        else:
            held.append((None, r, period))
    if not held:
        return keep, keep_res

    identities = [h[0].identity if h[0] is not None else h[1].identity  # type: ignore[union-attr]
                  for h in held]
    stored: dict[str, tuple[str, int | None]] = {}
    for chunk in chunks(identities):
        for identity, status, delta in conn.execute(text(
                "SELECT identity, status, delta FROM discrepancies WHERE identity IN :ids")
                .bindparams(bindparam("ids", expanding=True)), {"ids": chunk}):
            stored[identity] = (status, delta)

    late: dict[str, Discrepancy] = {}
    for found, gone, period in held:
        if found is not None:
            before = stored.get(found.identity)
            if before is not None and (before[0] == "resolved" or (
                    before[0] == "open" and before[1] == found.delta)):
                continue  # nothing the closed month froze would change
            anchor = found.payment_id or line_payment.get(found.settlement_line_id or 0)
            if anchor is None:
                continue
            old = before[1] if before is not None and before[0] == "open" else 0
            finding = _late(conn, payments.get(anchor), period, old or 0,
                            found.delta, found.explanation, found.explanation_en)
        else:
            assert gone is not None
            ids = res_ids[gone.identity]
            pid = ids.get("payment") or line_payment.get(ids.get("settlement_line", 0))
            before = stored.get(gone.identity)
            if pid is None or before is None:
                continue
            finding = _late(conn, payments.get(pid), period, before[1] or 0, 0,
                            gone.reason, gone.reason_en)
        if finding is not None and finding.identity not in late:
            late[finding.identity] = finding
    return keep + sorted(late.values()), keep_res


def _late(conn: Connection, payment: _Payment | None, period: _Closed, old: int, new: int,
          now_vi: str, now_en: str) -> Discrepancy | None:
    if payment is None:
        return None
    arrived = conn.execute(text(
        "SELECT MAX(created_at) FROM settlement_lines WHERE provider = :p "
        "AND provider_txn_id = :t AND created_at > :since"
    ).bindparams(bindparam("since", type_=UTCDateTime())).columns(), {
        "p": payment.provider, "t": payment.txn,
        "since": period.approved_at or datetime.combine(period.month, time(), UTC)
        + timedelta(days=31)}).scalar()
    if isinstance(arrived, str):
        arrived = datetime.fromisoformat(arrived)
    if arrived is not None and arrived.tzinfo is None:
        arrived = arrived.replace(tzinfo=UTC)
    vi, en = explain.late_for_closed_period(period.month, payment.paid_at, payment.provider,
                                            payment.txn, arrived, now_vi, now_en)
    return Discrepancy(f"{LATE}:payment={payment.id}", LATE, payment.dossier_id, payment.id,
                       None, payment.provider, old, new, new - old, vi, en)


__all__ = ["LATE", "hold"]
