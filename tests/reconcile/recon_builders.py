"""Builders for runner tests: dossiers, intents, payments (through record_payment) and
settlement lines written to a real database, and a readable view of the discrepancies table."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select, text

from recon.audit.chain import record_on
from recon.clock import FixedClock
from recon.db import Database
from recon.engine import EngineConfig
from recon.engine.runner import RunSummary, run_reconciliation
from recon.intake.dossiers import parse_dossier, upsert_dossier
from recon.models import (
    Discrepancy,
    PaymentIntent,
    ReconRun,
    SettlementFile,
    SettlementLine,
)
from recon.payments.recording import PaymentEvent, record_payment
from recon.payments.references import mint
from tests.foundation.helpers import dossier_body, seed_agency

PREFIX = "HS"
FEES = [{"kind": "le_phi", "name": "Lệ phí đăng ký", "amount": 100000},
        {"kind": "phi", "name": "Phí cung cấp thông tin", "amount": 80000}]
TOTAL = 180000


def fees(*amounts: int) -> list[dict[str, Any]]:
    kinds = itertools.cycle(["le_phi", "phi"])
    return [{"kind": next(kinds), "name": f"Khoản {i + 1}", "amount": a}
            for i, a in enumerate(amounts)]


@dataclass
class World:
    db: Database
    clock: FixedClock
    config: EngineConfig = field(default_factory=EngineConfig)
    _n: itertools.count = field(default_factory=lambda: itertools.count(1))  # type: ignore[type-arg]
    _seeded: bool = False
    codes: dict[int, str] = field(default_factory=dict)
    # references minted from a seeded generator: two worlds built alike are alike
    rng: random.Random = field(default_factory=lambda: random.Random(2026))

    def _next(self) -> int:
        return next(self._n)

    def dossier(self, code: str | None = None, *, amounts: tuple[int, ...] = (100000, 80000),
                received_at: str | None = None) -> int:
        if not self._seeded:
            seed_agency(self.db, self.clock)
            self._seeded = True
        code = code or f"000.00.21.H57-261126-{self._next():04d}"
        body = dossier_body(code, fees=fees(*amounts))
        if received_at is not None:
            body["received_at"] = received_at
        with self.db.transaction() as s:
            existing = s.execute(text("SELECT id FROM dossiers WHERE code = :c"),
                                 {"c": code}).scalar()
            dossier, _ = upsert_dossier(s, self.clock, parse_dossier(body), actor="test",
                                        reassess=existing is not None)
            self.codes[dossier.id] = code
            return dossier.id

    def intent(self, dossier_id: int, amount: int, *, channel: str = "vietqr") -> str:
        reference = mint(PREFIX, rng=self.rng.randrange)
        with self.db.transaction() as s:
            s.add(PaymentIntent(dossier_id=dossier_id, channel=channel, amount=amount,
                                reference=reference, status="issued",
                                created_at=self.clock.now(),
                                expires_at=self.clock.now() + timedelta(minutes=15),
                                updated_at=self.clock.now()))
        return reference

    def pay(self, amount: int, *, provider: str = "vnpay", txn: str | None = None,
            reference: str | None = None, memo: str | None = None,
            dossier_code: str | None = None, status: str = "succeeded",
            paid_at: datetime | None = None, channel: str | None = None,
            bank_reference: str | None = None, method: str | None = None,
            card_foreign: bool | None = None) -> int:
        event = PaymentEvent(
            provider=provider, provider_txn_id=txn or f"T{self._next()}",
            channel=channel or ("vietqr" if provider in {"sepay", "casso", "payos"} else provider),
            amount=amount, status=status,  # type: ignore[arg-type]
            paid_at=paid_at or self.clock.now(), reference=reference, memo=memo,
            dossier_code=dossier_code, bank_reference=bank_reference, method=method,
            card_foreign=card_foreign)
        with self.db.transaction() as s:
            return record_payment(s, self.clock, event, actor="test",
                                  reference_prefix=PREFIX).payment.id

    def settle(self, provider: str, txn: str, amount: int, *, fee: int = 0,
               settled_on: date | None = None, kind: str = "sale",
               original_txn_id: str | None = None, transaction_at: datetime | None = None,
               ) -> int:
        n = self._next()
        with self.db.transaction() as s:
            f = SettlementFile(provider=provider, filename=f"s{n}.csv", sha256=f"{n:064d}",
                               size=1, content=b"x", imported_at=self.clock.now(),
                               imported_by="test", row_count=1, total_amount=amount)
            s.add(f)
            s.flush()
            line = SettlementLine(file_id=f.id, line_no=1, provider=provider,
                                  provider_txn_id=txn, amount=amount, fee=fee,
                                  net=amount - fee, settled_on=settled_on or
                                  (self.clock.now() + timedelta(days=1)).date(),
                                  created_at=self.clock.now(), kind=kind,
                                  original_txn_id=original_txn_id,
                                  transaction_at=transaction_at)
            s.add(line)
            s.flush()
            return line.id

    def txn_of(self, payment_id: int) -> str:
        with self.db.read() as s:
            return str(s.execute(text("SELECT provider_txn_id FROM payments WHERE id = :i"),
                                 {"i": payment_id}).scalar_one())

    def run(self, mode: str = "auto", *, as_of: datetime | None = None,
            dry_run: bool = False, progress: Callable[[str], None] | None = None,
            ) -> RunSummary:
        return run_reconciliation(self.db, clock=self.clock, audit=record_on, config=self.config,
                                  as_of=as_of, mode=mode, dry_run=dry_run,  # type: ignore[arg-type]
                                  triggered_by="test", progress=progress)

    def later(self, **delta: float) -> None:
        self.clock.advance(timedelta(**delta))

    def discrepancies(self, status: str | None = None) -> list[Discrepancy]:
        with self.db.read() as s:
            q = select(Discrepancy).order_by(Discrepancy.identity)
            if status:
                q = q.where(Discrepancy.status == status)
            return list(s.scalars(q))

    def open_identities(self) -> list[str]:
        return [d.identity for d in self.discrepancies("open")]

    def kinds(self, status: str = "open") -> list[str]:
        return sorted(d.kind for d in self.discrepancies(status))

    def runs(self) -> list[ReconRun]:
        with self.db.read() as s:
            return list(s.scalars(select(ReconRun).order_by(ReconRun.id)))


def state(db: Database) -> list[tuple[Any, ...]]:
    """The discrepancy table without ids and timestamps: what must not depend on how runs
    went (crashes, incremental or full)."""
    with db.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT identity, kind, status, dossier_id, payment_id, settlement_line_id, "
            "provider, expected_amount, actual_amount, delta, explanation, explanation_en, "
            "within_tolerance, auto_resolved_reason, auto_resolved_reason_en, resolution_type "
            "FROM discrepancies ORDER BY identity")).all()
    return [tuple(bool(v) if i == 12 else v for i, v in enumerate(r)) for r in rows]


AS_OF_LATE = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)  # every default deadline has passed
