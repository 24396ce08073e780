"""The run's portal pass: read the portal's lists, the payments and the providers' lines they
concern, compare them (the pure :mod:`recon.engine.portal`), and fold the findings into the
run's result.

Which lines count: for each (agency, Vietnam day), the lines of the newest list covering it
(the highest ``portal_files.id``): a corrected list replaces an earlier one for its days.

- a **full** run judges every (agency, day) a list covers;
- an **incremental** run judges the covered (agency, day) pairs whose portal lines (a new list)
  or payments (of the agency's dossiers, by the Vietnam date of ``paid_at``) were stamped at or
  after the previous run's mark (``change_seq``, migration 0009 and 0023); the open findings of
  other days are left untouched, as the core leaves what it did not read.

:class:`PortalPass` is applied after the core (and the payout pass).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, text

from recon.clock import VN_TZ
from recon.db import UTCDateTime
from recon.engine.core import Reconciliation
from recon.engine.load import chunks
from recon.engine.portal import (
    KIND,
    Day,
    PortalEntry,
    PortalOutcome,
    PortalPayment,
    PortalReconciliation,
    ProviderLine,
    compare,
    with_portal,
)
from recon.engine.records import EngineConfig

_FILES = "SELECT id, agency_id, day_from, day_to FROM portal_files"
_LINES = ("SELECT id, agency_id, portal_txn_id, dossier_code, amount, status, transaction_at, "
          "reference, provider_txn_id, provider, file_id, day FROM portal_lines")
_PAY_COLS = ("SELECT p.id, p.provider, p.provider_txn_id, p.amount, p.status, p.paid_at, "
             "p.reference, p.dossier_id, d.code, d.agency_id FROM payments p "
             "LEFT JOIN dossiers d ON d.id = p.dossier_id")
_CHANGED_LINES = ("SELECT DISTINCT agency_id, day FROM portal_lines "
                  "WHERE change_seq >= :mark")
_CHANGED_PAYMENTS = ("SELECT p.paid_at, d.agency_id FROM payments p JOIN dossiers d "
                     "ON d.id = p.dossier_id WHERE p.change_seq >= :mark")
_OPEN = "SELECT identity FROM discrepancies WHERE status = 'open' AND kind = :kind"


class PortalPass:
    """One run's portal pass (see the module doc)."""

    def __init__(self, outcome: PortalOutcome, judged: set[str], previous_open: list[str]
                 ) -> None:
        self.outcome = outcome
        self.judged = judged
        self.previous_open = previous_open

    def apply(self, result: Reconciliation) -> PortalReconciliation:
        return with_portal(result, self.outcome, self.judged)

    def previous(self, loaded: Sequence[str]) -> list[str]:
        """The open identities the run classifies: the loader's and the portal pass's."""
        return sorted({*loaded, *self.previous_open})


def prepare(conn: Connection, *, config: EngineConfig, mode: str,
            mark: int | None = None) -> PortalPass | None:
    """Read and compare (``None`` when no portal list was ever imported)."""
    winners: dict[Day, int] = {}
    for file_id, agency, low, high in conn.execute(text(_FILES)):
        day, last = _day(low), _day(high)
        while day <= last:
            key = (int(agency), day)
            winners[key] = max(winners.get(key, 0), int(file_id))
            day += timedelta(days=1)
    if not winners:
        return None
    if mode == "full" or mark is None:
        judged_days = set(winners)
    else:
        touched = {(int(a), _day(d)) for a, d in
                   conn.execute(text(_CHANGED_LINES), {"mark": mark})}
        touched |= {(int(a), _vn(at)) for at, a in conn.execute(
            text(_CHANGED_PAYMENTS).columns(paid_at=UTCDateTime()), {"mark": mark})
            if a is not None}
        judged_days = touched & set(winners)
    entries = _entries(conn, judged_days, winners)
    payments = _payments(conn, judged_days, entries)
    lines = _provider_lines(conn, {p.provider_txn_id for p in payments.values()}
                            | {e.provider_txn_id for e in entries if e.provider_txn_id})
    dossiers = _dossiers(conn, {e.dossier_code for e in entries})
    unlisted = frozenset(config.no_settlement_providers)
    outcome = compare(entries=entries, covered=judged_days, payments=payments.values(),
                      lines=lines, dossiers=dossiers, unlisted=unlisted)
    previous = [r[0] for r in conn.execute(text(_OPEN), {"kind": KIND})]
    judged = _judged(conn, previous, judged_days)
    return PortalPass(outcome, judged, sorted(judged))


