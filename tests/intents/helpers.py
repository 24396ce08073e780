"""Builders shared by the intent and cashier tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from recon.clock import Clock
from recon.db import Database
from recon.intake.dossiers import parse_dossier, upsert_dossier
from recon.models import AuditEvent, Payment, PaymentIntent
from tests.foundation.helpers import dossier_body, seed_agency

CODE = "000.00.21.H57-210401-0001"
BIN = "970415"
ACCOUNT = "113000000000"
ACCOUNT_NAME = "TRUNG TAM PHUC VU HANH CHINH CONG"
TOTAL = 180_000


def seed(db: Database, clock: Clock, code: str = CODE, *, agency: bool = True,
         **changes: Any) -> str:
    """An agency (once) and a dossier assessed 100.000 + 80.000 ₫."""
    if agency:
        seed_agency(db, clock)
    with db.transaction() as s:
        upsert_dossier(s, clock, parse_dossier(dossier_body(code, **changes)), actor="test")
    return code


def counts(db: Database) -> tuple[int, int, int]:
    """(intents, payments, audit events): to show that nothing was written."""
    with db.read() as s:
        return (
            int(s.scalar(select(func.count()).select_from(PaymentIntent)) or 0),
            int(s.scalar(select(func.count()).select_from(Payment)) or 0),
            int(s.scalar(select(func.count()).select_from(AuditEvent)) or 0),
        )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def intents_url(code: str = CODE) -> str:
    return f"/api/v1/dossiers/{code}/payment-intents"


def cash_url(code: str = CODE) -> str:
    return f"/api/v1/dossiers/{code}/cash-payments"


def js(response: Any) -> Any:
    """The JSON body of a test response (typed ``Any`` so tests can index it)."""
    assert response.is_json, response.get_data(as_text=True)[:300]
    return response.json
