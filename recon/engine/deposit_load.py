# ruff: noqa: S608 - SQL built from this module's constants only
"""The run's deposit pass: read the phí owed to collectors' fee accounts awaiting budget
remittance and the deposits into them, allocate (the pure :mod:`recon.engine.deposits`), and
fold ``deposit_overdue`` into the run's result.

Only collectors with a fee-pending account (``agencies.fee_pending_account``) are judged, and
only their phí lines with a deposit rule. The allocation is cumulative (a deposit pays the
earliest due parts still unpaid), so every run, full or incremental, reads all of it and judges
every deposit identity: an incremental run finds and resolves exactly what a full run does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, bindparam, text

from recon.db import UTCDateTime
from recon.engine.core import Reconciliation, WithPass
from recon.engine.deposits import (
    KIND,
    DepositOutcome,
    DepositPart,
    DepositRow,
    match_deposits,
    rule_of,
)
from recon.engine.forwarding import spread

_COLLECTOR = "COALESCE(f.collector_code, a.code)"
#: dossiers with a phí line under a rule whose collector has a fee-pending account
_JUDGED = (
    "SELECT f.dossier_id FROM fee_lines f JOIN dossiers d ON d.id = f.dossier_id "
    "JOIN agencies a ON a.id = d.agency_id "
    f"JOIN agencies c ON c.code = {_COLLECTOR} "
    "WHERE f.kind = 'phi' AND f.deposit_period IS NOT NULL "
    "AND c.fee_pending_account IS NOT NULL")
_LINES = (
    f"SELECT d.id, f.amount, f.kind, {_COLLECTOR}, COALESCE(f.budget_code, ''), "
    "f.deposit_period, f.deposit_due_days, c.fee_pending_account "
    "FROM fee_lines f JOIN dossiers d ON d.id = f.dossier_id "
    "JOIN agencies a ON a.id = d.agency_id "
    f"LEFT JOIN agencies c ON c.code = {_COLLECTOR} "
    f"WHERE d.id IN ({_JUDGED}) ORDER BY d.id, f.position")
_PAYMENTS = (
    "SELECT id, dossier_id, amount, paid_at FROM payments WHERE status = 'succeeded' "
    f"AND dossier_id IN ({_JUDGED}) ORDER BY dossier_id, paid_at, id")
_DEPOSITS = (
    "SELECT t.id, t.destination, t.amount, t.transferred_at, t.bank_reference "
    "FROM transfers t JOIN agencies c ON c.code = t.destination "
    "WHERE t.into_fee_account AND c.fee_pending_account IS NOT NULL")
_AGENCIES = "SELECT code, id, name, fee_pending_account FROM agencies"
_OPEN = "SELECT identity FROM discrepancies WHERE status = 'open' AND kind IN :kinds"


def read_parts(conn: Connection) -> list[DepositPart]:
    """Every phí part owed to a judged collector's fee-pending account."""
    lines: dict[int, list[tuple[int, str, str, str, str | None, int | None, bool]]] = {}
    for dossier_id, amount, kind, collector, code, period, due, account in conn.execute(
            text(_LINES)):
        lines.setdefault(int(dossier_id), []).append(
            (int(amount), kind, collector, code, period, due, account is not None))
    out: list[DepositPart] = []
    covered: dict[int, int] = {}
    for pid, dossier_id, amount, paid_at in conn.execute(
            text(_PAYMENTS).columns(paid_at=UTCDateTime())):
        its = lines.get(int(dossier_id), [])
        before = covered.get(int(dossier_id), 0)
        shares, _left = spread([ln[0] for ln in its], before, int(amount))
        covered[int(dossier_id)] = before + int(amount)
        for position, (line, part) in enumerate(zip(its, shares, strict=True)):
            _amt, kind, collector, code, period, due, judged = line
            rule = rule_of(period, due)
            if part and kind == "phi" and judged and rule is not None:
                out.append(DepositPart(int(pid), int(dossier_id), collector, code, rule, part,
                                       paid_at, position))
    return out


def read_deposits(conn: Connection) -> list[DepositRow]:
    return [DepositRow(int(r[0]), r[1], int(r[2]), r[3], r[4]) for r in conn.execute(
        text(_DEPOSITS).columns(transferred_at=UTCDateTime()))]


def outcome(conn: Connection, *, as_of: datetime) -> DepositOutcome:
    """Read and allocate as of ``as_of``; nothing is written (the pages use this too)."""
    ids: dict[str, int] = {}
    names: dict[str, str] = {}
    for code, agency_id, name, _account in conn.execute(text(_AGENCIES)):
        ids[code] = int(agency_id)
        names[code] = f"{code} – {name}"
    deposits = read_deposits(conn)
    return match_deposits(read_parts(conn), deposits, as_of=as_of, agency_ids=ids,
                          names=names, references={d.id: d.reference for d in deposits})


def unjudged(conn: Connection) -> list[str]:
    """Collectors of phí under a deposit rule that have no fee-pending account: their
    deposits are not judged (the pages say so)."""
    rows = conn.execute(text(
        f"SELECT DISTINCT {_COLLECTOR} FROM fee_lines f JOIN dossiers d ON d.id = f.dossier_id "
        "JOIN agencies a ON a.id = d.agency_id "
        f"LEFT JOIN agencies c ON c.code = {_COLLECTOR} "
        "WHERE f.kind = 'phi' AND f.deposit_period IS NOT NULL "
        "AND c.fee_pending_account IS NULL")).scalars().all()
    return sorted(rows)


class DepositReconciliation(WithPass):
    """A run's result with its deposit findings added: the pass reads everything its kind is
    about, so it judged every ``deposit_overdue`` identity."""

    __slots__ = ("deposits",)

    def __init__(self, base: Reconciliation, found: DepositOutcome) -> None:
        super().__init__(base, sorted([*base.discrepancies, *found.findings],
                                      key=lambda d: d.identity))
        self.deposits = found

    def judged(self, kind: str, ids: dict[str, int], identity: str) -> bool | None:
        return True if kind == KIND else None


class DepositPass:
    """One run's deposit pass."""

    def __init__(self, found: DepositOutcome, previous_open: list[str]) -> None:
        self.outcome = found
        self.previous_open = previous_open

    def apply(self, result: Reconciliation) -> DepositReconciliation:
        return DepositReconciliation(result, self.outcome)

    def previous(self, loaded: Sequence[str]) -> list[str]:
        return sorted({*loaded, *self.previous_open})


def prepare(conn: Connection, *, as_of: datetime) -> DepositPass:
    found = outcome(conn, as_of=as_of)
    opened = conn.execute(text(_OPEN).bindparams(bindparam("kinds", expanding=True)),
                          {"kinds": [KIND]}).scalars().all()
    return DepositPass(found, list(opened))


__all__ = ["DepositPass", "DepositReconciliation", "outcome", "prepare", "read_deposits",
           "read_parts", "unjudged"]
