"""`recon receipts export --month YYYY-MM`: a month of the register as one ZIP.

The archive holds:

- ``receipts/<form code>-<series>-<number, 8 digits>.xml``: each issued receipt's signed XML,
  byte for byte as stored;
- ``manifest.csv``: one row per number drawn that month, in (form code, series, number)
  order: ``file`` (empty for a spoiled number), ``form_code``, ``series``, ``number``,
  ``status`` (issued / spoiled) and the file's ``sha256``. ``recon receipts verify`` reads it:
  the month's numbers run from its first to its last row, a spoiled one is not missing;
- ``register.xlsx``: the receipts register (sổ biên lai) of the month: every number with its
  status, date, amount, dossier, payment and, for a spoiled number, why.

A number still ``reserved`` (drawn in a transaction not yet committed, or left by a crash) is in
the register sheet but not in the manifest: it has no file and is no receipt yet.
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from recon.clock import VN_TZ
from recon.models.payments import Payment
from recon.models.receipts import Receipt
from recon.receipts.checking import MANIFEST, MANIFEST_COLUMNS

STATUS_VI = {"issued": "đã phát hành", "spoiled": "đã hủy trước khi ký",
             "reserved": "đã cấp số, chưa ký"}
REGISTER_HEADER = ("Mẫu số (ký hiệu mẫu)", "Ký hiệu", "Số", "Trạng thái", "Ngày lập",
                   "Thời điểm ký (ICT)", "Số tiền (VND)", "Mã hồ sơ", "Nhà cung cấp",
                   "Mã giao dịch", "Lý do hủy", "Tệp")


@dataclass(frozen=True)
class ExportSummary:
    issued: int
    spoiled: int
    reserved: int
    series: list[tuple[str, str, str, int, int]]  # MST, form code, series, first, last


def file_name(form_code: str, series: str, number: int, tax_code: str = "") -> str:
    """``receipts/EBL01-21T-00000123.xml``; an organisation with its own MST numbers its own
    receipts, so its files are in a folder of their own (``receipts/<MST>/…``)."""
    folder = f"receipts/{tax_code}/" if tax_code else "receipts/"
    return f"{folder}{form_code}-{series}-{number:08d}.xml"


def month_bounds(month: str) -> tuple[date, date]:
    """``2021-03`` -> (1 March 2021, 1 April 2021). ``ValueError`` names the format."""
    try:
        year, mon = (int(part) for part in month.split("-"))
        first = date(year, mon, 1)
    except ValueError:
        raise ValueError(f"{month!r} is not a month; write it as YYYY-MM, e.g. 2021-03") from None
    if len(month) != 7:
        raise ValueError(f"{month!r} is not a month; write it as YYYY-MM, e.g. 2021-03")
    following = date(year + (mon == 12), mon % 12 + 1, 1)
    return first, following


def _register_xlsx(title: str, rows: list[list[Any]]) -> bytes:
    """The register as one sheet: a bold header, amounts as ``#,##0``, times in Vietnam."""
    from openpyxl import Workbook  # noqa: PLC0415 - only the export needs it
    from openpyxl.cell import WriteOnlyCell  # noqa: PLC0415
    from openpyxl.styles import Font  # noqa: PLC0415

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    sheet.freeze_panes = "A2"
    head = []
    for name in REGISTER_HEADER:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font = Font(bold=True)
        head.append(cell)
    sheet.append(head)
    for row in rows:
        cells: list[Any] = []
        for value in row:
            if isinstance(value, datetime):
                cell = WriteOnlyCell(sheet, value=value.astimezone(VN_TZ).replace(tzinfo=None))
                cell.number_format = "yyyy-mm-dd hh:mm:ss"
            elif isinstance(value, int):
                cell = WriteOnlyCell(sheet, value=value)
                cell.number_format = "#,##0"
            else:
                cell = WriteOnlyCell(sheet, value=value)
                cell.data_type = "s"  # a string, whatever it starts with (no formula)
            cells.append(cell)
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def export_month(session: Session, month: str, output: Path, *, issuer: str | None = None,
                 progress: Callable[[int], None] | None = None) -> ExportSummary:
    """Write the month's ZIP to ``output`` (through a temporary file: a failure leaves no
    half-written archive); ``issuer``: only the numbering of that organisation (its MST).
    Raises ``ValueError`` for a bad month or a month with no number."""
    first, following = month_bounds(month)
    scoped = [] if issuer is None else [Receipt.issuer_tax_code == issuer]
    rows = session.execute(
        select(Receipt, Payment.provider, Payment.provider_txn_id)
        .outerjoin(Payment, Payment.id == Receipt.payment_id)
        .where(Receipt.issued_on >= first, Receipt.issued_on < following, *scoped)
        .order_by(Receipt.issuer_tax_code, Receipt.form_code, Receipt.series,
                  Receipt.number)).all()
    if not rows:
        raise ValueError(f"no receipt number was drawn in {month}: nothing to export "
                         "(check the month, and that RECON_RECEIPTS is on)")
    from recon.engine.receipt_load import read_document  # noqa: PLC0415

    manifest = io.StringIO()
    writer = csv.writer(manifest, lineterminator="\n")
    writer.writerow(MANIFEST_COLUMNS)
    register: list[list[Any]] = []
    counts = {"issued": 0, "spoiled": 0, "reserved": 0}
    spans: dict[tuple[str, str, str], list[int]] = {}
    temporary = output.with_name(output.name + ".part")
    with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for receipt, provider, txn in rows:
            counts[receipt.status] = counts.get(receipt.status, 0) + 1
            name = ""
            code = None
            if receipt.status == "issued" and receipt.document:
                data = receipt.document.encode("utf-8")
                name = file_name(receipt.form_code, receipt.series, receipt.number,
                                 receipt.issuer_tax_code)
                archive.writestr(name, data)
                writer.writerow((name, receipt.form_code, receipt.series, receipt.number,
                                 "issued", hashlib.sha256(data).hexdigest(),
                                 receipt.issuer_tax_code))
                code = read_document(data)[0]
            elif receipt.status == "spoiled":
                writer.writerow(("", receipt.form_code, receipt.series, receipt.number,
                                 "spoiled", "", receipt.issuer_tax_code))
            if receipt.status != "reserved":
                span = spans.setdefault((receipt.issuer_tax_code, receipt.form_code,
                                         receipt.series),
                                        [receipt.number, receipt.number])
                span[0], span[1] = min(span[0], receipt.number), max(span[1], receipt.number)
            register.append([receipt.form_code, receipt.series, f"{receipt.number:08d}",
                             STATUS_VI.get(receipt.status, receipt.status),
                             receipt.issued_on.isoformat(), receipt.signed_at,
                             receipt.amount, code or "", provider or "", txn or "",
                             receipt.spoiled_reason or "", name])
            if progress:
                progress(1)
        archive.writestr(MANIFEST, manifest.getvalue().encode("utf-8"))
        archive.writestr("register.xlsx", _register_xlsx(f"Sổ biên lai {month}", register))
    temporary.replace(output)
    return ExportSummary(counts["issued"], counts["spoiled"], counts["reserved"],
                         [(t, f, s, a, b) for (t, f, s), (a, b) in sorted(spans.items())])
