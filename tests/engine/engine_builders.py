"""Small builders for engine tests: readable scenarios with sensible defaults."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from recon.clock import VN_TZ
from recon.engine import (
    DossierRow,
    EngineConfig,
    FeeLineRow,
    IntentRow,
    PaymentRow,
    Reconciliation,
    SettlementLineRow,
    reconcile,
)

NBSP = "\u00a0"
T0 = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)  # 10:00 on 21/11/2026 in Vietnam
AS_OF = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)  # long after every default deadline
SETTLED = date(2026, 11, 22)


def vn(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0,
       micro: int = 0) -> datetime:
    """A moment given in Vietnam time."""
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=VN_TZ)


def dossier(id: int, total: int | None, code: str | None = None) -> DossierRow:
    return DossierRow(id, code or f"000.00.21.H57-261121-{id:04d}", total)


def intent(id: int, dossier_id: int, amount: int, *, reference: str | None = None,
           channel: str = "vietqr", status: str = "issued") -> IntentRow:
    return IntentRow(id, dossier_id, reference or f"HS{id:06d}", amount, channel, status)


def pay(id: int, amount: int, *, dossier: int | None = None, provider: str = "vnpay",
        txn: str | None = None, status: str = "succeeded", paid_at: datetime = T0,
        intent: int | None = None, reference: str | None = None,
        channel: str | None = None, bank_reference: str | None = None) -> PaymentRow:
    return PaymentRow(
        id, provider, txn or f"TX{id}", channel or provider, amount, status, paid_at, dossier,
        intent, reference, bank_reference,
    )


def line(id: int, payment: PaymentRow | None = None, *, amount: int | None = None,
         fee: int = 0, provider: str | None = None, txn: str | None = None,
         settled_on: date = SETTLED) -> SettlementLineRow:
    """A settlement line; by default the clean settlement of ``payment``."""
    prov = provider or (payment.provider if payment else "vnpay")
    key = txn or (payment.provider_txn_id if payment else f"UNKNOWN{id}")
    gross = amount if amount is not None else (payment.amount if payment else 0)
    at = payment.paid_at if payment else None
    return SettlementLineRow(id, prov, key, gross, fee, gross - fee, settled_on, at)


def settle_all(payments: list[PaymentRow], first_id: int = 1000) -> list[SettlementLineRow]:
    """Clean settlement lines for every non-cash payment."""
    return [
        line(first_id + i, p) for i, p in enumerate(payments) if p.provider != "cash"
    ]


def run(*, dossiers: list[DossierRow], payments: list[PaymentRow] | None = None,
        lines: list[SettlementLineRow] | None = None, intents: list[IntentRow] | None = None,
        fee_lines: list[FeeLineRow] | None = None, as_of: datetime = AS_OF,
        config: EngineConfig | None = None) -> Reconciliation:
    return reconcile(
        dossiers=dossiers, intents=intents or [], payments=payments or [],
        settlement_lines=lines or [], fee_lines=fee_lines, as_of=as_of, config=config,
    )


def ids(result: Reconciliation) -> list[str]:
    return [d.identity for d in result.discrepancies]


def plus(moment: datetime, **delta: float) -> datetime:
    return moment + timedelta(**delta)
