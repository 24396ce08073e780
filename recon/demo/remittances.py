"""The demo quarter's remittances to the state budget (issue 18 §3): one C1-02/NS voucher per
collecting organisation and month, a line per tiểu mục naming its period (kỳ thuế), dated
between the 5th and the 19th of the following month, paying exactly what the month owes
(less the lệ phí the centre already paid into the budget for it: its transfers count),
except the planned faults (:data:`REMITTANCE_FAULTS`, about 1 % of the amounts owed each): a
month's sub-item never remitted (``remittance_overdue``), remitted short
(``remittance_short``), remitted in excess (``remittance_excess``).

The chapter (mã chương) and area (mã ĐBHC) codes are demo values: the real ones come from each
collector's Treasury registration (docs/remittances.md; ``LEGS.md`` B.2 marks them unverified).
Deterministic for a seed; a second seeding adds nothing.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from recon.clock import Clock
from recon.db import Database
from recon.engine.remittances import Key, allocate, next_month
from recon.models import Remittance
from recon.review.declarations import remittance_inputs
from recon.settlements.remittances import LineIn, VoucherIn, store_vouchers

REMITTANCE_FAULTS: Final = {
    "remittance_overdue": 1,
    "remittance_short": 1,
    "remittance_excess": 1,
}
DEMO_CHAPTER: Final = "599"  # demo value (not a verified chapter code)
DEMO_AREA: Final = "46"  # Thừa Thiên Huế's province code as a demo ĐBHC value
SHORT_BY: Final = (10_000, 25_000)  # VND a short voucher lacks, an excess one adds
PREFIX: Final = "DEMO-GNT"


def plan(owes: dict[Key, int], months: list[date], seed: int) -> tuple[list[VoucherIn],
                                                                       dict[str, list[Key]]]:
    """The vouchers for ``months`` and which keys carry which planned fault."""
    keys = sorted(k for k, v in owes.items() if k[2] in months and v > 0)
    rng = random.Random(seed * 7 + 18)  # noqa: S311 - demo data, not a secret
    need = sum(REMITTANCE_FAULTS.values())
    chosen = rng.sample(keys, min(need, len(keys)))
    faults: dict[str, list[Key]] = {}
    at = 0
    for kind, count in REMITTANCE_FAULTS.items():
        faults[kind] = sorted(chosen[at:at + count])
        at += count
    fault_of = {k: kind for kind, ks in faults.items() for k in ks}
    by_voucher: dict[tuple[str, date], list[LineIn]] = {}
    for key in keys:
        amount = owes[key]
        planned = fault_of.get(key)
        if planned == "remittance_overdue":
            continue
        if planned == "remittance_short":
            amount -= min(amount - 1, rng.choice(SHORT_BY))
        elif planned == "remittance_excess":
            amount += rng.choice(SHORT_BY)
        by_voucher.setdefault((key[0], key[2]), []).append(
            LineIn(DEMO_CHAPTER, key[1], DEMO_AREA, amount, period=key[2]))
    vouchers: list[VoucherIn] = []
    for n, ((collector, month), lines) in enumerate(sorted(by_voucher.items()), start=1):
        day = next_month(month) + timedelta(days=rng.randint(4, 18))
        vouchers.append(VoucherIn(f"{PREFIX}-{month:%Y%m}-{n:04d}", day, collector,
                                  tuple(lines), note="demo"))
    return vouchers, faults


def left_to_remit(session: Session) -> dict[Key, int]:
    """What each collector owes, less the lệ phí its receiving centre already paid into the
    budget for it (those transfers count as remitted: docs/remittances.md)."""
    inputs = remittance_inputs(session)
    paid_in = allocate(inputs.owed, inputs.discharges).remitted
    return {k: v - paid_in.get(k, 0) for k, v in inputs.owed.items()}


def seed_remittances(db: Database, clock: Clock, *, year: int, quarter: int,
                     seed: int) -> int:
    """Record the demo quarter's vouchers (none when some are there already); how many."""
    months = [date(year, 3 * quarter - 2 + i, 1) for i in range(3)]
    with db.transaction() as s:
        if s.scalar(select(Remittance.id).where(Remittance.voucher_no.like(f"{PREFIX}-%"))
                    .limit(1)) is not None:
            return 0
        vouchers, _faults = plan(left_to_remit(s), months, seed)
        return len(store_vouchers(s, clock, vouchers, actor="demo"))


__all__ = ["REMITTANCE_FAULTS", "left_to_remit", "plan", "seed_remittances"]
