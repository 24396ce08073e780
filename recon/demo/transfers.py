"""Demo onward transfers (issue 18 §2): the province centre receives dossiers for three
departments and passes their money on, with a few planned faults.

- Three departments of Thừa Thiên Huế collect the fees of procedures the centre receives
  (:data:`DEPARTMENTS`): their agencies are added with **made-up** accounts, like every demo
  account, and the fee lines of the centre's dossiers of those procedures name them as
  collector. The centre keeps collecting its other procedures itself.
- The centre passes the money on once a day, at :data:`CUTOFF` (Vietnam time, every day:
  online banking), for what it received since the previous cut-off: each phí to its
  department's account, each lệ phí into the state budget's account (:data:`BUDGET_ACCOUNT`).
  So nothing waits more than 24 hours.
- The transfers come from the centre's monthly statements of debits (profile
  ``vietinbank_debits``), imported as an operator would (``recon transfers import``, the files
  kept), with a few bank charges among them that are no onward transfer.
- Faults (:data:`FAULTS`): the last phí of the quarter owed to the Sở Tư pháp are never passed
  on (``forward_overdue``, one per payment); two daily transfers into the budget pay
  :data:`EXTRA` too much and one to the Sở Kế hoạch và Đầu tư is sent twice
  (``forward_mismatch``). Fewer when the quarter has fewer payments to fault.

Deterministic (seeded), idempotent (its audit event), fast (one read, three small files).
"""

from __future__ import annotations

import csv
import io
import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import func, select, update

from recon.audit import chain as audit
from recon.clock import VN_TZ, Clock
from recon.db import Database
from recon.engine.forward_load import read_parts
from recon.engine.forwarding import BUDGET, OwedPart
from recon.intake.agencies import create_agency
from recon.models import Agency, AuditEvent, Dossier, FeeLine, Procedure
from recon.settlements.transfers import import_debits

SEEDED_ACTION = "demo.transfers_seeded"
CENTRE = "H57.TTPVHCC"
CUTOFF = time(17, 0)
EXTRA = 50_000
BUDGET_ACCOUNT = "7111000000001"  # demo: the budget's collection account at the Treasury
FAULTS = {"forward_overdue": 4, "forward_mismatch": 3}
BANK_CHARGES = 2  # per month: debits that are no onward transfer


@dataclass(frozen=True, slots=True)
class Department:
    code: str
    name: str
    bank_bin: str
    account_number: str
    account_name: str
    transfer_account: str
    procedures: tuple[str, ...]


DEPARTMENTS: tuple[Department, ...] = (
    Department("H57.STP", "Sở Tư pháp tỉnh Thừa Thiên Huế", "970415", "114100000001",
               "SO TU PHAP TINH THUA THIEN HUE", "114100000001", ("2.000488",)),
    Department("H57.SKHDT", "Sở Kế hoạch và Đầu tư tỉnh Thừa Thiên Huế", "970415",
               "114100000002", "SO KE HOACH VA DAU TU", "114100000002", ("1.000955",)),
    Department("H57.SGTVT", "Sở Giao thông vận tải tỉnh Thừa Thiên Huế", "970415",
               "114100000003", "SO GIAO THONG VAN TAI", "114100000003", ("3.000347",)),
)
OVERDUE_TO = "H57.STP"
DUPLICATED_TO = "H57.SKHDT"


def _cutoff_after(moment: datetime) -> datetime:
    local = moment.astimezone(VN_TZ)
    day = local.date() if local.time() < CUTOFF else local.date() + timedelta(days=1)
    return datetime.combine(day, CUTOFF, VN_TZ)


@dataclass
class _Debit:
    at: datetime
    amount: int
    account: str
    memo: str


def plan_debits(parts: list[OwedPart], accounts: dict[str, str], seed: int
                ) -> tuple[list[_Debit], dict[str, int]]:
    """The centre's onward transfers for ``parts`` with the planned faults, and how many of
    each fault were made."""
    rng = random.Random(seed)  # noqa: S311 - demo data, not secrets
    order = sorted(parts, key=lambda p: (p.paid_at, p.payment_id, p.position))
    overdue_ids: list[int] = []
    for part in reversed([p for p in order if p.destination == OVERDUE_TO]):
        if len(overdue_ids) == FAULTS["forward_overdue"]:
            break
        if part.payment_id not in overdue_ids:
            overdue_ids.append(part.payment_id)
    # the omitted parts are the newest of their ledger: every earlier one is paid in full
    batches: dict[tuple[str, datetime], int] = defaultdict(int)
    for part in order:
        if part.destination == OVERDUE_TO and part.payment_id in overdue_ids:
            continue
        batches[(part.destination, _cutoff_after(part.paid_at))] += part.amount
    debits = []
    for (destination, at), amount in sorted(batches.items(), key=lambda kv: (kv[0][1],
                                                                             kv[0][0])):
        account = BUDGET_ACCOUNT if destination == BUDGET else accounts[destination]
        to = "NSNN" if destination == BUDGET else destination
        debits.append(_Debit(at, amount, account, f"TTPVHCC chuyen tien thu ho {to} ngay "
                                                  f"{(at - timedelta(hours=1)):%d/%m/%Y}"))
    made = {"forward_overdue": len(overdue_ids), "forward_mismatch": 0}
    budget = [d for d in debits if d.account == BUDGET_ACCOUNT]
    for debit in rng.sample(budget, min(2, len(budget))):
        debit.amount += EXTRA
        made["forward_mismatch"] += 1
    twice = [d for d in debits if d.account == accounts.get(DUPLICATED_TO)]
    if twice and made["forward_mismatch"] < FAULTS["forward_mismatch"]:
        first = rng.choice(twice)
        debits.append(_Debit(first.at, first.amount, first.account, first.memo))
        made["forward_mismatch"] += 1
    return debits, made


