"""The deposits of phí into the collectors' fee accounts awaiting budget remittance, as the
transfers page shows them (the reads). The allocation is :mod:`recon.engine.deposits`'s, read
by :mod:`recon.engine.deposit_load` as a run reads it, as of now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from recon.engine import deposit_load
from recon.models import Agency
from recon.scope import Scope


@dataclass
class DepositLedger:
    """One collector's phí under a deposit rule: owed, deposited, overdue."""

    collector: str
    name: str
    account: str
    owed: int = 0
    deposited: int = 0
    overdue: int = 0
    overdue_periods: int = 0

    @property
    def still_owed(self) -> int:
        return self.owed - self.deposited


@dataclass
class DepositView:
    ledgers: list[DepositLedger]
    without_account: list[tuple[str, str]]  # (code, name): not judged


def deposit_view(session: Session, *, now: datetime, scope: Scope) -> DepositView:
    """Per collector of the caller's scope: what it owes its fee account, what it deposited,
    what is overdue; and the collectors not judged for want of an account."""
    allowed = None if scope.agencies is None else set(session.scalars(
        select(Agency.code).where(Agency.id.in_(sorted(scope.agencies)))))
    agencies = {code: (name, account) for code, name, account in session.execute(
        select(Agency.code, Agency.name, Agency.fee_pending_account))}
    found = deposit_load.outcome(session.connection(), as_of=now)
    out: dict[str, DepositLedger] = {}
    for state in found.states:
        code = state.part.collector
        if allowed is not None and code not in allowed:
            continue
        name, account = agencies.get(code, (code, None))
        ledger = out.setdefault(code, DepositLedger(code, name, account or ""))
        ledger.owed += state.part.amount
        ledger.deposited += state.paid
        if state.remaining and found.today > state.part.due:
            ledger.overdue += state.remaining
    for o in found.overdue:
        if o.item[0] in out:
            out[o.item[0]].overdue_periods += 1
    skipped = [(c, agencies.get(c, (c, None))[0])
               for c in deposit_load.unjudged(session.connection())
               if allowed is None or c in allowed]
    return DepositView(sorted(out.values(), key=lambda d: d.collector), skipped)


__all__ = ["DepositLedger", "DepositView", "deposit_view"]
