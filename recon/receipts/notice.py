"""The error notice of a corrected receipt (thông báo chứng từ điện tử đã lập sai), built pure.

The rules name form 04/SS-CTĐT and its XML shape is known only from two independent
implementations (RECEIPTS.md §1.10): root ``TBao/DLTBao``, a header ``TTChung`` and a list
``DSCTu/CTu`` of the documents concerned with the reason (``LDo``). Where that shape leaves a
code open it is ours, documented in docs/receipts.md and ``notice.xsd``: ``TCTBao`` (the
correction: 2 adjusts, 3 replaces, as form 04/SS-HĐĐT numbers them for invoices) and
``LCTDT`` (1: a fee receipt of the collecting organisation). Same formatting rules as the
receipt: UTF-8, no namespace, no whitespace between tags, Vietnam dates.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from lxml import etree

from recon.receipts.document import ADJUSTS, REPLACES, to_bytes

SCHEMA_PATH = Path(__file__).with_name("notice.xsd")
VERSION = "1.0.0"
FORM = "04/SS-CTĐT"
TITLE = "Thông báo chứng từ điện tử đã lập sai"
#: TCTBao: what is done to the wrong receipt (form 04/SS-HĐĐT's numbering)
NOTICE_NATURE = {ADJUSTS: 2, REPLACES: 3}
FEE_RECEIPT = 1  # LCTDT: ours, a fee receipt (biên lai thu phí, lệ phí)


@dataclass(frozen=True)
class WrongReceipt:
    form_code: str
    series: str
    number: int
    issued_on: date
    nature: int  # REPLACES or ADJUSTS
    reason: str


@dataclass(frozen=True)
class NoticeContent:
    ident: str  # the DLTBao Id
    organisation: str  # TNNT: the collecting organisation's name
    tax_code: str | None  # MST
    place: str | None  # DDanh
    notified_on: date  # NTBao
    receipts: tuple[WrongReceipt, ...]


def _add(parent: etree._Element, tag: str, value: object | None) -> None:
    if value is None or value == "":
        return
    etree.SubElement(parent, tag).text = str(value)


def build_notice(content: NoticeContent) -> etree._Element:
    if not content.receipts:
        raise ValueError("a notice names at least one receipt")
    root = etree.Element("TBao")
    data = etree.SubElement(root, "DLTBao", Id=content.ident)
    common = etree.SubElement(data, "TTChung")
    _add(common, "PBan", VERSION)
    _add(common, "MSo", FORM)
    _add(common, "Ten", TITLE)
    _add(common, "Loai", 1)  # 1: the organisation notifies of its own accord
    _add(common, "TNNT", content.organisation)
    _add(common, "MST", content.tax_code)
    _add(common, "DDanh", content.place)
    _add(common, "NTBao", content.notified_on.isoformat())
    listed = etree.SubElement(data, "DSCTu")
    for index, wrong in enumerate(content.receipts, start=1):
        if not wrong.reason.strip():
            raise ValueError("a notice says why each receipt was wrong")
        row = etree.SubElement(listed, "CTu")
        _add(row, "STT", index)
        _add(row, "KHMSCTu", wrong.form_code)
        _add(row, "KHCTu", wrong.series)
        _add(row, "SCTu", wrong.number)
        _add(row, "NLap", wrong.issued_on.isoformat())
        _add(row, "LCTDT", FEE_RECEIPT)
        _add(row, "TCTBao", NOTICE_NATURE[wrong.nature])
        _add(row, "LDo", wrong.reason.strip())
    return root


@functools.cache
def notice_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA_PATH)))


def notice_bytes(content: NoticeContent) -> bytes:
    root = build_notice(content)
    notice_schema().assertValid(root)
    return to_bytes(root)
