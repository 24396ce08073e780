"""Discrepancies as flat rows: for ``recon discrepancies export`` (JSON, CSV, XLSX) and the API.

Rows are streamed from the database in id order (server-side cursor on PostgreSQL) and written
as they come, so an export of millions of rows runs in constant memory. Money is an integer of
VND in every format; XLSX amount cells carry the ``#,##0`` number format. CSV is UTF-8 with a
byte-order mark, so Excel shows Vietnamese correctly. Timestamps are ISO 8601 in UTC in JSON and
CSV; XLSX cannot hold a timezone, so its times are Vietnam time (UTC+7, said in the header).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import IO, Any, Final, Literal

from sqlalchemy import Select, and_, select
from sqlalchemy.orm import Session, aliased

from recon.clock import VN_TZ
from recon.db import Database
from recon.models import Agency, Discrepancy, Dossier, Payment, SettlementLine
from recon.models.reconciliation import last_seen_run
from recon.receipts import summary as receipt_tables
from recon.receipts.summary import Summary as ReceiptDaySummary
from recon.review.cells import safe_cell, safe_text
from recon.scope import ALL, Scope, discrepancy_condition

Format = Literal["json", "csv", "xlsx"]

FIELDS: Final = (
    "id", "identity", "kind", "status", "dossier_code", "agency_code", "provider",
    "provider_txn_id", "reference", "expected_amount", "actual_amount", "delta",
    "within_tolerance", "detected_at", "explanation", "explanation_en", "dossier_id",
    "payment_id", "settlement_line_id", "first_run_id", "last_run_id", "resolution_type",
    "resolution_note", "resolved_by", "resolved_at", "auto_resolved_reason",
    "auto_resolved_reason_en", "updated_at",
)
AMOUNT_FIELDS: Final = frozenset({"expected_amount", "actual_amount", "delta"})
TIME_FIELDS: Final = frozenset({"detected_at", "resolved_at", "updated_at"})
STREAM_BATCH: Final = 2000


def query(*, status: str | None = None, kind: str | None = None, provider: str | None = None,
          after: int | None = None, limit: int | None = None,
          scope: Scope = ALL) -> Select:  # type: ignore[type-arg]
    """The export/API select: one row per discrepancy with its dossier, agency, payment and
    settlement line context. ``status`` ``None`` or ``"all"`` means every status."""
    d = Discrepancy
    dossier = aliased(Dossier)
    agency = aliased(Agency)
    payment = aliased(Payment)
    line = aliased(SettlementLine)
    stmt = (
        select(
            d.id, d.identity, d.kind, d.status, dossier.code, agency.code, d.provider,
            payment.provider_txn_id, line.provider_txn_id, payment.reference, line.reference,
            d.expected_amount, d.actual_amount, d.delta, d.within_tolerance, d.detected_at,
            d.explanation, d.explanation_en, d.dossier_id, d.payment_id, d.settlement_line_id,
            d.first_run_id, last_seen_run(d.last_run_id, d.status), d.resolution_type,
            d.resolution_note,
            d.resolved_by, d.resolved_at, d.auto_resolved_reason, d.auto_resolved_reason_en,
            d.updated_at,
        )
        .outerjoin(dossier, dossier.id == d.dossier_id)
        .outerjoin(agency, agency.id == dossier.agency_id)
        .outerjoin(payment, payment.id == d.payment_id)
        .outerjoin(line, line.id == d.settlement_line_id)
        .order_by(d.id)
    )
    conditions = []
    if status and status != "all":
        conditions.append(d.status == status)
    if kind:
        conditions.append(d.kind == kind)
    if provider:
        conditions.append(d.provider == provider)
    if after is not None:
        conditions.append(d.id > after)
    if not scope.is_all:
        conditions.append(discrepancy_condition(scope, d))
    if conditions:
        stmt = stmt.where(and_(*conditions))
    if limit is not None:
        stmt = stmt.limit(limit)
    return stmt


def page(session: Session, *, status: str | None = None, kind: str | None = None,
         provider: str | None = None, after: int | None = None,
         limit: int | None = None, scope: Scope = ALL) -> list[dict[str, Any]]:
    """One page of :func:`query`'s rows, each as JSON-ready :func:`as_dict` (the API's list)."""
    rows = session.execute(query(status=status, kind=kind, provider=provider, after=after,
                                 limit=limit, scope=scope)).all()
    return [jsonable(as_dict(r)) for r in rows]


def as_dict(row: Sequence[Any]) -> dict[str, Any]:
    """One select row as the export object (field order of :data:`FIELDS`)."""
    (id_, identity, kind, status, dossier_code, agency_code, provider, p_txn, l_txn, p_ref,
     l_ref, expected, actual, delta, within, detected, explanation, explanation_en,
     dossier_id, payment_id, line_id, first_run, last_run, resolution_type, resolution_note,
     resolved_by, resolved_at, reason, reason_en, updated) = row
    return {
        "id": id_, "identity": identity, "kind": kind, "status": status,
        "dossier_code": dossier_code, "agency_code": agency_code, "provider": provider,
        "provider_txn_id": p_txn if p_txn is not None else l_txn,
        "reference": p_ref if p_ref is not None else l_ref,
        "expected_amount": expected, "actual_amount": actual, "delta": delta,
        "within_tolerance": bool(within), "detected_at": detected,
        "explanation": explanation, "explanation_en": explanation_en,
        "dossier_id": dossier_id, "payment_id": payment_id, "settlement_line_id": line_id,
        "first_run_id": first_run, "last_run_id": last_run,
        "resolution_type": resolution_type, "resolution_note": resolution_note,
        "resolved_by": resolved_by, "resolved_at": resolved_at,
        "auto_resolved_reason": reason, "auto_resolved_reason_en": reason_en,
        "updated_at": updated,
    }


def jsonable(item: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in item.items()}


def stream(db: Database, *, status: str | None = "open") -> Iterator[dict[str, Any]]:
    """Every matching discrepancy as an export object, streamed in id order."""
    with db.read() as session:
        result = session.execute(query(status=status),
                                 execution_options={"yield_per": STREAM_BATCH})
        for row in result:
            yield as_dict(row)


# --------------------------------------------------------------------------- writers


def write_json(items: Iterable[dict[str, Any]], out: IO[str]) -> int:
    n = 0
    out.write("[")
    for item in items:
        out.write(",\n" if n else "\n")
        out.write(json.dumps(jsonable(item), ensure_ascii=False))
        n += 1
    out.write("\n]\n" if n else "]\n")
    return n


def write_csv(items: Iterable[dict[str, Any]], out: IO[str]) -> int:
    out.write("\ufeff")  # Excel reads the file as UTF-8 only with a byte-order mark
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(FIELDS)
    n = 0
    for item in items:
        writer.writerow([_csv_value(item[f]) for f in FIELDS])
        n += 1
    return n


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return safe_cell(value)  # text that starts like a formula is made inert


def write_table_xlsx(out: IO[bytes], sheet_name: str, header: Sequence[str],
               rows: Iterable[Sequence[Any]], amounts: frozenset[int] = frozenset()) -> int:
    """A write-only (streaming) workbook: a bold frozen header, amounts as ``#,##0`` integers,
    times in Vietnam time (XLSX holds no time zone). Text cells are always strings, never
    formulas, and those that start like one get :func:`recon.review.cells.safe_text`'s quote."""
    return write_sheets_xlsx(out, [(sheet_name, header, rows, amounts)])


