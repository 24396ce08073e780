"""`recon demo`: the Huế centre, real procedures and fees, a quarter of dossiers, demo users.

Idempotent: running it again adds only what is missing. The quarter is Q1 2021, the quarter
the Huế centre published figures for (28,300 dossiers received), plus a short queue of
today's dossiers waiting at the cashier's desk.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from recon.accounts.auth import create_user
from recon.accounts.scopes import set_user_scope
from recon.audit import chain as audit
from recon.clock import VN_TZ, Clock
from recon.db import Database
from recon.demo import catalog
from recon.errors import Conflict
from recon.intake.agencies import create_agency
from recon.intake.dossiers import DossierInput, parse_dossier
from recon.intake.importer import ImportSummary, Progress, write_dossiers
from recon.models import Agency, Procedure, User

if TYPE_CHECKING:
    from recon.demo.receipts import ReceiptReport

DEMO_QUARTER = (2021, 1)
TODAY_QUEUE = 40
DEMO_USERS = (
    ("thungan", "cashier", "Nguyễn Thị Thu Ngân", "thungan-demo-2021"),
    ("ketoan", "finance", "Trần Văn Kế", "ketoan-demo-2021"),
    ("kiemsoat", "finance", "Lê Thị Kiểm Soát", "kiemsoat-demo-2021"),
    ("quantri", "admin", "Phạm Quản Trị", "quantri-demo-2021"),
    # users of one agency each (issue 16): they see and act on their agency's data only
    ("thungan.hue", "cashier", "Hoàng Thị Huế", "thungan-hue-2021"),
    ("ketoan.hue", "finance", "Võ Văn Huế", "ketoan-hue-2021"),
    ("thungan.huongthuy", "cashier", "Đặng Thị Hương", "thungan-huongthuy-2021"),
    ("ketoan.huongthuy", "finance", "Ngô Văn Thủy", "ketoan-huongthuy-2021"),
)
#: the demo users narrowed to one agency; every other demo user sees the whole province
DEMO_USER_AGENCIES: dict[str, str] = {
    "thungan.hue": "H57.TPHUE",
    "ketoan.hue": "H57.TPHUE",
    "thungan.huongthuy": "H57.HUONGTHUY",
    "ketoan.huongthuy": "H57.HUONGTHUY",
}


@dataclass
class DemoReport:
    agencies_created: int = 0
    procedures_created: int = 0
    users_created: list[str] = field(default_factory=list)
    quarter: ImportSummary | None = None
    today: ImportSummary | None = None
    receipts: ReceiptReport | None = None

    def lines(self) -> list[str]:
        out = ["Demo users (log in at /login):"]
        for username, role, _, password in DEMO_USERS:
            out.append(f"  {username:<9} {role:<8} password: {password}")
        by_agency: dict[str, list[str]] = {}
        for username, code in DEMO_USER_AGENCIES.items():
            by_agency.setdefault(code, []).append(username)
        out.append("Users who see one agency only (the others see the whole province):")
        out += [f"  {code}: {', '.join(names)}" for code, names in sorted(by_agency.items())]
        if self.receipts is not None and self.receipts.key_file:
            out.append(f"E-receipts of the quarter signed with {self.receipts.key_file}; "
                       "`recon reconcile` checks them with RECON_RECEIPTS=on "
                       "(docs/receipts.md).")
        return out

    def summary(self) -> dict[str, object]:
        return {
            "agencies_created": self.agencies_created,
            "procedures_created": self.procedures_created,
            "users_created": self.users_created,
            "quarter_dossiers_created": self.quarter.created if self.quarter else 0,
            "quarter_dossiers_already_there": self.quarter.unchanged if self.quarter else 0,
            "today_dossiers_created": self.today.created if self.today else 0,
            "receipts_issued": self.receipts.issued if self.receipts else 0,
        }


def _inputs(dossiers: list[catalog.DemoDossier]) -> list[DossierInput]:
    return [parse_dossier(d.as_intake()) for d in dossiers]


def today_queue(clock: Clock, count: int = TODAY_QUEUE, seed: int = 7) -> list[DossierInput]:
    """Dossiers received this morning, with fees, waiting to be paid at the desk.

    Whatever the date (a Sunday, a holiday), today by the clock in Vietnam: the desk's list
    shows them until they are paid. Their codes carry the day (``-YYMMDD-9001`` on), so
    seeding again the same day adds nothing, and the next day adds that day's queue.
    """
    now_vn = clock.now().astimezone(VN_TZ)
    quarter = (now_vn.month - 1) // 3 + 1
    pool: list[catalog.DemoDossier] = []
    drawn = count * 4
    while len(pool) < count and drawn <= count * 64:  # most procedures are free: draw more
        pool = [d for d in catalog.generate_quarter(now_vn.year, quarter, dossiers=drawn,
                                                    seed=seed) if d.fees][:count]
        drawn *= 2
    # from 07:30 every 7 minutes, but never later than a minute ago (closer together when
    # seeded early in the day; from midnight when seeded before the desk opens)
    midnight = now_vn.replace(hour=0, minute=0, second=0, microsecond=0)
    latest = max(now_vn - timedelta(minutes=1), midnight + timedelta(seconds=len(pool) + 1))
    start = midnight + timedelta(hours=7, minutes=30)
    if latest - start < timedelta(seconds=len(pool) + 1):
        start = midnight
    step = min(timedelta(minutes=7), (latest - start) / max(len(pool), 1))
    stamp = now_vn.strftime("%y%m%d")
    out = []
    for i, d in enumerate(pool, start=1):
        body = d.as_intake()
        body["code"] = f"{catalog.DOSSIER_PREFIX}-{stamp}-{9000 + i:04d}"
        body["received_at"] = (start + step * i).replace(microsecond=0).isoformat()
        out.append(parse_dossier(body))
    return out


def seed_demo(db: Database, clock: Clock, *, dossiers: int = 28_300, seed: int = 2021,
              progress: Progress | None = None,
              receipts: tuple[Mapping[str, str], Path] | None = None) -> DemoReport:
    """Seed the demo (see the module doc). ``receipts``: the environment and the instance
    folder, to issue the quarter's e-receipts (:mod:`recon.demo.receipts`); ``None``: none."""
    report = DemoReport()
    with db.transaction() as s:
        existing = set(s.scalars(select(Agency.code)))
        for a in catalog.AGENCIES:
            if a.code not in existing:
                create_agency(s, clock, code=a.code, name=a.name, bank_bin=a.bank_bin,
                              account_number=a.account_number, account_name=a.account_name,
                              actor="demo")
                report.agencies_created += 1
        known = set(s.scalars(select(Procedure.code)))
        for p in catalog.PROCEDURES:
            if p.code not in known:
                s.add(Procedure(code=p.code, name=p.name, field=p.field, created_at=clock.now()))
                report.procedures_created += 1
        users = set(s.scalars(select(User.username)))
        for username, role, display, password in DEMO_USERS:
            if username not in users:
                try:
                    user = create_user(s, clock, username=username, role=role,
                                       password=password, display_name=display, actor="demo")
                    if username in DEMO_USER_AGENCIES:
                        set_user_scope(s, clock, user.id, [DEMO_USER_AGENCIES[username]],
                                       actor="demo")
                except Conflict:  # pragma: no cover - raced with another seeding
                    continue
                report.users_created.append(username)
    with db.read() as s:
        agencies = {code: id_ for code, id_ in s.execute(select(Agency.code, Agency.id))}
    year, quarter = DEMO_QUARTER
    quarter_inputs = _inputs(list(catalog.generate_quarter(year, quarter, dossiers=dossiers,
                                                           seed=seed)))
    report.quarter = ImportSummary(file="demo", sha256="", format="demo",
                                   records=len(quarter_inputs))
    report.today = ImportSummary(file="demo-today", sha256="", format="demo")
    with db.transaction() as s:
        write_dossiers(s, clock, quarter_inputs, agencies, report.quarter, actor="demo",
                       progress=progress, skip_existing=True)
        todays = today_queue(clock)
        report.today.records = len(todays)
        write_dossiers(s, clock, todays, agencies, report.today, actor="demo",
                       skip_existing=True)
        if report.quarter.created or report.today.created:
            audit.record(s, clock, actor="demo", action="dossiers.imported",
                         entity_type="dossier_import", entity_id="demo",
                         data={"quarter": report.quarter.as_dict(),
                               "today": report.today.as_dict()})
    from recon.demo.payments import seed_payments  # noqa: PLC0415 - issue 6: the quarter's payments
    seed_payments(db, clock, year=year, quarter=quarter, seed=seed)
    from recon.demo.transfers import seed_transfers  # noqa: PLC0415 - issue 18 §2: onward transfers
    seed_transfers(db, clock, year=year, quarter=quarter, seed=seed)
    from recon.demo.deposits import seed_deposits  # noqa: PLC0415 - phí into the fee accounts
    seed_deposits(db, clock, year=year, quarter=quarter, seed=seed)
    from recon.demo.remittances import seed_remittances  # noqa: PLC0415 - issue 18 §3

    seed_remittances(db, clock, year=year, quarter=quarter, seed=seed)
    from recon.demo.fee_invoices import seed_fee_invoices  # noqa: PLC0415 - issue 17 §1–§2

    seed_fee_invoices(db, clock, year=year, quarter=quarter)
    from recon.demo.portal import seed_portal  # noqa: PLC0415 - issue 18 §5: the portal's lists
    seed_portal(db, clock, year=year, quarter=quarter, seed=seed)
    if receipts is not None:
        from recon.demo.receipts import seed_receipts  # noqa: PLC0415 - signs: only here

        env, instance = receipts
        report.receipts = seed_receipts(db, clock, env=env, instance=instance, year=year,
                                        quarter=quarter, seed=seed,
                                        scale=(dossiers, catalog_size()))
    return report


def catalog_size() -> int:
    """The published quarter's dossiers, the scale of the demo's receipt faults."""
    from recon.demo.payments import PUBLISHED_DOSSIERS  # noqa: PLC0415

    return PUBLISHED_DOSSIERS
