# ruff: noqa: S608 - SQL built from this module's constants only
"""The run's forwarding pass: read what receiving centres owe onward and the transfers that pay
it, allocate them (the pure :mod:`recon.engine.forwarding`), and fold the findings into the
run's result.

The allocation is cumulative (a transfer pays the oldest parts still unpaid), so every run,
full or incremental, reads the whole of it: the dossiers with a fee line another organisation
collects, their succeeded payments, and every transfer. Those are a small share of the data
(only fees received for someone else), and the pass answers for every forwarding finding:
an incremental run finds and resolves them exactly as a full run does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, bindparam, text

from recon.db import UTCDateTime
from recon.engine import explain
from recon.engine.core import Reconciliation, WithPass
from recon.engine.forwarding import (
    BUDGET,
    FORWARD_KINDS,
    FeeLineShare,
    ForwardOutcome,
    OwedPart,
    TransferRow,
    allocate,
    match_forwarding,
    owed_parts,
)
from recon.engine.records import Discrepancy
from recon.engine.remittances import BudgetTransfer, Discharge, month_of

_FORWARDED = (
    "SELECT f.dossier_id FROM fee_lines f JOIN dossiers d ON d.id = f.dossier_id "
    "JOIN agencies a ON a.id = d.agency_id "
    "WHERE f.collector_code IS NOT NULL AND f.collector_code <> a.code")
_LINES = (
    "SELECT d.id, a.code, f.amount, f.kind, COALESCE(f.collector_code, a.code), "
    "COALESCE(f.budget_code, '') "
    "FROM fee_lines f JOIN dossiers d ON d.id = f.dossier_id "
    "JOIN agencies a ON a.id = d.agency_id "
    f"WHERE d.id IN ({_FORWARDED}) ORDER BY d.id, f.position")
_PAYMENTS = (
    "SELECT id, dossier_id, amount, paid_at FROM payments WHERE status = 'succeeded' "
    f"AND dossier_id IN ({_FORWARDED}) ORDER BY dossier_id, paid_at, id")
_TRANSFERS = (
    "SELECT t.id, a.code, t.destination, t.amount, t.transferred_at, t.bank_reference "
    "FROM transfers t JOIN agencies a ON a.id = t.agency_id "
    # a collector's deposit into its own fee-pending account is no onward transfer
    "WHERE t.destination <> a.code")
_NAMES = "SELECT code, name FROM agencies"
_OPEN = "SELECT identity FROM discrepancies WHERE status = 'open' AND kind IN :kinds"


def read_parts(conn: Connection) -> list[OwedPart]:
    """Every part of a succeeded payment owed onward."""
    lines: dict[int, tuple[str, list[FeeLineShare]]] = {}
    for dossier_id, receiver, amount, kind, collector, code in conn.execute(text(_LINES)):
        lines.setdefault(int(dossier_id), (receiver, []))[1].append(
            FeeLineShare(int(amount), kind, collector, code))
    payments: dict[int, list[tuple[int, int, datetime]]] = {}
    for pid, dossier_id, amount, paid_at in conn.execute(
            text(_PAYMENTS).columns(paid_at=UTCDateTime())):
        payments.setdefault(int(dossier_id), []).append((int(pid), int(amount), paid_at))
    out: list[OwedPart] = []
    for dossier_id, (receiver, its_lines) in lines.items():
        out += owed_parts(dossier_id, receiver, its_lines, payments.get(dossier_id, ()))
    return out


def read_transfers(conn: Connection) -> list[TransferRow]:
    return [TransferRow(int(r[0]), r[1], r[2], int(r[3]), r[4], r[5]) for r in conn.execute(
        text(_TRANSFERS).columns(transferred_at=UTCDateTime()))]


def read_names(conn: Connection) -> dict[str, str]:
    return {code: name for code, name in conn.execute(text(_NAMES))}


def outcome(conn: Connection, *, as_of: datetime, deadline_hours: int) -> ForwardOutcome:
    """Read and allocate as of ``as_of``; nothing is written (the finance pages use this)."""
    return match_forwarding(read_parts(conn), read_transfers(conn), as_of=as_of,
                            deadline_hours=deadline_hours, names=read_names(conn))


def budget_paid(conn: Connection) -> tuple[list[Discharge], list[BudgetTransfer]]:
    """What the receivers' transfers into the budget paid (each lệ phí part's collector,
    tiểu mục and month, per transfer), and those transfers with the collectors they paid for:
    the remittance pass counts them as remitted (issue 18 §2–3)."""
    parts, transfers = allocate(read_parts(conn), read_transfers(conn))
    budget = {t.transfer.id: t.transfer for t in transfers
              if t.transfer.destination == BUDGET}
    out: list[Discharge] = []
    collectors: dict[int, set[str]] = {tid: set() for tid in budget}
    for state in parts:
        part = state.part
        for tid, amount in zip(state.by, state.amounts, strict=True):
            t = budget.get(tid)
            if t is None:
                continue
            collectors[tid].add(part.collector)
            out.append(Discharge(tid, t.reference, t.receiver,
                                 explain.vn_date(t.transferred_at), part.collector,
                                 part.budget_code, month_of(explain.vn_date(part.paid_at)),
                                 amount))
    found = [BudgetTransfer(t.id, t.reference, t.receiver, explain.vn_date(t.transferred_at),
                            t.amount, frozenset(collectors[t.id])) for t in budget.values()]
    return out, found


class ForwardReconciliation(WithPass):
    """A run's result with its forwarding findings added (:class:`~recon.engine.core.
    WithPass`): the pass reads everything its kinds are about, so it judged every one."""

    __slots__ = ("forwarding",)

    def __init__(self, base: Reconciliation, found: ForwardOutcome,
                 discrepancies: list[Discrepancy]) -> None:
        super().__init__(base, discrepancies)
        self.forwarding = found

    def judged(self, kind: str, ids: dict[str, int], identity: str) -> bool | None:
        return True if kind in FORWARD_KINDS else None


class ForwardPass:
    """One run's forwarding pass."""

    def __init__(self, found: ForwardOutcome, previous_open: list[str]) -> None:
        self.outcome = found
        self.previous_open = previous_open

    def apply(self, result: Reconciliation) -> ForwardReconciliation:
        merged = sorted([*result.discrepancies, *self.outcome.findings],
                        key=lambda d: d.identity)
        return ForwardReconciliation(result, self.outcome, merged)

    def previous(self, loaded: Sequence[str]) -> list[str]:
        """The open identities the run classifies: the loader's and this pass's."""
        return sorted({*loaded, *self.previous_open})


def prepare(conn: Connection, *, as_of: datetime, deadline_hours: int) -> ForwardPass:
    found = outcome(conn, as_of=as_of, deadline_hours=deadline_hours)
    opened = conn.execute(text(_OPEN).bindparams(bindparam("kinds", expanding=True)),
                          {"kinds": list(FORWARD_KINDS)}).scalars().all()
    return ForwardPass(found, list(opened))


__all__ = ["ForwardPass", "ForwardReconciliation", "budget_paid", "outcome", "prepare",
           "read_names", "read_parts", "read_transfers"]
