"""Drawing receipt numbers: consecutive per (organisation, form code, series), never reused,
never skipped.

The organisation is the MST the receipt is issued under (``issuer``: the collecting agency's
``tax_code``, else ``RECON_RECEIPT_TAX_CODE``, else '' ), so agencies sharing the fallback MST
share its numbering and no MST ever has two receipts with one number. One counter row per
(issuer, form code, series), raised by an ``UPDATE … RETURNING`` that locks it
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
    "INSERT INTO receipt_counters (issuer_tax_code, form_code, series, last_number) "
    "VALUES (:issuer, :form_code, :series, 0) "
    "ON CONFLICT (issuer_tax_code, form_code, series) DO NOTHING"
)
_RAISE = text(
    "UPDATE receipt_counters SET last_number = last_number + 1 "
    "WHERE issuer_tax_code = :issuer AND form_code = :form_code AND series = :series "
    "AND last_number < :max RETURNING last_number"
)


_RAISE_BLOCK = text(
    "UPDATE receipt_counters SET last_number = last_number + :count "
    "WHERE issuer_tax_code = :issuer AND form_code = :form_code AND series = :series "
    "AND last_number + :count <= :max RETURNING last_number"
)
# takes the counter row's lock (PostgreSQL) or the write lock (SQLite), changing nothing
_TOUCH = text(
    "UPDATE receipt_counters SET last_number = last_number "
    "WHERE issuer_tax_code = :issuer AND form_code = :form_code AND series = :series"
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
    issuer: str = ""


def _who(issuer: str) -> str:
    return f" of the organisation {issuer}" if issuer else ""


def next_number(session: Session, settings: ReceiptSettings, *, moment: datetime,
                issuer: str = "") -> Drawn:
    """Raise the counter of the series of ``moment``'s year and return its new number; the
    caller registers it in the same transaction (:func:`draw_number` as reserved, issuing as
    issued once signed). The counter row stays locked until that transaction ends, and a
    rollback returns the number. One statement when the counter exists (the usual case), the
    counter created first when it does not."""
    issued_on = issue_date(moment)
    keys = _keys(settings, moment, issuer)
    number = session.execute(_RAISE, keys).scalar_one_or_none()
    if number is None:  # a new series, or one that has used all its numbers
        session.execute(_ENSURE, keys)
        number = session.execute(_RAISE, keys).scalar_one_or_none()
    if number is None:
        raise Conflict(
            f"the series {keys['series']} of form {keys['form_code']}{_who(issuer)} has used "
            f"all {MAX_RECEIPT_NUMBER:,} numbers",
            hint="Register a new series with the tax authority and set RECON_RECEIPT_SERIES.")
    return Drawn(settings.form_code, str(keys["series"]), int(number), issued_on, issuer)


def lock_counter(session: Session, settings: ReceiptSettings, *, moment: datetime,
                 issuer: str = "") -> None:
    """Lock the counter of the series of ``moment``'s year (created when new) until the
    transaction ends, without drawing: what a sweep does before it reads which receipts are
    owed, so that two sweeps take turns and the second sees what the first issued."""
    keys = _keys(settings, moment, issuer)
    session.execute(_ENSURE, keys)
    session.execute(_TOUCH, keys)


def draw_block(session: Session, settings: ReceiptSettings, *, moment: datetime,
               count: int, issuer: str = "") -> list[Drawn]:
    """Raise the counter of the series of ``moment``'s year by ``count`` in one statement and
    return the block of consecutive numbers drawn, in order. As for :func:`next_number`, the
    caller registers every one of them (issued or spoiled) in the same transaction."""
    if count < 1:
        raise ValueError("a block holds at least one number")
    issued_on = issue_date(moment)
    keys = {**_keys(settings, moment, issuer), "count": count}
    session.execute(_ENSURE, keys)
    last = session.execute(_RAISE_BLOCK, keys).scalar_one_or_none()
    if last is None:
        raise Conflict(
            f"the series {keys['series']} of form {keys['form_code']}{_who(issuer)} has fewer "
            f"than {count} of its {MAX_RECEIPT_NUMBER:,} numbers left",
            hint="Register a new series with the tax authority and set RECON_RECEIPT_SERIES.")
    first = int(last) - count + 1
    return [Drawn(settings.form_code, str(keys["series"]), n, issued_on, issuer)
            for n in range(first, int(last) + 1)]


def _keys(settings: ReceiptSettings, moment: datetime, issuer: str) -> dict[str, object]:
    return {"issuer": issuer, "form_code": settings.form_code,
            "series": settings.series_for(issue_date(moment)), "max": MAX_RECEIPT_NUMBER}


def draw_number(session: Session, settings: ReceiptSettings, *, moment: datetime,
                drawn_by: str, payment_id: int | None = None,
                amount: int | None = None, issuer: str = "",
                collector_code: str | None = None) -> Receipt:
    """Draw the next number of the series of ``moment``'s year and register it as reserved.

    Call it inside the transaction that will sign (or spoil) the receipt: the counter row stays
    locked until that transaction ends, and a rollback returns the number.
    """
    drawn = next_number(session, settings, moment=moment, issuer=issuer)
    receipt = Receipt(form_code=drawn.form_code, series=drawn.series, number=drawn.number,
                      issuer_tax_code=issuer, collector_code=collector_code, status="reserved",
                      issued_on=drawn.issued_on, drawn_by=drawn_by,
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


def register(session: Session, form_code: str, series: str,
             issuer: str | None = None) -> list[Receipt]:
    """Every number drawn in one (organisation, form code, series), in order (``issuer``
    None: of every organisation, by organisation)."""
    stmt = select(Receipt).where(Receipt.form_code == form_code, Receipt.series == series)
    if issuer is not None:
        stmt = stmt.where(Receipt.issuer_tax_code == issuer)
    return list(session.scalars(stmt.order_by(Receipt.issuer_tax_code, Receipt.number)))


def gaps(numbers: list[int]) -> list[int]:
    """The numbers missing from 1..max(numbers) (pure): a complete register has none."""
    present = set(numbers)
    return [n for n in range(1, max(present, default=0) + 1) if n not in present]
