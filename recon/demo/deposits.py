"""Demo deposits of phí (issue 18, LEGS B.4): each collecting organisation of the demo sends the
phí it collected to its fee account awaiting budget remittance at the State Treasury, as each
fee's deposit rule asks (``recon/demo/catalog.py``: monthly by the 5th, weekly by Thursday,
daily), on the due date at :data:`AT`, through its statement of debits (imported, kept).

- Every collector of phí under a rule gets a **made-up** fee-pending account, except
  :data:`WITHOUT_ACCOUNT`: its deposits are not judged (the transfers page says so).
- Faults (:data:`DEPOSIT_FAULTS`, about 1 % of the 132 fee periods the quarter judges): for
  that many collectors the last deposit of the quarter leaves out one fee's period (the last
  one that deposit pays, so nothing later covers it): one ``deposit_overdue`` each.

Deterministic (seeded), idempotent (its audit event).
"""

from __future__ import annotations

import csv
import io
import random
from collections import defaultdict
from datetime import date, datetime, time
from typing import Final

from sqlalchemy import func, select, update

from recon.audit import chain as audit
from recon.clock import Clock
from recon.db import Database
from recon.engine.deposit_load import read_parts
from recon.engine.deposits import DepositPart
from recon.models import Agency, AuditEvent, Dossier, FeeLine
from recon.settlements.transfers import import_debits

SEEDED_ACTION: Final = "demo.deposits_seeded"
AT: Final = time(15, 0)
DEPOSIT_FAULTS: Final = {"deposit_overdue": 1}
WITHOUT_ACCOUNT: Final = "H57.SKHDT"  # its deposits are not judged (no account recorded)

Item = tuple[str, str, date]


def _order(p: DepositPart) -> tuple[date, date, str, datetime, int, int]:
    return (p.due, p.period[0], p.budget_code, p.paid_at, p.payment_id, p.position)


def plan(parts: list[DepositPart], seed: int) -> tuple[dict[str, list[tuple[date, int]]],
                                                       list[Item]]:
    """Per collector its deposits (due date, amount), and the items left out (the faults)."""
    batches: dict[str, dict[date, list[DepositPart]]] = defaultdict(lambda: defaultdict(list))
    for part in sorted(parts, key=_order):
        batches[part.collector][part.due].append(part)
    rng = random.Random(seed * 13 + 4)  # noqa: S311 - demo data, not a secret
    chosen = rng.sample(sorted(batches), min(DEPOSIT_FAULTS["deposit_overdue"], len(batches)))
    out: dict[str, list[tuple[date, int]]] = {}
    faults: list[Item] = []
    for collector, by_due in sorted(batches.items()):
        deposits = [(due, sum(p.amount for p in ps)) for due, ps in sorted(by_due.items())]
        if collector in chosen:
            last_due, last_parts = max(by_due.items())
            tail = last_parts[-1]
            item = (collector, tail.budget_code, tail.period[0])
            left_out = sum(p.amount for p in last_parts
                           if (p.budget_code, p.period[0]) == item[1:])
            deposits[-1] = (last_due, deposits[-1][1] - left_out)
            faults.append(item)
        out[collector] = [(due, amount) for due, amount in deposits if amount > 0]
    return out, sorted(faults)


def _statement(account: str, rows: list[tuple[date, int]], start: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["Sao kê tài khoản (dữ liệu demo)"])
    writer.writerow(["Số tham chiếu", "Ngày giao dịch", "Số tiền ghi nợ",
                     "Tài khoản đối ứng", "Nội dung"])
    for n, (due, amount) in enumerate(rows, start=start):
        writer.writerow([f"FT21D{n:07d}", f"{datetime.combine(due, AT):%d/%m/%Y %H:%M:%S}",
                         f"{amount:,}", account, "Nop tien phi vao TK phi cho nop NSNN"])
    writer.writerow(["Tổng cộng", "", f"{sum(r[1] for r in rows):,}", "", ""])
    return out.getvalue().encode("utf-8")


def seed_deposits(db: Database, clock: Clock, *, year: int, quarter: int,
                  seed: int = 2021) -> list[Item]:
    """Fee-pending accounts and the quarter's deposits (module doc); the faults made (nothing
    the second time)."""
    marker = f"{year}Q{quarter}"
    with db.transaction() as s:
        if s.scalar(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.action == SEEDED_ACTION, AuditEvent.entity_id == marker)):
            return []
        collector = func.coalesce(FeeLine.collector_code, Agency.code)
        codes = sorted(set(s.scalars(
            select(collector).join(Dossier, Dossier.id == FeeLine.dossier_id)
            .join(Agency, Agency.id == Dossier.agency_id)
            .where(FeeLine.kind == "phi", FeeLine.deposit_period.is_not(None)).distinct())))
        accounts = {code: f"9527{n:09d}" for n, code in enumerate(codes, start=1)
                    if code != WITHOUT_ACCOUNT}
        for code, account in accounts.items():
            s.execute(update(Agency).where(Agency.code == code)
                      .values(fee_pending_account=account))
        parts = read_parts(s.connection())
    deposits, faults = plan(parts, seed)
    start = 1
    for code, rows in sorted(deposits.items()):
        if not rows:
            continue
        content = _statement(accounts[code], rows, start)
        start += len(rows)
        import_debits(db, clock, agency=code, path=f"sao-ke-nop-phi-{code}-{marker}.csv",
                      actor="demo", content=content)
    with db.transaction() as s:
        audit.record(s, clock, actor="demo", action=SEEDED_ACTION, entity_type="demo",
                     entity_id=marker, data={
                         "accounts": len(accounts), "without_account": WITHOUT_ACCOUNT,
                         "deposits": sum(len(r) for r in deposits.values()),
                         "faults": [f"{c}:{b}:{d.isoformat()}" for c, b, d in faults]})
    return faults


__all__ = ["DEPOSIT_FAULTS", "WITHOUT_ACCOUNT", "plan", "seed_deposits"]