Sheet = tuple[str, Sequence[str], Iterable[Sequence[Any]], frozenset[int]]


def write_sheets_xlsx(out: IO[bytes], sheets: Sequence[Sheet]) -> int:
    """:func:`write_table_xlsx` with several sheets, each ``(name, header, rows, amounts)``;
    returns the number of rows written over all of them."""
    from openpyxl import Workbook  # noqa: PLC0415 - only exports need it
    from openpyxl.cell import WriteOnlyCell  # noqa: PLC0415
    from openpyxl.styles import Font  # noqa: PLC0415

    workbook = Workbook(write_only=True)
    bold = Font(bold=True)
    n = 0
    for sheet_name, header, rows, amounts in sheets:
        sheet = workbook.create_sheet(sheet_name[:31])
        sheet.freeze_panes = "A2"
        head = []
        for title in header:
            cell = WriteOnlyCell(sheet, value=title)
            cell.font = bold
            head.append(cell)
        sheet.append(head)
        for row in rows:
            cells: list[Any] = []
            for i, value in enumerate(row):
                if i in amounts and isinstance(value, int) and not isinstance(value, bool):
                    cell = WriteOnlyCell(sheet, value=value)
                    cell.number_format = "#,##0"
                    cells.append(cell)
                elif isinstance(value, datetime):
                    cell = WriteOnlyCell(sheet,
                                         value=value.astimezone(VN_TZ).replace(tzinfo=None))
                    cell.number_format = "yyyy-mm-dd hh:mm:ss"
                    cells.append(cell)
                elif isinstance(value, str):
                    cell = WriteOnlyCell(sheet, value=safe_text(value))
                    cell.data_type = "s"  # a string, whatever it starts with
                    cells.append(cell)
                else:
                    cells.append(value)
            sheet.append(cells)
            n += 1
    workbook.save(out)  # rows were spooled to a temporary file as they were appended
    return n


def write_xlsx(items: Iterable[dict[str, Any]], out: IO[bytes]) -> int:
    """The discrepancies as one sheet: a header row (times marked ICT), amounts as ``#,##0``."""
    header = [f"{name} (ICT)" if name in TIME_FIELDS else name for name in FIELDS]
    amounts = frozenset(i for i, name in enumerate(FIELDS) if name in AMOUNT_FIELDS)
    rows = ([item[name] for name in FIELDS] for item in items)
    return write_table_xlsx(out, "discrepancies", header, rows, amounts)


def export(db: Database, fmt: Format, out: IO[bytes], *, status: str | None = "open") -> int:
    """Write every matching discrepancy to ``out`` (a binary stream) in ``fmt``; returns the
    number of rows."""
    items = stream(db, status=status)
    if fmt == "xlsx":
        return write_xlsx(items, out)
    text_out = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=False)
    try:
        return write_json(items, text_out) if fmt == "json" else write_csv(items, text_out)
    finally:
        text_out.flush()
        text_out.detach()


def receipt_summary_xlsx(summary: ReceiptDaySummary) -> bytes:
    """The same-day summary table of receipts (:mod:`recon.receipts.summary`) as XLSX."""
    out = io.BytesIO()
    write_table_xlsx(out, receipt_tables.SHEET, receipt_tables.HEADER,
                     receipt_tables.table_rows(summary), amounts=receipt_tables.AMOUNT_COLUMNS)
    return out.getvalue()

