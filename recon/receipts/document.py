"""The receipt document: our XML (recon/receipts/receipt.xsd, docs/receipts.md), built pure.

UTF-8, no namespace, no whitespace between tags (the tax authority strips it before the first
signature), dates YYYY-MM-DD and times in Vietnam without an offset. ``DSCKS`` is left empty for
:mod:`recon.receipts.signing`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from lxml import etree

from recon.clock import VN_TZ
from recon.receipts.words import amount_in_words

SCHEMA_PATH = Path(__file__).with_name("receipt.xsd")
VERSION = "1.0.0"
TITLE = "BIÊN LAI THU PHÍ, LỆ PHÍ"
FEE_KINDS = ("phí", "lệ phí")


@dataclass(frozen=True)
class Party:
    name: str
    tax_code: str | None = None  # MST
    address: str | None = None


@dataclass(frozen=True)
class FeeItem:
    kind: str  # "phí" or "lệ phí"
    name: str
    amount: int


@dataclass(frozen=True)
class ReceiptContent:
    form_code: str
    series: str
    number: int
    signed_at: datetime  # aware; written as Vietnam time
    collector: Party
    payer: Party
    items: tuple[FeeItem, ...]
    method: str  # how it was paid: TM (cash), QR, VI (e-wallet), THE (card)
    provider_reference: str | None = None
    dossier_code: str | None = None
    procedure: str | None = None
    lookup_code: str | None = None

    @property
    def total(self) -> int:
        return sum(item.amount for item in self.items)

    @property
    def issued_on(self) -> date:
        return self.signed_at.astimezone(VN_TZ).date()

    @property
    def element_id(self) -> str:
        return f"R-{self.form_code}-{self.series}-{self.number}"


def local_time(moment: datetime) -> str:
    """``moment`` as the tax authority writes a time: Vietnam time, no offset."""
    if moment.tzinfo is None:
        raise ValueError("a receipt's time must carry its time zone")
    return moment.astimezone(VN_TZ).strftime("%Y-%m-%dT%H:%M:%S")


def _add(parent: etree._Element, tag: str, value: object | None) -> etree._Element | None:
    if value is None or value == "":
        return None  # optional empty tags are omitted
    child = etree.SubElement(parent, tag)
    child.text = str(value)
    return child


def _party(parent: etree._Element, tag: str, party: Party) -> None:
    node = etree.SubElement(parent, tag)
    _add(node, "Ten", party.name)
    _add(node, "MST", party.tax_code)
    _add(node, "DChi", party.address)


def build(content: ReceiptContent) -> etree._Element:
    """The unsigned receipt (root ``CTu``); raises ValueError on content no receipt may carry."""
    if not content.items:
        raise ValueError("a receipt lists at least one fee")
    for item in content.items:
        if item.kind not in FEE_KINDS:
            raise ValueError(f"a fee is 'phí' or 'lệ phí', not {item.kind!r}")
        if isinstance(item.amount, bool) or not isinstance(item.amount, int) or item.amount < 0:
            raise ValueError(f"a fee's amount is a whole, non-negative number of VND: "
                             f"{item.amount!r}")
    root = etree.Element("CTu")
    data = etree.SubElement(root, "DLCTu", Id=content.element_id)
    common = etree.SubElement(data, "TTChung")
    _add(common, "PBan", VERSION)
    _add(common, "TCTu", TITLE)
    _add(common, "KHMSCTu", content.form_code)
    _add(common, "KHCTu", content.series)
    _add(common, "SCTu", content.number)
    _add(common, "NLap", content.issued_on.isoformat())
    _add(common, "TGLap", local_time(content.signed_at))
    _add(common, "MTCuu", content.lookup_code)
    body = etree.SubElement(data, "NDCTu")
    _party(body, "TCThu", content.collector)
    _party(body, "NNop", content.payer)
    if content.dossier_code:
        dossier = etree.SubElement(body, "HSo")
        _add(dossier, "MHSo", content.dossier_code)
        _add(dossier, "TTTHC", content.procedure)
    items = etree.SubElement(body, "DSKThu")
    for index, item in enumerate(content.items, start=1):
        line = etree.SubElement(items, "KThu")
        _add(line, "STT", index)
        _add(line, "LKThu", item.kind)
        _add(line, "TKThu", item.name)
        _add(line, "STien", item.amount)
    total = etree.SubElement(body, "TToan")
    _add(total, "TgTien", content.total)
    _add(total, "TgTienBChu", amount_in_words(content.total))
    method = etree.SubElement(body, "HTTToan")
    _add(method, "PThuc", content.method)
    _add(method, "MTChieu", content.provider_reference)
    etree.SubElement(root, "DSCKS")
    return root


@functools.cache
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA_PATH)))


def to_bytes(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
