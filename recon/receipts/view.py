"""What a receipt shows, read back from its signed XML (the document is the source of truth).

:func:`read` parses the stored document of an issued receipt into a :class:`ReceiptView` that
the print view (``recon/web/receipts.py``) and the PDF (:mod:`recon.receipts.pdf`) lay out, and
checks its signature (:func:`recon.receipts.signing.verify`). Missing optional parts are None;
amounts are whole VND, each with its reading in words (:mod:`recon.receipts.words`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from recon.receipts.document import TITLE
from recon.receipts.signing import SignatureInvalid, verify
from recon.receipts.words import amount_in_words

#: HTTToan/PThuc -> how it was paid, in the receipt's language (Vietnamese)
METHODS = {"TM": "Tiền mặt", "QR": "Chuyển khoản (mã QR)", "VI": "Ví điện tử / cổng thanh toán",
           "THE": "Thẻ"}


@dataclass(frozen=True)
class FeeLineView:
    kind: str  # "phí" or "lệ phí"
    name: str
    amount: int

    @property
    def words(self) -> str:
        return amount_in_words(self.amount)


@dataclass(frozen=True)
class ReceiptView:
    title: str
    form_code: str
    series: str
    number: int
    issued_at: str  # Vietnam time, dd/mm/yyyy HH:MM:SS
    collector: str
    collector_tax_code: str | None
    payer: str
    dossier_code: str | None
    procedure: str | None
    lines: tuple[FeeLineView, ...]
    method: str  # the code: TM, QR, VI, THE
    reference: str | None
    lookup_code: str | None
    signed: bool  # the signature verifies
    signer: str | None  # the certificate's subject
    signing_time: str | None  # Vietnam time, dd/mm/yyyy HH:MM:SS

    @property
    def number_text(self) -> str:
        return f"{self.number:08d}"

    @property
    def method_text(self) -> str:
        return METHODS.get(self.method, self.method)

    @property
    def total(self) -> int:
        return sum(line.amount for line in self.lines)

    @property
    def total_words(self) -> str:
        return amount_in_words(self.total)

    def total_of(self, kind: str) -> int:
        return sum(line.amount for line in self.lines if line.kind == kind)

    @property
    def file_stem(self) -> str:
        return f"{self.form_code}-{self.series}-{self.number:08d}"


def _local(text: str | None) -> str | None:
    """``2026-12-06T10:05:00`` (how the XML writes Vietnam time) -> ``06/12/2026 10:05:00``."""
    if not text:
        return None
    found = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}:\d{2}:\d{2})", text)
    if found is None:
        return text
    year, month, day, clock = found.groups()
    return f"{day}/{month}/{year} {clock}"


def _whole(text: str | None) -> int:
    if text is None or not text.strip().isdigit():
        raise ValueError(f"a receipt amount is a whole number of VND, not {text!r}")
    return int(text)


def read(document: str | bytes) -> ReceiptView:
    """The receipt ``document`` (signed XML) as shown; raises ValueError if it is not one."""
    raw = document.encode("utf-8") if isinstance(document, str) else document
    try:
        root = etree.fromstring(raw, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"the receipt is not well-formed XML: {exc}") from exc

    def text(path: str) -> str | None:
        found = root.findtext(path)
        return found.strip() if found and found.strip() else None

    lines = tuple(FeeLineView(kind=line.findtext("LKThu") or "", name=line.findtext("TKThu") or "",
                              amount=_whole(line.findtext("STien")))
                  for line in root.iterfind("DLCTu/NDCTu/DSKThu/KThu"))
    signer = signing_time = None
    try:
        verified = verify(raw)
        signed, signer, signing_time = True, verified.subject, _local(verified.signing_time)
    except SignatureInvalid:
        signed = False
    number = text("DLCTu/TTChung/SCTu")
    return ReceiptView(
        title=text("DLCTu/TTChung/TCTu") or TITLE,
        form_code=text("DLCTu/TTChung/KHMSCTu") or "", series=text("DLCTu/TTChung/KHCTu") or "",
        number=int(number) if number and number.isdigit() else 0,
        issued_at=_local(text("DLCTu/TTChung/TGLap")) or "",
        collector=text("DLCTu/NDCTu/TCThu/Ten") or "",
        collector_tax_code=text("DLCTu/NDCTu/TCThu/MST"),
        payer=text("DLCTu/NDCTu/NNop/Ten") or "",
        dossier_code=text("DLCTu/NDCTu/HSo/MHSo") or text(".//MHSo"),
        procedure=text("DLCTu/NDCTu/HSo/TTTHC"),
        lines=lines, method=text("DLCTu/NDCTu/HTTToan/PThuc") or "",
        reference=text("DLCTu/NDCTu/HTTToan/MTChieu"),
        lookup_code=text("DLCTu/TTChung/MTCuu"),
        signed=signed, signer=signer, signing_time=signing_time)
