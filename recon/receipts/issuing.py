"""Issuing the e-receipt of a succeeded payment, inside the transaction that records it.

``issue_receipt`` never costs a payment: when a receipt cannot be issued (receipts off, no
dossier, an amount that is not the dossier's fees, a signing failure) it says why in the log and
returns None, and the payment is recorded all the same. The number is drawn and the receipt
signed in a SAVEPOINT, so a failure after the draw gives the number back: never skipped.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from recon.errors import ConfigurationError, ReconError
from recon.models.dossiers import Dossier
from recon.models.payments import Payment
from recon.models.receipts import Receipt
from recon.receipts.document import FeeItem, Party, ReceiptContent, build, schema, to_bytes
from recon.receipts.numbering import draw_number
from recon.receipts.settings import ReceiptSettings
from recon.receipts.signing import Signer, sign

log = logging.getLogger("recon.receipts")

FEE_KIND_WORDS = {"phi": "phí", "le_phi": "lệ phí"}
# how it was paid (HTTToan/PThuc): cash, a QR transfer, an e-wallet or gateway, a card
PAYMENT_METHODS = {"cash": "TM", "vietqr": "QR", "payos": "QR", "vnpay": "VI", "momo": "VI",
                   "zalopay": "VI", "pos": "THE"}
_LOOKUP_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


def lookup_code() -> str:
    """An unguessable code the payer looks the receipt up by (10 characters, ~50 bits)."""
    return "".join(secrets.choice(_LOOKUP_ALPHABET) for _ in range(10))


def load_signer(settings: ReceiptSettings) -> Signer:
    if not settings.p12_file:
        raise ConfigurationError("RECON_RECEIPTS is on but RECON_RECEIPT_P12_FILE is not set",
                                 hint="Set RECON_RECEIPT_P12_FILE and "
                                      "RECON_RECEIPT_P12_PASSWORD, or RECON_RECEIPTS=off.")
    return Signer.from_p12(settings.p12_file, settings.p12_password)


def issue_receipt(session: Session, payment: Payment, *, settings: ReceiptSettings,
                  signer: Signer, moment: datetime, actor: str = "system") -> Receipt | None:
    """Issue, sign and register the receipt of ``payment``; the existing one if it has one."""
    if not settings.enabled or payment.status != "succeeded":
        return None
    existing = session.scalars(select(Receipt).where(
        Receipt.payment_id == payment.id, Receipt.status == "issued")).first()
    if existing is not None:
        return existing
    dossier = session.get(Dossier, payment.dossier_id) if payment.dossier_id else None
    if dossier is None:
        log.warning("no receipt for payment %s: it matches no dossier", payment.id)
        return None
    fees = sum(line.amount for line in dossier.fee_lines)
    if not dossier.fee_lines or fees != payment.amount:
        log.warning("no receipt for payment %s: it paid %s VND, the dossier %s assesses %s VND;"
                    " a person issues it", payment.id, payment.amount, dossier.code, fees)
        return None
    try:
        with session.begin_nested():
            receipt = draw_number(session, settings, moment=moment, drawn_by=actor,
                                  payment_id=payment.id, amount=payment.amount)
            content = ReceiptContent(
                form_code=receipt.form_code, series=receipt.series, number=receipt.number,
                signed_at=moment,
                collector=Party(dossier.agency.name, settings.tax_code),
                payer=Party(dossier.applicant_name),
                items=tuple(FeeItem(FEE_KIND_WORDS[line.kind], line.name, line.amount)
                            for line in sorted(dossier.fee_lines, key=lambda f: f.position)),
                method=PAYMENT_METHODS.get(payment.channel, payment.channel.upper()),
                provider_reference=payment.bank_reference or payment.provider_txn_id,
                dossier_code=dossier.code, procedure=dossier.procedure.name,
                lookup_code=lookup_code())
            unsigned = build(content)
            schema().assertValid(unsigned)
            document = to_bytes(sign(unsigned, signer, moment))
            receipt.status = "issued"
            receipt.signed_at = moment
            receipt.document = document.decode("utf-8")
            session.flush()
    except (ReconError, ValueError, KeyError, etree.DocumentInvalid) as exc:
        log.error("no receipt for payment %s: %s; its number was given back", payment.id, exc)
        return None
    return receipt
