"""The Huế demo (``recon demo``) at a test's size, reconciled, with the workbench in use: what the
pages look like on a real centre's data (dossier codes, provider ids, thousands of dossiers),
for the checks of layout, labels and number formatting.

One discrepancy is assigned to ``ketoan``, one waits for approval (a write-off proposed by
``ketoan``), one is resolved; the rest stay open.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from recon.audit.chain import record_on
from recon.clock import Clock
from recon.db import Database
from recon.demo.seed import seed_demo
from recon.engine.runner import run_reconciliation
from recon.models import Discrepancy, SettlementFile, User
from recon.payments.recording import PaymentEvent, record_payment
from recon.review import actions
from recon.settlements.payouts import engine_config

#: the demo's users and passwords (recon.demo.seed)
PASSWORDS = {"thungan": "thungan-demo-2021", "ketoan": "ketoan-demo-2021",
             "kiemsoat": "kiemsoat-demo-2021"}
#: enough dossiers that every count of the quarter runs past 999
DEMO_DOSSIERS = 3_000


@dataclass
class DemoWorld:
    discrepancies: dict[str, int] = field(default_factory=dict)  # kind -> id (its last one)
    findings: int = 0  # how many the run found, every kind
    assigned: int = 0
    pending: int = 0
    resolved: int = 0
    payment_id: int = 0  # a payment recorded through the webhook path, audited
    file_id: int = 0


def build_demo_world(db: Database, clock: Clock, dossiers: int = DEMO_DOSSIERS) -> DemoWorld:
    seed_demo(db, clock, dossiers=dossiers, seed=2021)
    # configured as `recon reconcile` runs it (with the payout pass)
    run_reconciliation(db, clock=clock, audit=record_on, config=engine_config({}),
                       mode="full", triggered_by="test")
    world = DemoWorld()
    with db.transaction() as s:
        rows = s.execute(select(Discrepancy.id, Discrepancy.kind, Discrepancy.payment_id,
                                Discrepancy.settlement_line_id)
                         .order_by(Discrepancy.id)).all()
        assert len(rows) >= 5, rows
        world.discrepancies = {kind: ident for ident, kind, _, _ in rows}
        world.findings = len(rows)
        ketoan = s.scalars(select(User.id).where(User.username == "ketoan")).one()
        world.assigned, world.pending, world.resolved = rows[0][0], rows[1][0], rows[2][0]
        actions.assign(s, clock, world.assigned, actor="user:ketoan", user_id=ketoan)
        actions.resolve(s, clock, world.pending, actor="user:ketoan",
                        resolution_type="written_off", note="Chênh lệch nhỏ, đề nghị xóa sổ")
        actions.resolve(s, clock, world.resolved, actor="user:kiemsoat",
                        resolution_type="provider_corrected",
                        note="Nhà cung cấp đã gửi bảng kê điều chỉnh")
        # a transfer reported by SePay's webhook today: ``payment.recorded`` by ``webhook:sepay``
        recorded = record_payment(s, clock, PaymentEvent(
            provider="sepay", provider_txn_id="FT26330123456789", channel="vietqr",
            amount=180_000, status="succeeded", paid_at=clock.now(),
            memo="NGUYEN VAN A chuyen tien"), actor="webhook:sepay", reference_prefix="HS")
        world.payment_id = recorded.payment.id
    with db.read() as s:
        first_file = s.scalars(select(SettlementFile.id).order_by(SettlementFile.id)).first()
        world.file_id = first_file or 0
    return world