def _statement(debits: list[_Debit], start: int, charges: list[datetime]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["Sao kê tài khoản 113000000000 (dữ liệu demo)"])
    writer.writerow(["Số tham chiếu", "Ngày giao dịch", "Số tiền ghi nợ",
                     "Tài khoản đối ứng", "Nội dung"])
    rows = [(d.at, d.amount, d.account, d.memo) for d in debits]
    rows += [(at, 22_000, "113999999999", "Phi quan ly tai khoan") for at in charges]
    rows.sort(key=lambda r: r[0])
    for n, (at, amount, account, memo) in enumerate(rows, start=start):
        writer.writerow([f"FT21{n:08d}", f"{at.astimezone(VN_TZ):%d/%m/%Y %H:%M:%S}",
                         f"{amount:,}", account, memo])
    writer.writerow(["Tổng cộng", "", f"{sum(r[1] for r in rows):,}", "", ""])
    return out.getvalue().encode("utf-8")


def seed_transfers(db: Database, clock: Clock, *, year: int, quarter: int,
                   seed: int = 2021) -> dict[str, int]:
    """Departments, collectors on the centre's fee lines, and the quarter's statements of
    debits (module doc). Returns the faults made (nothing the second time)."""
    marker = f"{year}Q{quarter}"
    with db.transaction() as s:
        if s.scalar(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.action == SEEDED_ACTION, AuditEvent.entity_id == marker)):
            return {}
        centre = s.scalar(select(Agency).where(Agency.code == CENTRE))
        if centre is None:
            return {}
        known = set(s.scalars(select(Agency.code)))
        for dep in DEPARTMENTS:
            if dep.code not in known:
                create_agency(s, clock, code=dep.code, name=dep.name, bank_bin=dep.bank_bin,
                              account_number=dep.account_number,
                              account_name=dep.account_name, actor="demo")
            s.execute(update(Agency).where(Agency.code == dep.code)
                      .values(transfer_account=dep.transfer_account))
            centre_dossiers = select(Dossier.id).join(
                Procedure, Procedure.id == Dossier.procedure_id).where(
                Dossier.agency_id == centre.id, Procedure.code.in_(dep.procedures))
            s.execute(update(FeeLine).where(FeeLine.dossier_id.in_(centre_dossiers))
                      .values(collector_code=dep.code))
        parts = read_parts(s.connection())
    accounts = {d.code: d.transfer_account for d in DEPARTMENTS}
    debits, made = plan_debits(parts, accounts, seed)
    by_month: dict[tuple[int, int], list[_Debit]] = defaultdict(list)
    for debit in debits:
        local = debit.at.astimezone(VN_TZ)
        by_month[(local.year, local.month)].append(debit)
    rng = random.Random(seed + 1)  # noqa: S311 - demo data, not secrets
    start = 90_000_000
    for (y, m), month_debits in sorted(by_month.items()):
        first = datetime(y, m, 1, 8, 0, tzinfo=VN_TZ)
        charges = [first + timedelta(days=rng.randrange(27), minutes=rng.randrange(480))
                   for _ in range(BANK_CHARGES)]
        content = _statement(month_debits, start, charges)
        start += len(month_debits) + len(charges)
        import_debits(db, clock, agency=CENTRE, path=f"sao-ke-chi-{y}-{m:02d}.csv",
                      actor="demo", budget=[BUDGET_ACCOUNT], content=content)
    with db.transaction() as s:
        audit.record(s, clock, actor="demo", action=SEEDED_ACTION, entity_type="demo",
                     entity_id=marker, data={"departments": [d.code for d in DEPARTMENTS],
                                             "transfers": len(debits), "faults": made})
    return made


__all__ = ["BUDGET_ACCOUNT", "DEPARTMENTS", "FAULTS", "plan_debits", "seed_transfers"]
