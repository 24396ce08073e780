"""Drawing receipt numbers: consecutive per (form code, series), never reused, never skipped.

One counter row per (form code, series), raised by an ``UPDATE … RETURNING`` that locks it
until the drawing transaction ends; the register row is written in that same transaction. So
concurrent draws (desks, workers, processes) queue on the row and get consecutive numbers, and a
draw whose transaction rolls back gives its number back. PostgreSQL: the row lock; SQLite: every
write transaction begins IMMEDIATE (recon.db), so draws are serialised by the database itself.
A number drawn but never signed is marked ``spoiled`` with a reason and stays in the register.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from recon.clock import VN_TZ
from recon.errors import Conflict, FieldError, ValidationError
from recon.models.receipts import MAX_RECEIPT_NUMBER, Receipt
from recon.receipts.settings import ReceiptSettings

_ENSURE = text(
    "INSERT INTO receipt_counters (form_code, series, last_number) "
    "VALUES (:form_code, :series, 0) ON CONFLICT (form_code, series) DO NOTHING"
)
_RAISE = text(
    "UPDATE receipt_counters SET last_number = last_number + 1 "
    "WHERE form_code = :form_code AND series = :series AND last_number < :max "
    "RETURNING last_number"
)


def issue_date(moment: datetime) -> date:
    """The date of issue of a receipt signed at ``moment``: the calendar day in Vietnam."""
    if moment.tzinfo is None:
        raise ValueError("a receipt's moment must carry its time zone")
    return moment.astimezone(VN_TZ).date()


@dataclass(frozen=True)
class Drawn:
    """A number raised on its counter, not yet in the register (see :func:`next_number`)."""

    form_code: str
    series: str
    number: int
    issued_on: date


def next_number(session: Session, settings: ReceiptSettings, *, moment: datetime) -> Drawn:
    """Raise the counter of the series of ``moment``'s year and return its new number; the
    caller registers it in the same transaction (:func:`draw_number` as reserved, issuing as
    issued once signed). The counter row stays locked until that transaction ends, and a
    rollback returns the number. One statement when the counter exists (the usual case), the
    counter created first when it does not."""
    issued_on = issue_date(moment)
    keys = {"form_code": settings.form_code, "series": settings.series_for(issued_on),
            "max": MAX_RECEIPT_NUMBER}
    number = session.execute(_RAISE, keys).scalar_one_or_none()
    if number is None:  # a new series, or one that has used all its numbers
        session.execute(_ENSURE, keys)
        number = session.execute(_RAISE, keys).scalar_one_or_none()
    if number is None:
        raise Conflict(
            f"the series {keys['series']} of form {keys['form_code']} has used all "
            f"{MAX_RECEIPT_NUMBER:,} numbers",
            hint="Register a new series with the tax authority and set RECON_RECEIPT_SERIES.")
    return Drawn(settings.form_code, str(keys["series"]), int(number), issued_on)


def draw_number(session: Session, settings: ReceiptSettings, *, moment: datetime,
                drawn_by: str, payment_id: int | None = None,
                amount: int | None = None) -> Receipt:
    """Draw the next number of the series of ``moment``'s year and register it as reserved.

    Call it inside the transaction that will sign (or spoil) the receipt: the counter row stays
    locked until that transaction ends, and a rollback returns the number.
    """
    drawn = next_number(session, settings, moment=moment)
    receipt = Receipt(form_code=drawn.form_code, series=drawn.series, number=drawn.number,
                      status="reserved", issued_on=drawn.issued_on, drawn_by=drawn_by,
                      drawn_at=moment, payment_id=payment_id, amount=amount)
    session.add(receipt)
    session.flush()
    return receipt


def spoil(session: Session, receipt: Receipt, *, reason: str, moment: datetime) -> Receipt:
    """Keep a drawn number that will never be signed as ``spoiled`` (it is never reused)."""
    if not reason.strip():
        raise ValidationError(FieldError("reason", "say why the number is spoiled"))
    if receipt.status != "reserved":
        raise Conflict(f"receipt {receipt.form_code} {receipt.series} {receipt.number} is "
                       f"{receipt.status}; only a reserved number can be spoiled",
                       hint="Correct an issued receipt with a replacement or an adjustment.")
    receipt.status = "spoiled"
    receipt.spoiled_reason = reason.strip()
    receipt.spoiled_at = moment
    session.flush()
    return receipt


def register(session: Session, form_code: str, series: str) -> list[Receipt]:
    """Every number drawn in one (form code, series), in order."""
    return list(session.scalars(
        select(Receipt).where(Receipt.form_code == form_code, Receipt.series == series)
        .order_by(Receipt.number)))


def gaps(numbers: list[int]) -> list[int]:
    """The numbers missing from 1..max(numbers) (pure): a complete register has none."""
    present = set(numbers)
    return [n for n in range(1, max(present, default=0) + 1) if n not in present]
