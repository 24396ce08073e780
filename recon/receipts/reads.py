"""The reads the pages showing receipts need (recon/web builds no query)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from recon.models.payments import Payment
from recon.models.receipts import Receipt, ReceiptCorrection, ReceiptSummary
from recon.scope import Scope, payment_condition, payment_visible


def issued_receipts(session: Session, payment_ids: list[int]) -> dict[int, list[int]]:
    """payment id -> the ids of its issued e-receipts (one, or one per share of a split)."""
    found: dict[int, list[int]] = {}
    if payment_ids:
        for receipt_id, payment_id in session.execute(
                select(Receipt.id, Receipt.payment_id).where(
                    Receipt.payment_id.in_(payment_ids), Receipt.status == "issued")
                .order_by(Receipt.id)):
            if payment_id is not None:
                found.setdefault(payment_id, []).append(receipt_id)
    return found


def receipt_of_intent(session: Session, intent_id: int) -> int | None:
    """The first issued receipt of the succeeded payment that paid this intent, if any."""
    found = session.scalar(
        select(Receipt.id).join(Payment, Payment.id == Receipt.payment_id)
        .where(Payment.intent_id == intent_id, Payment.status == "succeeded",
               Receipt.status == "issued").order_by(Receipt.id).limit(1))
    return None if found is None else int(found)


def visible_receipt(session: Session, receipt_id: int, scope: Scope) -> Receipt | None:
    """An issued receipt with its document, if its payment is in ``scope``; else None."""
    receipt = session.get(Receipt, receipt_id)
    if (receipt is None or receipt.status != "issued" or receipt.document is None
            or receipt.payment_id is None
            or not payment_visible(session, receipt.payment_id, scope)):
        return None
    return receipt


def receipts_of_day(session: Session, scope: Scope, day: date) -> list[Receipt]:
    """The receipts issued on ``day`` (Vietnam date) for payments ``scope`` sees, by series
    and number (the finance page of e-receipts)."""
    visible = select(Payment.id).where(payment_condition(scope))
    return list(session.scalars(select(Receipt).where(
        Receipt.issued_on == day, Receipt.status == "issued",
        Receipt.payment_id.in_(visible)).order_by(Receipt.series, Receipt.number)))


def summaries_of_day(session: Session, day: date) -> dict[int, ReceiptSummary]:
    """The summary tables recorded for ``day``, by agency id."""
    return {r.agency_id: r for r in session.scalars(select(ReceiptSummary).where(
        ReceiptSummary.day == day))}


def corrections_and_successors(session: Session,
                               receipt_id: int) -> tuple[list[ReceiptCorrection], list[Receipt]]:
    """The corrections proposed for a receipt (oldest first), and the receipts that replaced
    or adjusted it."""
    history = list(session.scalars(select(ReceiptCorrection).where(
        ReceiptCorrection.receipt_id == receipt_id).order_by(ReceiptCorrection.id)))
    later = list(session.scalars(select(Receipt).where(Receipt.corrects_id == receipt_id)))
    return history, later

