"""The same-day summary table of e-receipts (bảng tổng hợp dữ liệu biên lai điện tử).

ND 254/2026 Art. 29.3.b: the collecting organisation sends the tax authority the data of the
receipts it issued as a summary table, on the day it issued them. Form 01/TH-BLĐT (TT 91/2026)
was not read, so the file's shape is ours (``summary.xsd``, docs/receipts.md), in the tax
authority's naming style; the XLSX holds the same rows for a person to read or upload. recon
does not send it: a person sends it by hand and marks it sent (date and reference), audited.
The state of one organisation's day: ``prepared`` (the file was made), ``sent``, or
``overdue`` (not sent by the end of the day after, ``RECON_RECEIPT_SUMMARY_GRACE_DAYS``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from recon.audit import chain as audit
from recon.clock import VN_TZ, Clock
from recon.errors import FieldError, NotFound, ValidationError
from recon.models import Agency, Dossier, Payment, Receipt
from recon.models.receipts import ReceiptSummary
from recon.receipts.document import read, to_bytes
from recon.scope import ALL, Scope

SCHEMA_PATH = Path(__file__).with_name("summary.xsd")
VERSION = "1.0.0"
FORM = "01/TH-BLĐT"
TITLE = "Bảng tổng hợp dữ liệu biên lai điện tử"
#: TThai: what each row is (ours): 0 a receipt, 1 a replacement, 2 an adjustment
ROW_STATES = {"original": 0, "replacement": 1, "adjustment": 2}
STATES = ("not_prepared", "prepared", "sent", "overdue")
HEADER = ("STT", "Ký hiệu mẫu", "Ký hiệu", "Số", "Ngày lập", "Người nộp", "Số tiền (đồng)",
          "Tính chất", "Liên quan: ký hiệu mẫu", "Liên quan: ký hiệu", "Liên quan: số")


@dataclass(frozen=True)
class SummaryRow:
    form_code: str
    series: str
    number: int
    issued_on: date
    payer: str
    amount: int
    kind: str
    related: tuple[str, str, int] | None


@dataclass(frozen=True)
class Summary:
    agency: Agency
    day: date
    tax_code: str | None
    rows: tuple[SummaryRow, ...]

    @property
    def total(self) -> int:
        return sum(row.amount for row in self.rows)


def agency_of(session: Session, receipt: Receipt) -> int | None:
    """The agency (collecting organisation) of a receipt: the collector it was issued for
    (migration 0027), else its payment's dossier's, or for a share of a split transfer, the
    dossier the receipt names."""
    if receipt.collector_code:
        found = session.scalar(select(Agency.id).where(Agency.code == receipt.collector_code))
        if found is not None:
            return found
    payment = session.get(Payment, receipt.payment_id) if receipt.payment_id else None
    if payment is not None and payment.dossier_id is not None:
        return session.scalar(select(Dossier.agency_id).where(Dossier.id == payment.dossier_id))
    if receipt.document:
        code = etree.fromstring(receipt.document.encode("utf-8")).findtext(".//MHSo")
        if code:
            return session.scalar(select(Dossier.agency_id).where(Dossier.code == code))
    return None


def issued_on_day(session: Session, day: date) -> dict[int, list[Receipt]]:
    """agency id -> the receipts issued on ``day`` (Vietnam date), in number order."""
    found: dict[int, list[Receipt]] = {}
    for receipt in session.scalars(select(Receipt).where(
            Receipt.issued_on == day, Receipt.status == "issued")
            .order_by(Receipt.form_code, Receipt.series, Receipt.number)):
        agency_id = agency_of(session, receipt)
        if agency_id is not None:
            found.setdefault(agency_id, []).append(receipt)
    return found


def _agency(session: Session, code: str, scope: Scope) -> Agency:
    agency = session.scalars(select(Agency).where(Agency.code == code)).first()
    if agency is None or not scope.allows(agency.id):
        raise NotFound(f"no agency has the code {code}",
                       hint="`recon agencies list` names them (or leave --agency out).")
    return agency


def summaries(session: Session, day: date, *, agency_code: str | None = None,
              tax_code: str | None = None, scope: Scope = ALL) -> list[Summary]:
    """One summary per organisation that issued receipts on ``day`` (or of ``agency_code``,
    even with none)."""
    by_agency = issued_on_day(session, day)
    if agency_code:
        agencies = [_agency(session, agency_code, scope)]
    else:
        agencies = [a for a in session.scalars(select(Agency).where(
            Agency.id.in_(sorted(by_agency))).order_by(Agency.code)) if scope.allows(a.id)]
    result = []
    for agency in agencies:
        rows = []
        for receipt in by_agency.get(agency.id, []):
            content = read((receipt.document or "").encode("utf-8"))
            related = content.related
            rows.append(SummaryRow(
                receipt.form_code, receipt.series, receipt.number, receipt.issued_on,
                content.payer.name, content.total, receipt.kind,
                (related.form_code, related.series, related.number) if related else None))
        # the organisation's own MST, else the deployment's (RECON_RECEIPT_TAX_CODE)
        result.append(Summary(agency, day, agency.tax_code or tax_code, tuple(rows)))
    return result


def _add(parent: etree._Element, tag: str, value: object | None) -> None:
    if value is None or value == "":
        return
    etree.SubElement(parent, tag).text = str(value)


def build_summary(summary: Summary, prepared_at: datetime) -> etree._Element:
    root = etree.Element("BTHDLBLai")
    data = etree.SubElement(root, "DLBTHop",
                            Id=f"TH-{summary.day:%Y%m%d}-{summary.agency.id}")
    common = etree.SubElement(data, "TTChung")
    _add(common, "PBan", VERSION)
    _add(common, "MSo", FORM)
    _add(common, "Ten", TITLE)
    _add(common, "TNNT", summary.agency.name)
    _add(common, "MST", summary.tax_code)
    _add(common, "MDVi", summary.agency.code)
    _add(common, "NDLieu", summary.day.isoformat())
    _add(common, "NLap", prepared_at.astimezone(VN_TZ).date().isoformat())
    _add(common, "SLuong", len(summary.rows))
    body = etree.SubElement(data, "NDBTHop")
    rows = etree.SubElement(body, "DSDLieu")
    for index, row in enumerate(summary.rows, start=1):
        line = etree.SubElement(rows, "DLieu")
        _add(line, "STT", index)
        _add(line, "KHMSCTu", row.form_code)
        _add(line, "KHCTu", row.series)
        _add(line, "SCTu", row.number)
        _add(line, "NLap", row.issued_on.isoformat())
        _add(line, "TNNop", row.payer)
        _add(line, "TgTien", row.amount)
        _add(line, "TThai", ROW_STATES[row.kind])
        if row.related:
            _add(line, "KHMSCTCLQuan", row.related[0])
            _add(line, "KHCTCLQuan", row.related[1])
            _add(line, "SCTCLQuan", row.related[2])
    total = etree.SubElement(body, "TToan")
    _add(total, "TgTien", summary.total)
    return root


@functools.cache
def summary_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA_PATH)))


def summary_xml(summary: Summary, prepared_at: datetime) -> bytes:
    root = build_summary(summary, prepared_at)
    summary_schema().assertValid(root)
    return to_bytes(root)


#: the summary table's sheet, and which of its columns are amounts (of :func:`table_rows`)
SHEET = "01-TH-BLDT"
AMOUNT_COLUMNS = frozenset({6})


def table_rows(summary: Summary) -> list[tuple[object, ...]]:
    """The table as rows under :data:`HEADER` (numbered), then its total: what the XLSX
    (``recon.review.exports.receipt_summary_xlsx``) writes."""
    kinds = {"original": "Lập mới", "replacement": "Thay thế", "adjustment": "Điều chỉnh"}
    rows: list[tuple[object, ...]] = [
        (i, r.form_code, r.series, r.number, r.issued_on, r.payer, r.amount, kinds[r.kind],
         *(r.related or ("", "", "")))
        for i, r in enumerate(summary.rows, start=1)]
    rows.append(("", "", "", "", "", "Tổng cộng", summary.total, "", "", "", ""))
    return rows


def record_prepared(session: Session, clock: Clock, summary: Summary, *,
                    actor: str) -> ReceiptSummary:
    """Note that the file of ``summary`` was made (audited); a later one replaces the count."""
    row = session.scalars(select(ReceiptSummary).where(
        ReceiptSummary.agency_id == summary.agency.id,
        ReceiptSummary.day == summary.day)).first()
    now = clock.now()
    if row is None:
        row = ReceiptSummary(agency_id=summary.agency.id, day=summary.day, prepared_at=now,
                             prepared_by=actor, receipts=len(summary.rows))
        session.add(row)
    else:
        row.prepared_at, row.prepared_by, row.receipts = now, actor, len(summary.rows)
    session.flush()
    audit.record(session, clock, actor=actor, action="receipt_summary.prepared",
                 entity_type="receipt_summary", entity_id=row.id,
                 data={"agency": summary.agency.code, "day": summary.day.isoformat(),
                       "receipts": len(summary.rows), "total": summary.total})
    return row


def mark_sent(session: Session, clock: Clock, agency_code: str, day: date, *,
              sent_on: object, reference: object, actor: str,
              scope: Scope = ALL) -> ReceiptSummary:
    """A person sent the day's summary by hand: when, and the reference the portal gave."""
    agency = _agency(session, agency_code, scope)
    text = reference.strip() if isinstance(reference, str) else ""
    if not text or len(text) > 255:
        raise ValidationError(FieldError("reference", "the reference the tax authority's "
                                         "portal gave (1 to 255 characters)"))
    try:
        when = date.fromisoformat(sent_on) if isinstance(sent_on, str) else None
    except ValueError:
        when = None
    if when is None or when < day or when > clock.now().astimezone(VN_TZ).date():
        raise ValidationError(FieldError("sent_on", "the date it was sent, YYYY-MM-DD, from "
                                         "the summary's day to today"))
    row = session.scalars(select(ReceiptSummary).where(
        ReceiptSummary.agency_id == agency.id, ReceiptSummary.day == day)).first()
    if row is None:
        raise ValidationError(FieldError("day", "prepare the summary file before marking it "
                                         "sent"), hint="Download the summary first.")
    row.sent_on, row.sent_reference, row.sent_by, row.sent_at = when, text, actor, clock.now()
    session.flush()
    audit.record(session, clock, actor=actor, action="receipt_summary.sent",
                 entity_type="receipt_summary", entity_id=row.id,
                 data={"agency": agency.code, "day": day.isoformat(),
                       "sent_on": when.isoformat(), "reference": text})
    return row


def state(row: ReceiptSummary | None, day: date, today: date, grace_days: int) -> str:
    """sent; overdue (not sent by the end of ``day`` + ``grace_days``); prepared; or
    not_prepared."""
    if row is not None and row.sent_on is not None:
        return "sent"
    if today > day + timedelta(days=grace_days):
        return "overdue"
    return "prepared" if row is not None else "not_prepared"