def _entries(conn: Connection, days: set[Day], winners: dict[Day, int]) -> list[PortalEntry]:
    if not days:
        return []
    low, high = min(d for _, d in days), max(d for _, d in days)
    agencies = sorted({a for a, _ in days})
    sql = text(_LINES + " WHERE day >= :low AND day <= :high AND agency_id IN :agencies"
               ).bindparams(bindparam("agencies", expanding=True)
                            ).columns(transaction_at=UTCDateTime())
    sqlite = conn.dialect.name == "sqlite"
    out = []
    for r in conn.execute(sql, {"low": low.isoformat() if sqlite else low,
                                "high": high.isoformat() if sqlite else high,
                                "agencies": agencies}):
        key = (int(r[1]), _day(r[11]))
        if key in days and winners.get(key) == int(r[10]):
            out.append(PortalEntry(int(r[0]), int(r[1]), r[2], r[3], int(r[4]), r[5], r[6],
                                   r[7], r[8], r[9]))
    return out


def _make_payment(r: Any) -> PortalPayment:
    return PortalPayment(int(r[0]), r[1], r[2], int(r[3]), r[4], r[5], r[6],
                         None if r[7] is None else int(r[7]), r[8],
                         None if r[9] is None else int(r[9]))


def _payments(conn: Connection, days: set[Day], entries: Sequence[PortalEntry]
              ) -> dict[int, PortalPayment]:
    out: dict[int, PortalPayment] = {}
    if not days:
        return out
    low, high = min(d for _, d in days), max(d for _, d in days)
    start = datetime.combine(low, time(), VN_TZ)
    end = datetime.combine(high + timedelta(days=1), time(), VN_TZ)
    agencies = sorted({a for a, _ in days})
    sql = text(_PAY_COLS + " WHERE p.paid_at >= :start AND p.paid_at < :end "
               "AND d.agency_id IN :agencies").bindparams(
        bindparam("agencies", expanding=True), bindparam("start", type_=UTCDateTime()),
        bindparam("end", type_=UTCDateTime())).columns(paid_at=UTCDateTime())
    for r in conn.execute(sql, {"start": start, "end": end, "agencies": agencies}):
        p = _make_payment(r)
        out[p.id] = p
    # the payments a line names, wherever they are
    for column, values in (("p.provider_txn_id", {e.provider_txn_id for e in entries}),
                           ("p.reference", {e.reference for e in entries})):
        wanted = sorted(v for v in values if v)
        named = text(_PAY_COLS + f" WHERE {column} IN :ids").bindparams(
            bindparam("ids", expanding=True)).columns(paid_at=UTCDateTime())
        for chunk in chunks(wanted):
            for r in conn.execute(named, {"ids": chunk}):
                p = _make_payment(r)
                out.setdefault(p.id, p)
    return out


def _provider_lines(conn: Connection, txns: Iterable[str]) -> list[ProviderLine]:
    sql = text("SELECT id, provider, provider_txn_id, amount FROM settlement_lines "
               "WHERE kind = 'sale' AND provider_txn_id IN :ids").bindparams(
                   bindparam("ids", expanding=True))
    out = []
    for chunk in chunks(sorted(t for t in txns if t)):
        out += [ProviderLine(int(r[0]), r[1], r[2], int(r[3]))
                for r in conn.execute(sql, {"ids": chunk})]
    return out


def _dossiers(conn: Connection, codes: Iterable[str]) -> dict[str, int]:
    sql = text("SELECT code, id FROM dossiers WHERE code IN :codes").bindparams(
        bindparam("codes", expanding=True))
    out: dict[str, int] = {}
    for chunk in chunks(sorted(codes)):
        out.update((r[0], int(r[1])) for r in conn.execute(sql, {"codes": chunk}))
    return out


def _judged(conn: Connection, previous: Sequence[str], days: set[Day]) -> set[str]:
    """The open ``portal_mismatch`` identities whose subject lies on a judged day."""
    by_payment: dict[int, str] = {}
    by_line: dict[int, str] = {}
    for identity in previous:
        _kind, _, rest = identity.partition(":")
        part, _, value = rest.partition("=")
        if value.isdigit():
            (by_payment if part == "payment" else by_line)[int(value)] = identity
    out: set[str] = set()
    pay_sql = text("SELECT p.id, p.paid_at, d.agency_id FROM payments p JOIN dossiers d "
                   "ON d.id = p.dossier_id WHERE p.id IN :ids").bindparams(
        bindparam("ids", expanding=True)).columns(paid_at=UTCDateTime())
    for chunk in chunks(sorted(by_payment)):
        for pid, at, agency in conn.execute(pay_sql, {"ids": chunk}):
            if (int(agency), _vn(at)) in days:
                out.add(by_payment[int(pid)])
    line_sql = text("SELECT id, agency_id, day FROM portal_lines WHERE id IN :ids").bindparams(
        bindparam("ids", expanding=True))
    for chunk in chunks(sorted(by_line)):
        for lid, agency, day in conn.execute(line_sql, {"ids": chunk}):
            if (int(agency), _day(day)) in days:
                out.add(by_line[int(lid)])
    return out


def _vn(moment: datetime) -> date:
    return moment.astimezone(VN_TZ).date()


def _day(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


__all__ = ["PortalPass", "prepare"]
