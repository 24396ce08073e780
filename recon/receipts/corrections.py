"""Replace or adjust an issued receipt, never erase it (docs/receipts.md).

A finance user *proposes* a correction of an issued receipt: a **replacement** (a new receipt
that names the one it replaces, "Thay thế cho biên lai mẫu số … ký hiệu … số … ngày …") or an
**adjustment** (a receipt carrying only the difference, negative for a decrease; a refund is an
adjustment), with the reason the error notice will carry. A *second person* approves it, with
the same maker ≠ checker rules as write-offs (:mod:`recon.review.actions`): then the new
receipt gets the next number of the same counter, is built, validated and signed; the original
stays issued and readable, marked ``replaced`` or ``adjusted``; the error notice (04/SS-CTĐT's
shape, :mod:`recon.receipts.notice`) is stored with the correction. Every step is audited.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from recon.audit import chain as audit
from recon.audit.four_eyes import check_second_person, four_eyes_person
from recon.clock import Clock
from recon.errors import ConfigurationError, Conflict, FieldError, NotFound, ValidationError
from recon.models.receipts import Receipt, ReceiptCorrection
from recon.receipts.document import (
    ADJUSTS,
    FEE_KINDS,
    REPLACES,
    FeeItem,
    Party,
    Related,
    build,
    figures,
    read,
    schema,
    to_bytes,
)
from recon.receipts.notice import NoticeContent, WrongReceipt, notice_bytes
from recon.receipts.numbering import draw_number
from recon.receipts.settings import ReceiptSettings
from recon.receipts.signing import Signer, sign
from recon.scope import ALL, Scope, payment_visible

KINDS = {"replacement": REPLACES, "adjustment": ADJUSTS}
MARKS = {"replacement": "replaced", "adjustment": "adjusted"}
MAX_REASON = 255  # LDo of the notice


def parse_line(text: str) -> FeeItem:
    """``KIND:NAME:AMOUNT`` (kind ``phí`` or ``lệ phí``, amount whole VND, ``-`` for a
    decrease), e.g. ``lệ phí:Lệ phí cấp giấy phép:-20000``."""
    parts = text.rsplit(":", 1)
    head = parts[0].split(":", 1) if len(parts) == 2 else []
    if len(head) != 2:
        raise ValidationError(FieldError("lines", f"{text!r} is not KIND:NAME:AMOUNT"),
                              hint="Write each line as KIND:NAME:AMOUNT, e.g. "
                                   "'phí:Phí thẩm định:150000'.")
    kind, name = head[0].strip(), head[1].strip()
    raw = parts[1].strip().replace(".", "")
    digits = raw[1:] if raw.startswith("-") else raw
    if kind not in FEE_KINDS or not name or not digits.isascii() or not digits.isdigit():
        raise ValidationError(FieldError("lines", f"{text!r}: the kind is phí or lệ phí, the "
                                         "name is not empty, the amount is whole đồng"),
                              hint="Write each line as KIND:NAME:AMOUNT, e.g. "
                                   "'phí:Phí thẩm định:150000'.")
    return FeeItem(kind, name, int(raw))


def _lock_receipt(session: Session, receipt_id: int, scope: Scope) -> Receipt:
    stmt = select(Receipt).where(Receipt.id == receipt_id).execution_options(
        populate_existing=True)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    receipt = session.scalars(stmt).first()
    if (receipt is None or receipt.payment_id is None
            or not payment_visible(session, receipt.payment_id, scope)):
        raise NotFound(f"receipt {receipt_id} does not exist",
                       hint="Check the receipt's id (`recon receipts corrections` lists them).")
    return receipt


def _label(receipt: Receipt) -> str:
    return f"{receipt.form_code} {receipt.series} {receipt.number:08d}"


def propose(session: Session, clock: Clock, receipt_id: int, *, kind: object, reason: object,
            lines: list[FeeItem] | None = None, payer_name: object = None, actor: str,
            person: str | None = None, scope: Scope = ALL) -> ReceiptCorrection:
    """Record a proposed replacement or adjustment of an issued receipt (nothing is issued
    until another person approves it)."""
    if kind not in KINDS:
        raise ValidationError(FieldError("kind", "replacement or adjustment"))
    text = reason.strip() if isinstance(reason, str) else ""
    if not text or len(text) > MAX_REASON:
        raise ValidationError(FieldError("reason", f"say what was wrong (1 to {MAX_REASON} "
                                         "characters): the error notice carries it"))
    payer = payer_name.strip() if isinstance(payer_name, str) else ""
    maker = four_eyes_person(actor, person)
    receipt = _lock_receipt(session, receipt_id, scope)
    if receipt.status != "issued" or receipt.document is None:
        raise Conflict(f"receipt {_label(receipt)} is {receipt.status}: only an issued receipt "
                       "is replaced or adjusted", hint="A number never signed is spoiled.")
    if receipt.corrected_as:
        raise Conflict(f"receipt {_label(receipt)} is already {receipt.corrected_as}",
                       hint="Correct the receipt that replaced or adjusted it instead.")
    pending = session.scalars(select(ReceiptCorrection.id).where(
        ReceiptCorrection.receipt_id == receipt.id,
        ReceiptCorrection.status == "proposed")).first()
    if pending is not None:
        raise Conflict(f"receipt {_label(receipt)} has a correction waiting for approval "
                       f"(#{pending})", hint="Approve or reject that proposal first.")
    original = read(receipt.document.encode("utf-8"))
    if kind == "replacement":
        items = list(lines) if lines else list(original.items)
        if any(item.amount < 0 for item in items) or sum(i.amount for i in items) <= 0:
            raise ValidationError(FieldError("lines", "a replacement's lines are the right "
                                             "amounts (not negative, more than 0 in all)"),
                                  hint="To lower an amount, propose an adjustment instead.")
        if not lines and (not payer or payer == original.payer.name):
            raise ValidationError(FieldError("lines", "a replacement changes something: the "
                                             "payer's name or the fee lines"))
    else:
        items = list(lines or [])
        if not items or any(item.amount == 0 for item in items):
            raise ValidationError(FieldError("lines", "an adjustment lists the differences "
                                             "(negative for a decrease), none of them 0"))
        if original.total + sum(i.amount for i in items) < 0:
            raise ValidationError(FieldError("lines", f"the adjustment lowers the receipt's "
                                             f"{original.total} VND below 0"))
        if payer:
            raise ValidationError(FieldError("payer_name", "an adjustment carries only the "
                                             "differences; replace the receipt to change the "
                                             "payer's name"))
    now = clock.now()
    correction = ReceiptCorrection(
        receipt_id=receipt.id, kind=str(kind), reason=text, payer_name=payer or None,
        lines=json.dumps([[i.kind, i.name, i.amount] for i in items], ensure_ascii=False),
        status="proposed", proposed_by=actor, proposed_by_person=maker, proposed_at=now)
    session.add(correction)
    session.flush()
    audit.record(session, clock, actor=actor, action="receipt.correction_proposed",
                 entity_type="receipt", entity_id=receipt.id,
                 data={"correction_id": correction.id, "kind": kind, "receipt": _label(receipt),
                       "reason": text, "lines": json.loads(correction.lines),
                       "payer_name": payer or None, "person": maker})
    return correction


def lines_of(correction: ReceiptCorrection) -> list[FeeItem]:
    return [FeeItem(str(k), str(n), int(a)) for k, n, a in json.loads(correction.lines)]


def _lock_correction(session: Session, correction_id: int, scope: Scope) -> ReceiptCorrection:
    stmt = select(ReceiptCorrection).where(ReceiptCorrection.id == correction_id)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    found = session.scalars(stmt.execution_options(populate_existing=True)).first()
    if found is None:
        raise NotFound(f"correction {correction_id} does not exist")
    _lock_receipt(session, found.receipt_id, scope)  # in scope, and locked
    if found.status != "proposed":
        raise Conflict(f"correction {correction_id} is {found.status}, no longer proposed",
                       hint="Reload the page: someone decided it already.")
    return found


def approve(session: Session, clock: Clock, correction_id: int, *, actor: str,
            person: str | None = None, settings: ReceiptSettings,
            signer: Signer | Callable[[str], Signer | None],
            scope: Scope = ALL, note: object = None,
            moment: datetime | None = None) -> Receipt:
    """Apply a proposal: draw the next number, sign the new receipt, mark the original and
    keep the error notice. The approver must be another person than the proposer."""
    checker = four_eyes_person(actor, person)
    correction = _lock_correction(session, correction_id, scope)
    check_second_person(correction.proposed_by, correction.proposed_by_person, checker)
    original = session.get(Receipt, correction.receipt_id)
    assert original is not None and original.document is not None
    if original.corrected_as:
        raise Conflict(f"receipt {_label(original)} is already {original.corrected_as}")
    now = moment or clock.now()
    old = read(original.document.encode("utf-8"))
    nature = KINDS[correction.kind]
    related = Related(nature, original.form_code, original.series, original.number,
                      original.issued_on)
    items = tuple(lines_of(correction))
    # the same organisation corrects its receipt: its collector, MST and numbering
    new = draw_number(session, settings, moment=now, drawn_by=actor,
                      payment_id=original.payment_id, amount=sum(i.amount for i in items),
                      issuer=original.issuer_tax_code, collector_code=original.collector_code)
    payer = (Party(correction.payer_name, old.payer.tax_code, old.payer.address)
             if correction.payer_name else old.payer)
    content = replace(old, form_code=new.form_code, series=new.series, number=new.number,
                      signed_at=now, payer=payer, items=items, related=related,
                      lookup_code=old.lookup_code and _fresh_lookup())
    unsigned = build(content)
    schema().assertValid(unsigned)
    # signed by the organisation that issued the original (its own certificate, if any)
    chosen = signer if isinstance(signer, Signer) else signer(original.issuer_tax_code)
    if chosen is None:
        raise ConfigurationError(
            f"the certificate of the organisation {original.issuer_tax_code} cannot be loaded",
            hint="Fix its file in RECON_RECEIPT_P12_DIR (the log says why), then approve again.")
    new.document = to_bytes(sign(unsigned, chosen, now)).decode("utf-8")
    for column, value in figures(content).items():
        setattr(new, column, value)
    new.status = "issued"
    new.signed_at = now
    new.kind = correction.kind
    new.corrects_id = original.id
    original.corrected_as = MARKS[correction.kind]
    correction.status = "approved"
    correction.decided_by = actor
    correction.decided_at = now
    correction.decision_note = note.strip() if isinstance(note, str) and note.strip() else None
    correction.new_receipt_id = new.id
    correction.notice = notice_bytes(NoticeContent(
        ident=f"TB-{correction.id}", organisation=old.collector.name,
        tax_code=old.collector.tax_code or settings.tax_code, place=None,
        notified_on=new.issued_on,
        receipts=(WrongReceipt(original.form_code, original.series, original.number,
                               original.issued_on, nature, correction.reason),))).decode("utf-8")
    session.flush()
    data: dict[str, Any] = {"correction_id": correction.id, "kind": correction.kind,
                            "receipt": _label(original), "new_receipt": _label(new),
                            "new_receipt_id": new.id, "amount": new.amount,
                            "proposed_by": correction.proposed_by, "person": checker,
                            "note": correction.decision_note}
    audit.record(session, clock, actor=actor, action="receipt.correction_approved",
                 entity_type="receipt", entity_id=original.id, data=data)
    return new


def _fresh_lookup() -> str:
    from recon.receipts.issuing import lookup_code  # noqa: PLC0415 - issuing imports us not

    return lookup_code()


def reject(session: Session, clock: Clock, correction_id: int, *, actor: str,
           scope: Scope = ALL, note: object = None) -> ReceiptCorrection:
    """Turn down (or, by its proposer, withdraw) a proposal: nothing is issued."""
    correction = _lock_correction(session, correction_id, scope)
    now = clock.now()
    correction.status = "rejected"
    correction.decided_by = actor
    correction.decided_at = now
    correction.decision_note = note.strip() if isinstance(note, str) and note.strip() else None
    session.flush()
    audit.record(session, clock, actor=actor, action="receipt.correction_rejected",
                 entity_type="receipt", entity_id=correction.receipt_id,
                 data={"correction_id": correction.id, "kind": correction.kind,
                       "proposed_by": correction.proposed_by,
                       "note": correction.decision_note})
    return correction


def corrections(session: Session, scope: Scope = ALL,
                status: str | None = None) -> list[ReceiptCorrection]:
    """Every correction (newest first), those of receipts in ``scope``."""
    stmt = select(ReceiptCorrection).order_by(ReceiptCorrection.id.desc())
    if status:
        stmt = stmt.where(ReceiptCorrection.status == status)
    found = []
    for row in session.scalars(stmt):
        receipt = session.get(Receipt, row.receipt_id)
        if receipt is not None and receipt.payment_id is not None and (
                scope.is_all or payment_visible(session, receipt.payment_id, scope)):
            found.append(row)
    return found
