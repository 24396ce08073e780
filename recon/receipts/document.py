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
from recon.engine.receipt_check import encode_lines
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


#: TTCTLQuan/TCCTu: the nature of a receipt that corrects another (ours; as the PIT
#: certificate's related-document block numbers them)
REPLACES, ADJUSTS = 1, 2
RELATION_WORDS = {REPLACES: "Thay thế cho", ADJUSTS: "Điều chỉnh cho"}


@dataclass(frozen=True)
class Related:
    """The issued receipt a replacement or an adjustment names (TTCTLQuan)."""

    nature: int  # REPLACES or ADJUSTS
    form_code: str
    series: str
    number: int
    issued_on: date

    @property
    def note(self) -> str:
        """"Thay thế cho biên lai mẫu số EBL01 ký hiệu 26T số 00000007 ngày 06/12/2026"."""
        return (f"{RELATION_WORDS[self.nature]} biên lai mẫu số {self.form_code} ký hiệu "
                f"{self.series} số {self.number:08d} ngày {self.issued_on:%d/%m/%Y}")


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
    related: Related | None = None  # set on a replacement or an adjustment

    @property
    def total(self) -> int:
        return sum(item.amount for item in self.items)

    @property
    def issued_on(self) -> date:
        return self.signed_at.astimezone(VN_TZ).date()

    @property
    def element_id(self) -> str:
        return f"R-{self.form_code}-{self.series}-{self.number}"


def figures(content: ReceiptContent) -> dict[str, object]:
    """The register columns (``receipts.dossier_code``, ``total``, ``lines``: migration
    0031) that repeat what :func:`build` writes of ``content`` (MHSo, TgTien, each KThu's
    LKThu and STien), for the run's receipt pass to read without parsing the XML. Every writer
    of a signed receipt stores them with its document, in the same transaction."""
    return {"dossier_code": content.dossier_code or None, "total": content.total,
            "lines": encode_lines((i.kind, i.amount) for i in content.items)}


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
    adjusting = content.related is not None and content.related.nature == ADJUSTS
    for item in content.items:
        if item.kind not in FEE_KINDS:
            raise ValueError(f"a fee is 'phí' or 'lệ phí', not {item.kind!r}")
        if isinstance(item.amount, bool) or not isinstance(item.amount, int):
            raise ValueError(f"a fee's amount is a whole number of VND: {item.amount!r}")
        if item.amount < 0 and not adjusting:  # only an adjustment carries a decrease
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
    if content.related is not None:
        related = etree.SubElement(common, "TTCTLQuan")
        _add(related, "TCCTu", content.related.nature)
        _add(related, "KHMSCTCLQuan", content.related.form_code)
        _add(related, "KHCTCLQuan", content.related.series)
        _add(related, "SCTCLQuan", content.related.number)
        _add(related, "NLCTCLQuan", content.related.issued_on.isoformat())
        _add(related, "GChu", content.related.note)
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


def _party_of(node: etree._Element | None) -> Party:
    if node is None:
        return Party("")
    return Party(node.findtext("Ten") or "", node.findtext("MST"), node.findtext("DChi"))


def read(document: bytes) -> ReceiptContent:
    """The content of a receipt document (signed or not): the inverse of :func:`build`."""
    root = etree.fromstring(document)
    common = root.find("DLCTu/TTChung")
    body = root.find("DLCTu/NDCTu")
    if common is None or body is None:
        raise ValueError("not a receipt document (no DLCTu/TTChung or NDCTu)")
    related = None
    rel = common.find("TTCTLQuan")
    if rel is not None:
        related = Related(int(rel.findtext("TCCTu") or 0), rel.findtext("KHMSCTCLQuan") or "",
                          rel.findtext("KHCTCLQuan") or "", int(rel.findtext("SCTCLQuan") or 0),
                          date.fromisoformat(rel.findtext("NLCTCLQuan") or ""))
    signed_at = datetime.fromisoformat(common.findtext("TGLap") or "").replace(tzinfo=VN_TZ)
    items = tuple(FeeItem(line.findtext("LKThu") or "", line.findtext("TKThu") or "",
                          int(line.findtext("STien") or 0))
                  for line in body.iterfind("DSKThu/KThu"))
    return ReceiptContent(
        form_code=common.findtext("KHMSCTu") or "", series=common.findtext("KHCTu") or "",
        number=int(common.findtext("SCTu") or 0), signed_at=signed_at,
        collector=_party_of(body.find("TCThu")), payer=_party_of(body.find("NNop")),
        items=items, method=body.findtext("HTTToan/PThuc") or "",
        provider_reference=body.findtext("HTTToan/MTChieu"),
        dossier_code=body.findtext("HSo/MHSo"), procedure=body.findtext("HSo/TTTHC"),
        lookup_code=common.findtext("MTCuu"), related=related)
